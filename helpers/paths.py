"""Where the course keeps things: every path is computed here, from this file.

Notebooks never write ``../data``: nbval runs a kernel in the notebook's folder and
papermill in the caller's, so relative paths would differ between the two.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = REPO_ROOT / "data"
NOTEBOOKS_DIR: Path = REPO_ROOT / "notebooks"
BUILD_DIR: Path = REPO_ROOT / "build"

#: Environment variable that moves the metrics folder (the runner and tests set it).
RESULTS_ENV = "COURSE_RESULTS_DIR"


def results_dir() -> Path:
    """The folder for headline metrics: ``$COURSE_RESULTS_DIR`` or ``<repo>/results``."""
    override = os.environ.get(RESULTS_ENV)
    return Path(override).expanduser().resolve() if override else REPO_ROOT / "results"
