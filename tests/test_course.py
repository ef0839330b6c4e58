"""The committed notebooks: rendered from their current code, error-free, on template."""

import nbformat
import pytest

from helpers import course, paths, show

NOTEBOOKS = course.notebooks()


def test_course_has_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_weighted_sum_intuition.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_rendered_from_current_code_without_errors(path):
    assert course.check([path.stem]) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_template(path):
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.stem[:2]} · ")
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    lines = [line for c in notebook.cells if c.cell_type == "markdown"
             for line in c.source.splitlines()]
    for heading in ("## What you will learn", "## Setup", "## Parameters", "## 1. ", "## Results",
                    "## Summary", "## Exercises"):
        assert any(line.startswith(heading) for line in lines), heading
    results = [c for c in notebook.cells if c.cell_type == "code"
               and f'helpers.report.record("{path.stem}"' in c.source]
    assert len(results) == 1, "one Results cell records the headline metrics"
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    for forbidden in ("tf.compat.v1", "from keras import backend as K", "K.", "merge(", "../"):
        assert forbidden not in code, forbidden


def test_code_hash_tracks_code_not_outputs():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    before = course.code_hash(notebook)
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="hi")]
    notebook.cells.append(nbformat.v4.new_markdown_cell("text"))
    assert course.code_hash(notebook) == before
    notebook.cells[0].source = "x = 2"
    assert course.code_hash(notebook) != before


def test_check_reports_stale_and_error_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1/0")])
    notebook.cells[0].outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                                         evalue="division by zero", traceback=[])]
    notebook.metadata["course"] = {"code_sha256": "stale"}
    nbformat.write(notebook, tmp_path / "09_broken.ipynb")
    problems = course.check()
    assert any("code changed after rendering" in p for p in problems)
    assert any("ZeroDivisionError" in p for p in problems)


def test_only_rejects_unknown_notebooks():
    with pytest.raises(ValueError, match="matches no notebook"):
        course.notebooks(["99"])


def test_summary_table_lists_notebooks_seconds_and_metrics():
    table = course.summary_table([{"notebook": "01_x", "seconds": 12.34, "status": "ok",
                                   "metrics": {"acc": 0.99512, "n": 3}}])
    assert "| 01_x | 12.3 | ok | acc = 0.9951; n = 3 |" in table
    assert "| **total** | 12.3 |" in table


def test_show_source_rejects_non_code():
    with pytest.raises(ValueError, match="obj must be a function, method or class"):
        show.source(42)
