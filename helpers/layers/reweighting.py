"""Softmax re-weighting over time steps or features (notebooks 02-03; the course glossary's "softmax
re-weighting", not a gate: its numbers are softmax weights): ``TimestepAttention``, ``DimensionAttention``
and their shared core; and ``AttentionPooling``, the weighted sum with a learned query that the
re-weighting layers are not (notebook 02)."""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers._common import PACKAGE, _check_sequence_shape, masked_softmax


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
class AttentionPooling(layers.Layer):
    """Attention pooling with a learned query: a weighted sum over positions.

    Introduced in notebooks/02_timestep_attention.ipynb. Unlike the re-weighting layers above, which
    multiply every position by its weight and pass all of them on, this layer **sums**:

    - keys ``k_t = W_k h_t`` (a Dense projection to ``key_dim``, no bias);
    - one learned query ``q`` (``key_dim``), the same for every sequence: "what to look for";
    - scores ``e_t = q · k_t / sqrt(key_dim)``, weights ``α = softmax(e)`` over the unmasked
      positions, and the output ``c = Σ_t α_t h_t`` (the values are the inputs themselves).

    It works for any number of positions (no weight depends on ``T``), and padding gets
    exactly zero weight.

    Call arguments
    --------------
    inputs : (batch, T, features)
    mask : bool (batch, T), optional; False marks padding (Keras passes it automatically).
    return_attention_scores : bool
        Also return the weights (post-softmax, as Keras' layers do), shape (batch, T).

    Returns
    -------
    (batch, features), and the weights when asked for.
    """

    def __init__(self, key_dim: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.key_dim = check_int("key_dim", key_dim, 1)
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_shape("AttentionPooling", input_shape, "(batch, T, features)")
        self.w_key = self.add_weight(name="w_key", shape=(input_shape[-1], self.key_dim), initializer="glorot_uniform")
        self.query = self.add_weight(name="query", shape=(self.key_dim,), initializer="random_normal")

    def call(self, inputs, mask=None, return_attention_scores: bool = False):
        keys = ops.matmul(inputs, self.w_key)                                      # (batch, T, key_dim)
        scores = ops.einsum("btk,k->bt", keys, self.query) / self.key_dim ** 0.5   # (batch, T)
        weights = masked_softmax(scores, mask)
        pooled = ops.einsum("bt,btf->bf", weights, inputs)                          # Σ_t α_t h_t
        return (pooled, weights) if return_attention_scores else pooled

    def compute_mask(self, inputs, mask=None):
        return None  # the positions are summed away

    def get_config(self):
        return {**super().get_config(), "key_dim": self.key_dim}
