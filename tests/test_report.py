import json

import numpy as np
import pytest

import helpers
from helpers import paths, report


def test_record_writes_json_to_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path))
    target = report.record("01_weighted_sum_intuition", {
        "test_accuracy": np.float32(0.995), "n": np.int64(3), "ok": np.bool_(True),
        "table": {"a": [np.float64(1.5), 2]}, "name": "x", "vec": np.arange(2)})
    assert target == tmp_path / "01_weighted_sum_intuition.json"
    loaded = json.loads(target.read_text())
    assert loaded == {"test_accuracy": pytest.approx(0.995), "n": 3, "ok": True,
                      "table": {"a": [1.5, 2]}, "name": "x", "vec": [0, 1], "keras_backend": helpers.backend(),
                      "claims": {}}
    assert report.load("01_weighted_sum_intuition") == loaded
    assert report.split_backend(loaded) == ({k: v for k, v in loaded.items() if k not in ("keras_backend", "claims")},
                                            helpers.backend())
    assert report.load("02_missing") == {}


def test_results_dir_defaults_to_repo_results(monkeypatch):
    monkeypatch.delenv(paths.RESULTS_ENV, raising=False)
    assert paths.results_dir() == paths.REPO_ROOT / "results"


@pytest.mark.parametrize("stem", ["01", "notebook", "01-weighted", "../01_x", 1])
def test_record_rejects_bad_stems(stem, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="notebook must be a notebook stem"):
        report.record(stem, {"a": 1})


@pytest.mark.parametrize("metrics,message", [
    ({}, "metrics must be a non-empty mapping"),
    ([("a", 1)], "metrics must be a non-empty mapping"),
    ({"a": float("nan")}, "metric 'a' is nan"),
    ({"a": object()}, "metric 'a' has type object"),
])
def test_record_rejects_bad_metrics(metrics, message, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path))
    with pytest.raises(ValueError, match=message):
        report.record("01_x", metrics)


@pytest.mark.parametrize("content", ['{"acc": 0.9', b"\xff\xfe not text"])
def test_load_names_a_corrupt_results_file(content, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RESULTS_ENV, str(tmp_path))
    target = tmp_path / "03_dimension_attention.json"
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(report.ResultsFileError) as error:
        report.load("03_dimension_attention")
    message = str(error.value)
    assert str(target) in message and "corrupt (not valid JSON" in message
    assert "re-run that notebook" in message and "run --only 03" in message
