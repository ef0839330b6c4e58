"""The committed notebooks: rendered from their current code, error-free, on template."""

import json

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_course_kernelspec(path):
    """One kernelspec for every notebook: JupyterLab then opens each one without rewriting it (unsaved)."""
    assert nbformat.read(path, as_version=4).metadata.get("kernelspec") == course.KERNELSPEC


def test_render_cleaning_writes_the_course_kernelspec():
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3", "name": "python3",
                                                                 "language": "python"}, "papermill": {}})
    course._clean(notebook)
    assert notebook.metadata["kernelspec"] == course.KERNELSPEC and "papermill" not in notebook.metadata


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
    table = course.summary_table([{"notebook": "01_x", "backend": "jax", "seconds": 12.34, "status": "ok",
                                   "metrics": {"acc": 0.99512, "n": 3}}])
    assert "| 01_x | jax | 12.3 | ok | acc = 0.9951; n = 3 |" in table
    assert "| **total** | | 12.3 |" in table


def test_show_source_rejects_non_code():
    with pytest.raises(ValueError, match="obj must be a function, method or class"):
        show.source(42)


def _toy_notebook(folder, name="01_toy"):
    """A two-cell notebook that records SEED and fails its assert on odd seeds."""
    parameters = nbformat.v4.new_code_cell("SEED = 0\nSCALE = 1.0")
    parameters.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import helpers\n"
        f'helpers.report.record("{name}", {{"value": SCALE * SEED, "nested": {{"half": SEED / 2}}}})\n'
        'assert SEED % 2 == 0, "odd seeds fail (depends on SEED)"')
    notebook = nbformat.v4.new_notebook(cells=[parameters, body])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, folder / f"{name}.ipynb")


def test_sweep_reports_pass_fail_per_seed_and_metric_spread(tmp_path, monkeypatch):
    notebooks_dir = tmp_path / "notebooks"
    notebooks_dir.mkdir()
    _toy_notebook(notebooks_dir)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks_dir)
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path / "results"))
    build = tmp_path / "build"
    code = course.sweep([0, 1, 2], parameters={"SCALE": 10.0}, build_dir=build)
    assert code == 1, "seed 1 fails, so the sweep must exit non-zero"
    table = (build / "sweep.md").read_text()
    assert "| 01_toy | 2/3 |" in table
    assert "- seed 1: **FAIL** — AssertionError: odd seeds fail (depends on SEED)" in table
    assert "| value | 0 | 10 | 20 | 3 |" in table
    assert "| nested.half | 0 | 0.5 | 1 | 3 |" in table
    saved = json.loads((build / "sweep.json").read_text())
    assert saved["seeds"] == [0, 1, 2] and saved["parameters"] == {"SCALE": 10.0}
    assert [run["status"] for run in saved["runs"]] == ["ok", "FAILED", "ok"]
    assert saved["summary"][0]["failures"] == {"1": "AssertionError: odd seeds fail (depends on SEED)"}


def test_sweep_passes_when_every_seed_passes(tmp_path, monkeypatch):
    notebooks_dir = tmp_path / "notebooks"
    notebooks_dir.mkdir()
    _toy_notebook(notebooks_dir)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks_dir)
    assert course.sweep([0, 2], build_dir=tmp_path / "build") == 0


@pytest.mark.parametrize("seeds, parameters, match", [
    ([], {}, "seeds must be non-negative integers"),
    ([-1], {}, "seeds must be non-negative integers"),
    ([1, 1], {}, "seeds must not repeat"),
    ([0], {"SEED": 3}, "sweep sets SEED itself"),
])
def test_sweep_rejects_bad_arguments(seeds, parameters, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        course.sweep(seeds, parameters=parameters, build_dir=tmp_path)


def test_sweep_summary_min_median_max():
    runs = [{"notebook": "01_x", "seed": s, "seconds": 10.0 + s, "status": "ok", "failure": None,
             "metrics": {"acc": a, "flag": True, "name": "x", "d": {"k": s}}}
            for s, a in zip([0, 1, 2, 3], [0.9, 0.5, 0.7, 1.0])]
    (entry,) = course.sweep_summary(runs)
    assert entry["passed"] == [0, 1, 2, 3] and entry["failures"] == {}
    assert entry["stats"]["acc"] == {"min": 0.5, "median": 0.8, "max": 1.0, "n": 4}
    assert entry["stats"]["d.k"]["median"] == 1.5
    assert "flag" not in entry["stats"] and "name" not in entry["stats"]


def test_failure_message_uses_the_cells_exception():
    class CellError(Exception):
        ename, evalue = "AssertionError", "attention must win\n  (depends on EPOCHS)"
    assert course.failure_message(CellError("long traceback")) == \
        "AssertionError: attention must win (depends on EPOCHS)"
    assert course.failure_message(RuntimeError("first\nlast line")) == "RuntimeError: last line"


def test_failure_message_names_the_line_of_a_bare_assert():
    class CellError(Exception):
        ename, evalue = "AssertionError", ""
        traceback = ["\x1b[31mAssertionError\x1b[39m  Traceback (most recent call last)",
                     "Cell \x1b[32mIn[20], line 21\x1b[39m\n     19 print(x)\n\x1b[32m---> 21\x1b[39m "
                     "assert top2_on_marked >= 0.95\n",
                     "\x1b[31mAssertionError\x1b[39m: "]
    assert course.failure_message(CellError()) == "AssertionError: at `assert top2_on_marked >= 0.95`"


def test_default_parameters_reads_the_parameters_cell(tmp_path):
    _toy_notebook(tmp_path)
    assert course.default_parameters(tmp_path / "01_toy.ipynb") == {"SEED": 0, "SCALE": 1.0}


def test_sweep_merge_keeps_other_notebooks_and_checks_settings(tmp_path, monkeypatch):
    notebooks_dir = tmp_path / "notebooks"
    notebooks_dir.mkdir()
    _toy_notebook(notebooks_dir, "01_toy")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks_dir)
    build = tmp_path / "build"
    assert course.sweep([0], only=["01"], build_dir=build) == 0
    _toy_notebook(notebooks_dir, "02_toy")
    assert course.sweep([0], only=["02"], build_dir=build, merge=True) == 0
    saved = json.loads((build / "sweep.json").read_text())
    assert [run["notebook"] for run in saved["runs"]] == ["01_toy", "02_toy"]
    with pytest.raises(ValueError, match="--merge needs the seeds and overrides"):
        course.sweep([0, 2], only=["02"], build_dir=build, merge=True)
