"""The attention layers the course teaches, each defined once (Keras 3, ``keras.ops``).

Notebooks show a layer's source with ``helpers.show.source(...)`` where they teach it.
Every layer has ``get_config`` and is registered for ``.keras`` saving.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers._checks import check_int

PACKAGE = "attention_course"


class _SoftmaxAxisAttention(layers.Layer):
    """Shared core of :class:`TimestepAttention` and :class:`DimensionAttention`.

    For inputs ``x`` of shape (batch, time_steps, input_dim) it learns a Dense layer that
    scores the positions along one axis, turns the scores into weights with a softmax
    along that axis, optionally averages the weights over the other axis (one attention
    vector shared by all rows), and returns ``x * weights``.
    """

    #: the axis attention is over: 1 (timesteps) or 2 (features)
    attention_axis = 1

    def __init__(self, single_attention_vector: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(single_attention_vector, bool):
            raise ValueError("single_attention_vector must be True or False, "
                             f"got {single_attention_vector!r}")
        self.single_attention_vector = single_attention_vector

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"{type(self).__name__} needs inputs of shape (batch, time_steps, "
                             f"input_dim) with both sizes known, got {tuple(input_shape)}")
        size = input_shape[self.attention_axis]
        other = input_shape[3 - self.attention_axis]
        self.score = layers.Dense(size, activation="softmax", name="score")
        self.score.build((None, other, size))

    def call(self, inputs, return_attention_scores: bool = False):
        # Bring the attended axis last, so that Dense + softmax act along it.
        x = ops.transpose(inputs, (0, 2, 1)) if self.attention_axis == 1 else inputs
        weights = self.score(x)                              # softmax over the attended axis
        if self.single_attention_vector:                     # one vector for all rows
            weights = ops.repeat(ops.mean(weights, axis=1, keepdims=True),
                                 ops.shape(weights)[1], axis=1)
        if self.attention_axis == 1:
            weights = ops.transpose(weights, (0, 2, 1))      # back to (batch, time, features)
        outputs = inputs * weights
        return (outputs, weights) if return_attention_scores else outputs

    def get_config(self):
        return {**super().get_config(), "single_attention_vector": self.single_attention_vector}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TimestepAttention(_SoftmaxAxisAttention):
    """Attention over timesteps: ``x * softmax_t(Dense_T(x_transposed))``.

    Introduced in notebooks/02_timestep_attention.ipynb (the article's
    ``attention_3d_block`` / ``attention_function``: Permute → Dense(T, softmax) →
    optional mean + RepeatVector → Permute → Multiply, as one layer).

    Parameters
    ----------
    single_attention_vector : bool
        False: each feature gets its own weights over the timesteps. True: the weights
        are averaged over features, so every feature shares one vector over timesteps.

    Call arguments
    --------------
    inputs : (batch, time_steps, input_dim)
    return_attention_scores : bool
        Also return the weights, shape (batch, time_steps, input_dim); for every batch
        element and feature they sum to 1 over the timesteps.
    """

    attention_axis = 1


@keras.saving.register_keras_serializable(package=PACKAGE)
class DimensionAttention(_SoftmaxAxisAttention):
    """Attention over feature dimensions: ``x * softmax_d(Dense_D(x))`` at every timestep.

    Introduced in notebooks/03_dimension_attention.ipynb. Equal, weight for weight, to
    :class:`TimestepAttention` applied to the transposed inputs (the article's
    reshape/transpose trick); the notebook checks it numerically.

    Parameters
    ----------
    single_attention_vector : bool
        False: each timestep gets its own weights over the features. True: the weights
        are averaged over timesteps, so every timestep shares one vector over features.
    """

    attention_axis = 2


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeedForwardAttention(layers.Layer):
    """Feed-forward attention (Raffel & Ellis, 2015): pool a sequence with learned scores.

    For notebooks/05_self_attention.ipynb (and the pooling step of notebook 07).

    Each state is scored on its own, ``e_t = tanh(h_t · w + b)``; a softmax over the
    unmasked timesteps turns the scores into weights, and the output is the weighted sum
    ``c = Σ_t α_t h_t``.

    Call arguments
    --------------
    inputs : (batch, time_steps, features)
    mask : bool (batch, time_steps), optional
        False marks padding. Keras passes it automatically after ``Masking`` or
        ``Embedding(mask_zero=True)``; it can also be given explicitly. Masked steps get
        exactly zero weight, so padding never changes the output.
    return_attention_scores : bool
        Also return the weights, shape (batch, time_steps).

    Returns
    -------
    (batch, features), and the weights when asked for.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("FeedForwardAttention needs inputs of shape (batch, time_steps, features) "
                             f"with features known, got {tuple(input_shape)}")
        self.w = self.add_weight(name="w", shape=(input_shape[-1], 1), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(1,), initializer="zeros")

    def call(self, inputs, mask=None, return_attention_scores: bool = False):
        scores = ops.tanh(ops.squeeze(ops.matmul(inputs, self.w), axis=-1) + self.b)   # (batch, T)
        if mask is not None:
            # Scores are in [-1, 1], so a large negative constant gives padding zero weight
            # after the softmax without the NaNs that -inf would give an all-masked row.
            scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bt,btf->bf", weights, inputs)
        return (context, weights) if return_attention_scores else context

    def compute_mask(self, inputs, mask=None):
        return None  # the time axis is pooled away


def scaled_dot_product_attention(query, key, value, mask=None, scale=None):
    """``softmax(query · keyᵀ · scale) · value``, the core of every layer from notebook 05 on.

    Introduced in notebooks/05_self_attention.ipynb; :class:`MultiHeadAttention` reuses it.

    Parameters
    ----------
    query : (..., T_q, d_k)
    key : (..., T_k, d_k)
    value : (..., T_k, d_v)
    mask : bool, broadcastable to (..., T_q, T_k), optional
        True where a query may attend to a key. A (batch, T_k) padding mask must be
        expanded to (batch, 1, T_k) first. A query row with no True entry gets uniform
        weights, never NaN.
    scale : float, optional
        Multiplies the scores; ``None`` means ``1 / sqrt(d_k)``.

    Returns
    -------
    outputs (..., T_q, d_v) and weights (..., T_q, T_k); weights sum to 1 over T_k.
    """
    depth = ops.shape(query)[-1]
    if scale is None:
        scale = 1.0 / ops.sqrt(ops.cast(depth, query.dtype))
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) * scale
    if mask is not None:
        # -1e9 rather than -inf: masked keys get exactly zero weight, and a fully
        # masked row stays finite.
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, value), weights


@keras.saving.register_keras_serializable(package=PACKAGE)
class SelfAttention(layers.Layer):
    """Single-head scaled dot-product self-attention over one sequence.

    Introduced in notebooks/05_self_attention.ipynb.

    ``Q = x W_q``, ``K = x W_k``, ``V = x W_v`` (no biases), then
    ``softmax(Q Kᵀ / sqrt(units)) V``. Every position scores every other position
    through the query/key projections, unlike :class:`FeedForwardAttention`, which
    scores each state on its own.

    Parameters
    ----------
    units : int
        Size of the query, key and value projections (and of the output).

    Call arguments
    --------------
    inputs : (batch, T, features)
    mask : bool (batch, T), optional
        False marks padding: no position attends to a padded one, and outputs at
        padded positions are zero (as ``keras.layers.Attention`` does with its query
        mask). Keras passes it automatically after ``Embedding(mask_zero=True)``.
    return_attention_scores : bool
        Also return the weights, (batch, T, T): row i is where position i looks.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units, 1)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("SelfAttention needs inputs of shape (batch, T, features) with features known, "
                             f"got {tuple(input_shape)}")
        self.query_dense = layers.Dense(self.units, use_bias=False, name="query")
        self.key_dense = layers.Dense(self.units, use_bias=False, name="key")
        self.value_dense = layers.Dense(self.units, use_bias=False, name="value")
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(input_shape)

    def call(self, inputs, mask=None, return_attention_scores: bool = False):
        query, key, value = self.query_dense(inputs), self.key_dense(inputs), self.value_dense(inputs)
        key_mask = None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), 1)   # (batch, 1, T)
        outputs, weights = scaled_dot_product_attention(query, key, value, mask=key_mask)
        if mask is not None:
            outputs = outputs * ops.expand_dims(ops.cast(mask, outputs.dtype), -1)
        return (outputs, weights) if return_attention_scores else outputs

    def get_config(self):
        return {**super().get_config(), "units": self.units}
