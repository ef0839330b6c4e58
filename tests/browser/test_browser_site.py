"""The course site (``python -m helpers.course site``) in headless Chromium, served from 127.0.0.1 with every
other host unreachable: each page loads, its math is typeset, its figures are displayed, its links resolve."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from browser_support import new_page, read_back_a_weight, wait_until

from helpers import course

pytestmark = pytest.mark.browser

NOTEBOOKS = course.notebooks()
PAGES = ["index.html"] + [f"{path.stem}.html" for path in NOTEBOOKS]


def committed_explorers(path) -> int:
    from browser_support import committed
    return committed(path).explorers
SETTLE_S = 180      # MathJax typesetting a long page, images decoding (seconds when loaded)

PAGE_JS = r"""() => {
  const article = document.querySelector('article') || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll('script, code, pre, .MathJax, .MathJax_Display, .MathJax_Preview').forEach(e => e.remove());
  const images = Array.from(article.querySelectorAll('img'));
  return {
    mathjax: !!window.MathJax,
    typesetDone: window.courseTypesetDone === true,
    math: article.querySelectorAll('.MathJax, .MathJax_Display').length,
    mathErrors: article.querySelectorAll('.MathJax .merror, .MathJax_Display .merror').length,
    rawMath: (copy.textContent.match(/\\\(|\\\[|\$[^$\s][^$]*\$/g) || []).slice(0, 3),
    figures: images.filter(img => img.src.includes('/_images/')).length,
    drawn: images.filter(img => img.complete && img.naturalWidth > 0).length,
    undrawn: images.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(-80)).slice(0, 3),
    images: images.length,
    folded: Array.from(article.querySelectorAll('details.hide')).map(d => d.open),
    prev: !!document.querySelector('.prev-next-area a.left-prev'),
    next: !!document.querySelector('.prev-next-area a.right-next'),
  };
}"""

# MathJax 2.7 typesets on start-up in its queue; a callback queued after start-up runs once that is done.
TYPESET_JS = r"""() => {
  if (!(window.MathJax && MathJax.isReady === true)) return false;
  if (!window.courseTypesetQueued) {
    window.courseTypesetQueued = true;
    MathJax.Hub.Queue(() => { window.courseTypesetDone = true; });
  }
  return window.courseTypesetDone === true;
}"""


@pytest.fixture
def site_page(browser, site, steps):
    """A page of a fresh browser context; its requests outside the site's server fail and are recorded in
    ``steps.notes["outside"]``."""
    context, page = new_page(browser, site, steps)
    yield page
    context.close()


@pytest.mark.parametrize("name", PAGES, ids=lambda n: n[:2] if n[0].isdigit() else "home")
def test_site_page_renders_offline(site, site_page, steps, shots, committed, name):
    page = site_page
    with steps(f"load {name}"):
        answer = page.goto(f"{site.url}/{name}")
        assert answer is not None and answer.status == 200, f"{name} did not load"
        page.wait_for_load_state("networkidle")
    with steps("MathJax typeset the page"):
        if page.evaluate("() => !!document.querySelector('script[src*=\"MathJax.js\"]')"):
            page.wait_for_function(TYPESET_JS, polling=250, timeout=SETTLE_S * 1000)
    with steps("every image decoded"):
        state = wait_until(page, PAGE_JS, lambda s: s["drawn"] == s["images"], "every image displayed", SETTLE_S)
    with steps("the page's figures, math, navigation and folded solutions"):
        page.screenshot(path=str(shots / f"site-{name.replace('.html', '')}.png"))
        if name != "index.html":
            (path,) = [p for p in NOTEBOOKS if f"{p.stem}.html" == name]
            expected = committed(path)
            assert state["figures"] == expected.figures, f"{state['figures']} of {expected.figures} figures on the page"
            if expected.has_math:
                assert state["math"] > 0, "no math typeset"
            assert state["prev"] and (state["next"] or path == NOTEBOOKS[-1]), "previous/next links"
            assert len(state["folded"]) >= expected.folded and not any(state["folded"]), "solutions are folded"
        else:
            assert state["images"] >= 1, "the README's picture of an explorer is on the home page"
        assert state["mathErrors"] == 0, "MathJax reported errors"
        assert state["rawMath"] == [], f"unrendered math left: {state['rawMath']}"
        outside = steps.notes["outside"]
        assert outside == [], f"the page asked for something outside the site: {outside[:3]}"


def test_every_internal_link_resolves(site):
    """Every link between the site's pages (and every #anchor on them) points at something that exists."""
    pages, broken = {}, []

    def fetch(url):
        if url not in pages:
            try:
                with urllib.request.urlopen(url, timeout=60) as answer:
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


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if committed_explorers(p)], ids=lambda p: p.stem[:2])
def test_site_explorers_are_live_offline(site, site_page, steps, shots, path):
    """Every explorer of a page runs on the site with the network blocked: its picture hidden, its table drawn,
    and a hover over the first cell names a weight or a position."""
    page = site_page
    with steps(f"load {path.stem}.html"):
        page.goto(f"{site.url}/{path.stem}.html")
        page.wait_for_load_state("networkidle")
    with steps("every explorer live"):
        explorers = page.locator(".attention-explorer, .sampling-explorer")
        assert explorers.count() == committed_explorers(path)
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            explorer.locator(".explorer-view table tr").first.wait_for()
            assert explorer.locator(".explorer-static").is_hidden()
            if explorer.locator("table.explorer-grid").count():
                read_back_a_weight(explorer)
        explorers.first.screenshot(path=str(shots / f"site-{path.stem[:2]}-explorer.png"))
        assert steps.notes["page errors"] == [], steps.notes["page errors"]
        assert steps.notes["outside"] == [], steps.notes["outside"][:3]

