"""The committed notebooks: rendered from their current code, error-free, on template."""

import ast
import functools
import json
import os
import sys

import nbformat
import pytest

from helpers import course, notebooks, paths, report, show

NOTEBOOKS = course.notebooks()


@functools.cache
def _course_problems() -> tuple[str, ...]:
    """check() over the whole course, once: its last line re-renders exactly the stale notebooks."""
    return tuple(course.check())


def test_course_has_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_weighted_sum_intuition.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_rendered_from_current_code_without_errors(path):
    problems = course.check([path.stem])
    everything = [line for line in _course_problems() if line.startswith("to re-render")]
    assert problems == [], "\n".join(problems + [f"course-wide: {line}" for line in everything])


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
    assert any("09_broken.ipynb: stale render: code cells changed after rendering" in p for p in problems)
    assert any("ZeroDivisionError" in p for p in problems)
    assert problems[-1] == "to re-render the 1 stale notebook: `python -m helpers.course render --only 09`"


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


# --- Renders track the helpers package (stamp = code cells + helpers/ source) ---

def _fake_course(tmp_path, monkeypatch, stems=("01_alpha", "02_beta")):
    """A notebooks folder and a helpers source folder of its own, so nothing touches the real tree."""
    notebooks_dir, helpers_dir = tmp_path / "notebooks", tmp_path / "helpers"
    (helpers_dir / "layers").mkdir(parents=True)
    notebooks_dir.mkdir()
    (helpers_dir / "__init__.py").write_text("")
    (helpers_dir / "layers" / "seq2seq.py").write_text("WINDOW = 2\n")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", notebooks_dir)
    monkeypatch.setattr(notebooks, "HELPERS_DIR", helpers_dir)
    for stem in stems:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"print('{stem}')")])
        nbformat.write(notebook, notebooks_dir / f"{stem}.ipynb")
    return notebooks_dir, helpers_dir


def _stamp_all(notebooks_dir):
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata[course.HASH_KEY] = course.stamp(notebook)
        nbformat.write(notebook, path)


def test_a_change_in_helpers_makes_every_render_stale_until_re_rendered(tmp_path, monkeypatch, capsys):
    notebooks_dir, helpers_dir = _fake_course(tmp_path, monkeypatch)
    _stamp_all(notebooks_dir)
    assert course.check() == [] and course.stale() == []
    assert set(nbformat.read(notebooks_dir / "01_alpha.ipynb", as_version=4).metadata["course"]) == \
        {"code_sha256", "helpers_sha256"}

    (helpers_dir / "layers" / "seq2seq.py").write_text("WINDOW = 3\n")       # one line in helpers/layers/
    problems = course.check()
    assert problems == [
        "01_alpha.ipynb: stale render: helpers/ changed after rendering (the code the notebook imports; "
        "its outputs may differ now)",
        "02_beta.ipynb: stale render: helpers/ changed after rendering (the code the notebook imports; "
        "its outputs may differ now)",
        "to re-render the 2 stale notebooks: `python -m helpers.course render --only 01 02`"]
    assert course.stale() == ["01_alpha", "02_beta"]
    assert course.check(["02"])[-1] == "to re-render the 1 stale notebook: `python -m helpers.course render --only 02`"
    assert course.main(["check"]) == 1
    assert "python -m helpers.course render --only 01 02" in capsys.readouterr().out

    _stamp_all(notebooks_dir)                                                   # re-rendering
    assert course.check() == []
    assert course.main(["check"]) == 0


def test_check_tells_code_changes_from_helpers_changes(tmp_path, monkeypatch):
    notebooks_dir, helpers_dir = _fake_course(tmp_path, monkeypatch)
    _stamp_all(notebooks_dir)
    path = notebooks_dir / "01_alpha.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = "print('edited')"
    nbformat.write(notebook, path)
    assert course.check()[0] == "01_alpha.ipynb: stale render: code cells changed after rendering"
    assert course.stale() == ["01_alpha"]
    (helpers_dir / "new_module.py").write_text("")                              # a new file counts too
    problems = course.check()
    assert problems[0] == "01_alpha.ipynb: stale render: code cells and helpers/ changed after rendering"
    assert problems[1].startswith("02_beta.ipynb: stale render: helpers/ changed after rendering")
    assert problems[-1].endswith("render --only 01 02`")


def test_check_names_renders_stamped_before_helpers_were_tracked(tmp_path, monkeypatch):
    notebooks_dir, _ = _fake_course(tmp_path, monkeypatch, stems=("01_alpha",))
    path = notebooks_dir / "01_alpha.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["course"] = {"code_sha256": course.code_hash(notebook)}    # an old stamp
    nbformat.write(notebook, path)
    assert "no helpers_sha256" in course.check()[0]
    notebook.metadata.pop("course")
    nbformat.write(notebook, path)
    assert course.check()[0] == "01_alpha.ipynb: stale render: never rendered"


def test_helpers_hash_covers_paths_and_contents_of_every_py_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    before = notebooks.helpers_hash(tmp_path)
    (tmp_path / "notes.txt").write_text("not code")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.py").write_text("junk")
    assert notebooks.helpers_hash(tmp_path) == before, "only the package's own .py files count"
    (tmp_path / "a.py").write_bytes(b"x = 1\r\n")
    assert notebooks.helpers_hash(tmp_path) == before, "CRLF line ends hash as LF"
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert notebooks.helpers_hash(tmp_path) != before
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    (tmp_path / "sub" / "b.py").rename(tmp_path / "sub" / "c.py")
    assert notebooks.helpers_hash(tmp_path) != before, "a renamed file changes the hash"


def test_the_real_helpers_hash_covers_the_layers():
    files = {p.relative_to(notebooks.HELPERS_DIR).as_posix() for p in notebooks.HELPERS_DIR.rglob("*.py")}
    assert {"course.py", "layers/seq2seq.py", "notebooks.py"} <= files
    assert len(notebooks.helpers_hash()) == 64


def test_runner_only_modules_do_not_make_renders_stale(tmp_path):
    (tmp_path / "claims.py").write_text("x = 1\n")
    (tmp_path / "course.py").write_text("y = 2\n")
    before = notebooks.helpers_hash(tmp_path)
    (tmp_path / "course.py").write_text("y = 3\n")
    assert notebooks.helpers_hash(tmp_path) == before, "the runner's modules are not imported by notebooks"
    (tmp_path / "claims.py").write_text("x = 2\n")
    assert notebooks.helpers_hash(tmp_path) != before


def test_no_notebook_or_imported_module_uses_the_runner_only_modules():
    """The runner-only list is honest: neither the notebooks' code nor `import helpers` reaches those modules."""
    import subprocess
    import sys

    for path in course.notebooks():
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for module in notebooks.RUNNER_ONLY:
            assert f"helpers.{module[:-3]}" not in code and f"import {module[:-3]}" not in code, (path.name, module)
    script = ("import sys, helpers; print(' '.join(sorted(m for m in sys.modules if m.startswith('helpers.'))))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    runner = {f"helpers.{module[:-3]}" for module in notebooks.RUNNER_ONLY}
    assert not runner & set(loaded), runner & set(loaded)


def _copy_executor(calls):
    """A stand-in for papermill: 'executes' by copying the notebook, and notes the results folder it saw."""
    def execute(source, target, parameters):
        calls.append({"notebook": source.stem, "parameters": parameters,
                      "results_env": os.environ.get(paths.RESULTS_ENV)})
        nbformat.write(nbformat.read(source, as_version=4), target)
        return 0.1, None
    return execute


def test_render_stamps_code_and_helpers(tmp_path, monkeypatch):
    notebooks_dir, helpers_dir = _fake_course(tmp_path, monkeypatch)
    monkeypatch.setattr(course, "_execute", _copy_executor([]))
    assert course.stale() == ["01_alpha", "02_beta"]
    assert course.run(render=True, build_dir=tmp_path / "build") == 0
    assert course.check() == []
    stamp = nbformat.read(notebooks_dir / "02_beta.ipynb", as_version=4).metadata["course"]
    assert stamp["helpers_sha256"] == notebooks.helpers_hash(helpers_dir)


# --- A strict runner: -p names must exist, values must be Python literals ---

def test_parse_value_reads_python_literals():
    assert course.parse_value("N", "30_000") == 30000
    assert course.parse_value("LR", "1e-2") == 0.01
    assert course.parse_value("FLAG", "False") is False
    assert course.parse_value("READOUT", "'attention_pool'") == "attention_pool"
    assert course.parse_value("T", "[50, 100]") == [50, 100]


@pytest.mark.parametrize("text, hint", [
    ("false", "did you mean -p NAME False?"),
    ("true", "did you mean -p NAME True?"),
    ("none", "did you mean -p NAME None?"),
    ("attention_pool", "-p NAME \"'attention_pool'\""),
    ("[1, 2", "-p NAME \"'[1, 2'\""),
])
def test_parse_value_refuses_what_is_not_a_literal(text, hint):
    with pytest.raises(ValueError, match="not a Python literal") as error:
        course.parse_value("NAME", text)
    assert hint in str(error.value)


def _parameters_notebook(folder, stem, cell):
    parameters = nbformat.v4.new_code_cell(cell)
    parameters.metadata["tags"] = ["parameters"]
    nbformat.write(nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell("pass")]),
                   folder / f"{stem}.ipynb")


def _never_execute(*args):
    raise AssertionError("nothing may run when a -p option is wrong")


def test_parameter_names_lists_every_assignment_of_the_parameters_cell(tmp_path):
    _parameters_notebook(tmp_path, "01_x", "SEED = 0\nSCALE: float = 1.0  # annotated\nSTEPS = 2 * 3\nA = B = 1")
    assert course.parameter_names(tmp_path / "01_x.ipynb") == ["SEED", "SCALE", "STEPS", "A", "B"]


def test_run_refuses_an_unknown_parameter_before_running(tmp_path, monkeypatch, capsys):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0\nSCALE = 1.0")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(course, "_execute", _never_execute)
    with pytest.raises(SystemExit) as exit_:
        course.main(["run", "--only", "01", "-p", "SED", "1", "--build-dir", str(tmp_path / "build")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "SED is not a parameter of 01_toy (did you mean SEED?); its parameters: SEED, SCALE" in error
    assert not (tmp_path / "build").exists(), "it fails before making anything"


def test_run_needs_each_parameter_in_every_chosen_notebook(tmp_path, monkeypatch):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0\nSCALE = 1.0")
    _parameters_notebook(tmp_path, "02_other", "SEED = 0")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(course, "_execute", _never_execute)
    with pytest.raises(ValueError, match=r"^unknown -p name: SCALE is not a parameter of 02_other; "
                                         r"its parameters: SEED$"):
        course.run(parameters={"SCALE": 2.0}, build_dir=tmp_path / "build")
    with pytest.raises(ValueError, match="EPOCHS is not a parameter of 01_toy.*EPOCHS is not a parameter of 02_other"):
        course.sweep([0], parameters={"EPOCHS": 2}, build_dir=tmp_path / "build")


def test_the_command_line_refuses_a_value_that_is_not_a_literal(tmp_path, monkeypatch, capsys):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0\nFLAG = True\nREADOUT = 'mean'")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(course, "_execute", _never_execute)
    for value, hint in (("false", "did you mean -p FLAG False?"), ("attention_pool", "\"'attention_pool'\"")):
        name = "FLAG" if value == "false" else "READOUT"
        with pytest.raises(SystemExit):
            course.main(["run", "-p", name, value, "--build-dir", str(tmp_path / "build")])
        assert hint in capsys.readouterr().err


def test_run_passes_parsed_values(tmp_path, monkeypatch):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0\nFLAG = True\nREADOUT = 'mean'")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    calls = []
    monkeypatch.setattr(course, "_execute", _copy_executor(calls))
    assert course.main(["run", "-p", "FLAG", "False", "-p", "READOUT", "'attention_pool'",
                        "--build-dir", str(tmp_path / "build")]) == 0
    assert calls[0]["parameters"] == {"FLAG": False, "READOUT": "attention_pool"}


@pytest.mark.parametrize("earlier, now, same", [
    ({"LR": 1e-2}, {"LR": 0.01}, True),
    ({"EPOCHS": 3}, {"EPOCHS": 3.0}, True),
    ({"T": [50, 100]}, {"T": (50, 100)}, True),
    ({"D": {"a": [1]}}, {"D": {"a": (1.0,)}}, True),
    ({"FLAG": 1}, {"FLAG": True}, False),
    ({"N": "1"}, {"N": 1}, False),
    ({"T": [50]}, {"T": [50, 100]}, False),
    ({"A": 1}, {"B": 1}, False),
])
def test_same_parameters_compares_values(earlier, now, same):
    assert course.same_parameters(earlier, now) is same


def test_sweep_merge_compares_overrides_as_values(tmp_path, monkeypatch):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0\nT = [1]")
    _parameters_notebook(tmp_path, "02_toy", "SEED = 0\nT = [1]")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(course, "_execute", _copy_executor([]))
    build = tmp_path / "build"
    build.mkdir()
    earlier = {"seeds": [0], "parameters": {"T": [50, 1e2]}, "summary": [],
               "runs": [{"notebook": "01_toy", "seed": 0, "backend": "jax", "seconds": 1.0, "status": "ok",
                         "failure": None, "metrics": {}}]}
    (build / "sweep.json").write_text(json.dumps(earlier))
    assert course.sweep([0], only=["02"], parameters={"T": (50, 100)}, build_dir=build, merge=True) == 0
    saved = json.loads((build / "sweep.json").read_text())
    assert [run["notebook"] for run in saved["runs"]] == ["01_toy", "02_toy"]
    with pytest.raises(ValueError, match="--merge needs the seeds and overrides"):
        course.sweep([0], only=["02"], parameters={"T": (50, 101)}, build_dir=build, merge=True)


# --- The right interpreter: a user's python3 kernelspec cannot take over ---

def test_kernel_runs_this_interpreter_whatever_python3_kernelspec_the_user_has(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    bogus = str(tmp_path / "elsewhere" / "bin" / "python")
    for folder in ("data", "path"):
        spec = tmp_path / folder / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [bogus, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (elsewhere)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "path"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == bogus, "Jupyter itself would pick it"

    assert course.kernel_command() == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    manager = course.kernel_manager_class()(kernel_name="python3")
    assert manager.kernel_spec.argv == course.kernel_command()

    cell = nbformat.v4.new_code_cell("import sys\nprint(sys.executable)")
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": dict(course.KERNELSPEC)})
    nbformat.write(notebook, tmp_path / "01_which.ipynb")
    seconds, failure = course._execute(tmp_path / "01_which.ipynb", tmp_path / "executed.ipynb", {})
    assert failure is None
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == sys.executable


def test_nbval_runs_notebooks_in_this_interpreter():
    tomllib = pytest.importorskip("tomllib")
    options = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "--nbval-current-env" in options["tool"]["pytest"]["ini_options"]["addopts"].split()


# --- Tidy edges: no import circle, the results variable restored, corrupt results files named ---

def _imports(module_path):
    tree = ast.parse(module_path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_site_and_notebooks_do_not_import_the_runner():
    helpers_dir = notebooks.HELPERS_DIR
    for name in ("site.py", "notebooks.py"):
        assert "helpers.course" not in _imports(helpers_dir / name), name
    assert "helpers.site" not in _imports(helpers_dir / "notebooks.py")
    assert course.notebooks is notebooks.notebooks and course.check is notebooks.check


@pytest.mark.parametrize("before", [None, "/somewhere/results"])
def test_run_and_sweep_restore_the_results_variable(before, tmp_path, monkeypatch):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)
    if before is None:
        monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    else:
        monkeypatch.setenv(paths.RESULTS_ENV, before)
    calls = []
    monkeypatch.setattr(course, "_execute", _copy_executor(calls))
    build = tmp_path / "build"
    assert course.run(build_dir=build) == 0
    assert os.environ.get(paths.RESULTS_ENV) == before
    assert course.sweep([1], build_dir=build) == 0
    assert os.environ.get(paths.RESULTS_ENV) == before
    assert [call["results_env"] for call in calls] == [str((build / "results").resolve()),
                                                        str((build / "sweep" / "seed1" / "results").resolve())]


def test_a_corrupt_results_file_is_named_not_a_usage_error(tmp_path, monkeypatch, capsys):
    _parameters_notebook(tmp_path, "01_toy", "SEED = 0")
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path)

    def execute(source, target, parameters):          # the notebook dies while writing its results
        (tmp_path / "build" / "results").mkdir(parents=True, exist_ok=True)
        (tmp_path / "build" / "results" / "01_toy.json").write_text('{"acc": 0.9')
        return 0.1, None

    monkeypatch.setattr(course, "_execute", execute)
    assert course.main(["run", "--build-dir", str(tmp_path / "build")]) == 1
    error = capsys.readouterr().err
    assert "usage:" not in error
    assert error.startswith(f"error: results file {tmp_path / 'build' / 'results' / '01_toy.json'} is corrupt")
    assert "re-run that notebook" in error and "--only 01" in error
    assert issubclass(report.ResultsFileError, ValueError)
