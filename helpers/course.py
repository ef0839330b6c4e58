"""The course runner: execute, render and check the notebooks.

Usage (from anywhere, inside the course's virtual environment)::

    python -m helpers.course run                 # every notebook, learner defaults
    python -m helpers.course run --only 01 02    # some notebooks
    python -m helpers.course run --only 02 -p N_TRAIN 30000   # a parameter override
    python -m helpers.course render              # rewrite committed notebooks with outputs
    python -m helpers.course check               # rendered outputs match the code?
    python -m helpers.course sweep --seeds 0-9 [--only 05] [-p EPOCHS 3] [--calibrate]
    python -m helpers.course table --sweep build/sweep.json   # README tables + notebooks/sweep-summary.json
    python -m helpers.course site                # the course site in build/site/ (helpers.site)

``run`` executes each notebook with papermill in a fresh kernel, writes the executed
copies to ``build/executed/``, each notebook's metrics to ``build/results/`` and a
summary table (notebook, wall seconds, headline metrics) to ``build/summary.md`` and
``build/summary.json``; it exits 1 if any notebook fails.

``sweep`` runs every chosen notebook once per seed (``SEED`` set like ``-p SEED k``),
each in a fresh kernel, and writes ``build/sweep.md`` and ``build/sweep.json``: per
notebook, pass or fail per seed (with the failing assert's message), the wall seconds,
for every numeric headline metric its min / median / max over the seeds, and for every
claim (``helpers.claim``) its threshold, its spread and its margin, flagged when the worst
seed lies less than one spread from the threshold. It exits 1 if any run fails. This is how
the course's claims are calibrated (seeds 0-9) and then tested (held-out seeds 10-14).

``table`` turns sweeps into ``notebooks/sweep-summary.json`` (kept in the repo: the claims'
calibrated ranges, which the notebooks print) and the README's tables (``helpers.readme``).

``-p NAME VALUE`` (``run`` and ``sweep``) overrides a name of the notebook's ``parameters``
cell; a name that is not there, in any chosen notebook, fails before anything runs. The
value is a Python literal: ``-p EPOCHS 3``, ``-p FLAG False``, ``-p READOUT "'feed_forward_attention'"``
(a string needs its quotes inside the shell's).

``render`` does the same at the learner defaults (no overrides allowed), then writes
the outputs back into ``notebooks/`` stamped, in the notebook metadata, with a hash of its
code cells and one of the ``helpers`` package's source, so that ``check`` and the tests
can tell when either changed after rendering (``helpers.notebooks``).

Notebooks run in a kernel of the interpreter that runs this module (``sys.executable``),
whatever ``python3`` kernelspec Jupyter would otherwise find.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from helpers import calibration, paths, report
# Re-exported (course.notebooks, course.check, ...): they live in helpers.notebooks, which helpers.site imports too.
from helpers.notebooks import (HASH_KEY, check, code_hash, error_outputs, helpers_hash, notebooks,  # noqa: F401
                               render_command, stale, stamp)

# Every rendered notebook carries this kernelspec (ipykernel's own), so JupyterLab opens each one clean
# instead of rewriting its metadata and marking it unsaved.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


_NOT_LITERALS = {"true": "True", "false": "False", "none": "None", "null": "None"}


def parse_value(name: str, text: str):
    """The value of ``-p NAME TEXT``: a Python literal, or a ValueError that says how to write one."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    hint = _NOT_LITERALS.get(text.strip().lower())
    hint = f"did you mean -p {name} {hint}? " if hint else ""
    raise ValueError(f"-p {name} {text}: the value is not a Python literal; {hint}a string needs quotes inside "
                     f"the shell's, e.g. -p {name} \"'{text}'\"")


def default_parameters(path: Path) -> dict:
    """The literal ``NAME = value`` assignments of a notebook's ``parameters`` cell."""
    notebook = nbformat.read(path, as_version=4)
    found = {}
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name):
                    try:
                        found[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
    return found


def parameter_names(path: Path) -> list[str]:
    """Every name that a notebook's ``parameters`` cell assigns, in order (the names ``-p`` may override)."""
    notebook = nbformat.read(path, as_version=4)
    names = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else \
                    [node.target] if isinstance(node, ast.AnnAssign) else []
                names += [target.id for target in targets if isinstance(target, ast.Name)]
    return list(dict.fromkeys(names))


def check_parameters(selected: list[Path], parameters: dict) -> None:
    """Raise ValueError, before anything runs, if a ``-p`` name is not a parameter of every chosen notebook."""
    problems = []
    for path in selected:
        names = parameter_names(path)
        unknown = [name for name in parameters if name not in names]
        if unknown:
            verb = "is not a parameter" if len(unknown) == 1 else "are not parameters"
            close = [match for name in unknown for match in difflib.get_close_matches(name, names, n=1)]
            guess = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(f"{', '.join(unknown)} {verb} of {path.stem}{guess}; its parameters: "
                            f"{', '.join(names) or '(none)'}")
    if problems:
        raise ValueError("unknown -p name: " + "; ".join(problems))


def same_parameters(first, second) -> bool:
    """Whether two parameter values (or dicts of them) are equal as values: 1e-2 == 0.01, a list == a tuple.

    Bools stay apart from numbers (``True`` is not ``1``), and JSON's string keys equal the same keys.
    """
    if isinstance(first, bool) or isinstance(second, bool):
        return type(first) is type(second) and first == second
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(same_parameters(first[k], second[k]) for k in first)
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        return len(first) == len(second) and all(same_parameters(a, b) for a, b in zip(first, second))
    if isinstance(first, (int, float)) and isinstance(second, (int, float)):
        return first == second
    return type(first) is type(second) and first == second


def kernel_command() -> list[str]:
    """How the runner starts a notebook's kernel: ipykernel in this very interpreter, never another Python."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


@functools.cache
def kernel_manager_class() -> type:
    """A kernel manager (for papermill's nbclient) whose every kernel runs :func:`kernel_command`.

    A ``python3`` kernelspec in the user's Jupyter folders (one pointing at another Python, say) is not consulted.
    """
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from traitlets import default

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=kernel_command(), name=KERNELSPEC["name"], language=KERNELSPEC["language"],
                              display_name=KERNELSPEC["display_name"], resource_dir=ipykernel.kernelspec.RESOURCES)

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return CurrentEnvKernelSpecManager(data_dir=self.data_dir)

    return CurrentEnvKernelManager


def _restores_results_env(function):
    """Decorator: ``$COURSE_RESULTS_DIR`` is as it was (set or unset) after ``function`` returns or raises."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        saved = os.environ.get(paths.RESULTS_ENV)
        try:
            return function(*args, **kwargs)
        finally:
            if saved is None:
                os.environ.pop(paths.RESULTS_ENV, None)
            else:
                os.environ[paths.RESULTS_ENV] = saved
    return wrapper


def _clean(notebook: nbformat.NotebookNode) -> None:
    """Drop papermill's bookkeeping so rendered notebooks diff cleanly; one kernelspec for all."""
    notebook.metadata.pop("papermill", None)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]


def _execute(source: Path, target: Path, parameters: dict) -> tuple[float, str | None]:
    import papermill

    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(source), str(target), parameters=parameters,
                                   kernel_name=KERNELSPEC["name"], progress_bar=False,
                                   cwd=str(source.parent), kernel_manager_class=kernel_manager_class())
        failure = None
    except Exception as error:  # papermill wraps the cell's exception
        failure = failure_message(error)
    return time.perf_counter() - start, failure


def failure_message(error: BaseException) -> str:
    """One line naming what failed: the cell's exception and its message (an assert's text)."""
    name = getattr(error, "ename", None) or type(error).__name__
    value = getattr(error, "evalue", None)
    if value is None:
        lines = str(error).strip().splitlines()
        value = lines[-1] if lines else ""
    value = " ".join(str(value).split())
    if not value:                      # a bare `assert`: name the line that failed instead
        line = _failing_line(getattr(error, "traceback", None) or [])
        value = f"at `{line}`" if line else ""
    return f"{name}: {value[:300]}" if value else name


def _failing_line(traceback: list[str]) -> str | None:
    """The source line IPython marks with an arrow (``---> 21 assert x``) in the last frame."""
    found = None
    for block in traceback:
        for row in re.sub(r"\x1b\[[0-9;]*m", "", block).splitlines():
            match = re.match(r"\s*-+>\s*\d+\s+(.*\S)", row)
            if match:
                found = match.group(1)
    return found


def _format_metric(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format_metric(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_format_metric(v) for v in value) + "]"
    return str(value)


def _results(stem: str, folder: Path) -> tuple[dict, str, dict]:
    """A notebook's recorded metrics, the Keras backend that ran it (the environment's, if unrecorded) and its
    claims, from one read of its results file."""
    recorded = report.load(stem, folder)
    metrics, backend = report.split_backend(recorded)
    return metrics, backend or os.environ.get("KERAS_BACKEND", "tensorflow"), report.split_claims(recorded)


def summary_table(rows: list[dict]) -> str:
    """Markdown table: notebook, Keras backend, wall seconds, status, headline metrics."""
    lines = ["| notebook | backend | seconds | status | headline metrics |", "|---|---|---:|---|---|"]
    for row in rows:
        metrics = "; ".join(f"{k} = {_format_metric(v)}" for k, v in row["metrics"].items())
        lines.append(f"| {row['notebook']} | {row.get('backend', '?')} | {row['seconds']:.1f} | "
                     f"{row['status']} | {metrics or '—'} |")
    total = sum(row["seconds"] for row in rows)
    lines.append(f"| **total** | | {total:.1f} | | |")
    return "\n".join(lines)


@_restores_results_env
def run(only: list[str] | None = None, parameters: dict | None = None,
        render: bool = False, build_dir: Path | None = None) -> int:
    """Execute notebooks; with ``render`` write outputs back into ``notebooks/``."""
    selected = notebooks(only)
    check_parameters(selected, parameters or {})
    build_dir = Path(build_dir or paths.BUILD_DIR)
    executed_dir = build_dir / "executed"
    results = build_dir / "results"
    executed_dir.mkdir(parents=True, exist_ok=True)
    os.environ[paths.RESULTS_ENV] = str(results.resolve())
    rows = []
    for index, source in enumerate(selected, 1):
        print(f"[{index}/{len(selected)}] {source.stem} …", flush=True)
        target = executed_dir / source.name
        (results / f"{source.stem}.json").unlink(missing_ok=True)
        helpers_sha256 = helpers_hash()         # the helpers code this run imports
        seconds, failure = _execute(source, target, parameters or {})
        status = "ok" if failure is None else "FAILED"
        print(f"    {status} in {seconds:.1f} s" + (f" — {failure}" if failure else ""),
              flush=True)
        metrics, backend, made = _results(source.stem, results)
        if render and failure is None:
            from helpers import readme

            executed = nbformat.read(target, as_version=4)
            _clean(executed)
            # the stamp, and the headline metrics this render shows (tests/test_readme.py holds them to the README)
            executed.metadata[HASH_KEY] = {**stamp(executed, helpers_sha256),
                                           "metrics": readme.headline(source.stem, metrics)}
            nbformat.write(executed, source)
        rows.append({"notebook": source.stem, "backend": backend, "seconds": round(seconds, 1),
                     "status": status, "failure": failure, "metrics": metrics,
                     "seed": {**default_parameters(source), **(parameters or {})}.get("SEED"),
                     "overrides": {k: v for k, v in (parameters or {}).items() if k != "SEED"},
                     "claims": made})
    table = summary_table(rows)
    (build_dir / "summary.md").write_text(table + "\n", encoding="utf-8")
    (build_dir / "summary.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("\n" + table)
    print(f"\nExecuted notebooks in {executed_dir}; summary in {build_dir / 'summary.md'}")
    return 0 if all(row["status"] == "ok" for row in rows) else 1


def flat_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a metrics dict, nested keys joined with dots (bools left out)."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def sweep_summary(runs: list[dict]) -> list[dict]:
    """Per notebook: seeds passed and failed, and min / median / max of seconds and metrics.

    ``runs`` holds one dict per (notebook, seed): ``notebook``, ``seed``, ``seconds``,
    ``status`` ("ok" or "FAILED"), ``failure`` and ``metrics``.
    """
    import statistics

    summary = []
    for notebook in dict.fromkeys(run["notebook"] for run in runs):
        mine = [run for run in runs if run["notebook"] == notebook]
        values: dict[str, list[float]] = {"seconds": [run["seconds"] for run in mine]}
        for run in mine:
            for key, value in flat_metrics(run["metrics"]).items():
                values.setdefault(key, []).append(value)
        summary.append({
            "notebook": notebook,
            "seeds": [run["seed"] for run in mine],
            "passed": [run["seed"] for run in mine if run["status"] == "ok"],
            "failures": {str(run["seed"]): run["failure"] for run in mine if run["status"] != "ok"},
            "stats": {key: {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}
                      for key, v in values.items()},
            "claims": calibration.claim_stats(mine),
        })
    return summary


def sweep_table(summary: list[dict]) -> str:
    """Markdown: a pass/fail line per notebook, the failures, then every metric's spread."""
    lines = ["| notebook | seeds passed | seconds median [min–max] |", "|---|---|---|"]
    for entry in summary:
        seconds = entry["stats"]["seconds"]
        passed = f"{len(entry['passed'])}/{len(entry['seeds'])}"
        lines.append(f"| {entry['notebook']} | {passed} | {seconds['median']:.0f} "
                     f"[{seconds['min']:.0f}–{seconds['max']:.0f}] |")
    for entry in summary:
        lines += ["", f"### {entry['notebook']}", ""]
        for seed in entry["seeds"]:
            failure = entry["failures"].get(str(seed))
            lines.append(f"- seed {seed}: " + ("pass" if failure is None else f"**FAIL** — {failure}"))
        if entry.get("claims"):
            flagged = calibration.flagged(entry["claims"])
            lines += ["", f"Claims ({len(entry['claims'])}; margin = worst seed to threshold, in units of the seeds' "
                      f"spread; flagged below {calibration.MIN_MARGIN:g} or when a seed failed): "
                      + (f"**{len(flagged)} flagged**" if flagged else "none flagged"), "",
                      calibration.claims_table(entry["claims"])]
        lines += ["", "| metric | min | median | max | seeds |", "|---|---:|---:|---:|---:|"]
        for key, stat in entry["stats"].items():
            lines.append(f"| {key} | {stat['min']:.4g} | {stat['median']:.4g} | {stat['max']:.4g} "
                         f"| {stat['n']} |")
    return "\n".join(lines)


@_restores_results_env
def sweep(seeds: list[int], only: list[str] | None = None, parameters: dict | None = None,
          build_dir: Path | None = None, merge: bool = False, calibrate: bool = False) -> int:
    """Run the chosen notebooks once per seed; write ``sweep.md`` and ``sweep.json``.

    Every run stores the claims its notebook made (``helpers.claim``), and the tables give each
    claim's margin over the seeds (``helpers.calibration``). With ``calibrate``, claims are recorded
    and not asserted (``COURSE_CLAIMS=record`` in the kernels), so every claim of every run is measured
    even where an early one fails; a run whose claims failed counts as failed all the same.
    With ``merge``, the runs of the notebooks *not* chosen now are kept from the earlier
    ``sweep.json`` (which must have the same seeds and overrides), so a course can be
    swept a few notebooks at a time into one table.
    """
    from helpers import claims as claims_module

    if calibrate:
        os.environ[claims_module.MODE_ENV] = "record"
    try:
        return _sweep(seeds, only, parameters, build_dir, merge, calibrate)
    finally:
        if calibrate:
            os.environ.pop(claims_module.MODE_ENV, None)


def _sweep(seeds, only, parameters, build_dir, merge, calibrate) -> int:
    parameters = dict(parameters or {})
    if "SEED" in parameters:
        raise ValueError("sweep sets SEED itself; choose seeds with --seeds, not -p SEED")
    if not seeds or any(not isinstance(seed, int) or seed < 0 for seed in seeds):
        raise ValueError(f"seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds!r}")
    build_dir = Path(build_dir or paths.BUILD_DIR)
    selected = notebooks(only)
    check_parameters(selected, parameters)
    runs = []
    if merge and (build_dir / "sweep.json").is_file():
        earlier = json.loads((build_dir / "sweep.json").read_text(encoding="utf-8"))
        if earlier["seeds"] != seeds or not same_parameters(earlier["parameters"], parameters):
            raise ValueError(f"--merge needs the seeds and overrides of the earlier sweep "
                             f"({earlier['seeds']}, {earlier['parameters']}), got ({seeds}, {parameters})")
        chosen = {source.stem for source in selected}
        runs = [run for run in earlier["runs"] if run["notebook"] not in chosen]
    for index, source in enumerate(selected, 1):
        default_seed = default_parameters(source).get("SEED")
        for seed in seeds:
            print(f"[{index}/{len(selected)}] {source.stem} seed {seed} …", flush=True)
            executed_dir = build_dir / "sweep" / f"seed{seed}"
            results = executed_dir / "results"
            results.mkdir(parents=True, exist_ok=True)
            (results / f"{source.stem}.json").unlink(missing_ok=True)
            os.environ[paths.RESULTS_ENV] = str(results.resolve())
            # At the notebook's own default seed and no overrides, inject nothing: that run is
            # exactly the learner run (the one `render` commits), injected-parameters cell and all.
            injected = {**parameters, "SEED": seed}
            if not parameters and default_seed == seed:
                injected = {}
            seconds, failure = _execute(source, executed_dir / source.name, injected)
            metrics, backend, made = _results(source.stem, results)
            failed_claims = [name for name, entry in made.items() if not entry.get("held", True)]
            if failure is None and failed_claims:           # recorded, not asserted (--calibrate)
                failure = f"claims failed: {', '.join(failed_claims)}"
            status = "ok" if failure is None else "FAILED"
            print(f"    {status} in {seconds:.1f} s" + (f" — {failure}" if failure else ""),
                  flush=True)
            runs.append({"notebook": source.stem, "seed": seed, "backend": backend,
                         "seconds": round(seconds, 1), "status": status, "failure": failure,
                         "metrics": metrics, "claims": made})
    runs.sort(key=lambda run: run["notebook"])          # stable: seeds stay in order
    summary = sweep_summary(runs)
    backends = sorted({run.get("backend", "?") for run in runs})
    header = (f"Seed sweep: seeds {' '.join(map(str, seeds))}"
              + (f"; overrides {parameters}" if parameters else "; learner defaults")
              + f"; Keras backend {', '.join(backends)}"
              + ("; claims recorded, not asserted (--calibrate)" if calibrate else "") + "\n\n")
    table = header + sweep_table(summary)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "sweep.md").write_text(table + "\n", encoding="utf-8")
    (build_dir / "sweep.json").write_text(
        json.dumps({"seeds": seeds, "parameters": parameters, "calibrate": calibrate, "runs": runs,
                    "summary": summary}, indent=2) + "\n", encoding="utf-8")
    print("\n" + table)
    print(f"\nExecuted notebooks in {build_dir / 'sweep'}; tables in {build_dir / 'sweep.md'}")
    return 0 if all(run["status"] == "ok" for run in runs) else 1


def table(sweep_files: list[Path] | None = None, times: list[Path] | None = None, merge: bool = False) -> int:
    """Summarise sweeps into ``notebooks/sweep-summary.json`` and rewrite the README's tables from it."""
    from helpers import readme

    if merge and not sweep_files and not times:
        raise ValueError("table --merge puts sweeps or wall times into the stored summary: give them with --sweep "
                         "SWEEP_JSON or --times SUMMARY_JSON")
    wall = None
    for summary_file in times or []:
        try:
            wall = {**(wall or {}), **{row["notebook"]: row["seconds"] for row in
                                       json.loads(summary_file.read_text(encoding="utf-8"))
                                       if row["status"] == "ok"}}
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"--times {summary_file}: not a readable `run` summary ({error})") from None
    if sweep_files:
        runs = readme.load_runs(sweep_files)
        summary = readme.merge(readme.load_summary(), runs, wall) if merge else readme.summarize(runs, wall)
        print(f"wrote {readme.save_summary(summary)}")
    elif times:                                  # only the wall times: the stored summary, its times replaced
        summary = readme.merge(readme.load_summary(), [], wall)
        print(f"wrote {readme.save_summary(summary)}")
    else:
        summary = readme.load_summary()
    readme.write(summary)
    print(f"wrote the tables of {readme.README}")
    for stem, entry in summary["notebooks"].items():
        flagged = calibration.flagged(entry["claims"])
        if flagged:
            print(f"{stem}: flagged claims: {', '.join(flagged)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "execute notebooks into build/ and print the summary"),
                       ("render", "execute at learner defaults and write outputs back"),
                       ("check", "fail if a committed notebook is stale or holds an error"),
                       ("sweep", "run notebooks at several seeds; spread of every metric and claim")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--only", nargs="+", metavar="NN",
                         help="notebook name prefixes, e.g. 01 04")
        if name == "sweep":
            sub.add_argument("--seeds", nargs="+", default=["0-9"], metavar="K",
                             help="seeds or ranges to run, e.g. 0-9 or 10-14 or 0 3 7 (default: 0-9)")
            sub.add_argument("--calibrate", action="store_true",
                             help="record every claim without asserting it (COURSE_CLAIMS=record), "
                                  "so each run measures all of them")
            sub.add_argument("--merge", action="store_true",
                             help="keep the other notebooks' runs from the earlier build/sweep.json")
        if name in ("run", "sweep"):
            sub.add_argument("--build-dir", type=Path, default=None, metavar="DIR",
                             help="write executed notebooks, results and summaries here (default: build/)")
            sub.add_argument("-p", "--param", nargs=2, action="append", default=[],
                             metavar=("NAME", "VALUE"),
                             help="override a parameter (Python literal), repeatable")
    table_parser = commands.add_parser(
        "table", help="write notebooks/sweep-summary.json and the README's tables from sweep results")
    table_parser.add_argument("--sweep", nargs="+", type=Path, default=None, metavar="SWEEP_JSON",
                              help="sweep.json files to summarise, any backends and seeds (TensorFlow seeds 0-9: "
                                   "calibration; 10 and up: held out); without it, the README is rewritten "
                                   "from the stored summary")
    table_parser.add_argument("--times", nargs="+", type=Path, default=None, metavar="SUMMARY_JSON",
                              help="`run` or `render` summaries (build/summary.json) whose wall seconds the notebook "
                                   "table shows, the last one winning (default: the sweep's seed-0 runs)")
    table_parser.add_argument("--merge", action="store_true",
                              help="keep the stored summary and put in only what these sweeps measured (a notebook "
                                   "calibrated again, held-out seeds, a backend's runs; --times' wall seconds)")
    site_parser = commands.add_parser("site", help="build the course site (HTML) into build/site/")
    site_parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                             help="write the site here (default: build/site/)")
    args = parser.parse_args(argv)
    try:
        if args.command == "site":
            from helpers import site

            try:
                site.build(args.out)
            except RuntimeError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            return 0
        if args.command == "check":
            problems = check(args.only)
            print("\n".join(problems) if problems else "all notebooks rendered from the current code and helpers/, "
                  "error-free")
            return 1 if problems else 0
        if args.command == "table":
            return table(args.sweep, args.times, args.merge)
        parameters = {name: parse_value(name, value) for name, value in getattr(args, "param", [])}
        if args.command == "sweep":
            return sweep(calibration.parse_seeds(args.seeds), args.only, parameters, build_dir=args.build_dir,
                         merge=args.merge, calibrate=args.calibrate)
        return run(args.only, parameters, render=args.command == "render",
                   build_dir=getattr(args, "build_dir", None))
    except report.ResultsFileError as error:        # a ValueError, but not a usage error
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        parser.error(str(error))
        return 2


if __name__ == "__main__":
    sys.exit(main())
