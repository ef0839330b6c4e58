"""Softmax gates over time steps or features (notebooks 01-03): ``TimestepAttention``,
``DimensionAttention`` and their shared core."""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers.layers._common import PACKAGE


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
