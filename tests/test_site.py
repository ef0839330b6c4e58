"""helpers.site without building: the home page, folded solutions, links home (the build: tests/browser)."""

import nbformat
import pytest

from helpers import course, paths, site


def test_home_page_keeps_the_readme_table_and_links_the_pages():
    readme = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    stems = [p.stem for p in course.notebooks()]
    page = site.home_page(readme, stems)
    assert page.startswith("# Attention, hands-on")
    assert "| 01 | [Attention is a weighted sum](01_weighted_sum_intuition.ipynb)" in page
    assert "](notebooks/" not in page and "## Set up" not in page
    assert page.rstrip().endswith("```") and all(stem in page.split("{toctree}")[1] for stem in stems)


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
