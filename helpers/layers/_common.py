"""What every attention layer of the course shares: the masked softmax, input checks, the
``.keras`` registration package."""

from __future__ import annotations

from keras import ops

from helpers._checks import check_float

PACKAGE = "attention_course"  # the package every layer registers under for .keras saving


def masked_softmax(scores, mask=None):
    """Softmax over the last axis where ``mask`` (bool, broadcastable) is True.

    Masked scores become -1e9 rather than -inf before the softmax: masked positions get
    exactly zero weight, and a row with no True entry stays finite (uniform weights).
    Shared by every attention layer of the course.
    """
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
    return ops.softmax(scores, axis=-1)


def _check_dropout(dropout) -> float:
    """A dropout rate in [0, 1)."""
    rate = check_float("dropout", dropout, 0.0, 1.0)
    if rate == 1.0:
        raise ValueError("dropout must be in [0, 1), got 1.0")
    return rate


def _check_sequence_shape(owner: str, input_shape, layout: str = "(batch, T, features)") -> None:
    """Inputs of rank 3 whose last size is known; otherwise a ValueError naming ``owner``."""
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(f"{owner} needs inputs of shape {layout} with features known, got {tuple(input_shape)}")

PACKAGE = "attention_course"
