"""Fixtures of the browser tests: JupyterLab from the course's venv, the course site, headless Chromium.

Run them with ``python -m pytest -m browser tests/browser`` after ``python -m pip install -r
requirements-site.txt`` and ``apt-get install -y chromium`` (Debian). Playwright drives the system's Chromium
(``executable_path``): downloading Playwright's own browsers needs the network. Screenshots go to
``build/browser/``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from helpers import paths

SHOTS_DIR = paths.BUILD_DIR / "browser"
LAB_SETTINGS = paths.REPO_ROOT / "jupyterlab-settings"   # the course's overrides (no news pop-up)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as answer:
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


@pytest.fixture(scope="session")
def committed():
    """What a committed notebook holds: cells, PNG figures, whether its markdown has math, folded solutions."""
    return _committed


def _committed(path):
    notebook = nbformat.read(path, as_version=4)
    figures = sum("image/png" in output.get("data", {}) for cell in notebook.cells
                  for output in cell.get("outputs", []))
    has_math = any("$" in cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    folded = sum(bool(cell.metadata.get("jupyter", {}).get("source_hidden")) for cell in notebook.cells)
    return len(notebook.cells), figures, has_math, folded


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SHOTS_DIR


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-site.txt")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("no Chromium on PATH: `apt-get install -y chromium` (Debian)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Server:
    """JupyterLab as a new user meets it, serving a copy of the notebooks (runs and autosaves stay there).

    The user's own Jupyter settings are not read or touched: config, settings, workspaces and runtime
    folders are fresh temporary ones. The course's settings overrides are passed as the README does.
    """
    home = tmp_path_factory.mktemp("lab-user")
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(paths.NOTEBOOKS_DIR, root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, **{name: str(home / folder) for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime"))}}
    log = home / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.allow_root=True", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.app_settings_dir={LAB_SETTINGS}"]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/api/status?token={token}", process, log)
        yield Server(url, token, root)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Server:
    """The course site, built offline and served by ``http.server`` on 127.0.0.1."""
    from helpers import site as course_site

    out = tmp_path_factory.mktemp("site") / "site"
    start = time.perf_counter()
    course_site.build(out)
    print(f"site build: {time.perf_counter() - start:.1f} s")
    port = free_port()
    log = out.parent / "http.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                    "--directory", str(out)], stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/index.html", process, log, seconds=30)
        yield Server(url, "", out)
    finally:
        stop(process)
