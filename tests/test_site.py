"""helpers.site without building: the home page, folded solutions, links home (the build: tests/browser)."""

import subprocess
from pathlib import Path

import nbformat
import pytest

from helpers import course, paths, site
from helpers import notebooks as course_notebooks


def test_home_page_keeps_the_readme_table_and_links_the_pages():
    readme = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    stems = [p.stem for p in course.notebooks()]
    page = site.home_page(readme, stems)
    assert page.startswith("# Attention, hands-on")
    assert "| 01 | [Attention is a weighted sum](01_weighted_sum_intuition.ipynb)" in page
    assert "](notebooks/" not in page and "## Set up" not in page
    assert page.rstrip().endswith("```") and all(stem in page.split("{toctree}")[1] for stem in stems)
    assert "](GLOSSARY.md)" in page and site.GLOSSARY in page.split("{toctree}")[1]     # the glossary is a page
    # the README's picture of an explorer: linked beside the pages, where the site copies notebooks/images/
    assert "](images/explorer.png)" in page and (paths.NOTEBOOKS_DIR / site.IMAGES / "explorer.png").is_file()


def test_home_page_needs_a_title_and_the_table():
    with pytest.raises(ValueError, match="The notebooks"):
        site.home_page("# Title\n\nno table here\n", ["01_x"])


def test_fold_solutions_tags_what_jupyterlab_collapses():
    cells = [nbformat.v4.new_code_cell("1", metadata={"jupyter": {"source_hidden": True, "outputs_hidden": True}}),
             nbformat.v4.new_code_cell("2", metadata={"jupyter": {"source_hidden": True}}),
             nbformat.v4.new_code_cell("3", metadata={"jupyter": {"outputs_hidden": True}, "tags": ["keep"]}),
             nbformat.v4.new_code_cell("4")]
    notebook = nbformat.v4.new_notebook(cells=cells)
    assert site.fold_solutions(notebook) == 3
    assert [c.metadata.get("tags") for c in notebook.cells] == [["hide-cell"], ["hide-input"],
                                                               ["keep", "hide-output"], None]


def test_every_notebook_with_collapsed_solutions_gets_them_folded():
    for path in course.notebooks():
        notebook = nbformat.read(path, as_version=4)
        assert site.fold_solutions(notebook) >= 3, f"{path.name}: three exercises, solutions collapsed"


def test_links_to_the_readme_point_home():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Back to the [overview](../README.md) or [setup](../README.md#set-up); [next](02_x.ipynb).")])
    site.link_home(notebook)
    assert notebook.cells[0].source == "Back to the [overview](index.md) or [setup](index.md); [next](02_x.ipynb)."


def test_build_names_the_missing_packages(monkeypatch):
    monkeypatch.setattr(site, "missing_packages", lambda: ["sphinx"])
    with pytest.raises(RuntimeError, match="requirements-site.txt"):
        site.build()


# --- `site --out DIR` deletes only a folder it made ---

def _neighbourhood(tmp_path):
    """A parent folder holding a sibling file and folder that no build may touch."""
    parent = tmp_path / "parent"
    (parent / "sibling").mkdir(parents=True)
    (parent / "sibling" / "keep.txt").write_text("mine")
    (parent / "notes.txt").write_text("mine too")
    return parent


def _untouched(parent):
    assert (parent / "sibling" / "keep.txt").read_text() == "mine"
    assert (parent / "notes.txt").read_text() == "mine too"


def test_prepare_output_makes_a_new_folder_with_the_marker(tmp_path):
    parent = _neighbourhood(tmp_path)
    out = site.prepare_output(parent / "site")
    assert sorted(p.name for p in out.iterdir()) == [site.MARKER]
    assert sorted(p.name for p in parent.iterdir()) == ["notes.txt", "sibling", "site"]
    _untouched(parent)


def test_prepare_output_uses_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert (site.prepare_output(tmp_path / "empty") / site.MARKER).is_file()


def test_prepare_output_empties_only_a_folder_it_made(tmp_path):
    parent = _neighbourhood(tmp_path)
    out = site.prepare_output(parent / "site")
    (out / "index.html").write_text("old build")
    (out / "_static").mkdir()
    site.prepare_output(out)
    assert sorted(p.name for p in out.iterdir()) == [site.MARKER]
    _untouched(parent)


def test_prepare_output_refuses_a_folder_it_did_not_make(tmp_path):
    parent = _neighbourhood(tmp_path)
    with pytest.raises(site.UnsafeOutputFolder, match=r"refusing to delete .*sibling: it is not empty and was "
                                                      r"not made by .*no \.course-site marker inside.*nothing was "
                                                      r"deleted"):
        site.prepare_output(parent / "sibling")
    assert not (parent / "sibling" / site.MARKER).exists()
    with pytest.raises(site.UnsafeOutputFolder, match="refusing to delete"):
        site.prepare_output(parent)
    _untouched(parent)


def test_prepare_output_refuses_a_file_and_a_link(tmp_path):
    parent = _neighbourhood(tmp_path)
    with pytest.raises(site.UnsafeOutputFolder, match="is a file, not a folder"):
        site.prepare_output(parent / "notes.txt")
    made = site.prepare_output(tmp_path / "made")
    (tmp_path / "link").symlink_to(made, target_is_directory=True)
    with pytest.raises(site.UnsafeOutputFolder, match="is a symbolic link"):
        site.prepare_output(tmp_path / "link")
    assert (made / site.MARKER).is_file()
    _untouched(parent)


def test_site_command_refuses_a_folder_it_did_not_make(tmp_path, monkeypatch, capsys):
    parent = _neighbourhood(tmp_path)
    monkeypatch.setattr(site, "missing_packages", lambda: [])
    assert course.main(["site", "--out", str(parent / "sibling")]) == 1
    assert "error: refusing to delete" in capsys.readouterr().err
    _untouched(parent)
    assert sorted(p.name for p in parent.iterdir()) == ["notes.txt", "sibling"]


def test_build_assembles_its_sphinx_source_outside_the_output_parent(tmp_path, monkeypatch):
    """Sphinx is stubbed out: the build writes only inside --out, and removes its temporary source after."""
    parent = _neighbourhood(tmp_path)
    seen = {}

    def fake_sphinx(command, cwd):
        source = seen["source"] = Path(command[-2])
        assert (source / "conf.py").is_file() and (source / "index.md").is_file()
        (Path(command[-1]) / "index.html").write_text("<html></html>")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(site, "missing_packages", lambda: [])
    monkeypatch.setattr(site, "copy_mathjax", lambda target: target.mkdir(parents=True))
    monkeypatch.setattr(site.subprocess, "run", fake_sphinx)
    assert site.build(parent / "site") == parent / "site" / "index.html"
    assert sorted(p.name for p in parent.iterdir()) == ["notes.txt", "sibling", "site"]
    assert (parent / "site" / site.MARKER).is_file() and not seen["source"].exists()
    _untouched(parent)


def test_renamed_notebooks_keep_a_page_under_their_old_name(tmp_path):
    pages = site.write_redirects(tmp_path)
    assert [p.name for p in pages] == ["09_efficient_attention.html"]
    text = pages[0].read_text(encoding="utf-8")
    assert 'content="0; url=10_efficient_attention.html"' in text and 'href="10_efficient_attention.html"' in text
    stems = {p.stem for p in course_notebooks.notebooks()}
    assert all(new in stems and old not in stems for old, new in site.RENAMED.items())
