"""Claims: the checks in a notebook whose outcome depends on the seed, asserted and recorded.

A claim about a trained model ("4 heads reach 0.99 accuracy", "the attention lands on the
states that know y") is a claim about a distribution over seeds. Every such check in the
course goes through :func:`claim`, which

* asserts it, with the course's message style (the value, the threshold and the default
  the claim depends on);
* records it (value, threshold, direction) so ``helpers.report.record`` stores it with the
  notebook's metrics and the seed sweep can measure each claim's margin;
* prints where the value falls among the seeds the threshold was calibrated on
  (``notebooks/sweep-summary.json``), so a learner on an unusual seed sees why.

Checks that hold by construction (equality with Keras, causality, masks, shapes) stay plain
``assert`` statements: they do not depend on the seed.

Introduced in notebooks/01_weighted_sum_intuition.ipynb.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
import re

from helpers import paths

#: The comparisons a claim may make: ``value <direction> threshold``.
DIRECTIONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}
#: ``COURSE_CLAIMS=record`` records every claim and asserts none (the sweep's ``--calibrate`` sets it), so one
#: calibration run measures every claim of a notebook even where an early one would fail.
MODE_ENV = "COURSE_CLAIMS"
#: The seed sweep the thresholds were calibrated on, kept in the repo (``python -m helpers.course table``).
SUMMARY_FILE = paths.NOTEBOOKS_DIR / "sweep-summary.json"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_made: dict[str, dict] = {}          # this kernel's claims, by name, in the order they were made
_calibration_cache: dict | None = None


def claim(name: str, value, threshold, direction: str = ">=", *, depends_on: str = "",
          applies: bool = True) -> None:
    """Assert ``value <direction> threshold``, record it, and print it beside its calibration.

    Parameters
    ----------
    name : str
        snake_case, unique in the course (the sweep and the calibration file key on it).
    value, threshold : real numbers
        What the run measured and the bound the claim promises.
    direction : {">", ">=", "<", "<=", "=="}
        ``value <direction> threshold`` must hold.
    depends_on : str
        The defaults the claim rests on (e.g. ``"EPOCHS = 8, LEARNING_RATE"``); quoted when it fails.
    applies : bool
        False where the learner changed a setting the claim was calibrated for: the value is printed,
        nothing is asserted or recorded.

    Returns nothing, so a cell that ends with a claim shows only the printed line; whether it held is in
    ``made()`` (and in the run's results file).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a snake_case string like 'test_accuracy', got {name!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    value, threshold = _number("value", value), _number("threshold", threshold)
    held = bool(DIRECTIONS[direction](value, threshold))
    text = f"{name} = {_fmt(value)} (claim: {direction} {_fmt(threshold)})"
    if not applies:
        print(f"· {text}: {'holds' if held else 'does not hold'}; not asserted away from the defaults "
              "it was calibrated for", flush=True)
        return
    _made[name] = {"value": value, "threshold": threshold, "direction": direction, "held": held}
    from helpers import report                      # report imports this module; import here, not at the top

    report.update_claims(_made)
    seen = calibration_text(name)
    if held:
        print(f"✓ {text}; {seen}", flush=True)
        return
    message = f"claim {text} failed; {seen}" + (f"; depends on {depends_on}" if depends_on else "")
    if mode() == "record":
        print(f"✗ {message} (recorded, not asserted: {MODE_ENV}=record)", flush=True)
        return
    raise AssertionError(message)


def made() -> dict[str, dict]:
    """The claims made so far in this kernel: name -> value, threshold, direction, held."""
    return {name: dict(entry) for name, entry in _made.items()}


def mode() -> str:
    """``"assert"`` (the default) or ``"record"`` (from ``$COURSE_CLAIMS``)."""
    value = os.environ.get(MODE_ENV, "assert").strip().lower() or "assert"
    if value not in ("assert", "record"):
        raise ValueError(f"{MODE_ENV} must be 'assert' or 'record', got {value!r}")
    return value


def _summary() -> dict:
    """The stored sweep summary's notebooks (``{}`` when there is none)."""
    if not SUMMARY_FILE.is_file():
        return {}
    try:
        return json.loads(SUMMARY_FILE.read_text(encoding="utf-8")).get("notebooks", {})
    except json.JSONDecodeError as error:
        raise ValueError(f"{SUMMARY_FILE} is not valid JSON ({error}); restore it with "
                         "`git checkout notebooks/sweep-summary.json`") from None


def calibration(name: str) -> dict | None:
    """The calibrated distribution of a claim (seeds, min, median, max, threshold) or None if never swept."""
    global _calibration_cache
    if _calibration_cache is None:
        _calibration_cache = {}
        for entry in _summary().values():
            _calibration_cache.update(entry.get("claims", {}))
    return _calibration_cache.get(name)


def swept_text(notebook: str, metric: str, digits: int = 4) -> str:
    """``"0.134 [-0.030–0.246] over seeds 0-9"``: a recorded metric's median [min–max] over the calibration seeds
    of the stored sweep (``notebooks/sweep-summary.json``), for a number a notebook prints but does not claim."""
    if not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative int, got {digits!r}")
    entry = _summary().get(notebook, {})
    stats = entry.get("metrics", {}).get(metric)
    if not stats or not isinstance(stats.get("median"), (int, float)):
        return "not swept"
    return (f"{stats['median']:.{digits}f} [{stats['min']:.{digits}f}–{stats['max']:.{digits}f}] over seeds "
            f"{seed_text(entry.get('seeds', []))}")


def calibration_text(name: str) -> str:
    """``"seeds 0-9 gave 0.81-0.97"`` for a calibrated claim; says so when it was never swept."""
    found = calibration(name)
    if not found:
        return "not yet calibrated over seeds"
    if found["min"] == found["max"]:
        return f"seeds {seed_text(found['seeds'])} all gave {_fmt(found['min'])}"
    return f"seeds {seed_text(found['seeds'])} gave {_fmt(found['min'])}–{_fmt(found['max'])}"


def seed_text(seeds: list[int]) -> str:
    """``[0, 1, 2, 3, 5]`` -> ``"0-3, 5"``."""
    parts, seeds = [], sorted(seeds)
    start = previous = None
    for seed in seeds + [None]:
        if start is not None and (seed is None or seed != previous + 1):
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if seed is not None and start is None:
            start = seed
        previous = seed
    return ", ".join(parts)


def _number(argument: str, value) -> float:
    try:
        import numpy as np

        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover - numpy is a course dependency
        pass
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise ValueError(f"{argument} must be a real number (not NaN), got {value!r}")
    return float(value)


def _fmt(value: float) -> str:
    """Four significant digits, never rounding a non-integer to an integer (0.9995 stays 0.9995, not 1)."""
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    if abs(value) >= 1e4:
        return f"{value:.0f}"
    for digits in (4, 6, 8):
        text = f"{value:.{digits}g}"
        if float(text) != int(float(text)):
            return text
    return repr(value)
