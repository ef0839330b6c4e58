"""Claims and their calibration: helpers.claim, the sweep's per-claim margins, seed ranges."""

import json
import math

import pytest

import helpers
from helpers import calibration, claims, report


@pytest.fixture(autouse=True)
def fresh_claims(monkeypatch, tmp_path):
    monkeypatch.setattr(claims, "_made", {})
    monkeypatch.setattr(report, "_recorded", {})
    monkeypatch.setattr(claims, "_calibration_cache", None)
    monkeypatch.setattr(claims, "SUMMARY_FILE", tmp_path / "sweep-summary.json")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv(claims.MODE_ENV, raising=False)


def test_claim_that_holds_prints_and_records(capsys):
    assert helpers.claim("test_accuracy_xx", 0.995, 0.99, ">=", depends_on="EPOCHS") is None   # no stray output
    assert "✓ test_accuracy_xx = 0.995 (claim: >= 0.99); not yet calibrated" in capsys.readouterr().out
    assert claims.made() == {"test_accuracy_xx": {"value": 0.995, "threshold": 0.99, "direction": ">=",
                                                  "held": True}}


def test_claim_that_fails_raises_with_value_threshold_and_default():
    with pytest.raises(AssertionError, match=r"mass_xx = 0.5 \(claim: > 0.7\) failed.*depends on EPOCHS = 8"):
        helpers.claim("mass_xx", 0.5, 0.7, ">", depends_on="EPOCHS = 8")


@pytest.mark.parametrize("direction, value, held", [(">", 1, False), (">=", 1, True), ("<", 1, False),
                                                    ("<=", 1, True), ("==", 1, True), ("==", 2, False)])
def test_every_direction(direction, value, held, monkeypatch):
    monkeypatch.setenv(claims.MODE_ENV, "record")
    helpers.claim("c_xx", value, 1, direction)
    assert claims.made()["c_xx"]["held"] is held


def test_record_mode_records_a_failure_without_raising(monkeypatch, capsys):
    monkeypatch.setenv(claims.MODE_ENV, "record")
    helpers.claim("mass_xx", 0.5, 0.7, ">")
    assert "✗" in capsys.readouterr().out and claims.made()["mass_xx"]["held"] is False


def test_claim_away_from_defaults_prints_but_neither_asserts_nor_records(capsys):
    helpers.claim("mass_xx", 0.5, 0.7, ">", applies=False)
    out = capsys.readouterr().out
    assert "does not hold; not asserted" in out and claims.made() == {}


def test_claims_are_stored_with_the_metrics_even_after_record(tmp_path):
    helpers.claim("before_xx", 1.0, 0.99)
    report.record("01_weighted_sum_intuition", {"accuracy": 1.0})
    helpers.claim("after_xx", 2.0, 1.0, ">")              # an exercise, after the Results cell
    stored = report.load("01_weighted_sum_intuition")
    assert set(stored["claims"]) == {"before_xx", "after_xx"} and stored["accuracy"] == 1.0
    assert report.split_backend(stored)[0] == {"accuracy": 1.0}


def test_learner_sees_the_calibrated_range(capsys):
    claims.SUMMARY_FILE.write_text(json.dumps({"notebooks": {"01_x": {"claims": {
        "mass_xx": {"seeds": list(range(10)), "min": 0.81, "median": 0.9, "max": 0.97}}}}}))
    helpers.claim("mass_xx", 0.94, 0.5, ">")
    assert "mass_xx = 0.94 (claim: > 0.5); seeds 0-9 gave 0.81–0.97" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [dict(name="Bad Name"), dict(direction="=>"), dict(value=float("nan")),
                                 dict(value="0.9"), dict(threshold=None)])
def test_bad_claims_are_value_errors(bad):
    arguments = {"name": "ok_xx", "value": 1.0, "threshold": 0.5, "direction": ">", **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        helpers.claim(**arguments)


def test_bad_mode_is_a_value_error(monkeypatch):
    monkeypatch.setenv(claims.MODE_ENV, "warn")
    with pytest.raises(ValueError, match="COURSE_CLAIMS"):
        claims.mode()


def test_corrupt_summary_names_the_file_and_the_fix():
    claims.SUMMARY_FILE.write_text("{not json")
    with pytest.raises(ValueError, match="sweep-summary.json.*git checkout"):
        claims.calibration("x")


@pytest.mark.parametrize("tokens, seeds", [(["0-3"], [0, 1, 2, 3]), (["0-2", "7"], [0, 1, 2, 7]),
                                           ("10-14", [10, 11, 12, 13, 14]), (["5"], [5])])
def test_parse_seeds(tokens, seeds):
    assert calibration.parse_seeds(tokens) == seeds


@pytest.mark.parametrize("tokens, message", [(["3-1"], "must go up"), (["a"], "ranges like"), (["-1"], "ranges"),
                                             (["0-3", "2"], "repeat"), ([], "at least one")])
def test_parse_seeds_rejects(tokens, message):
    with pytest.raises(ValueError, match=message):
        calibration.parse_seeds(tokens)


def test_seed_text_names_ranges():
    assert claims.seed_text([0, 1, 2, 3, 5, 7, 8]) == "0-3, 5, 7-8"


def _runs(values, threshold=0.5, direction=">"):
    return [{"seed": seed, "claims": {"c": {"value": value, "threshold": threshold, "direction": direction,
                                            "held": calibration_holds(value, threshold, direction)}}}
            for seed, value in enumerate(values)]


def calibration_holds(value, threshold, direction):
    return claims.DIRECTIONS[direction](value, threshold)


def test_margin_is_the_worst_seed_to_the_threshold_in_spreads():
    stats = calibration.claim_stats(_runs([0.8, 0.9, 1.0]))["c"]
    assert stats["min"] == 0.8 and stats["max"] == 1.0 and stats["median"] == 0.9
    assert math.isclose(stats["margin"], (0.8 - 0.5) / 0.2) and not stats["flagged"]


def test_thin_margin_is_flagged():
    stats = calibration.claim_stats(_runs([0.6, 0.9, 1.0]))["c"]       # 0.1 from the threshold, spread 0.4
    assert math.isclose(stats["margin"], 0.25) and stats["flagged"]
    assert "**FLAG**" in calibration.claims_table({"c": stats})


def test_upper_bound_margin_and_failures():
    stats = calibration.claim_stats(_runs([0.1, 0.2, 0.6], threshold=0.5, direction="<"))["c"]
    assert stats["margin"] < 0 and stats["failed"] == [2] and stats["flagged"]
    assert "failed at seed 2" in calibration.claims_table({"c": stats})


def test_constant_values_have_infinite_margin_and_equality_claims_no_margin():
    assert calibration.claim_stats(_runs([1.0, 1.0]))["c"]["margin"] == math.inf
    equal = calibration.claim_stats(_runs([10, 10], threshold=10, direction="=="))["c"]
    assert equal["margin"] is None and not equal["flagged"]
    assert calibration.claim_stats(_runs([10, 9], threshold=10, direction="=="))["c"]["flagged"]


def test_a_claim_missing_from_some_runs_is_measured_on_the_rest():
    runs = _runs([0.9, 0.95]) + [{"seed": 2, "claims": {}}]
    assert calibration.claim_stats(runs)["c"]["seeds"] == [0, 1]


def test_a_claim_that_never_varied_says_so(capsys):
    claims.SUMMARY_FILE.write_text(json.dumps({"notebooks": {"02_x": {"claims": {
        "peak_xx": {"seeds": list(range(10)), "min": 10, "median": 10, "max": 10}}}}}))
    helpers.claim("peak_xx", 10, 10, "==")
    assert "seeds 0-9 all gave 10" in capsys.readouterr().out


def test_swept_text_reads_a_metric_over_the_calibration_seeds(tmp_path):
    claims.SUMMARY_FILE.write_text(json.dumps({"notebooks": {"04_x": {
        "seeds": [0, 1, 2], "metrics": {"gap": {"median": 0.001, "min": 0.0, "max": 0.009, "n": 3}}}}}))
    assert claims.swept_text("04_x", "gap", 3) == "0.001 [0.000–0.009] over seeds 0-2"
    assert claims.swept_text("04_x", "other") == "not swept"
    assert claims.swept_text("05_y", "gap") == "not swept"
    with pytest.raises(ValueError, match="digits must be a non-negative int"):
        claims.swept_text("04_x", "gap", -1)
