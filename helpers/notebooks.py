"""The course notebooks and their render stamps: which notebooks there are, and whether each render is current.

Both the runner (``helpers.course``) and the site builder (``helpers.site``) import this module; neither imports
the other. ``render`` stamps each notebook's metadata (key ``"course"``) with two hashes: one of the notebook's
code cells and one of the ``helpers`` package's source, the code that the notebook imports. :func:`check`
compares both with the notebook and the package as they are now, so a change in either one makes the committed
outputs stale, and says which of the two changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

from helpers import paths

#: The notebook metadata key of the render stamp: ``{"code_sha256": ..., "helpers_sha256": ...}``.
HASH_KEY = "course"
#: The package whose source every render depends on (its ``*.py`` files, in every subfolder).
HELPERS_DIR: Path = Path(__file__).resolve().parent
RENDER_COMMAND = "python -m helpers.course render"


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The course notebooks in order, optionally those whose names start with ``only``."""
    found = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    chosen = [nb for nb in found if any(nb.stem.startswith(prefix) for prefix in only)]
    unknown = [p for p in only if not any(nb.stem.startswith(p) for nb in found)]
    if unknown:
        raise ValueError(f"--only {unknown} matches no notebook; available: "
                         f"{[nb.stem for nb in found]}")
    return chosen


def code_hash(notebook: nbformat.NotebookNode) -> str:
    """sha256 of the notebook's code cells (their sources, in order)."""
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


#: Modules of the package that only the runner uses (no notebook imports them, directly or through
#: ``import helpers``): a change there cannot change a notebook's outputs, so it does not make renders stale.
RUNNER_ONLY = frozenset({"course.py", "notebooks.py", "calibration.py", "readme.py", "site.py", "__main__.py"})


def helpers_hash(folder: Path | None = None) -> str:
    """sha256 over the ``*.py`` files of the helpers package that notebooks import: each file's path (relative,
    sorted) and content; every file but the runner's own top-level modules (:data:`RUNNER_ONLY`).

    Hidden files and folders are left out. Line endings are normalised, so a checkout with CRLF line ends
    hashes as the committed files do.
    """
    folder = Path(folder or HELPERS_DIR)
    digest = hashlib.sha256()
    files = sorted((path.relative_to(folder).as_posix(), path) for path in folder.rglob("*.py")
                   if not any(part.startswith(".") for part in path.relative_to(folder).parts)
                   and path.relative_to(folder).as_posix() not in RUNNER_ONLY)
    for name, path in files:
        content = path.read_bytes().replace(b"\r\n", b"\n")
        digest.update(f"{name}\0{len(content)}\0".encode("utf-8"))
        digest.update(content)
    return digest.hexdigest()


def stamp(notebook: nbformat.NotebookNode, helpers_sha256: str | None = None) -> dict:
    """The render stamp for ``notebook``: its code hash and the helpers package's hash (now, unless given)."""
    return {"code_sha256": code_hash(notebook),
            "helpers_sha256": helpers_sha256 if helpers_sha256 is not None else helpers_hash()}


def error_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """Descriptions of every error output in the notebook (empty when there are none)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    return found


def staleness(notebook: nbformat.NotebookNode, helpers_sha256: str | None = None) -> str | None:
    """Why the notebook's committed render is stale (``None`` when it is current).

    Tells apart a render that never happened, code cells changed since, and the helpers package changed since.
    """
    recorded = notebook.metadata.get(HASH_KEY, {})
    if recorded.get("code_sha256") is None:
        return "never rendered"
    code_changed = recorded["code_sha256"] != code_hash(notebook)
    helpers_now = helpers_sha256 if helpers_sha256 is not None else helpers_hash()
    if recorded.get("helpers_sha256") is None:
        reason = "rendered before render stamps covered helpers/ (no helpers_sha256 in its metadata)"
        return f"code cells changed after rendering, and {reason}" if code_changed else reason
    helpers_changed = recorded["helpers_sha256"] != helpers_now
    if code_changed and helpers_changed:
        return "code cells and helpers/ changed after rendering"
    if code_changed:
        return "code cells changed after rendering"
    if helpers_changed:
        return "helpers/ changed after rendering (the code the notebook imports; its outputs may differ now)"
    return None


def render_command(stems: list[str]) -> str:
    """The command that re-renders exactly these notebooks."""
    return f"{RENDER_COMMAND} --only {' '.join(stem[:2] for stem in stems)}"


def stale(only: list[str] | None = None) -> list[str]:
    """The stems of the notebooks whose committed render is stale."""
    current = helpers_hash()
    return [path.stem for path in notebooks(only)
            if staleness(nbformat.read(path, as_version=4), current) is not None]


def check(only: list[str] | None = None) -> list[str]:
    """Problems with the committed notebooks: stale renders and error outputs.

    One line per problem, naming the notebook; when any render is stale, a last line gives the command that
    re-renders exactly the stale ones.
    """
    current = helpers_hash()
    problems, outdated = [], []
    for path in notebooks(only):
        notebook = nbformat.read(path, as_version=4)
        reason = staleness(notebook, current)
        if reason is not None:
            outdated.append(path.stem)
            problems.append(f"{path.name}: stale render: {reason}")
        problems += [f"{path.name}: {error}" for error in error_outputs(notebook)]
    if outdated:
        count = f"{len(outdated)} stale notebook" + ("s" if len(outdated) > 1 else "")
        problems.append(f"to re-render the {count}: `{render_command(outdated)}`")
    return problems
