"""Fixtures of the browser tests: JupyterLab from the course's venv, the course site, headless Chromium.

Run them with ``python -m pytest -m browser tests/browser`` after ``python -m pip install -r
requirements-site.txt`` and ``apt-get install -y chromium`` (Debian). Playwright drives the system's Chromium
(``executable_path``): downloading Playwright's own browsers needs the network. Screenshots go to
``build/browser/``, and those of failed steps to ``build/browser/failed/`` (see ``browser_support.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_support import (DEFAULT_TIMEOUT_MS, FAILED_DIR, LAB_SETTINGS, OFFLINE_ARGS, SERVER_START_S, SHOTS_DIR,
                             Server, Steps, committed as _committed, free_port, stop, wait_for)

from helpers import paths


@pytest.fixture(scope="session")
def committed():
    """What a committed notebook holds (``browser_support.Committed``)."""
    return _committed


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SHOTS_DIR


@pytest.fixture(scope="session", autouse=True)
def no_old_failures():
    """``build/browser/failed/`` holds the screenshots of this run's failed steps only."""
    shutil.rmtree(FAILED_DIR, ignore_errors=True)


@pytest.fixture
def steps(request) -> Steps:
    """The test's named steps: ``with steps("what"):``; a failing one is named, with a screenshot."""
    return Steps(request.node.name)


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements-site.txt")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("no Chromium on PATH: `apt-get install -y chromium` (Debian)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=OFFLINE_ARGS,
                                              timeout=DEFAULT_TIMEOUT_MS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Server:
    """JupyterLab as a new user meets it, serving a copy of the notebooks (runs and autosaves stay there).

    The user's own Jupyter and IPython folders are not read or touched: config, data (notebook signatures,
    kernelspecs), settings, workspaces, runtime and the IPython profile are fresh temporary ones, and the
    notebooks record their metrics in a temporary folder, not the course's ``results/``. The course's
    settings overrides are passed as the README does. ``window.jupyterapp`` is exposed so that a test can ask
    JupyterLab whether the kernel has really started (the status it shows reads "idle" before it has).
    """
    # matplotlib's font cache, built now rather than by a kernel's first plot: a build that takes over 5 s
    # prints "Matplotlib is building the font cache" on stderr, an error output in the notebook.
    import matplotlib.font_manager  # noqa: F401

    home = tmp_path_factory.mktemp("lab-user")
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(paths.NOTEBOOKS_DIR, root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, **{name: str(home / folder) for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"), (paths.RESULTS_ENV, "results"))}}
    log = home / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.allow_root=True", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.app_settings_dir={LAB_SETTINGS}", "--LabApp.expose_app_in_browser=True"]
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/api/status?token={token}", process, log, SERVER_START_S)
        yield Server(url, token, root, log)
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
        wait_for(f"{url}/index.html", process, log, seconds=60)
        yield Server(url, "", out, log)
    finally:
        stop(process)
