"""The course site (``python -m helpers.course site``) in headless Chromium, served from 127.0.0.1 with every
other request blocked: each page loads, its math is typeset, its figures are displayed, its links resolve."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest

from helpers import course

pytestmark = pytest.mark.browser

NOTEBOOKS = course.notebooks()
PAGES = ["index.html"] + [f"{path.stem}.html" for path in NOTEBOOKS]

PAGE_JS = r"""() => {
  const article = document.querySelector('article') || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll('script, code, pre, .MathJax, .MathJax_Display, .MathJax_Preview').forEach(e => e.remove());
  return {
    math: article.querySelectorAll('.MathJax, .MathJax_Display').length,
    mathErrors: article.querySelectorAll('.MathJax .merror, .MathJax_Display .merror').length,
    rawMath: (copy.textContent.match(/\\\(|\\\[|\$[^$\s][^$]*\$/g) || []).slice(0, 3),
    figures: Array.from(article.querySelectorAll('img')).filter(img => img.src.includes('/_images/')).length,
    drawn: Array.from(article.querySelectorAll('img')).filter(img => img.complete && img.naturalWidth > 0).length,
    images: article.querySelectorAll('img').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    folded: Array.from(article.querySelectorAll('details.hide')).map(d => d.open),
    prev: !!document.querySelector('.prev-next-area a.left-prev'),
    next: !!document.querySelector('.prev-next-area a.right-next'),
  };
}"""


@pytest.fixture(scope="module")
def site_page(browser, site):
    """A page whose requests outside the site's server are blocked (and recorded)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    blocked = []

    def only_local(route):
        if route.request.url.startswith(site.url + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    yield page, blocked
    context.close()


def typeset(page) -> None:
    """Wait until MathJax (2.7, from the site) has loaded and finished its queue."""
    page.wait_for_function("window.MathJax && MathJax.isReady === true", timeout=60_000)
    page.evaluate("new Promise(done => MathJax.Hub.Queue(() => done(true)))")


@pytest.mark.parametrize("name", PAGES, ids=lambda n: n[:2] if n[0].isdigit() else "home")
def test_site_page_renders_offline(site, site_page, shots, committed, name):
    page, blocked = site_page
    answer = page.goto(f"{site.url}/{name}")
    assert answer is not None and answer.status == 200, f"{name} did not load"
    page.wait_for_load_state("networkidle")
    state = page.evaluate(PAGE_JS)
    if name != "index.html":
        typeset(page)
        state = page.evaluate(PAGE_JS)
        (path,) = [p for p in NOTEBOOKS if f"{p.stem}.html" == name]
        _, figures, has_math, folded = committed(path)
        assert state["figures"] == figures, f"{state['figures']} of {figures} figures on the page"
        if has_math:
            assert state["math"] > 0, "no math typeset"
        assert state["prev"] and (state["next"] or path == NOTEBOOKS[-1]), "previous/next links"
        assert len(state["folded"]) >= folded and not any(state["folded"]), "solutions are folded"
    page.screenshot(path=str(shots / f"site-{name.replace('.html', '')}.png"))
    assert state["mathErrors"] == 0, "MathJax reported errors"
    assert state["rawMath"] == [], f"unrendered math left: {state['rawMath']}"
    assert state["drawn"] == state["images"], f"{state['images'] - state['drawn']} images not displayed"
    assert blocked == [], f"the page asked for something outside the site: {blocked[:3]}"


def test_every_internal_link_resolves(site):
    """Every link between the site's pages (and every #anchor on them) points at something that exists."""
    pages, broken = {}, []

    def fetch(url):
        if url not in pages:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    pages[url] = answer.read().decode("utf-8", errors="replace")
            except OSError as error:
                pages[url] = error
        return pages[url]

    for name in PAGES:
        html = fetch(f"{site.url}/{name}")
        assert isinstance(html, str), f"{name}: {html}"
        for href in re.findall(r'href="([^"]+)"', html):
            if href.startswith(("http://", "https://", "mailto:", "javascript:")):
                continue
            target, _, anchor = urllib.parse.urljoin(f"{site.url}/{name}", href).partition("#")
            found = fetch(target)
            if not isinstance(found, str):
                broken.append(f"{name}: {href} ({found})")
            elif anchor and target.endswith(".html") and f'id="{anchor}"' not in found:
                broken.append(f"{name}: {href} (no #{anchor})")
    assert broken == [], broken[:10]
