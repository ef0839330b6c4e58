"""What the browser tests share: servers, named steps with a screenshot on failure, condition waits.

Every wait is for a condition (a kernel that has answered, math typeset, images decoded), never a fixed
sleep, with a limit far above what a loaded 2-core machine needs: the limits only bound a real failure. Each
test names its steps (:class:`Steps`); a failing step is named in the failure, with the seconds it took, the
steps before it and a screenshot under ``build/browser/failed/``. Imports nothing that learners lack (no
Playwright), since the main test run collects these modules too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from helpers import paths

SHOTS_DIR = paths.BUILD_DIR / "browser"
FAILED_DIR = SHOTS_DIR / "failed"
LAB_SETTINGS = paths.REPO_ROOT / "jupyterlab-settings"   # the course's overrides (no news pop-up)
SERVER_START_S = 180        # JupyterLab's first start on a cold machine (imports, extension discovery)
DEFAULT_TIMEOUT_MS = 120_000  # any single Playwright action or navigation
# Chromium resolves no host but 127.0.0.1, where the servers under test listen: a request that leaves them fails
# at once instead of waiting on the network (and is recorded by :func:`new_page`).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.5)
    pytest.fail(f"no answer from {url} within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server by its process id: SIGTERM, then SIGKILL if it has not exited within 20 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class Server:
    url: str          # http://127.0.0.1:PORT
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str):
        """Call the Jupyter server's REST API; the decoded JSON answer (None if empty)."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None


class Committed(NamedTuple):
    """What a committed notebook holds."""
    cells: int
    figures: int        # PNG outputs
    has_math: bool      # markdown with $...$
    folded: int         # cells with their source hidden (solutions)
    markdown: int       # markdown cells
    explorers: int = 0  # helpers.explore / explore_sampling outputs (HTML with a picture and a script)


def committed(path) -> Committed:
    """What a committed notebook holds: cells, PNG figures, whether its markdown has math, folded solutions."""
    notebook = nbformat.read(path, as_version=4)
    figures = sum("image/png" in output.get("data", {}) for cell in notebook.cells
                  for output in cell.get("outputs", []))
    markdown = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    has_math = any("$" in cell.source for cell in markdown)
    folded = sum(bool(cell.metadata.get("jupyter", {}).get("source_hidden")) for cell in notebook.cells)
    explorers = sum("class='attention-explorer'" in "".join(output.get("data", {}).get("text/html", ""))
                    or "class='sampling-explorer'" in "".join(output.get("data", {}).get("text/html", ""))
                    for cell in notebook.cells for output in cell.get("outputs", []))
    return Committed(len(notebook.cells), figures, has_math, folded, len(markdown), explorers)


@dataclass
class Steps:
    """The named steps of one browser test. ``with steps("what"):`` runs one; if it fails (an assert, a
    Playwright timeout, a wait that ran out), the test fails naming the step, its seconds and the steps
    before it, with a screenshot of ``page`` and the page's own errors and blocked requests."""
    test: str
    page: object = None
    notes: dict = field(default_factory=dict)      # name -> list shown on failure (page errors, requests)
    done: list = field(default_factory=list)

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.monotonic()
        try:
            yield
        except (Exception, pytest.fail.Exception) as error:
            seconds = time.monotonic() - start
            lines = [f"step {name!r} failed after {seconds:.1f} s: {_first_line(error)}"]
            lines.append(f"steps done: {', '.join(self.done) or 'none'}")
            lines.append(f"screenshot: {self.screenshot(name)}")
            lines += [f"{label}: {items[-5:]}" for label, items in self.notes.items() if items]
            message = "\n".join(lines + ["", f"{type(error).__name__}: {error}"])
            raise pytest.fail.Exception(message, pytrace=False) from None
        self.done.append(f"{name} ({time.monotonic() - start:.1f} s)")
        print(f"step {name!r}: {time.monotonic() - start:.1f} s")

    def screenshot(self, name: str) -> str:
        if self.page is None:
            return "none (no page)"
        FAILED_DIR.mkdir(parents=True, exist_ok=True)
        target = FAILED_DIR / re.sub(r"[^\w.-]+", "-", f"{self.test}-{name}")[:150]
        target = target.with_suffix(".png")
        try:
            self.page.screenshot(path=str(target), timeout=30_000)
        except Exception as error:                  # a crashed or closed page: say so, keep the failure
            return f"none ({_first_line(error)})"
        return str(target)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def wait_until(page, script: str, predicate, what: str, seconds: float, poll_ms: int = 500):
    """Evaluate ``script`` on the page until ``predicate(result)`` holds; return that result, or fail after
    ``seconds`` with the last one. Between polls Playwright keeps serving the page's events
    (``wait_for_timeout``; ``time.sleep`` would hold them up)."""
    deadline, state = time.monotonic() + seconds, None
    while True:
        state = page.evaluate(script)
        if state is not None and predicate(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached within {seconds:.0f} s; last state: {state}")
        page.wait_for_timeout(poll_ms)


def new_page(browser, server: Server, steps: Steps):
    """A fresh browser context (a new learner) and its page. Requests that leave ``server`` are recorded in
    ``steps.notes["outside"]`` (the browser cannot resolve any other host: :data:`OFFLINE_ARGS`), the page's
    script errors in ``steps.notes["page errors"]``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    outside = steps.notes.setdefault("outside", [])
    errors = steps.notes.setdefault("page errors", [])
    page = context.new_page()
    inside = (server.url + "/", "data:", "blob:", "about:")     # about:blank: MathJax 2's blank @font-face
    page.on("request", lambda request: None if request.url.startswith(inside) else outside.append(request.url))
    page.on("pageerror", lambda error: errors.append(_first_line(error)))
    steps.page = page
    return context, page


def read_back_a_weight(explorer, weights=None):
    """On a live attention explorer (a Playwright locator): choose the last head, hover a middle cell and read its
    weight back at the display precision, equal to ``weights`` (layers, heads, queries, keys) when given, else to
    the data the page holds; lock its row, see the panel stay on it over another row, and unlock it."""
    data = json.loads(explorer.locator("script.explorer-data").text_content())
    head = len(data["weights"][0]) - 1
    explorer.locator("select[aria-label=head]").select_option(str(head))
    query, key = len(data["query_labels"]) // 2, len(data["key_labels"]) // 2
    row = explorer.locator(f"tr.explorer-row[data-query='{query}']")
    row.locator(f"td[data-key='{key}']").hover()
    info = explorer.locator(".explorer-info").text_content()
    expected = f"{(data['weights'] if weights is None else weights)[0][head][query][key]:.{data['precision']}f}"
    assert expected in info and "→ key" in info and data["head_names"][head] in info, (info, expected)
    row.locator("th").click()
    assert "locked" in explorer.locator(".explorer-info").text_content()
    explorer.locator("tr.explorer-row[data-query='0'] td[data-key='0']").hover()
    assert f'"{data["query_labels"][query]}"' in explorer.locator(".explorer-info").text_content(), \
        "the locked query keeps the panel"
    row.locator("th").click()
    assert "locked" not in explorer.locator(".explorer-info").text_content()
