import shutil

import numpy as np
import pytest

from helpers import data, paths

GENERATORS = {
    "get_data": lambda **kw: data.get_data(**{"n": 50, "input_dim": 8, **kw}),
    "get_data_recurrent": lambda **kw: data.get_data_recurrent(
        **{"n": 50, "time_steps": 20, "input_dim": 2, **kw}),
    "get_data_recurrent2": lambda **kw: data.get_data_recurrent2(
        **{"n": 50, "time_steps": 6, "input_dim": 10, **kw}),
}


def test_get_data_layout():
    x, y = data.get_data(100, 32, attention_column=1, seed=0)
    assert x.shape == (100, 32) and x.dtype == np.float32
    assert y.shape == (100, 1) and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x[:, 1], y[:, 0])
    assert abs(np.delete(x, 1, axis=1).std() - 1) < 0.1


def test_get_data_recurrent_layout():
    x, y = data.get_data_recurrent(200, 20, 2, attention_column=10, seed=0)
    assert x.shape == (200, 20, 2) and x.dtype == np.float32
    assert y.shape == (200, 1) and set(np.unique(y)) == {0.0, 1.0}
    np.testing.assert_array_equal(x[:, 10, :], np.repeat(y, 2, axis=1))
    others = np.delete(x, 10, axis=1)
    assert abs(others.mean()) < 0.05 and abs(others.std() - 1) < 0.05


def test_get_data_recurrent2_layout():
    x, y = data.get_data_recurrent2(200, 6, 10, attention_dim=5, seed=0)
    assert x.shape == (200, 6, 10) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, :, 5], np.repeat(y, 6, axis=1))
    assert not np.array_equal(x[:, :, 4], np.repeat(y, 6, axis=1))


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_seeded(name):
    make = GENERATORS[name]
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name,kwargs,message", [
    ("get_data", {"n": 0}, r"n must be an integer >= 1, got 0"),
    ("get_data", {"n": 2.5}, r"n must be an integer"),
    ("get_data", {"input_dim": 0}, r"input_dim must be an integer >= 1"),
    ("get_data", {"attention_column": 8}, r"attention_column must be an integer in \[0, 7\], got 8"),
    ("get_data", {"seed": -1}, r"seed must be an integer in \[0, 4294967295\]"),
    ("get_data_recurrent", {"n": -5}, r"n must be an integer >= 1, got -5"),
    ("get_data_recurrent", {"time_steps": 0}, r"time_steps must be an integer >= 1, got 0"),
    ("get_data_recurrent", {"input_dim": "2"}, r"input_dim must be an integer"),
    ("get_data_recurrent", {"attention_column": 20},
     r"attention_column must be an integer in \[0, 19\], got 20"),
    ("get_data_recurrent", {"attention_column": -1}, r"attention_column must be an integer in \[0, 19\]"),
    ("get_data_recurrent", {"time_steps": 5}, r"attention_column must be an integer in \[0, 4\], got 10"),
    ("get_data_recurrent2", {"attention_dim": 10}, r"attention_dim must be an integer in \[0, 9\], got 10"),
    ("get_data_recurrent2", {"attention_dim": 5.0}, r"attention_dim must be an integer"),
    ("get_data_recurrent2", {"n": True}, r"n must be an integer"),
])
def test_generators_reject_bad_input(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        GENERATORS[name](**kwargs)


def test_load_mnist_is_the_real_mnist():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,) and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                             5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x_train.max() == 255 and x_train.min() == 0


def test_load_mnist_rejects_a_corrupt_file(tmp_path):
    corrupt = tmp_path / "mnist.npz"
    shutil.copy(paths.DATA_DIR / "mnist.npz", corrupt)
    with open(corrupt, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ValueError, match=r"mnist\.npz is corrupt: sha256 .* Fix: restore it"):
        data.load_mnist(corrupt)


def test_load_mnist_missing_file_without_network_names_the_file(tmp_path, monkeypatch):
    import keras

    def no_network():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    missing = tmp_path / "mnist.npz"
    with pytest.raises(FileNotFoundError, match=r"mnist\.npz is missing .* Fix"):
        data.load_mnist(missing)


def test_load_mnist_missing_file_falls_back_to_keras(tmp_path, monkeypatch):
    import keras

    sentinel = ((np.zeros(1), np.zeros(1)), (np.zeros(1), np.zeros(1)))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: sentinel)
    assert data.load_mnist(tmp_path / "absent.npz") is sentinel


def test_mnist_checksum_matches_provenance_readme():
    readme = (paths.DATA_DIR / "README.md").read_text(encoding="utf-8")
    assert data.MNIST_SHA256 in readme


def test_lagged_series_is_driven_by_its_lag():
    series = data.get_lagged_series(20_000, lag=7, coefficient=0.9, noise=0.5, seed=0)
    assert series.shape == (20_000,) and series.dtype == np.float32
    residual = series[7:] - 0.9 * series[:-7]
    assert abs(residual.std() - 0.5) < 0.02
    assert abs(np.corrcoef(series[1:], series[:-1])[0, 1]) < 0.05
    assert np.corrcoef(series[7:], series[:-7])[0, 1] > 0.85
    np.testing.assert_array_equal(series, data.get_lagged_series(20_000, lag=7, seed=0))


@pytest.mark.parametrize("kwargs,message", [
    ({"n_steps": 7}, r"n_steps must be an integer >= 8, got 7"),
    ({"lag": 0}, r"lag must be an integer >= 1"),
    ({"coefficient": 1.0}, r"coefficient must be in \(-1, 1\)"),
    ({"noise": 0.0}, r"noise must be > 0"),
])
def test_lagged_series_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.get_lagged_series(**{"n_steps": 100, "lag": 7, **kwargs})


def test_make_windows():
    x, y = data.make_windows(np.arange(10), 3)
    assert x.shape == (7, 3, 1) and y.shape == (7, 1) and x.dtype == np.float32
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0, 0] == 3 and y[-1, 0] == 9
    with pytest.raises(ValueError, match=r"look_back must be an integer in \[1, 9\], got 10"):
        data.make_windows(np.arange(10), 10)
    with pytest.raises(ValueError, match="series must have at least 2 steps, got 1"):
        data.make_windows(np.arange(1), 1)
    with pytest.raises(ValueError, match="series must be 1-D"):
        data.make_windows(np.zeros((3, 3)), 1)


def test_addition_problem_layout():
    x, mask, y = data.get_addition_problem(300, 50, seed=0)
    assert x.shape == (300, 55, 2) and x.dtype == np.float32
    assert mask.shape == (300, 55) and mask.dtype == bool and y.shape == (300, 1) and y.dtype == np.float32
    lengths = mask.sum(axis=1)
    assert lengths.min() >= 50 and lengths.max() <= 55
    assert (mask[:, :-1] >= mask[:, 1:]).all(), "padding only at the end"
    assert np.all(x[~mask] == 0)
    values, marker = x[..., 0], x[..., 1]
    assert np.abs(values[mask]).max() <= 1
    rows = np.arange(300)
    assert (marker[rows, 0] == -1).all() and (marker[rows, lengths - 1] == -1).all()
    marked = marker == 1
    assert (marked.sum(axis=1) == 2).all()
    positions = np.array([np.flatnonzero(row) for row in marked])
    assert (positions[:, 0] >= 1).all() and (positions[:, 0] <= 9).all()
    assert (positions[:, 1] < lengths // 2).all()
    expected = 0.5 + (values[rows, positions[:, 0]] + values[rows, positions[:, 1]]) / 4
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)


def test_addition_problem_is_seeded_and_checks_arguments():
    a, b = data.get_addition_problem(20, 30, 40, seed=1), data.get_addition_problem(20, 30, 40, seed=1)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert a[0].shape == (20, 40, 2)
    with pytest.raises(ValueError, match=r"min_length must be an integer >= 22, got 10"):
        data.get_addition_problem(5, 10)
    with pytest.raises(ValueError, match=r"min_length must be an integer >= 22, got 21"):
        data.get_addition_problem(5, 21, 21)   # L = 21 leaves no step for the second marker
    x, mask, _ = data.get_addition_problem(50, 22, 22, seed=0)   # the shortest allowed length works
    assert mask.sum(axis=1).tolist() == [22] * 50 and (x[:, :, 1] == 1).sum(axis=1).tolist() == [2] * 50
    with pytest.raises(ValueError, match=r"max_length must be an integer >= 50, got 40"):
        data.get_addition_problem(5, 50, 40)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1"):
        data.get_addition_problem(0, 50)


def test_date_pairs_spans_and_targets():
    import datetime
    sources, targets, spans, formats = data.get_date_pairs(500, seed=0)
    assert len(set(formats)) == len(data.DATE_FORMATS) >= 8
    for source, target, where in zip(sources, targets, spans):
        date = datetime.date.fromisoformat(target)
        year, month, day = (source[a:b] for a, b in (where["year"], where["month"], where["day"]))
        assert int(year) == date.year and int(day) == date.day
        assert month.isdigit() and int(month) == date.month or month.lower()[:3] == date.strftime("%b").lower()
    assert data.get_date_pairs(5, seed=1) == data.get_date_pairs(5, seed=1)
    with pytest.raises(ValueError, match="formats must be names from DATE_FORMATS"):
        data.get_date_pairs(5, formats=["bogus"])


def test_encode_text_round_trip_and_errors():
    ids = data.encode_text(["ab", "b"], "ab", 4)
    assert ids.tolist() == [[1, 2, 0, 0], [2, 0, 0, 0]] and ids.dtype == np.int32
    assert data.decode_text(ids, "ab") == ["ab", "b"]
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['é'\]"):
        data.encode_text(["aé"], "ab", 4)
    with pytest.raises(ValueError, match="more than length=2"):
        data.encode_text(["abab"], "ab", 2)


def test_encode_text_refuses_a_bare_string():
    """A bare string is a sequence of one-character strings: it used to become one row per character."""
    with pytest.raises(ValueError, match=r"texts must be a sequence of strings, got the string 'ab'; "
                                         r"for one text pass a list: \['ab'\]"):
        data.encode_text("ab", "ab", 4)
    with pytest.raises(ValueError, match=r"texts must be a sequence of strings, got 3 \(int\) at position 1"):
        data.encode_text(["ab", 3], "ab", 4)
    assert data.encode_text(("ab",), "ab", 2).tolist() == [[1, 2]]
