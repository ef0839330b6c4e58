"""Argument checks shared by the helpers: clear ``ValueError`` messages."""

from __future__ import annotations

import numbers


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` or raise ``ValueError`` naming the argument and range.

    Booleans and floats (even 3.0) are rejected: an integer argument must be an integer.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer{_range_text(minimum, maximum)}, "
            f"got {value!r} ({type(value).__name__})"
        )
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value}")
    return value


def check_float(name: str, value, minimum: float | None = None, maximum: float | None = None,
                *, open_min: bool = False) -> float:
    """Return ``value`` as ``float`` or raise ``ValueError`` naming the argument and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if value != value:                     # NaN: fails every comparison, so no range can hold it
        raise ValueError(f"{name} must be a real number{_float_range_text(minimum, maximum, open_min)}, "
                         f"not NaN, got {value}")
    too_low = minimum is not None and (value <= minimum if open_min else value < minimum)
    too_high = maximum is not None and value > maximum
    if too_low or too_high:
        raise ValueError(f"{name} must be{_float_range_text(minimum, maximum, open_min)}, got {value}")
    return value


def _float_range_text(minimum: float | None, maximum: float | None, open_min: bool) -> str:
    """' >= 0 and <= 1', ' > 0', … or '' without bounds."""
    low = "" if minimum is None else (f"> {minimum}" if open_min else f">= {minimum}")
    high = "" if maximum is None else f"<= {maximum}"
    allowed = " and ".join(part for part in (low, high) if part)
    return f" {allowed}" if allowed else ""


def check_seed(seed) -> int | None:
    """``None`` or a non-negative integer seed."""
    if seed is None:
        return None
    return check_int("seed", seed, 0, 2**32 - 1)


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""
