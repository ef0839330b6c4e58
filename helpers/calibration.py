"""Seed sweeps measured claim by claim: seed ranges, margins, and the course's stored calibration.

``python -m helpers.course sweep`` records, for every run, the claims the notebook made
(``helpers.claim``). This module turns those runs into one line per claim: its threshold, the
min / median / max of its value over the seeds, and its **margin**: how far the worst seed
lies from the threshold, in units of the seeds' spread (max - min). A claim whose margin is
below one spread, or that failed at some seed, is flagged: a new seed would fail it too often.
(For an ``==`` claim, such as "the peak is at timestep 10", there is no spread to speak of: it is
flagged as soon as one seed gives another value.)
"""

from __future__ import annotations

import math
import re
import statistics

#: The margin, in spreads, below which a claim is flagged.
MIN_MARGIN = 1.0
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(tokens: list[str] | str) -> list[int]:
    """``["0-9", "12"]`` (or ``"0-9 12"``) -> ``[0, 1, ..., 9, 12]``; a ValueError for anything else."""
    if isinstance(tokens, str):
        tokens = tokens.replace(",", " ").split()
    seeds: list[int] = []
    for token in tokens:
        match = _RANGE.match(str(token).strip())
        if not match:
            raise ValueError(f"seeds must be non-negative integers or ranges like 0-9, got {token!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"a seed range must go up, like 0-9, got {token!r}")
        seeds += range(first, last + 1)
    if not seeds:
        raise ValueError("give at least one seed, e.g. --seeds 0-9")
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds must not repeat, got {repeated} more than once")
    return seeds


def margin(values: list[float], threshold: float, direction: str) -> tuple[float | None, float]:
    """``(margin in spreads, spread)`` of values against ``value <direction> threshold``.

    The margin is ``(worst - threshold) / spread`` on the side the claim asks for, with the spread
    ``max - min``; ``inf`` when every seed gave the same value on the right side; ``None`` for ``==``.
    """
    spread = max(values) - min(values)
    if direction == "==":
        return None, spread
    if direction in (">", ">="):
        distance = min(values) - threshold
    elif direction in ("<", "<="):
        distance = threshold - max(values)
    else:
        raise ValueError(f"direction must be one of >, >=, <, <=, ==, got {direction!r}")
    if spread > 0:
        return distance / spread, spread
    return (math.inf if distance > 0 else 0.0), spread


def claim_stats(runs: list[dict]) -> dict[str, dict]:
    """Per claim over the runs of one notebook: threshold, direction, seeds, min / median / max, margin, flag.

    Each run is a dict with ``seed`` and ``claims`` (name -> value, threshold, direction, held), as the
    sweep stores them. A claim absent from some runs (an ``if`` in the notebook) is measured on the rest.
    """
    found: dict[str, dict] = {}
    for run in runs:
        for name, entry in (run.get("claims") or {}).items():
            stat = found.setdefault(name, {"direction": entry["direction"], "thresholds": [], "seeds": [],
                                           "values": [], "failed": []})
            stat["thresholds"].append(entry["threshold"])
            stat["seeds"].append(run["seed"])
            stat["values"].append(entry["value"])
            if not entry.get("held", True):
                stat["failed"].append(run["seed"])
    stats = {}
    for name, stat in found.items():
        values, direction = stat["values"], stat["direction"]
        threshold = stat["thresholds"][-1]
        in_spreads, spread = margin(values, threshold, direction)
        flagged = bool(stat["failed"]) or (in_spreads is not None and in_spreads < MIN_MARGIN) \
            or (direction == "==" and any(value != threshold for value in values))
        stats[name] = {"direction": direction, "threshold": threshold, "seeds": stat["seeds"],
                       "min": min(values), "median": statistics.median(values), "max": max(values),
                       "spread": spread, "margin": in_spreads, "failed": stat["failed"], "flagged": flagged}
        if len(set(stat["thresholds"])) > 1:        # e.g. a threshold computed from a parameter
            stats[name]["thresholds"] = sorted(set(stat["thresholds"]))
    return stats


def claims_table(stats: dict[str, dict]) -> str:
    """Markdown: one row per claim, flagged ones marked **FLAG**."""
    lines = ["| claim | threshold | min | median | max | margin (spreads) | seeds | |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, stat in stats.items():
        value = stat["margin"]
        shown = "—" if value is None else ("∞" if value == math.inf else f"{value:.2f}")
        note = "**FLAG**" if stat["flagged"] else ""
        if stat["failed"]:
            note += f" failed at seed {', '.join(map(str, stat['failed']))}"
        lines.append(f"| {name} | {stat['direction']} {_fmt(stat['threshold'])} | {_fmt(stat['min'])} | "
                     f"{_fmt(stat['median'])} | {_fmt(stat['max'])} | {shown} | {len(stat['seeds'])} "
                     f"| {note.strip()} |")
    return "\n".join(lines)


def flagged(stats: dict[str, dict]) -> list[str]:
    """The names of the flagged claims."""
    return [name for name, stat in stats.items() if stat["flagged"]]


def _fmt(value: float) -> str:
    return f"{value:.4g}"
