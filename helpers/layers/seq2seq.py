"""The attention of a seq2seq decoder (notebook 04): ``Seq2SeqAttention`` with its score
functions."""

from __future__ import annotations

import keras
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers._common import PACKAGE, _check_sequence_shape, masked_softmax


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
    - ``"straight_through"``: one-hot argmax weights in training *and* inference; the
      gradient is the soft weights' (a straight-through estimator), so the model learns to
      work with one position per step;
    - ``"local"``: Luong local-p: a predicted centre ``p_t = S · sigmoid(v_pᵀ tanh(W_p s_t))``
      (``S`` the source length) and ``α_t = softmax(e_t) · exp(-(i - p_t)² / (2σ²))`` with
      ``σ = window / 2``.

    Call arguments
    --------------
    query : (batch, T_out, query_dim), the decoder states
    keys : (batch, T_in, key_dim), the encoder states (also the values)
    mask : bool (batch, T_in), optional; False marks source padding.
    training : bool or None
    projected_keys : optional, ``project_keys(keys)`` computed once and reused

    Returns
    -------
    context (batch, T_out, key_dim) and weights (batch, T_out, T_in).
    """

    SCORES = ("dot", "general", "concat", "additive")
    ALIGNMENTS = ("soft", "hard", "local", "straight_through")

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

    def project_keys(self, keys):
        """The part of the scores that depends on the keys only: ``W1 h_i`` (additive, concat), ``W h_i``
        (general) or ``h_i`` (dot). A decoder computes it once per source and reuses it at every step."""
        if self.score in ("concat", "additive"):
            return ops.matmul(keys, self.w_keys)
        if self.score == "general":
            return ops.einsum("de,bke->bkd", self.w, keys)
        return keys

    def scores(self, query, keys, projected_keys=None):
        """The raw scores e, (batch, T_out, T_in)."""
        projected = self.project_keys(keys) if projected_keys is None else projected_keys
        if self.score in ("dot", "general"):
            return ops.einsum("bqd,bkd->bqk", query, projected)
        # additive / concat: v · tanh(W1 h_i + W2 s_t), broadcast over (T_out, T_in)
        hidden = ops.expand_dims(projected, 1) + ops.expand_dims(ops.matmul(query, self.w_query), 2)
        return ops.einsum("bqku,u->bqk", ops.tanh(hidden), self.v)

    def call(self, query, keys, mask=None, training=None, projected_keys=None):
        scores = self.scores(query, keys, projected_keys)
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
        if self.alignment == "straight_through":   # forward: one-hot; backward: the soft weights' gradient
            one_hot = ops.one_hot(ops.argmax(weights, axis=-1), ops.shape(keys)[1], dtype=weights.dtype)
            weights = weights + ops.stop_gradient(one_hot - weights)
        return ops.einsum("bqk,bkd->bqd", weights, keys), weights

    def compute_mask(self, query, keys, mask=None):
        return None   # the source mask has been used up; the outputs follow the decoder steps

    def get_config(self):
        return {**super().get_config(), "score": self.score, "alignment": self.alignment, "units": self.units,
                "window": self.window}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionDecoder(layers.Layer):
    """A GRU decoder that attends to the encoder states one output step at a time.

    Introduced in notebooks/04_seq2seq_attention.ipynb. It starts from the encoder's final
    state, and at every step ``t``:

    - ``query="current"`` (Luong et al., 2015): the GRU reads the previous character and, with
      ``input_feeding``, the previous attentional vector ``h̃_{t-1}``; its new state ``s_t``
      queries the encoder states; ``h̃_t = tanh(W_c [s_t; c_t])``;
    - ``query="previous"`` (Bahdanau et al., 2015): the previous state ``s_{t-1}`` queries first;
      the GRU reads the previous character and the context ``c_t``; ``h̃_t = tanh(W_c [s_t; c_t])``;
    - ``score=None``: no attention at all, ``h̃_t = tanh(W_c s_t)`` (the fixed-size baseline).

    ``input_feeding`` applies to ``query="current"`` only; ``query="previous"`` with
    ``input_feeding=False``, and ``score=None`` with ``query="previous"``, would be silently
    ignored, so they are a ``ValueError``.

    ``score``, ``alignment``, ``attention_units`` and ``window`` are those of
    :class:`Seq2SeqAttention`.

    Call arguments
    --------------
    embedded : (batch, T_out, embed_dim), the embedded previous characters (teacher forcing)
    encoder_states : (batch, T_in, key_dim)
    initial_state : (batch, units), the encoder's final state
    mask : bool (batch, T_in), optional; False marks source padding.

    Returns
    -------
    the attentional vectors (batch, T_out, units) and the weights (batch, T_out, T_in); only the
    vectors when ``score`` is None.
    """

    QUERIES = ("current", "previous")

    def __init__(self, units: int, score: str | None = "additive", alignment: str = "soft",
                 attention_units: int = 32, window: int = 6, query: str = "current", input_feeding: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units, 1)
        if query not in self.QUERIES:
            raise ValueError(f"query must be one of {self.QUERIES}, got {query!r}")
        if input_feeding not in (True, False):
            raise ValueError(f"input_feeding must be True or False, got {input_feeding!r}")
        if query == "previous" and not input_feeding:
            raise ValueError("input_feeding=False has no effect with query='previous' (the GRU reads the context "
                             "c_t instead of h̃_{t-1}); got query='previous', input_feeding=False: use "
                             "query='current' to turn input feeding off")
        if score is None and query == "previous":
            raise ValueError("query='previous' needs attention: with score=None there is no query; got "
                             "score=None, query='previous'")
        self.score, self.alignment, self.query, self.input_feeding = score, alignment, query, input_feeding
        self.attention_units, self.window = attention_units, window
        self.cell = layers.GRUCell(self.units, name="gru_cell")
        self.attention = None if score is None else Seq2SeqAttention(
            score, alignment, units=attention_units, window=window, name="attention")
        self.combine = layers.Dense(self.units, activation="tanh", name="combine")

    def build(self, embedded_shape, encoder_states_shape, initial_state_shape, mask_shape=None):
        _check_sequence_shape("AttentionDecoder", embedded_shape, "(batch, T_out, embed_dim)")
        _check_sequence_shape("AttentionDecoder", encoder_states_shape, "(batch, T_in, key_dim)")
        if initial_state_shape[-1] != self.units:
            raise ValueError(f"initial_state must have units = {self.units} features, got {initial_state_shape[-1]}")
        key_dim = encoder_states_shape[-1]
        extra = 0 if self.attention is None else (key_dim if self.query == "previous" else
                                                  self.units if self.input_feeding else 0)
        self.cell.build((None, embedded_shape[-1] + extra))
        if self.attention is not None:
            self.attention.build((None, 1, self.units), encoder_states_shape)
        self.combine.build((None, self.units + (0 if self.attention is None else key_dim)))

    def call(self, embedded, encoder_states, initial_state, mask=None, training=None):
        state, feed = initial_state, ops.zeros_like(initial_state)
        outputs, weights = [], []
        projected = None if self.attention is None else self.attention.project_keys(encoder_states)   # once
        for t in range(embedded.shape[1]):                   # T_out is small and fixed: unrolled
            x = embedded[:, t]
            if self.attention is None:
                _, (state,) = self.cell(x, [state], training=training)
                feed = self.combine(state)
                outputs.append(feed)
                continue
            if self.query == "previous":                     # Bahdanau: s_{t-1} asks, then the GRU reads c_t
                context, w = self.attention(state[:, None], encoder_states, mask=mask, training=training,
                                            projected_keys=projected)
                _, (state,) = self.cell(ops.concatenate([x, context[:, 0]], axis=-1), [state], training=training)
            else:                                            # Luong: the GRU steps, then s_t asks
                if self.input_feeding:
                    x = ops.concatenate([x, feed], axis=-1)
                _, (state,) = self.cell(x, [state], training=training)
                context, w = self.attention(state[:, None], encoder_states, mask=mask, training=training,
                                            projected_keys=projected)
            feed = self.combine(ops.concatenate([state, context[:, 0]], axis=-1))
            outputs.append(feed)
            weights.append(w[:, 0])
        if self.attention is None:
            return ops.stack(outputs, axis=1)
        return ops.stack(outputs, axis=1), ops.stack(weights, axis=1)

    def compute_mask(self, *args, **kwargs):
        return None

    def get_config(self):
        return {**super().get_config(), "units": self.units, "score": self.score, "alignment": self.alignment,
                "attention_units": self.attention_units, "window": self.window, "query": self.query,
                "input_feeding": self.input_feeding}
