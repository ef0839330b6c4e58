"""Self-attention (notebook 05): feed-forward attention pooling, scaled dot-product
attention, the ``SelfAttention`` layer and a learned ``PositionEmbedding``."""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers._common import PACKAGE, _check_sequence_shape, masked_softmax


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
        _check_sequence_shape("FeedForwardAttention", input_shape, "(batch, time_steps, features)")
        self.w = self.add_weight(name="w", shape=(input_shape[-1], 1), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(1,), initializer="zeros")

    def call(self, inputs, mask=None, return_attention_scores: bool = False):
        scores = ops.tanh(ops.squeeze(ops.matmul(inputs, self.w), axis=-1) + self.b)   # (batch, T)
        weights = masked_softmax(scores, mask)       # padding gets exactly zero weight
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
        expanded to (batch, 1, T_k) first. A query row with no True entry gets all-zero
        weights (and a zero output), never NaN, in float16 as in float32: what
        ``keras.layers.Softmax`` does under a mask, and so ``keras.layers.MultiHeadAttention``
        on its explicit path (see :class:`MultiHeadAttention` for its other path).
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
    weights = masked_softmax(scores, mask)
    if mask is not None:
        weights = weights * ops.cast(mask, weights.dtype)      # zero for a row that may see nothing
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
        _check_sequence_shape("SelfAttention", input_shape)
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



@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(layers.Layer):
    """A learned position embedding: one trainable vector per position, added to the input.

    Introduced in notebooks/05_self_attention.ipynb; reused in notebook 07.

    The layer owns a ``(max_length, model_dim)`` weight and returns ``x + P[:T]`` for an
    input of length ``T``. Why a layer: ``layers.Embedding(n, d)(ops.arange(n))`` inside a
    functional model is called once, on a constant, while the model is built; its output
    is then a constant too, so that "embedding" never trains and its weights are not
    among the model's.

    Parameters
    ----------
    max_length : int
        The longest sequence the layer accepts, >= 1.

    Call arguments
    --------------
    inputs : (batch, T, model_dim) with T <= max_length.
    """

    def __init__(self, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = check_int("max_length", max_length, 1)
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_shape("PositionEmbedding", input_shape, "(batch, T, model_dim)")
        if input_shape[1] is not None and input_shape[1] > self.max_length:
            raise ValueError(f"PositionEmbedding(max_length={self.max_length}) got sequences of length "
                             f"{input_shape[1]}; allowed: at most {self.max_length}")
        self.embeddings = self.add_weight(shape=(self.max_length, input_shape[-1]), name="embeddings",
                                          initializer=keras.initializers.RandomNormal(stddev=0.05))

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        return inputs + ops.cast(self.embeddings[:length], inputs.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape          # so Keras need not trace call() on a symbolic length (JAX cannot slice by one)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}
