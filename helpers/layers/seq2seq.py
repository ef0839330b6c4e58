"""The attention of a seq2seq decoder (notebook 04): ``Seq2SeqAttention`` with its score
functions."""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers._common import PACKAGE, masked_softmax


@keras.saving.register_keras_serializable(package=PACKAGE)
class Seq2SeqAttention(layers.Layer):
    """Encoder–decoder attention with the classic score functions and three variants.

    Introduced in notebooks/04_seq2seq_attention.ipynb.

    For decoder states ``s_t`` (queries) and encoder states ``h_i`` (keys and values):

    - ``score="dot"``: ``e_ti = s_t · h_i`` (Luong dot; needs equal sizes);
    - ``score="general"``: ``e_ti = s_t W h_i`` (Luong general, multiplicative);
    - ``score="concat"``: ``e_ti = vᵀ tanh(W [s_t; h_i])`` (Luong concat);
    - ``score="additive"``: ``e_ti = vᵀ tanh(W1 h_i + W2 s_t)`` (Bahdanau). ``concat`` is
      the same function with ``W = [W2 W1]``; both are kept for their names.

    ``alignment`` picks the variant:

    - ``"soft"``: ``α_t = softmax(e_t)`` over the unmasked source positions;
    - ``"hard"``: like soft during training; at inference (``training`` false) all weight
      goes to the argmax position (one-hot);
    - ``"local"``: Luong local-p: a predicted centre ``p_t = S · sigmoid(v_pᵀ tanh(W_p s_t))``
      (``S`` the source length) and ``α_t = softmax(e_t) · exp(-(i - p_t)² / (2σ²))`` with
      ``σ = window / 2``.

    Call arguments
    --------------
    query : (batch, T_out, query_dim), the decoder states
    keys : (batch, T_in, key_dim), the encoder states (also the values)
    mask : bool (batch, T_in), optional; False marks source padding.
    training : bool or None

    Returns
    -------
    context (batch, T_out, key_dim) and weights (batch, T_out, T_in).
    """

    SCORES = ("dot", "general", "concat", "additive")
    ALIGNMENTS = ("soft", "hard", "local")

    def __init__(self, score: str = "additive", alignment: str = "soft", units: int = 64, window: int = 6,
                 **kwargs):
        super().__init__(**kwargs)
        if score not in self.SCORES:
            raise ValueError(f"score must be one of {self.SCORES}, got {score!r}")
        if alignment not in self.ALIGNMENTS:
            raise ValueError(f"alignment must be one of {self.ALIGNMENTS}, got {alignment!r}")
        self.score, self.alignment = score, alignment
        self.units = check_int("units", units, 1)
        self.window = check_int("window", window, 1)
        self.supports_masking = True

    def build(self, query_shape, keys_shape):
        query_dim, key_dim = query_shape[-1], keys_shape[-1]
        if self.score == "dot" and query_dim != key_dim:
            raise ValueError(f"score='dot' needs equal query and key sizes, got {query_dim} and {key_dim}")
        if self.score == "general":
            self.w = self.add_weight(name="w", shape=(query_dim, key_dim), initializer="glorot_uniform")
        if self.score in ("concat", "additive"):
            self.w_keys = self.add_weight(name="w_keys", shape=(key_dim, self.units), initializer="glorot_uniform")
            self.w_query = self.add_weight(name="w_query", shape=(query_dim, self.units),
                                           initializer="glorot_uniform")
            self.v = self.add_weight(name="v", shape=(self.units,), initializer="random_normal")
        if self.alignment == "local":
            self.w_p = self.add_weight(name="w_p", shape=(query_dim, self.units), initializer="glorot_uniform")
            self.v_p = self.add_weight(name="v_p", shape=(self.units,), initializer="random_normal")

    def scores(self, query, keys):
        """The raw scores e, (batch, T_out, T_in)."""
        if self.score == "dot":
            return ops.einsum("bqd,bkd->bqk", query, keys)
        if self.score == "general":
            return ops.einsum("bqd,de,bke->bqk", query, self.w, keys)
        # additive / concat: v · tanh(W1 h_i + W2 s_t), broadcast over (T_out, T_in)
        hidden = ops.expand_dims(ops.matmul(keys, self.w_keys), 1) + ops.expand_dims(ops.matmul(query, self.w_query), 2)
        return ops.einsum("bqku,u->bqk", ops.tanh(hidden), self.v)

    def call(self, query, keys, mask=None, training=None):
        scores = self.scores(query, keys)
        weights = masked_softmax(scores, None if mask is None else ops.expand_dims(mask, 1))
        if self.alignment == "local":
            source_length = ops.cast(ops.shape(keys)[1], weights.dtype) if mask is None else \
                ops.sum(ops.cast(mask, weights.dtype), axis=-1, keepdims=True)[:, :, None]      # (batch, 1, 1)
            centre = source_length * ops.sigmoid(ops.einsum("bqu,u->bq", ops.tanh(ops.matmul(query, self.w_p)),
                                                            self.v_p))[..., None]               # (batch, T_out, 1)
            positions = ops.cast(ops.arange(ops.shape(keys)[1]), weights.dtype)
            sigma = self.window / 2.0
            weights = weights * ops.exp(-ops.square(positions - centre) / (2.0 * sigma**2))
        if self.alignment == "hard" and not training:
            weights = ops.one_hot(ops.argmax(weights, axis=-1), ops.shape(keys)[1], dtype=weights.dtype)
        return ops.einsum("bqk,bkd->bqd", weights, keys), weights

    def compute_mask(self, query, keys, mask=None):
        return None   # the source mask has been used up; the outputs follow the decoder steps

    def get_config(self):
        return {**super().get_config(), "score": self.score, "alignment": self.alignment, "units": self.units,
                "window": self.window}
