"""The notebooks as a learner meets them in JupyterLab, in headless Chromium.

Off-screen cells are attached but not drawn (``content-visibility``), so text is read with ``textContent``,
never ``innerText``. The kernel status JupyterLab shows reads "idle" before the kernel has started, so the
kernel is judged through ``window.jupyterapp``: connected, idle, and its kernel info and spec received
(JupyterLab writes the notebook's kernel metadata from them, which is when an unsaved marker could appear).
Every wait is for a condition; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import nbformat
import numpy as np
import pytest
from browser_support import new_page, read_back_a_weight, wait_until

from helpers import course

pytestmark = pytest.mark.browser

NOTEBOOKS = course.notebooks()
RUN_ALL = ["01"]           # run top to bottom in the browser (about 30 s of kernel time when quiet); the
                           # explorers' life in a running kernel is checked on a small notebook of its own
OPEN_S = 300               # the notebook drawn, its kernel started, its math typeset (10-20 s when loaded)
STALL_S = 900              # Run All fails when no further cell finishes for this long ...
RUN_ALL_S = 1800           # ... or when it has not finished at all by then (01: 30 s quiet, 120 s loaded)

# The state of the open notebook: what the page shows (textContent: off-screen cells are not drawn) and what
# JupyterLab knows of its kernel and model.
STATE_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return null;
  const markdown = Array.from(panel.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown'));
  const text = markdown.map(node => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll('code, pre, mjx-container, mjx-assistive-mml').forEach(e => e.remove());
    return copy.textContent;
  });
  const app = window.jupyterapp;
  const widget = app && Array.from(app.shell.widgets('main')).find(w => w.node === panel);
  let kernel = null;
  const session = widget && widget.sessionContext && widget.sessionContext.session;
  if (session && session.kernel) {
    const k = session.kernel;
    if (!k.courseSeen) {          // resolved promises, recorded once per kernel
      const seen = k.courseSeen = {info: false, spec: false};
      k.info.then(() => { seen.info = true; }, () => {});
      k.spec.then(() => { seen.spec = true; }, () => {});
    }
    kernel = {status: k.status, connection: k.connectionStatus, info: k.courseSeen.info, spec: k.courseSeen.spec};
  }
  const loaded = !!(widget && widget.context && widget.context.isReady);  // the file's content is in the model
  return {
    cells: panel.querySelectorAll('.jp-Cell').length,
    rendered: markdown.filter(node => node.childNodes.length > 0).length,
    figures: Array.from(panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="image/png"] img'))
      .filter(img => img.complete && img.naturalWidth > 0).length,
    explorerPictures: Array.from(panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/html"] img'))
      .filter(img => img.complete && img.naturalWidth > 0).length,
    explorersLive: panel.querySelectorAll('.explorer-view table tr').length,
    math: panel.querySelectorAll('mjx-container').length,
    rawMath: text.filter(t => /\$[^$]+\$|\\\(|\\\[/.test(t)).map(t => t.slice(0, 120)),
    errors: Array.from(panel.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map(e => e.textContent.slice(0, 300)),
    outputs: panel.querySelectorAll('.jp-OutputArea-output').length,
    hiddenInputs: panel.querySelectorAll('.jp-InputPlaceholder').length,
    dirty: document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty').length,
    modelDirty: widget && widget.model ? widget.model.dirty : null,
    toasts: Array.from(document.querySelectorAll('.Toastify__toast')).map(e => e.textContent.slice(0, 120)),
    dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(e => e.textContent.slice(0, 120)),
    prompts: Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
      .map(e => e.textContent.trim()),
    loaded,
    kernel,
  };
}"""


def kernel_ready(state) -> bool:
    """The file is loaded (JupyterLab marks the tab unsaved while it loads it) and the kernel has started
    and answered: connected, idle, its info and spec received."""
    kernel = state["kernel"]
    return bool(state["loaded"] and kernel and kernel["connection"] == "connected" and kernel["status"] == "idle"
                and kernel["info"] and kernel["spec"])


@pytest.fixture
def lab_page(browser, lab, steps):
    """A fresh browser context (a new learner) on JupyterLab. Afterwards the test's kernels are shut down,
    so that every test starts a kernel of its own, whatever ran before it."""
    context, page = new_page(browser, lab, steps)
    yield page
    context.close()
    try:
        for session in lab.api("GET", "/api/sessions"):
            lab.api("DELETE", f"/api/sessions/{urllib.parse.quote(session['id'])}")
    except OSError as error:                       # the next test starts its own kernel all the same
        print(f"could not shut the test's kernels down: {error}")


def open_notebook(page, lab, steps, path, committed):
    """Open one notebook and wait until it has settled: every cell attached, every markdown cell rendered
    and its math typeset, every committed figure displayed, and the kernel started. Returns the state."""
    expected = committed(path)
    name = path.stem[:2]
    with steps(f"{name}: load JupyterLab"):
        page.goto(f"{lab.url}/lab/tree/notebooks/{path.name}?token={lab.token}&reset",
                  wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel", timeout=OPEN_S * 1000)
    with steps(f"{name}: all {expected.cells} cells attached"):
        wait_until(page, STATE_JS, lambda s: s["cells"] == expected.cells, "cells attached", OPEN_S)
    with steps(f"{name}: file loaded, kernel started (connected, idle, kernel info received)"):
        wait_until(page, STATE_JS, kernel_ready, "kernel ready", OPEN_S)
    with steps(f"{name}: {expected.markdown} markdown cells rendered, math typeset"):
        wait_until(page, STATE_JS, lambda s: s["rendered"] == expected.markdown and s["rawMath"] == []
                   and (s["math"] > 0 or not expected.has_math), "markdown rendered and typeset", OPEN_S)
    with steps(f"{name}: {expected.figures} committed figures displayed"):
        return wait_until(page, STATE_JS, lambda s: s["figures"] >= expected.figures, "figures drawn", OPEN_S)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_notebook_opens_clean_with_math_and_figures(lab_page, lab, steps, shots, committed, path):
    page, expected = lab_page, committed(path)
    open_notebook(page, lab, steps, path, committed)
    with steps("the settled notebook: no unsaved marker, no pop-up, figures, no errors"):
        state = page.evaluate(STATE_JS)
        page.screenshot(path=str(shots / f"lab-{path.stem[:2]}-opened.png"))
        assert state["dirty"] == 0 and state["modelDirty"] is False, \
            f"{path.name} is marked unsaved on opening, with no edits"
        assert state["toasts"] == [] and state["dialogs"] == [], \
            f"a pop-up covers the notebook on first open: {state['toasts'] + state['dialogs']}"
        assert state["figures"] == expected.figures, \
            f"{state['figures']} of {expected.figures} committed figures displayed"
        # an untrusted notebook runs no script of its outputs: each explorer shows its picture instead
        assert state["explorerPictures"] == expected.explorers, \
            f"{state['explorerPictures']} of {expected.explorers} explorer pictures displayed"
        assert state["errors"] == [], f"error output in the committed notebook: {state['errors'][:2]}"
        outside = steps.notes["outside"]
        assert outside == [], f"JupyterLab asked for something outside its server: {outside[:3]}"
    if path.stem.startswith("01"):
        with steps("01: screenshot of the first figure"):
            figure = page.locator(".jp-OutputArea-output img").first
            figure.scroll_into_view_if_needed()
            figure.screenshot(path=str(shots / "lab-01-figure.png"))


def menu(page, top: str, item: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def numbered(prompt: str) -> bool:
    return re.fullmatch(r"\[\d+\]:", prompt) is not None


@pytest.mark.parametrize("prefix", RUN_ALL)
def test_restart_and_run_all_finishes_without_errors(lab_page, lab, steps, shots, committed, prefix):
    (path,) = course.notebooks([prefix])
    page, expected = lab_page, committed(path)
    open_notebook(page, lab, steps, path, committed)
    with steps("View > Expand All Code (solutions too: their prompts must show a count)"):
        menu(page, "View", "Expand All Code")
        wait_until(page, STATE_JS, lambda s: s["hiddenInputs"] == 0, "every input shown", 60)
    with steps("Edit > Clear Outputs of All Cells"):
        menu(page, "Edit", "Clear Outputs of All Cells")
        wait_until(page, STATE_JS, lambda s: s["outputs"] == 0 and not any(re.search(r"\d", p) for p in s["prompts"]),
                   "every output and execution count cleared", 60)
    with steps("Kernel > Restart Kernel and Run All Cells, accepted"):
        menu(page, "Kernel", "Restart Kernel and Run All Cells")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        page.locator(".jp-Dialog").wait_for(state="detached")
    with steps(f"{prefix}: Run All to the end (fails when no cell finishes for {STALL_S} s)"):
        state, seconds = run_to_end(page)
        print(f"{path.name}: run all in the browser took {seconds:.0f} s")
    with steps(f"{prefix}: no error output, cells ran in order, {expected.figures} figures drawn again"):
        assert state["errors"] == [], f"error output after Run All: {state['errors'][:2]}"
        counts = [int(p[1:-2]) for p in state["prompts"]]
        assert counts == list(range(1, len(counts) + 1)), f"cells ran out of order: {counts}"
        wait_until(page, STATE_JS, lambda s: s["figures"] >= expected.figures, "every figure drawn again", 120)
        page.locator(".jp-NotebookPanel .jp-Cell").last.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"lab-{prefix}-run-all-end.png"))
    if expected.explorers:
        with steps(f"{prefix}: after Run All, every explorer is live (its script ran in the trusted session)"):
            explorers = page.locator(".jp-NotebookPanel .attention-explorer, .jp-NotebookPanel .sampling-explorer")
            assert explorers.count() == expected.explorers
            for i in range(expected.explorers):
                explorer = explorers.nth(i)
                explorer.scroll_into_view_if_needed()
                explorer.locator(".explorer-view table tr").first.wait_for()
                assert explorer.locator(".explorer-static").is_hidden()
            sampler = page.locator(".jp-NotebookPanel .sampling-explorer")
            if sampler.count():
                sampler.first.locator("input[aria-label='temperature']").evaluate(
                    "input => { input.value = '0'; input.dispatchEvent(new Event('input')); }")
                assert sampler.first.locator(".explorer-info").text_content().startswith("1 token can be drawn")
                sampler.first.screenshot(path=str(shots / f"lab-{prefix}-sampling-explorer.png"))


def run_to_end(page):
    """Poll until every code cell shows an execution count and the kernel is idle, or an error output
    appears. Fails when no further cell has finished for ``STALL_S``, or after ``RUN_ALL_S`` in all: a
    loaded machine only slows the run down, a hung cell stops it."""
    start = progress = time.monotonic()
    finished = -1
    while True:
        state = page.evaluate(STATE_JS)
        done = sum(numbered(prompt) for prompt in state["prompts"])
        kernel = state["kernel"] or {}
        if state["errors"] or (done == len(state["prompts"]) and kernel.get("status") == "idle"
                               and kernel.get("connection") == "connected"):
            return state, time.monotonic() - start
        now = time.monotonic()
        if done > finished:
            finished, progress = done, now
        if now - progress > STALL_S or now - start > RUN_ALL_S:
            running = [p for p in state["prompts"] if not numbered(p)][:3]
            pytest.fail(f"{done} of {len(state['prompts'])} code cells finished after {now - start:.0f} s, "
                        f"none in the last {now - progress:.0f} s; kernel {kernel}; unfinished prompts {running}")
        page.wait_for_timeout(1000)


# A notebook of two explorers whose arrays the test knows: the same seeded NumPy lines run in the kernel and here.
EXPLORER_CHECK = """import numpy as np
import helpers
rng = np.random.default_rng(3)
scores = rng.standard_normal((2, 4, 5))                     # heads, queries, keys
weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
logits = rng.standard_normal((1, 12)) * 2.0"""


def test_explorers_live_in_a_running_kernel_read_back_their_arrays(lab_page, lab, steps, shots):
    """Run a notebook with an attention explorer and a sampling explorer in JupyterLab; hover a weight and read
    it back equal to the array; lock and unlock a query; temperature 0 leaves one token whose probability is 1."""
    namespace = {}
    exec(EXPLORER_CHECK, namespace)
    weights, logits = namespace["weights"], namespace["logits"]
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(EXPLORER_CHECK),
        nbformat.v4.new_code_cell('helpers.explore(weights, list("abcd"), list("vwxyz"), title="check")'),
        nbformat.v4.new_code_cell('helpers.explore_sampling(logits, [chr(97 + i) for i in range(12)], ["row"], '
                                  'shown=12)')])
    notebook.metadata["kernelspec"] = course.KERNELSPEC
    nbformat.write(notebook, lab.root / "explorer-check.ipynb")
    page = lab_page
    with steps("open the notebook and wait for its kernel"):
        page.goto(f"{lab.url}/lab/tree/explorer-check.ipynb?token={lab.token}&reset", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel", timeout=OPEN_S * 1000)
        wait_until(page, STATE_JS, kernel_ready, "kernel ready", OPEN_S)
    with steps("Run > Run All Cells, to the end without errors"):
        menu(page, "Run", "Run All Cells")
        state, _ = run_to_end(page)
        assert state["errors"] == [], f"error output: {state['errors'][:2]}"
    explorer = page.locator(".jp-NotebookPanel .attention-explorer")
    with steps("the attention explorer is live: the last head, a weight read back equal to the array, a query "
               "locked and unlocked"):
        explorer.locator(".explorer-view table tr").first.wait_for()
        assert explorer.locator(".explorer-static").is_hidden(), "the script replaced the picture"
        read_back_a_weight(explorer, weights[None])
        explorer.screenshot(path=str(shots / "lab-explorer-live.png"))
    sampler = page.locator(".jp-NotebookPanel .sampling-explorer")
    with steps("the sampling explorer is live: temperature 0 leaves the largest logit, at probability 1"):
        sampler.locator("table.explorer-bars tr").first.wait_for()
        sampler.locator("input[aria-label='temperature']").evaluate(
            "input => { input.value = '0'; input.dispatchEvent(new Event('input')); }")
        assert sampler.locator(".explorer-info").inner_text().startswith("1 token can be drawn")
        top = int(np.argmax(logits[0]))
        row = sampler.locator(f"table.explorer-bars tr[data-token='{top}'] .explorer-probability")
        assert float(row.inner_text()) == 1.0
