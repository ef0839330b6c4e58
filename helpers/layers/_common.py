"""What every attention layer of the course shares: the masked softmax, input checks, the
``.keras`` registration package."""

from __future__ import annotations

import keras
from keras import ops

from helpers._checks import check_float

PACKAGE = "attention_course"  # the package every layer registers under for .keras saving


def large_negative(dtype) -> float:
    """The score that stands for "masked" in ``dtype``: -1e9, or -3e4 in float16.

    -1e9 does not fit in float16 (its largest finite value is 65504): it rounds to -inf,
    and a row whose entries are all -inf has a NaN softmax. -3e4 is what
    ``keras.layers.Softmax`` writes under a mask in float16 (and -1e9 otherwise).
    """
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def masked_softmax(scores, mask=None):
    """Softmax over the last axis where ``mask`` (bool, broadcastable) is True.

    Masked scores become a large negative that fits the dtype (:func:`large_negative`:
    -1e9, or -3e4 in float16) rather than -inf before the softmax: masked positions get
    zero weight (to float precision), and a row with no True entry stays finite (uniform
    weights) in float16 as in float32. Shared by every attention layer of the course.
    """
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, large_negative(scores.dtype)))
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


def copy_projections(layer, keras_layer, settings: str) -> None:
    """Copy the query/key/value/output Dense weights of a built Keras attention layer into ``layer``.

    Values are copied (as NumPy arrays), never shared: on JAX an ``assign`` of one variable to another can
    alias the buffer, and a training step that donates both then fails. ``settings`` names the constructor
    arguments that must agree, for the error message.
    """
    sources = [keras_layer._query_dense, keras_layer._key_dense, keras_layer._value_dense,
               keras_layer._output_dense]
    targets = [(layer.query_kernel, layer.query_bias), (layer.key_kernel, layer.key_bias),
               (layer.value_kernel, layer.value_bias), (layer.output_kernel, layer.output_bias)]
    for dense, (kernel, bias) in zip(sources, targets):
        if tuple(dense.kernel.shape) != tuple(kernel.shape) or (bias is None) != (dense.bias is None):
            raise ValueError(f"weight shapes differ: Keras {dense.name} kernel {tuple(dense.kernel.shape)}, "
                             f"ours {tuple(kernel.shape)}; build both with the same {settings} and input sizes")
        kernel.assign(ops.convert_to_numpy(dense.kernel))
        if bias is not None:
            bias.assign(ops.convert_to_numpy(dense.bias))
