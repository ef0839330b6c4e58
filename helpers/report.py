"""Headline metrics: each notebook writes its own, the course runner gathers them."""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from helpers import paths
from helpers._seed import backend

#: The key under which ``record`` stores the Keras backend that ran the notebook.
BACKEND_KEY = "keras_backend"
#: The key under which the notebook's claims (``helpers.claim``) are stored beside its metrics.
CLAIMS_KEY = "claims"
_recorded: dict = {}          # the stem and payload of this kernel's last ``record``, so later claims join it
_STEM = re.compile(r"^\d\d_[a-z0-9_]+$")


def _plain(value, key: str):
    """Convert NumPy scalars/arrays (and nested containers) to JSON types."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"metric {key!r} is {value}; record finite numbers only")
        return value
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), key)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"metric {key!r} has type {type(value).__name__}; "
                     "allowed: numbers, strings, bools, None, lists and dicts of those")


def record(notebook: str, metrics: Mapping) -> Path:
    """Write a notebook's headline metrics to ``<results dir>/<notebook>.json``.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb; every notebook calls it in
    its Results cell. The folder is ``results/`` in the course, or
    ``$COURSE_RESULTS_DIR`` when set (the runner and the tests set it).

    Parameters
    ----------
    notebook : str
        The notebook's stem, e.g. ``"01_weighted_sum_intuition"``.
    metrics : mapping of str -> number, str, bool, list or dict
        The headline metrics under the keys the notebook's issue names. The Keras
        backend in use is added under ``"keras_backend"``.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(notebook, str) or not _STEM.match(notebook):
        raise ValueError(f"notebook must be a notebook stem like '01_weighted_sum_intuition', "
                         f"got {notebook!r}")
    if not isinstance(metrics, Mapping) or not metrics:
        raise ValueError(f"metrics must be a non-empty mapping of name -> value, got {metrics!r}")
    payload = {str(key): _plain(value, str(key)) for key, value in metrics.items()}
    payload.setdefault(BACKEND_KEY, backend())      # which Keras backend produced these numbers
    from helpers import claims

    payload[CLAIMS_KEY] = claims.made()             # the claims made so far; later ones are added as they come
    _recorded.clear()
    _recorded.update(notebook=notebook, payload=payload)
    return _write(notebook, payload)


def update_claims(made: Mapping) -> None:
    """Add claims made after ``record`` (in the exercises) to the notebook's results file."""
    if _recorded:
        _recorded["payload"][CLAIMS_KEY] = {name: dict(entry) for name, entry in made.items()}
        _write(_recorded["notebook"], _recorded["payload"])


def _write(notebook: str, payload: dict) -> Path:
    folder = paths.results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook}.json"
    target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def split_backend(metrics: Mapping) -> tuple[dict, str | None]:
    """``(metrics without the backend and claims entries, the backend that recorded them or None)``."""
    rest = dict(metrics)
    rest.pop(CLAIMS_KEY, None)
    return rest, rest.pop(BACKEND_KEY, None)


def split_claims(metrics: Mapping) -> dict:
    """The claims stored with a notebook's metrics (``{}`` when none)."""
    return dict(metrics.get(CLAIMS_KEY) or {})


class ResultsFileError(ValueError):
    """A results file that is not valid JSON (a run cut short while writing it, or an edit by hand)."""


def load(notebook: str, folder: str | Path | None = None) -> dict:
    """Read back what :func:`record` wrote for ``notebook`` (``{}`` if nothing yet).

    Raises :class:`ResultsFileError`, naming the file, when it is not valid JSON.
    """
    target = Path(folder or paths.results_dir()) / f"{notebook}.json"
    if not target.is_file():
        return {}
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = (f"{error.msg} at line {error.lineno}, column {error.colno}"
                 if isinstance(error, json.JSONDecodeError) else str(error))
        raise ResultsFileError(
            f"results file {target} is corrupt (not valid JSON: {where}); delete it and re-run that "
            f"notebook, e.g. `python -m helpers.course run --only {notebook[:2]}`") from error
