"""The README's numbers are the sweep's, and every committed render lies inside them."""

import json

import nbformat
import pytest

from helpers import course, readme

SUMMARY = readme.load_summary()


def test_readme_tables_are_what_table_writes_from_the_stored_summary():
    expected = readme.expected_readme(SUMMARY)
    assert readme.README.read_text(encoding="utf-8") == expected, (
        "README.md's tables differ from notebooks/sweep-summary.json: run `python -m helpers.course table`")


@pytest.mark.parametrize("path", course.notebooks(), ids=lambda p: p.stem)
def test_committed_render_lies_inside_the_readme_range(path):
    entry = SUMMARY["notebooks"].get(path.stem)
    if entry is None:
        pytest.skip(f"{path.stem} has no sweep in notebooks/sweep-summary.json")
    stored = nbformat.read(path, as_version=4).metadata.get(course.HASH_KEY, {}).get("metrics")
    assert stored is not None, f"{path.name} stores no headline metrics: run `python -m helpers.course render`"
    problems = render_outside_range(path.stem, stored, entry)
    assert not problems, "; ".join(problems)


def render_outside_range(stem: str, stored: dict, entry: dict) -> list[str]:
    """The non-timing headline metrics of a render that lie outside the sweep's [min, max]."""
    problems = []
    for label, key, timing in readme.NOTEBOOKS[stem][2]:
        stat = entry["metrics"].get(key)
        if timing or stat is None:
            continue
        if key not in stored:
            problems.append(f"{key} missing from the render")
        elif not stat["min"] <= stored[key] <= stat["max"]:
            problems.append(f"{label} ({key}) = {stored[key]:.4g} in the render, outside the README's "
                            f"[{stat['min']:.4g}, {stat['max']:.4g}]: re-render, or sweep again and run `table`")
    return problems


def test_the_range_test_fails_for_a_metric_moved_outside():
    stem = "01_weighted_sum_intuition"
    entry = {"metrics": {"test_accuracy": {"min": 0.99, "median": 1.0, "max": 1.0}}}
    assert render_outside_range(stem, {"test_accuracy": 1.0}, entry) == []
    assert "outside the README" in render_outside_range(stem, {"test_accuracy": 0.9849}, entry)[0]


def test_table_writes_between_the_markers_only(tmp_path):
    text = "intro\n{0}\nSTALE ROW\n{1}\nmiddle\n{2}\nSTALE ROW\n{3}\nend\n".format(*readme.MARKERS["notebooks"],
                                                                     *readme.MARKERS["backends"])
    target = tmp_path / "README.md"
    target.write_text(text)
    written = readme.write(SUMMARY, target)
    assert written.startswith("intro\n") and "\nmiddle\n" in written and written.endswith("end\n")
    assert "STALE ROW" not in written and readme.notebook_table(SUMMARY) in written


def test_missing_markers_are_a_clear_error(tmp_path):
    target = tmp_path / "README.md"
    target.write_text("no tables here\n")
    with pytest.raises(ValueError, match="must hold the lines"):
        readme.write(SUMMARY, target)


def test_summary_of_runs_gives_ranges_claims_and_held_out(tmp_path):
    runs = []
    for seed in list(range(10)) + [10, 11]:
        claim = {"value": 0.9 + seed / 100, "threshold": 0.5, "direction": ">", "held": True}
        runs.append({"notebook": "01_weighted_sum_intuition", "seed": seed, "backend": "tensorflow",
                     "seconds": 20.0 + seed, "status": "ok", "failure": None, "overrides": {},
                     "metrics": {"test_accuracy": 0.9 + seed / 100}, "claims": {"acc_xx": claim}})
    summary = readme.summarize(runs)
    entry = summary["notebooks"]["01_weighted_sum_intuition"]
    assert entry["seeds"] == list(range(10)) and entry["held_out"] == {"seeds": [10, 11], "failed": {}}
    assert entry["metrics"]["test_accuracy"]["max"] == pytest.approx(0.99) and entry["wall_seconds"] == 20.0
    assert entry["claims"]["acc_xx"]["margin"] == pytest.approx((0.9 - 0.5) / 0.09)
    table = readme.notebook_table(summary)
    assert "0.945 [0.9–0.99]" in table and "01 at seeds 10-11" in table and "all passed" in table
    json.dumps(summary)


def _runs(notebook, seeds, value=lambda seed: 0.9 + seed / 100, backend="tensorflow"):
    return [{"notebook": notebook, "seed": seed, "backend": backend, "seconds": 20.0 + seed, "status": "ok",
             "failure": None, "overrides": {}, "metrics": {"test_accuracy": value(seed)},
             "claims": {"acc_xx": {"value": value(seed), "threshold": 0.5, "direction": ">", "held": True}}}
            for seed in seeds]


def test_merge_replaces_what_was_swept_again_and_keeps_the_rest():
    first, second = "01_weighted_sum_intuition", "02_timestep_attention"
    stored = readme.summarize(_runs(first, range(12)) + _runs(second, range(10)))
    # 02 calibrated again (other values), 01 only held out at new seeds, one of them failing
    failing = _runs(first, [20, 21])
    failing[1].update(status="FAILED", failure="claims failed: acc_xx")
    failing[1]["claims"]["acc_xx"]["held"] = False
    merged = readme.merge(stored, _runs(second, range(10), value=lambda seed: 0.6 + seed / 100) + failing,
                          wall_seconds={first: 33.0})
    assert merged["notebooks"][second]["metrics"]["test_accuracy"]["max"] == pytest.approx(0.69)
    assert merged["notebooks"][first]["claims"] == stored["notebooks"][first]["claims"]
    assert merged["notebooks"][first]["held_out"] == {"seeds": [20, 21], "failed": {"21": "claims failed: acc_xx"}}
    assert merged["notebooks"][first]["wall_seconds"] == 33.0
    assert merged["backends"]["tensorflow"][first]["seeds"] == list(range(10)) + [20, 21]
    assert merged["backends"]["tensorflow"][first]["failed"] == [21]
    assert stored["notebooks"][first]["held_out"]["seeds"] == [10, 11]          # the stored summary is not changed
    # 01 calibrated again with the same claims and no held-out runs: its stored held-out seeds are kept; with a
    # changed threshold they are not (they tested another claim)
    again = readme.merge(stored, _runs(first, range(10)))
    assert again["notebooks"][first]["held_out"] == stored["notebooks"][first]["held_out"]
    assert again["backends"]["tensorflow"][first]["seeds"] == list(range(12))     # and the backend row lists them
    changed = _runs(first, range(10))
    for run in changed:
        run["claims"]["acc_xx"]["threshold"] = 0.6
    assert "held_out" not in readme.merge(stored, changed)["notebooks"][first]
    with pytest.raises(ValueError, match="cannot be merged"):
        readme.merge(stored, _runs(first, [3]))                                 # too few calibration seeds


def test_merge_of_wall_times_alone_changes_only_the_times():
    first = "01_weighted_sum_intuition"
    stored = readme.summarize(_runs(first, range(12)))
    merged = readme.merge(stored, [], wall_seconds={first: 12.5, "not_a_notebook": 1.0})
    assert merged["notebooks"][first]["wall_seconds"] == 12.5
    merged["notebooks"][first]["wall_seconds"] = stored["notebooks"][first]["wall_seconds"]
    assert merged == stored


def test_corrupt_summary_names_the_file(tmp_path):
    broken = tmp_path / "sweep-summary.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="sweep-summary.json is not valid JSON"):
        readme.load_summary(broken)


@pytest.mark.parametrize("path", course.notebooks(), ids=lambda p: p.stem)
def test_claim_lines_in_the_render_quote_the_stored_calibration(path, monkeypatch):
    """Each claim line a render shows ('✓ name = v (claim: ...); seeds 0-9 gave a–b') quotes the stored summary."""
    import re

    from helpers import claims

    monkeypatch.setattr(claims, "_calibration_cache", None)
    notebook = nbformat.read(path, as_version=4)
    pattern = re.compile(r"^[✓✗] (?:claim )?([a-z0-9_]+) = \S+ \(claim: [^)]*\)(?: failed)?; (.*?)(?:; depends on|$)")
    stale = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                match = pattern.match(line)
                if match and match.group(2) != claims.calibration_text(match.group(1)):
                    stale.append(f"{match.group(1)}: shows '{match.group(2)}', the summary says "
                                 f"'{claims.calibration_text(match.group(1))}'")
    assert not stale, f"{path.name}: re-render it (`python -m helpers.course render --only {path.stem[:2]}`): " \
                      + "; ".join(stale)
