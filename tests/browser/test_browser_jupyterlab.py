"""The notebooks as a learner meets them in JupyterLab, in headless Chromium.

Two traps of JupyterLab 4 shape these checks. Off-screen cells are attached but not drawn
(``content-visibility``), so text is read with ``textContent``, never ``innerText``. And the kernel status
reads "idle" for a moment before the kernel has started, so a run is judged by the execution counts that
appear, not by the status.
"""

from __future__ import annotations

import re
import time

import pytest

from helpers import course

pytestmark = pytest.mark.browser

NOTEBOOKS = course.notebooks()
RUN_ALL = ["01", "08"]              # run top to bottom in the browser (about 45 s and 90 s of kernel time)
RUN_ALL_TIMEOUT_S = 600

# The state of the open notebook, read from the DOM (textContent: off-screen cells are not drawn).
STATE_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const markdown = Array.from(panel.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')).map(node => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll('code, pre, mjx-container, mjx-assistive-mml').forEach(e => e.remove());
    return copy.textContent;
  });
  return {
    cells: panel.querySelectorAll('.jp-Cell').length,
    figures: Array.from(panel.querySelectorAll('.jp-OutputArea-output img'))
      .filter(img => img.complete && img.naturalWidth > 0).length,
    math: panel.querySelectorAll('mjx-container').length,
    rawMath: markdown.filter(text => /\$[^$]+\$|\\\(|\\\[/.test(text)).map(text => text.slice(0, 120)),
    errors: Array.from(panel.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map(e => e.textContent.slice(0, 300)),
    dirty: document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty').length,
    toasts: Array.from(document.querySelectorAll('.Toastify__toast')).map(e => e.textContent.slice(0, 120)),
    prompts: Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
      .map(e => e.textContent.trim()),
    kernel: (panel.querySelector('.jp-Notebook-ExecutionIndicator') || {dataset: {}}).dataset.status,
  };
}"""


def wait_until(page, predicate, what: str, seconds: float):
    """Poll the page's state until ``predicate(state)`` holds; fail with the last state if it never does."""
    deadline, state = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        state = page.evaluate(STATE_JS)
        if state and predicate(state):
            return state
        time.sleep(0.5)
    pytest.fail(f"{what} not reached within {seconds:.0f} s; last state: {state}")


def open_notebook(browser, lab, path, committed):
    """A fresh browser context (a new learner) opening one notebook; returns the page once it is drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{lab.url}/lab/tree/notebooks/{path.name}?token={lab.token}&reset")
    page.wait_for_selector(".jp-NotebookPanel", timeout=90_000)
    cells, figures, _, _ = committed(path)
    wait_until(page, lambda s: s["cells"] == cells and s["figures"] >= figures and s["kernel"] == "idle",
               f"{path.name}: {cells} cells, {figures} figures and an idle kernel", 90)
    time.sleep(3)      # let JupyterLab settle: a metadata rewrite would mark the tab dirty now
    return context, page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_opens_clean_with_math_and_figures(browser, lab, shots, committed, path):
    context, page = open_notebook(browser, lab, path, committed)
    try:
        cells, figures, has_math, _ = committed(path)
        state = page.evaluate(STATE_JS)
        page.screenshot(path=str(shots / f"lab-{path.stem[:2]}-opened.png"))
        assert state["dirty"] == 0, f"{path.name} is marked unsaved on opening, with no edits"
        assert state["toasts"] == [], f"a pop-up covers the notebook on first open: {state['toasts']}"
        assert state["figures"] == figures, f"{state['figures']} of {figures} committed figures displayed"
        if has_math:
            assert state["math"] > 0, "no math typeset"
        assert state["rawMath"] == [], f"unrendered math left: {state['rawMath'][:3]}"
        assert state["errors"] == [], f"error output in the committed notebook: {state['errors'][:2]}"
        if path.stem.startswith("01"):
            figure = page.locator(".jp-OutputArea-output img").first
            figure.scroll_into_view_if_needed()
            figure.screenshot(path=str(shots / "lab-01-figure.png"))
    finally:
        context.close()


def menu(page, top: str, item: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


@pytest.mark.parametrize("prefix", RUN_ALL)
def test_restart_and_run_all_finishes_without_errors(browser, lab, shots, committed, prefix):
    (path,) = course.notebooks([prefix])
    context, page = open_notebook(browser, lab, path, committed)
    try:
        menu(page, "View", "Expand All Code")           # solutions too: their prompts must show a count
        menu(page, "Edit", "Clear Outputs of All Cells")
        wait_until(page, lambda s: not any(re.search(r"\d", p) for p in s["prompts"]),
                   "every execution count cleared", 30)
        menu(page, "Kernel", "Restart Kernel and Run All Cells")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        start = time.monotonic()
        state = wait_until(page, lambda s: s["errors"] or all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]),
                           f"{path.name}: an execution count on every code cell", RUN_ALL_TIMEOUT_S)
        print(f"{path.name}: run all in the browser took {time.monotonic() - start:.0f} s")
        page.locator(".jp-NotebookPanel .jp-Cell").last.scroll_into_view_if_needed()
        time.sleep(1)
        page.screenshot(path=str(shots / f"lab-{prefix}-run-all-end.png"))
        assert state["errors"] == [], f"error output after Run All: {state['errors'][:2]}"
        counts = [int(p[1:-2]) for p in state["prompts"]]
        assert counts == list(range(1, len(counts) + 1)), f"cells ran out of order: {counts}"
        _, figures, _, _ = committed(path)
        assert state["figures"] >= figures, "every figure drawn again"
    finally:
        context.close()
