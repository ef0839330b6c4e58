"""Data for the course: seeded generators and the shipped MNIST file.

Every generator takes ``seed`` and returns NumPy arrays with the shapes and dtypes in
its docstring; the same seed always gives the same arrays. Nothing here touches the
network except :func:`load_mnist`'s last-resort fallback when ``data/mnist.npz`` is
missing altogether.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from helpers import paths
from helpers._checks import check_float, check_int, check_seed

#: sha256 of the MNIST file the course ships (see data/README.md).
MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=(n, 1)).astype(np.float32)


def _labelled_sequences(n, time_steps, input_dim, which: str, index, seed):
    """Standard normal (n, time_steps, input_dim) sequences with the label written at one
    timestep (``which="attention_column"``) or one feature (``which="attention_dim"``)."""
    n = check_int("n", n, 1)
    time_steps = check_int("time_steps", time_steps, 1)
    input_dim = check_int("input_dim", input_dim, 1)
    over_time = which == "attention_column"
    index = check_int(which, index, 0, (time_steps if over_time else input_dim) - 1)
    rng = np.random.default_rng(check_seed(seed))
    x = rng.standard_normal((n, time_steps, input_dim)).astype(np.float32)
    y = _labels(rng, n)
    if over_time:
        x[:, index, :] = y
    else:
        x[:, :, index] = y
    return x, y


def get_data(n: int, input_dim: int, attention_column: int = 1, seed: int | None = None):
    """Flat features where one column is the label.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb.

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    input_dim : int
        Number of features, >= 1.
    attention_column : int
        The informative feature, in [0, input_dim - 1].
    seed : int or None
        Seed of the generator; ``None`` draws fresh randomness.

    Returns
    -------
    x : float32 array (n, input_dim)
        Standard normal, except ``x[:, attention_column] == y[:, 0]``.
    y : float32 array (n, 1)
        Labels in {0, 1}.
    """
    n = check_int("n", n, 1)
    input_dim = check_int("input_dim", input_dim, 1)
    attention_column = check_int("attention_column", attention_column, 0, input_dim - 1)
    rng = np.random.default_rng(check_seed(seed))
    x = rng.standard_normal((n, input_dim)).astype(np.float32)
    y = _labels(rng, n)
    x[:, attention_column] = y[:, 0]
    return x, y


def get_data_recurrent(n: int, time_steps: int, input_dim: int, attention_column: int = 10,
                       seed: int | None = None):
    """Sequences where one timestep carries the label in every feature.

    Introduced in notebooks/02_timestep_attention.ipynb (used from notebook 01 on).

    Parameters
    ----------
    n : int
        Number of sequences, >= 1.
    time_steps : int
        Sequence length, >= 1.
    input_dim : int
        Features per timestep, >= 1.
    attention_column : int
        The informative timestep, in [0, time_steps - 1].
    seed : int or None
        Seed of the generator; ``None`` draws fresh randomness.

    Returns
    -------
    x : float32 array (n, time_steps, input_dim)
        Standard normal, except ``x[:, attention_column, :] == y`` (broadcast over features).
    y : float32 array (n, 1)
        Labels in {0, 1}.
    """
    return _labelled_sequences(n, time_steps, input_dim, "attention_column", attention_column, seed)


def get_data_recurrent2(n: int, time_steps: int, input_dim: int, attention_dim: int = 5,
                        seed: int | None = None):
    """Sequences where one feature carries the label at every timestep.

    Introduced in notebooks/03_dimension_attention.ipynb.

    Parameters
    ----------
    n, time_steps, input_dim, seed
        As in :func:`get_data_recurrent`.
    attention_dim : int
        The informative feature, in [0, input_dim - 1].

    Returns
    -------
    x : float32 array (n, time_steps, input_dim)
        Standard normal, except ``x[:, :, attention_dim] == y`` (broadcast over timesteps).
    y : float32 array (n, 1)
        Labels in {0, 1}.
    """
    return _labelled_sequences(n, time_steps, input_dim, "attention_dim", attention_dim, seed)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_mnist(path: str | Path | None = None):
    """The real MNIST, read from the course's own ``data/mnist.npz``.

    Introduced in notebooks/07_mnist_attention_classifier.ipynb.

    The file's sha256 is checked before it is read, and it is read with
    ``allow_pickle=False``. Only when the file is absent does this fall back to
    ``keras.datasets.mnist.load_data()`` (which needs the network).

    Parameters
    ----------
    path : str, Path or None
        Another copy of the file to read; default ``data/mnist.npz`` in the course.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        uint8 arrays of shapes (60000, 28, 28), (60000,), (10000, 28, 28), (10000,),
        exactly the layout of ``keras.datasets.mnist.load_data()``.

    Raises
    ------
    ValueError
        If the file exists but is corrupt (wrong checksum, unreadable, wrong keys).
    FileNotFoundError
        If the file is absent and the Keras download fails too (no network).
    """
    path = Path(path) if path is not None else paths.DATA_DIR / "mnist.npz"
    fix = (f"Fix: restore it with `git checkout -- data/mnist.npz` (or copy the course's "
           f"mnist.npz, sha256 {MNIST_SHA256}, to {path}).")
    if not path.is_file():
        try:
            import keras

            return keras.datasets.mnist.load_data()
        except Exception as error:  # no network: say which file is missing and how to fix it
            raise FileNotFoundError(
                f"MNIST file {path} is missing and the Keras download failed ({error}). {fix}"
            ) from error
    actual = _sha256(path)
    if actual != MNIST_SHA256:
        raise ValueError(f"MNIST file {path} is corrupt: sha256 {actual}, "
                         f"expected {MNIST_SHA256}. {fix}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in MNIST_KEYS}
    except Exception as error:
        raise ValueError(f"MNIST file {path} cannot be read ({error}). {fix}") from error
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def get_lagged_series(n_steps: int, lag: int = 7, coefficient: float = 0.9, noise: float = 0.5,
                      seed: int | None = None) -> np.ndarray:
    """A noisy seasonal series driven by the value ``lag`` steps back.

    Introduced in notebooks/02_timestep_attention.ipynb (forecasting).

    ``s[t] = coefficient * s[t - lag] + noise * e[t]`` with ``e`` standard normal, so each
    residue class ``t mod lag`` is its own AR(1) process: the series repeats with period
    ``lag``, fading and renewed by noise. The best one-step forecast is
    ``coefficient * s[t - lag]`` (mean squared error ``noise**2``); the value one step back
    carries no information when ``lag > 1``.

    Parameters
    ----------
    n_steps : int
        Length of the series, > lag.
    lag : int
        The lag that drives the series, >= 1.
    coefficient : float
        In (-1, 1), so the series is stationary.
    noise : float
        Standard deviation of the innovations, > 0.
    seed : int or None

    Returns
    -------
    float32 array (n_steps,)
    """
    lag = check_int("lag", lag, 1)
    n_steps = check_int("n_steps", n_steps, lag + 1)
    coefficient = check_float("coefficient", coefficient)
    if abs(coefficient) >= 1:
        raise ValueError(f"coefficient must be in (-1, 1) for a stationary series, got {coefficient}")
    noise = check_float("noise", noise, 0.0, open_min=True)
    rng = np.random.default_rng(check_seed(seed))
    innovations = noise * rng.standard_normal(n_steps)
    series = np.empty(n_steps)
    # Start each residue class at its stationary spread, so there is no burn-in.
    series[:lag] = innovations[:lag] / np.sqrt(1 - coefficient ** 2)
    for t in range(lag, n_steps):
        series[t] = coefficient * series[t - lag] + innovations[t]
    return series.astype(np.float32)


def make_windows(series, look_back: int):
    """Sliding windows for one-step-ahead forecasting.

    Introduced in notebooks/02_timestep_attention.ipynb.

    Parameters
    ----------
    series : array-like (n_steps,)
    look_back : int
        Window length, in [1, n_steps - 1].

    Returns
    -------
    x : float32 array (n_steps - look_back, look_back, 1)
        ``x[i, j, 0] == series[i + j]``.
    y : float32 array (n_steps - look_back, 1)
        ``y[i, 0] == series[i + look_back]``, the value right after window ``i``.
    """
    series = np.asarray(series, dtype=np.float32)
    if series.ndim != 1:
        raise ValueError(f"series must be 1-D, got shape {series.shape}")
    if series.shape[0] < 2:
        raise ValueError(f"series must have at least 2 steps, got {series.shape[0]}")
    look_back = check_int("look_back", look_back, 1, series.shape[0] - 1)
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], look_back)
    return x[..., None].copy(), series[look_back:, None].copy()


def get_addition_problem(n: int, min_length: int, max_length: int | None = None,
                         seed: int | None = None):
    """The addition problem (Hochreiter & Schmidhuber 1997, as Raffel & Ellis 2015 use it).

    Introduced in notebooks/05_self_attention.ipynb.

    Every sequence has a random length ``L`` in ``[min_length, max_length]``; each of its
    steps carries two channels:

    - channel 0, a value drawn uniformly from [-1, 1];
    - channel 1, a marker: -1 at the first and the last step, 1 at two steps (one among
      steps 1–9, one among the other steps of the first half, ``L // 2``), 0 elsewhere.

    The target is ``0.5 + (x1 + x2) / 4``, where x1 and x2 are the two marked values, so
    it lies in [0, 1]. Sequences are zero-padded at the end to ``max_length`` (one shape
    for every batch, so a compiled model never retraces); ``mask`` says which steps are real.

    Parameters
    ----------
    n : int
        Number of sequences, >= 1.
    min_length : int
        Shortest sequence, >= 20 (the first marked step is among steps 1–9 and the second
        in the rest of the first half, which must not be empty).
    max_length : int or None
        Longest sequence, >= min_length; ``None`` means ``int(1.1 * min_length)``, the
        paper's setting.
    seed : int or None
        Seed of the generator; ``None`` draws fresh randomness.

    Returns
    -------
    x : float32 (n, max_length, 2); padding is 0 in both channels
    mask : bool (n, max_length), True on real steps
    y : float32 (n, 1)
    """
    n = check_int("n", n, 1)
    min_length = check_int("min_length", min_length, 20)
    max_length = int(1.1 * min_length) if max_length is None else check_int(
        "max_length", max_length, min_length)
    rng = np.random.default_rng(check_seed(seed))
    lengths = rng.integers(min_length, max_length + 1, size=n)
    width = max_length
    steps = np.arange(width)
    mask = steps[None, :] < lengths[:, None]
    x = np.zeros((n, width, 2), dtype=np.float32)
    x[:, :, 0] = np.where(mask, rng.uniform(-1.0, 1.0, size=(n, width)), 0.0)
    rows = np.arange(n)
    first = rng.integers(1, 10, size=n)
    second = rng.integers(10, lengths // 2)           # steps 10 .. L//2 - 1: after the first, in the first half
    x[rows, 0, 1] = -1.0
    x[rows, lengths - 1, 1] = -1.0
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (0.5 + (x[rows, first, 0] + x[rows, second, 0]) / 4.0).astype(np.float32)[:, None]
    return x, mask, y
