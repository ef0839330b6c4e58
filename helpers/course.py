"""The course runner: execute, render and check the notebooks.

Usage (from anywhere, inside the course's virtual environment)::

    python -m helpers.course run                 # every notebook, learner defaults
    python -m helpers.course run --only 01 02    # some notebooks
    python -m helpers.course run --only 02 -p N_TRAIN 30000   # a parameter override
    python -m helpers.course render              # rewrite committed notebooks with outputs
    python -m helpers.course check               # rendered outputs match the code?
    python -m helpers.course sweep --seeds 0 1 2 3 4 [--only 05] [-p EPOCHS 3]
    python -m helpers.course site                # the course site in build/site/ (helpers.site)

``run`` executes each notebook with papermill in a fresh kernel, writes the executed
copies to ``build/executed/``, each notebook's metrics to ``build/results/`` and a
summary table (notebook, wall seconds, headline metrics) to ``build/summary.md`` and
``build/summary.json``; it exits 1 if any notebook fails.

``sweep`` runs every chosen notebook once per seed (``SEED`` set like ``-p SEED k``),
each in a fresh kernel, and writes ``build/sweep.md`` and ``build/sweep.json``: per
notebook, pass or fail per seed (with the failing assert's message), the wall seconds
and, for every numeric headline metric, its min / median / max over the seeds. It exits
1 if any run fails. This is how the course's assert margins are chosen.

``render`` does the same at the learner defaults (no overrides allowed), then writes
the outputs back into ``notebooks/`` with a hash of the code cells stamped in the
notebook metadata, so the tests can tell when code changed after rendering.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from helpers import paths, report

HASH_KEY = "course"
# Every rendered notebook carries this kernelspec (ipykernel's own), so JupyterLab opens each one clean
# instead of rewriting its metadata and marking it unsaved.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


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


def error_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """Descriptions of every error output in the notebook (empty when there are none)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    return found


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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
                                   kernel_name="python3", progress_bar=False,
                                   cwd=str(source.parent))
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


def _results(stem: str, folder: Path) -> tuple[dict, str]:
    """A notebook's recorded metrics and the Keras backend that ran it (the environment's, if unrecorded)."""
    metrics, backend = report.split_backend(report.load(stem, folder))
    return metrics, backend or os.environ.get("KERAS_BACKEND", "tensorflow")


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


def run(only: list[str] | None = None, parameters: dict | None = None,
        render: bool = False, build_dir: Path | None = None) -> int:
    """Execute notebooks; with ``render`` write outputs back into ``notebooks/``."""
    build_dir = Path(build_dir or paths.BUILD_DIR)
    executed_dir = build_dir / "executed"
    results = build_dir / "results"
    executed_dir.mkdir(parents=True, exist_ok=True)
    os.environ[paths.RESULTS_ENV] = str(results.resolve())
    selected = notebooks(only)
    rows = []
    for index, source in enumerate(selected, 1):
        print(f"[{index}/{len(selected)}] {source.stem} …", flush=True)
        target = executed_dir / source.name
        (results / f"{source.stem}.json").unlink(missing_ok=True)
        seconds, failure = _execute(source, target, parameters or {})
        status = "ok" if failure is None else "FAILED"
        print(f"    {status} in {seconds:.1f} s" + (f" — {failure}" if failure else ""),
              flush=True)
        if render and failure is None:
            executed = nbformat.read(target, as_version=4)
            _clean(executed)
            executed.metadata[HASH_KEY] = {"code_sha256": code_hash(executed)}
            nbformat.write(executed, source)
        metrics, backend = _results(source.stem, results)
        rows.append({"notebook": source.stem, "backend": backend, "seconds": round(seconds, 1),
                     "status": status, "failure": failure, "metrics": metrics})
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
        lines += ["", "| metric | min | median | max | seeds |", "|---|---:|---:|---:|---:|"]
        for key, stat in entry["stats"].items():
            lines.append(f"| {key} | {stat['min']:.4g} | {stat['median']:.4g} | {stat['max']:.4g} "
                         f"| {stat['n']} |")
    return "\n".join(lines)


def sweep(seeds: list[int], only: list[str] | None = None, parameters: dict | None = None,
          build_dir: Path | None = None, merge: bool = False) -> int:
    """Run the chosen notebooks once per seed; write ``sweep.md`` and ``sweep.json``.

    With ``merge``, the runs of the notebooks *not* chosen now are kept from the earlier
    ``sweep.json`` (which must have the same seeds and overrides), so a course can be
    swept a few notebooks at a time into one table.
    """
    parameters = dict(parameters or {})
    if "SEED" in parameters:
        raise ValueError("sweep sets SEED itself; choose seeds with --seeds, not -p SEED")
    if not seeds or any(not isinstance(seed, int) or seed < 0 for seed in seeds):
        raise ValueError(f"seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds!r}")
    build_dir = Path(build_dir or paths.BUILD_DIR)
    selected = notebooks(only)
    runs = []
    if merge and (build_dir / "sweep.json").is_file():
        earlier = json.loads((build_dir / "sweep.json").read_text(encoding="utf-8"))
        if earlier["seeds"] != seeds or earlier["parameters"] != parameters:
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
            status = "ok" if failure is None else "FAILED"
            print(f"    {status} in {seconds:.1f} s" + (f" — {failure}" if failure else ""),
                  flush=True)
            metrics, backend = _results(source.stem, results)
            runs.append({"notebook": source.stem, "seed": seed, "backend": backend,
                         "seconds": round(seconds, 1), "status": status, "failure": failure,
                         "metrics": metrics})
    runs.sort(key=lambda run: run["notebook"])          # stable: seeds stay in order
    summary = sweep_summary(runs)
    backends = sorted({run.get("backend", "?") for run in runs})
    header = (f"Seed sweep: seeds {' '.join(map(str, seeds))}"
              + (f"; overrides {parameters}" if parameters else "; learner defaults")
              + f"; Keras backend {', '.join(backends)}\n\n")
    table = header + sweep_table(summary)
    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "sweep.md").write_text(table + "\n", encoding="utf-8")
    (build_dir / "sweep.json").write_text(
        json.dumps({"seeds": seeds, "parameters": parameters, "runs": runs, "summary": summary},
                   indent=2) + "\n", encoding="utf-8")
    print("\n" + table)
    print(f"\nExecuted notebooks in {build_dir / 'sweep'}; tables in {build_dir / 'sweep.md'}")
    return 0 if all(run["status"] == "ok" for run in runs) else 1


def check(only: list[str] | None = None) -> list[str]:
    """Problems with the committed notebooks: stale renders and error outputs."""
    problems = []
    for path in notebooks(only):
        notebook = nbformat.read(path, as_version=4)
        stamp = notebook.metadata.get(HASH_KEY, {}).get("code_sha256")
        if stamp is None:
            problems.append(f"{path.name}: never rendered (run `python -m helpers.course render`)")
        elif stamp != code_hash(notebook):
            problems.append(f"{path.name}: code changed after rendering "
                            "(run `python -m helpers.course render --only "
                            f"{path.stem[:2]}`)")
        problems += [f"{path.name}: {error}" for error in error_outputs(notebook)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "execute notebooks into build/ and print the summary"),
                       ("render", "execute at learner defaults and write outputs back"),
                       ("check", "fail if a committed notebook is stale or holds an error"),
                       ("sweep", "run notebooks at several seeds; spread of every metric")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--only", nargs="+", metavar="NN",
                         help="notebook name prefixes, e.g. 01 04")
        if name == "sweep":
            sub.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4], metavar="K",
                             help="seeds to run (default: 0 1 2 3 4)")
            sub.add_argument("--merge", action="store_true",
                             help="keep the other notebooks' runs from the earlier build/sweep.json")
        if name in ("run", "sweep"):
            sub.add_argument("--build-dir", type=Path, default=None, metavar="DIR",
                             help="write executed notebooks, results and summaries here (default: build/)")
            sub.add_argument("-p", "--param", nargs=2, action="append", default=[],
                             metavar=("NAME", "VALUE"),
                             help="override a parameter (Python literal), repeatable")
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
            print("\n".join(problems) if problems else "all notebooks rendered and error-free")
            return 1 if problems else 0
        parameters = {name: _parse_value(value) for name, value in getattr(args, "param", [])}
        if args.command == "sweep":
            return sweep(args.seeds, args.only, parameters, build_dir=args.build_dir, merge=args.merge)
        return run(args.only, parameters, render=args.command == "render",
                   build_dir=getattr(args, "build_dir", None))
    except ValueError as error:
        parser.error(str(error))
        return 2


if __name__ == "__main__":
    sys.exit(main())
