"""Data for the course: seeded generators and the shipped MNIST file.

Every generator takes ``seed`` and returns NumPy arrays with the shapes and dtypes in
its docstring; the same seed always gives the same arrays. Nothing here touches the
network except :func:`load_mnist`'s last-resort fallback when ``data/mnist.npz`` is
missing altogether.
"""

from __future__ import annotations

import datetime
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
        Shortest sequence, >= 22 (the first marked step is among steps 1–9 and the second
        among steps 10 … L // 2 - 1, which is empty for L < 22).
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
    min_length = check_int("min_length", min_length, 22)
    max_length = int(1.1 * min_length) if max_length is None else check_int(
        "max_length", max_length, min_length)
    rng = np.random.default_rng(check_seed(seed))
    lengths = rng.integers(min_length, max_length + 1, size=n)
    mask = np.arange(max_length)[None, :] < lengths[:, None]
    x = np.zeros((n, max_length, 2), dtype=np.float32)
    x[:, :, 0] = np.where(mask, rng.uniform(-1.0, 1.0, size=(n, max_length)), 0.0)
    rows = np.arange(n)
    first = rng.integers(1, 10, size=n)
    second = rng.integers(10, lengths // 2)           # steps 10 .. L//2 - 1: after the first, in the first half
    x[rows, 0, 1] = -1.0
    x[rows, lengths - 1, 1] = -1.0
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (0.5 + (x[rows, first, 0] + x[rows, second, 0]) / 4.0).astype(np.float32)[:, None]
    return x, mask, y


#: the formats of :func:`get_date_pairs`, by name (the example is 21 November 2026).
DATE_FORMATS = {
    "d_month_yyyy": "21 November 2026",
    "weekday_month_d_yyyy": "Saturday, November 21, 2026",
    "mon_d_yyyy": "nov 21 2026",
    "dd/mm/yyyy": "21/11/2026",
    "yyyy.mm.dd": "2026.11.21",
    "mm-dd-yyyy": "11-21-2026",
    "the_dth_of_month_yyyy": "the 21st of November, 2026",
    "month_yyyy_d": "November 2026, day 21",
    "yyyymmdd": "20261121",
    "d.m.yyyy": "21.11.2026",
}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
#: characters a source date may contain (encode_text gives chars[i] the id i + 1; id 0 is padding)
DATE_SOURCE_CHARS = " ,-./0123456789" + "abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: characters of the ISO targets
DATE_TARGET_CHARS = "-0123456789"


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _cased(word: str, case: str) -> str:
    """``word`` (title case) in ``case``: "title", "lower" or "upper"."""
    return {"title": word, "lower": word.lower(), "upper": word.upper()}[case]


def _render_date(fmt: str, year: int, month: int, day: int, weekday: int, case: str):
    """Return (text, spans) where spans maps year/month/day to (start, end) character offsets."""
    cased = _cased(_MONTHS[month - 1], case)
    short = cased[:3]
    pieces = {
        "d_month_yyyy": [("day", str(day)), " ", ("month", cased), " ", ("year", str(year))],
        "weekday_month_d_yyyy": [_cased(_WEEKDAYS[weekday], case) + ", ",
                                 ("month", cased), " ", ("day", str(day)), ", ", ("year", str(year))],
        "mon_d_yyyy": [("month", short), " ", ("day", str(day)), " ", ("year", str(year))],
        "dd/mm/yyyy": [("day", f"{day:02d}"), "/", ("month", f"{month:02d}"), "/", ("year", str(year))],
        "yyyy.mm.dd": [("year", str(year)), ".", ("month", f"{month:02d}"), ".", ("day", f"{day:02d}")],
        "mm-dd-yyyy": [("month", f"{month:02d}"), "-", ("day", f"{day:02d}"), "-", ("year", str(year))],
        "the_dth_of_month_yyyy": ["the ", ("day", str(day)), _ordinal(day)[len(str(day)):] + " of ",
                                  ("month", cased), ", ",
                                  ("year", str(year))],
        "month_yyyy_d": [("month", cased), " ", ("year", str(year)), ", day ", ("day", str(day))],
        "yyyymmdd": [("year", str(year)), ("month", f"{month:02d}"), ("day", f"{day:02d}")],
        "d.m.yyyy": [("day", str(day)), ".", ("month", str(month)), ".", ("year", str(year))],
    }[fmt]
    text, spans = "", {}
    for piece in pieces:
        if isinstance(piece, tuple):
            spans[piece[0]] = (len(text), len(text) + len(piece[1]))
            piece = piece[1]
        text += piece
    return text, spans


def get_date_pairs(n: int, seed: int | None = None, formats=None, first_year: int = 1950,
                   last_year: int = 2049):
    """Human-readable dates and their ISO form, with where each field sits in the source.

    Introduced in notebooks/04_seq2seq_attention.ipynb.

    Dates are drawn uniformly between 1 January ``first_year`` and 31 December
    ``last_year``, each written in a random format of :data:`DATE_FORMATS` (month names
    in title, lower or upper case at random). Several formats put the day first and the
    year last, so the alignment between source and target is not a diagonal.

    Parameters
    ----------
    n : int
        Number of pairs, >= 1.
    seed : int or None
    formats : sequence of str or None
        Names from :data:`DATE_FORMATS`; ``None`` means all of them.
    first_year, last_year : int
        Range of years, 1000 <= first_year <= last_year <= 9999.

    Returns
    -------
    sources : list of str
    targets : list of str, ``YYYY-MM-DD``
    spans : list of dict
        For each pair, ``{"year": (start, end), "month": (start, end), "day": (start, end)}``:
        the characters ``source[start:end]`` that hold that field.
    format_names : list of str
    """
    n = check_int("n", n, 1)
    first_year = check_int("first_year", first_year, 1000, 9999)
    last_year = check_int("last_year", last_year, first_year, 9999)
    names = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [name for name in names if name not in DATE_FORMATS]
    if not names or unknown:
        raise ValueError(f"formats must be names from DATE_FORMATS ({', '.join(DATE_FORMATS)}), got {formats!r}")
    rng = np.random.default_rng(check_seed(seed))
    start = datetime.date(first_year, 1, 1).toordinal()
    end = datetime.date(last_year, 12, 31).toordinal()
    sources, targets, spans, used = [], [], [], []
    for ordinal, fmt, case in zip(rng.integers(start, end + 1, size=n), rng.integers(0, len(names), size=n),
                                  rng.integers(0, 3, size=n)):
        date = datetime.date.fromordinal(int(ordinal))
        text, where = _render_date(names[fmt], date.year, date.month, date.day, date.weekday(),
                                   ("title", "lower", "upper")[case])
        sources.append(text)
        targets.append(date.isoformat())
        spans.append(where)
        used.append(names[fmt])
    return sources, targets, spans, used


def encode_text(texts, chars: str, length: int):
    """Encode strings as int32 ids: character ``chars[i]`` → ``i + 1``, 0 = padding.

    Introduced in notebooks/04_seq2seq_attention.ipynb.

    Parameters
    ----------
    texts : sequence of str
    chars : str
        The vocabulary; every character of every text must be in it.
    length : int
        Width of the output; longer texts are an error, shorter ones are padded with 0.

    Returns
    -------
    int32 (len(texts), length)

    Raises
    ------
    ValueError
        For a character outside ``chars`` (naming it and the text), a text longer than
        ``length``, or a bare string as ``texts`` (which would be read one character per
        row), instead of an index error deep inside a model.
    """
    if isinstance(texts, str):          # a bare string would be encoded one character per row
        raise ValueError(f"texts must be a sequence of strings, got the string {texts!r}; "
                         f"for one text pass a list: [{texts!r}]")
    length = check_int("length", length, 1)
    index = {c: i + 1 for i, c in enumerate(chars)}
    ids = np.zeros((len(texts), length), dtype=np.int32)
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts must be a sequence of strings, got {text!r} ({type(text).__name__}) "
                             f"at position {row}")
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise ValueError(f"text {text!r} has characters outside the vocabulary: {unknown}; "
                             f"allowed: {chars!r}")
        if len(text) > length:
            raise ValueError(f"text {text!r} has {len(text)} characters, more than length={length}")
        ids[row, :len(text)] = [index[c] for c in text]
    return ids


def decode_text(ids, chars: str) -> list[str]:
    """Inverse of :func:`encode_text`: ids → strings, padding (0) dropped."""
    return ["".join(chars[i - 1] for i in row if i > 0) for row in np.asarray(ids)]


def get_date_sequences(n: int, seed: int | None = None, source_length: int = 29):
    """Dates as single sequences for a decoder-only model: ``source ⟨sep⟩ target``, as notebook 08 builds them.

    Introduced in notebooks/11_serving_attention.ipynb (notebook 08, section 2, builds the same arrays step by
    step). ``get_date_pairs(n, seed=seed)``; each source is encoded with :data:`DATE_SOURCE_CHARS` (ids 1…67) and
    padded on the left to ``source_length`` characters, then the separator (id 68), then the ten target characters
    with the same ids. Labels are the sequence shifted by one, with every label that is not a target character
    set to 0 (a loss with ``ignore_class=0`` scores the target only).

    Returns
    -------
    dict with ``sequences`` int32 (n, source_length + 11), ``inputs`` and ``labels`` (n, source_length + 10),
    ``prompts`` (n, source_length + 1), ``targets`` (n, 10), ``sources`` and ``target_texts`` (lists of str),
    ``sep`` (68) and ``vocab`` (69).
    """
    source_length = check_int("source_length", source_length, 1)
    sources, targets, _, _ = get_date_pairs(n, seed=seed)
    longest = max(len(text) for text in sources)
    if longest > source_length:
        raise ValueError(f"source_length={source_length} is shorter than the longest source ({longest} characters); "
                         f"use source_length >= {longest}")
    sep = len(DATE_SOURCE_CHARS) + 1
    source_ids = encode_text(sources, DATE_SOURCE_CHARS, source_length)
    left_padded = np.zeros_like(source_ids)
    for row, length in enumerate((source_ids > 0).sum(axis=1)):
        left_padded[row, source_length - length:] = source_ids[row, :length]
    target_ids = encode_text(targets, DATE_SOURCE_CHARS, 10)
    sequences = np.concatenate([left_padded, np.full((n, 1), sep), target_ids], axis=1).astype("int32")
    labels = sequences[:, 1:].copy()
    labels[:, :source_length] = 0
    return {"sequences": sequences, "inputs": sequences[:, :-1], "labels": labels,
            "prompts": sequences[:, :source_length + 1], "targets": target_ids.astype("int32"), "sources": sources,
            "target_texts": targets, "sep": sep, "vocab": sep + 1}
