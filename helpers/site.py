"""The course site: ``python -m helpers.course site`` builds ``build/site/`` from the rendered notebooks.

A home page with the README's notebook table, one page per notebook with its committed figures, math and
outputs, previous/next links, and exercise solutions collapsed. Sphinx with myst-nb and the book theme does the
work; nothing is executed and nothing is fetched (MathJax comes from the ``jupyter-server-mathjax`` package).
Open ``build/site/index.html`` in a browser, or serve the folder with ``python -m http.server -d build/site``.

``--out DIR`` may name a new folder, an empty one, or one that an earlier build made (it holds the marker file
``.course-site``): only such a folder is emptied before the build; any other is refused and left as it is. The
Sphinx source is assembled in a temporary folder of its own (kept, and named, only when the build fails).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from helpers import notebooks as course_notebooks
from helpers import paths

SITE_CONFIG_DIR: Path = paths.REPO_ROOT / "site"
REQUIREMENTS = "requirements-site.txt"
# What the site needs beyond the course (module name: pip name).
NEEDS = {"sphinx": "sphinx", "myst_nb": "myst-nb", "sphinx_book_theme": "sphinx-book-theme",
         "jupyter_server_mathjax": "jupyter-server-mathjax"}
# The parts of MathJax 2.7 that the site's configuration (TeX input, HTML-CSS output, STIX web fonts) loads.
MATHJAX_PARTS = ("MathJax.js", "LICENSE", "config", "extensions", "fonts", "jax/input", "jax/element",
                 "jax/output/HTML-CSS")
#: The file that marks a folder as made by :func:`build`: the only kind of non-empty folder it deletes.
MARKER = ".course-site"
_NOTEBOOK_LINK = re.compile(r"\]\(notebooks/(\d\d_[A-Za-z0-9_]+\.ipynb|GLOSSARY\.md|images/[A-Za-z0-9_.-]+\.png)\)")
IMAGES = "images"      # notebooks/images/: pictures the README shows, copied beside the site's pages
#: The course glossary: a page of the site beside the notebooks (its links to notebooks are relative to that folder).
GLOSSARY = "GLOSSARY"
_README_LINK = re.compile(r"\]\(\.\./README\.md(#[^)]*)?\)")
#: Notebooks that were renamed (old stem: new stem): the site keeps a page under the old name that sends the
#: reader on, so a link to the old page does not break.
RENAMED = {"09_efficient_attention": "10_efficient_attention"}


def missing_packages() -> list[str]:
    """The pip names of the site's packages that are not installed."""
    return [pip for module, pip in NEEDS.items() if importlib.util.find_spec(module) is None]


def home_page(readme: str, stems: list[str]) -> str:
    """The site's index.md: the README's title, introduction and notebook table, then a hidden toctree."""
    title = next((line for line in readme.splitlines() if line.startswith("# ")), None)
    start, end = readme.find("## The notebooks"), readme.find("\n## ", readme.find("## The notebooks") + 1)
    if title is None or start < 0:
        raise ValueError("README.md needs a '# title' and a '## The notebooks' section for the site's home page")
    intro = readme[readme.index(title) + len(title):start].strip()
    table = readme[start:end if end > 0 else None].strip()
    table = _NOTEBOOK_LINK.sub(r"](\1)", table)
    toctree = "\n".join(["```{toctree}", ":hidden:", ":maxdepth: 1", "", *stems, GLOSSARY, "```"])
    return (f"{title}\n\n{intro}\n\n{table}\n\nEach page is a notebook as committed, with its outputs; "
            "solutions to the exercises are folded under their question. To run the notebooks yourself, "
            "follow the README's set-up and open them in JupyterLab.\n\n" + toctree + "\n")


def link_home(notebook: nbformat.NotebookNode) -> None:
    """Links to the README (the course overview in JupyterLab) point to the site's home page instead."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = _README_LINK.sub("](index.md)", cell.source)


def fold_solutions(notebook: nbformat.NotebookNode) -> int:
    """Tag the cells that JupyterLab shows collapsed (solutions) so that the site folds them too."""
    folded = 0
    for cell in notebook.cells:
        jupyter = cell.metadata.get("jupyter", {})
        hidden_source, hidden_outputs = jupyter.get("source_hidden"), jupyter.get("outputs_hidden")
        tag = ("hide-cell" if hidden_source and hidden_outputs else
               "hide-input" if hidden_source else "hide-output" if hidden_outputs else None)
        if tag:
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), tag]
            folded += 1
    return folded


def copy_mathjax(target: Path) -> None:
    """Copy the MathJax files the site loads from the installed jupyter-server-mathjax package."""
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise FileNotFoundError(f"{static / 'MathJax.js'} is missing: reinstall with "
                                f"`python -m pip install --force-reinstall jupyter-server-mathjax`")
    for part in MATHJAX_PARTS:
        source = static / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)


class UnsafeOutputFolder(RuntimeError):
    """``--out`` names something that the site command did not make, so it will not delete it."""


def prepare_output(out_dir: Path) -> Path:
    """Make ``out_dir`` an empty folder holding only the marker, deleting it only if :func:`build` made it.

    A missing folder is created (with its parents) and an empty one used; one that holds :data:`MARKER` is
    emptied. Anything else (a non-empty folder without the marker, a file, a symbolic link) raises
    :class:`UnsafeOutputFolder` before anything is deleted. Only ``out_dir`` itself is touched, never its parent
    or siblings.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise UnsafeOutputFolder(f"refusing to build the site into {out_dir}: it is a symbolic link; "
                                 "give the folder itself, or a new one")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise UnsafeOutputFolder(f"refusing to build the site into {out_dir}: it is a file, not a folder")
        if (out_dir / MARKER).is_file():
            shutil.rmtree(out_dir)
        elif any(out_dir.iterdir()):
            raise UnsafeOutputFolder(
                f"refusing to delete {out_dir}: it is not empty and was not made by `python -m helpers.course "
                f"site` (no {MARKER} marker inside); nothing was deleted. Give --out a new or empty folder, or "
                "remove this one yourself")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("made by `python -m helpers.course site`, which deletes and rebuilds this "
                                  "folder\n", encoding="utf-8")
    return out_dir


def _assemble(source: Path) -> list[Path]:
    """Write the Sphinx source into ``source``: conf.py, the notebooks, the home page, MathJax."""
    shutil.copy2(SITE_CONFIG_DIR / "conf.py", source / "conf.py")
    notebooks = course_notebooks.notebooks()
    for problem in course_notebooks.check():      # the tests fail on these; the site still shows what is committed
        print(f"warning: {problem}", file=sys.stderr)
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        fold_solutions(notebook)
        link_home(notebook)
        nbformat.write(notebook, source / path.name)
    glossary = paths.REPO_ROOT / "notebooks" / f"{GLOSSARY}.md"
    (source / glossary.name).write_text(_README_LINK.sub("](index.md)", glossary.read_text(encoding="utf-8")),
                                        encoding="utf-8")
    images = paths.REPO_ROOT / "notebooks" / IMAGES
    if images.is_dir():
        shutil.copytree(images, source / IMAGES)
    readme = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    (source / "index.md").write_text(home_page(readme, [p.stem for p in notebooks]), encoding="utf-8")
    copy_mathjax(source / "_static" / "mathjax")
    return notebooks


def write_redirects(out_dir: Path, renamed: dict[str, str] | None = None) -> list[Path]:
    """One small page per renamed notebook, under its old name, that forwards to the new page."""
    written = []
    for old, new in (RENAMED if renamed is None else renamed).items():
        page = Path(out_dir) / f"{old}.html"
        page.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
                        f'<meta http-equiv="refresh" content="0; url={new}.html">\n'
                        f'<link rel="canonical" href="{new}.html"><title>Moved: {new}</title></head>\n'
                        f'<body><p>This notebook is now <a href="{new}.html">{new}</a>.</p></body></html>\n',
                        encoding="utf-8")
        written.append(page)
    return written


def build(out_dir: Path | None = None, quiet: bool = True) -> Path:
    """Build the site into ``out_dir`` (default ``build/site``); returns the path of its index.html."""
    missing = missing_packages()
    if missing:
        raise RuntimeError(f"the course site needs {', '.join(missing)}: "
                           f"`python -m pip install -r {REQUIREMENTS}`")
    out_dir = prepare_output(Path(out_dir or paths.BUILD_DIR / "site"))
    source = Path(tempfile.mkdtemp(prefix="course-site-source-"))
    try:
        notebooks = _assemble(source)
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-j", "1",
                   *(["-q"] if quiet else []), str(source), str(out_dir)]
        start = time.perf_counter()
        finished = subprocess.run(command, cwd=source)
    except BaseException:
        shutil.rmtree(source, ignore_errors=True)
        raise
    if finished.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {finished.returncode}); its messages are above, its "
                           f"source is kept in {source}")
    shutil.rmtree(source, ignore_errors=True)
    write_redirects(out_dir)
    size = sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())
    print(f"site built in {time.perf_counter() - start:.1f} s: {out_dir / 'index.html'} "
          f"({size / 2**20:.1f} MiB, {len(notebooks)} notebook pages)")
    return out_dir / "index.html"
