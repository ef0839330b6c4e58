"""The encoder-decoder Transformer (notebook 09): cross-attention, the decoder block that uses it, a small
translation model with cached decoding, greedy decoding and beam search."""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers._common import PACKAGE, _check_dropout
from helpers.layers.decoding import CausalSelfAttention, KVCache, _check_token_ids, _values_if_known
from helpers.layers.multihead import MultiHeadAttention, TransformerEncoderBlock, _build_block_sublayers
from helpers.layers.self_attention import PositionEmbedding, scaled_dot_product_attention


@keras.saving.register_keras_serializable(package=PACKAGE)
class CrossAttention(MultiHeadAttention):
    """Multi-head cross-attention: queries from the decoder, keys and values from the encoder's output.

    Introduced in notebooks/09_transformer_translation.ipynb.

    The weights and the computation are those of :class:`MultiHeadAttention` called as
    ``attention(query=decoder_states, value=encoder_states)`` (the keys are the values), with
    the source's padding mask on the keys and no causal mask: every output position may look at
    every source position, because the whole source is known before decoding starts. So
    ``load_keras_weights`` copies a ``keras.layers.MultiHeadAttention``.

    :meth:`project_source` computes the keys and values once per source; :meth:`call_projected`
    attends to them. Decoding reuses them at every step: they depend on the source only.

    Call arguments
    --------------
    query : (batch, T, model_dim), the decoder's states.
    encoded : (batch, S, model_dim), the encoder's output.
    source_mask : bool (batch, S), optional; True on the source's characters, False on padding.
    return_attention_scores : bool
        Also return the weights, (batch, num_heads, T, S).
    training : bool or None
    """

    def build(self, query_shape, encoded_shape):
        super().build(query_shape, encoded_shape)

    def call(self, query, encoded, source_mask=None, return_attention_scores: bool = False, training=None):
        _check_source_mask(source_mask, encoded)
        return super().call(query, encoded, value_mask=source_mask, return_attention_scores=return_attention_scores,
                            training=training)

    def compute_mask(self, query, encoded, source_mask=None, **kwargs):
        return None

    def project_source(self, encoded):
        """The keys and values of ``encoded`` (batch, S, model_dim): two (batch, num_heads, S, key_dim) tensors."""
        return (self._project(encoded, self.key_kernel, self.key_bias),
                self._project(encoded, self.value_kernel, self.value_bias))

    def call_projected(self, query, keys, values, source_mask=None):
        """The same outputs as ``call(query, encoded, source_mask)`` (inference), from keys and values that
        :meth:`project_source` computed earlier."""
        q = self._project(query, self.query_kernel, self.query_bias)
        mask = None if source_mask is None else ops.cast(source_mask, "bool")[:, None, None, :]
        heads, weights = scaled_dot_product_attention(q, keys, values, mask=mask,
                                                      scale=1.0 / float(self.key_dim) ** 0.5)
        outputs = ops.einsum("bhtd,hdo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return outputs, weights


def _check_source_mask(source_mask, encoded) -> None:
    if source_mask is None:
        return
    mask_shape, encoded_shape = tuple(source_mask.shape), tuple(encoded.shape)     # static: None where unknown
    if len(mask_shape) != 2 or any(isinstance(a, int) and isinstance(b, int) and a != b
                                   for a, b in zip(mask_shape, encoded_shape[:2])):
        raise ValueError(f"source_mask must have shape (batch, S) = {encoded_shape[:2]} (that of the encoder "
                         f"output's first two axes), got {mask_shape}")
    values = _values_if_known(source_mask)
    if values is not None and not values.astype(bool).any(axis=-1).all():
        raise ValueError("source_mask has a row with no True entry: every source needs at least one position "
                         "to attend to")


@keras.saving.register_keras_serializable(package=PACKAGE)
class CrossAttentionDecoderBlock(layers.Layer):
    """One pre-norm decoder block of an encoder-decoder Transformer: causal self-attention, cross-attention to
    the encoder's output, feed-forward, each in a residual branch with its own LayerNorm.

    Introduced in notebooks/09_transformer_translation.ipynb.

    ``x = x + Dropout(CausalSelfAttention(LN1(x)))``,
    ``x = x + Dropout(CrossAttention(LN3(x), encoded, source_mask))``,
    ``x = x + Dropout(Dense(GELU(Dense(LN2(x)))))``: notebook 08's pre-norm decoder block with a
    cross-attention branch between its two parts.

    Parameters
    ----------
    num_heads, ff_dim : int
    dropout : float, in [0, 1).

    Call arguments
    --------------
    inputs : (batch, T, model_dim), model_dim a multiple of num_heads.
    encoded : (batch, S, model_dim)
    source_mask : bool (batch, S), optional
    return_attention_scores : bool
        Also return the cross-attention weights, (batch, num_heads, T, S).
    training : bool or None
    """

    def __init__(self, num_heads: int, ff_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.dropout = _check_dropout(dropout)

    def build(self, inputs_shape, encoded_shape):
        model_dim = inputs_shape[-1]
        if len(inputs_shape) != 3 or model_dim is None or model_dim % self.num_heads:
            raise ValueError("CrossAttentionDecoderBlock needs inputs (batch, T, model_dim) with model_dim a "
                             f"multiple of num_heads={self.num_heads}, got {tuple(inputs_shape)}")
        head_dim = model_dim // self.num_heads
        self.self_attention = CausalSelfAttention(self.num_heads, head_dim, dropout=self.dropout,
                                                  name="self_attention")
        self.self_attention.build(inputs_shape)
        self.cross_attention = CrossAttention(self.num_heads, head_dim, dropout=self.dropout, name="cross_attention")
        self.cross_attention.build(inputs_shape, encoded_shape)
        _build_block_sublayers(self, inputs_shape, activation="gelu")
        self.norm3 = layers.LayerNormalization(epsilon=1e-6, name="norm3")
        self.norm3.build(inputs_shape)
        self.drop3 = layers.Dropout(self.dropout)

    def call(self, inputs, encoded, source_mask=None, return_attention_scores: bool = False, training=None):
        x = inputs + self.drop1(self.self_attention(self.norm1(inputs), training=training), training=training)
        attended, weights = self.cross_attention(self.norm3(x), encoded, source_mask=source_mask,
                                                 return_attention_scores=True, training=training)
        x = x + self.drop3(attended, training=training)
        x = x + self.drop2(self.feed_forward(self.norm2(x)), training=training)
        return (x, weights) if return_attention_scores else x

    def call_cached(self, inputs, keys, values, start: int, source_keys, source_values, source_mask=None):
        """The block on new positions only (inference), with the self-attention cache and the source's
        precomputed keys and values; returns the outputs, the updated cache buffers and the cross weights."""
        attended, keys, values = self.self_attention.call_cached(self.norm1(inputs), keys, values, start)
        x = inputs + attended
        crossed, weights = self.cross_attention.call_projected(self.norm3(x), source_keys, source_values,
                                                               source_mask)
        x = x + crossed
        return x + self.feed_forward(self.norm2(x)), keys, values, weights

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class EncoderDecoderTransformer(keras.Model):
    """A small encoder-decoder Transformer: source ids and the target so far in, next-token logits out.

    Introduced in notebooks/09_transformer_translation.ipynb.

    Encoder: token embedding + learned :class:`PositionEmbedding`, ``num_encoder_layers`` pre-norm
    :class:`TransformerEncoderBlock` s with the source's padding mask, a final LayerNorm. Decoder:
    token embedding + learned positions, ``num_decoder_layers`` :class:`CrossAttentionDecoderBlock` s,
    a final LayerNorm and a Dense to the target vocabulary. Source id 0 is padding.

    Parameters
    ----------
    source_vocab, target_vocab : int, >= 2
    source_length, target_length : int
        The longest source, and the longest target input (the decoder's max_length).
    model_dim : int, a multiple of num_heads.
    num_heads, ff_dim, num_encoder_layers, num_decoder_layers : int
    dropout : float, in [0, 1).

    Call arguments
    --------------
    inputs : (source_ids (batch, S), target_ids (batch, T)), int; T <= target_length.
    training : bool or None

    Returns
    -------
    logits (batch, T, target_vocab): row ``t`` predicts target token ``t + 1`` (given token 0 … t).
    """

    def __init__(self, source_vocab: int, target_vocab: int, source_length: int, target_length: int,
                 model_dim: int = 32, num_heads: int = 4, ff_dim: int = 64, num_encoder_layers: int = 2,
                 num_decoder_layers: int = 2, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.source_vocab = check_int("source_vocab", source_vocab, 2)
        self.target_vocab = check_int("target_vocab", target_vocab, 2)
        self.source_length = check_int("source_length", source_length, 1)
        self.target_length = check_int("target_length", target_length, 1)
        self.model_dim = check_int("model_dim", model_dim, 1)
        self.num_heads = check_int("num_heads", num_heads, 1)
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim must be a multiple of num_heads={self.num_heads}, got {self.model_dim}")
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.num_encoder_layers = check_int("num_encoder_layers", num_encoder_layers, 1)
        self.num_decoder_layers = check_int("num_decoder_layers", num_decoder_layers, 1)
        self.dropout = _check_dropout(dropout)
        self.source_embedding = layers.Embedding(self.source_vocab, self.model_dim, name="source_embedding")
        self.source_positions = PositionEmbedding(self.source_length, name="source_positions")
        self.encoder_blocks = [TransformerEncoderBlock(self.num_heads, self.ff_dim, self.dropout, norm_first=True,
                                                       name=f"encoder_{i}") for i in range(self.num_encoder_layers)]
        self.encoder_norm = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")
        self.target_embedding = layers.Embedding(self.target_vocab, self.model_dim, name="target_embedding")
        self.target_positions = PositionEmbedding(self.target_length, name="target_positions")
        self.decoder_blocks = [CrossAttentionDecoderBlock(self.num_heads, self.ff_dim, self.dropout,
                                                          name=f"decoder_{i}") for i in range(self.num_decoder_layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.to_logits = layers.Dense(self.target_vocab, name="to_logits")

    def build(self, input_shape=None):
        source_shape = (None, self.source_length, self.model_dim)
        target_shape = (None, self.target_length, self.model_dim)
        self.source_embedding.build((None, self.source_length))
        self.source_positions.build(source_shape)
        for block in self.encoder_blocks:
            block.build(source_shape)
        self.encoder_norm.build(source_shape)
        self.target_embedding.build((None, self.target_length))
        self.target_positions.build(target_shape)
        for block in self.decoder_blocks:
            block.build(target_shape, source_shape)
        self.final_norm.build(target_shape)
        self.to_logits.build(target_shape)
        self.built = True

    def _check_ids(self, name, ids, vocab, longest, start=0):
        if len(ops.shape(ids)) != 2:
            raise ValueError(f"{name} must have shape (batch, length), got {tuple(ops.shape(ids))}")
        length = ops.shape(ids)[1]
        if length is not None and start + length > longest:
            raise ValueError(f"{name}: positions {start}…{start + length - 1} do not fit: this model accepts "
                             f"{longest}")
        _check_token_ids(name, _values_if_known(ids), vocab)

    def encode(self, source_ids, training=None):
        """The encoder's output (batch, S, model_dim) and the source mask (batch, S), True on characters."""
        self._check_ids("source_ids", source_ids, self.source_vocab, self.source_length)
        source_mask = ops.not_equal(source_ids, 0)
        x = self.source_positions(self.source_embedding(source_ids))
        for block in self.encoder_blocks:
            x = block(x, mask=source_mask, training=training)
        return self.encoder_norm(x), source_mask

    def decode(self, target_ids, encoded, source_mask, training=None, return_attention_scores: bool = False):
        """Logits (batch, T, target_vocab) for ``target_ids`` given the encoder's output; with
        ``return_attention_scores``, also the cross-attention weights of every decoder layer, a list of
        (batch, num_heads, T, S)."""
        self._check_ids("target_ids", target_ids, self.target_vocab, self.target_length)
        x = self.target_positions(self.target_embedding(target_ids))
        cross_weights = []
        for block in self.decoder_blocks:
            x, weights = block(x, encoded, source_mask=source_mask, return_attention_scores=True, training=training)
            cross_weights.append(weights)
        logits = self.to_logits(self.final_norm(x))
        return (logits, cross_weights) if return_attention_scores else logits

    def call(self, inputs, training=None):
        source_ids, target_ids = inputs
        encoded, source_mask = self.encode(source_ids, training=training)
        return self.decode(target_ids, encoded, source_mask, training=training)

    def start_decoding(self, source_ids, capacity: int | None = None):
        """Run the encoder once and return a :class:`DecodingState`: the source's keys and values for every
        decoder layer's cross-attention (computed once, reused at every step) and an empty self-attention cache."""
        if not self.built:
            self.build()
        source_ids = np.asarray(source_ids)
        encoded, source_mask = self.encode(source_ids)
        capacity = self.target_length if capacity is None else check_int("capacity", capacity, 1,
                                                                         self.target_length)
        cache = KVCache(self.num_decoder_layers, len(source_ids), self.num_heads, self.model_dim // self.num_heads,
                        capacity, dtype=self.compute_dtype)
        source = [block.cross_attention.project_source(encoded) for block in self.decoder_blocks]
        return DecodingState(cache, source, source_mask)

    def call_cached(self, target_ids, state: DecodingState):
        """Logits (batch, t, target_vocab) for the new target tokens ``target_ids`` (batch, t), which follow the
        ``state.cache.length`` earlier ones; the state is updated in place. Also sets ``state.cross_weights``
        (a list per layer of (batch, num_heads, t, S))."""
        if not isinstance(state, DecodingState):
            raise ValueError(f"state must be a DecodingState from start_decoding(), got {type(state).__name__}")
        cache = state.cache
        self._check_ids("target_ids", target_ids, self.target_vocab, self.target_length, cache.length)
        batch, length = ops.shape(target_ids)
        cache.check_step(batch, length)
        start = cache.length
        table = ops.convert_to_tensor(self.target_positions.embeddings)
        positions = ops.slice(table, (start, 0), (length, self.model_dim))
        x = self.target_embedding(target_ids) + ops.cast(positions, self.compute_dtype)[None]
        state.cross_weights = []
        for i, block in enumerate(self.decoder_blocks):
            source_keys, source_values = state.source[i]
            x, cache.keys[i], cache.values[i], weights = block.call_cached(
                x, cache.keys[i], cache.values[i], start, source_keys, source_values, state.source_mask)
            state.cross_weights.append(weights)
        cache.length = start + length
        return self.to_logits(self.final_norm(x))

    def get_config(self):
        return {"source_vocab": self.source_vocab, "target_vocab": self.target_vocab,
                "source_length": self.source_length, "target_length": self.target_length,
                "model_dim": self.model_dim, "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "num_encoder_layers": self.num_encoder_layers, "num_decoder_layers": self.num_decoder_layers,
                "dropout": self.dropout, "name": self.name}


class DecodingState:
    """What an encoder-decoder keeps while it decodes one batch of sources: the self-attention
    :class:`KVCache` of the target so far, the source's cross-attention keys and values per decoder layer
    (``source``, a list of (keys, values), each (batch, num_heads, S, head_dim)), and the source mask."""

    def __init__(self, cache: KVCache, source: list, source_mask):
        self.cache, self.source, self.source_mask = cache, source, source_mask
        self.cross_weights = []

    @property
    def source_nbytes(self) -> int:
        """Bytes of the source's keys and values (every decoder layer)."""
        return sum(int(np.prod(ops.shape(k))) * 2 * np.dtype(self.cache.dtype).itemsize for k, _ in self.source)

    def reorder(self, rows) -> None:
        """Keep rows ``rows`` (int (batch,)) of every buffer: beam search's choice of parents."""
        rows = ops.convert_to_tensor(np.asarray(rows, dtype="int32"))
        self.cache.keys = [ops.take(k, rows, axis=0) for k in self.cache.keys]
        self.cache.values = [ops.take(v, rows, axis=0) for v in self.cache.values]
        self.source = [(ops.take(k, rows, axis=0), ops.take(v, rows, axis=0)) for k, v in self.source]
        self.source_mask = ops.take(self.source_mask, rows, axis=0)


def _log_softmax(logits):
    logits = np.asarray(ops.convert_to_numpy(logits), dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Translation(NamedTuple):
    """What :func:`greedy_translate` returns."""
    tokens: np.ndarray            #: int32 (batch, steps), the chosen target tokens
    logprob: np.ndarray           #: float64 (batch,), the sum of the chosen tokens' log-probabilities
    logits: np.ndarray            #: float32 (batch, steps, target_vocab), the logits each step chose from
    cross_weights: list           #: per decoder layer, float32 (batch, num_heads, steps, S)


def greedy_translate(model: EncoderDecoderTransformer, source_ids, steps: int, start_id: int) -> Translation:
    """Greedy decoding with the caches: encode once, then ``steps`` one-token steps.

    Introduced in notebooks/09_transformer_translation.ipynb.

    :meth:`EncoderDecoderTransformer.start_decoding` runs the encoder and projects the source's keys and
    values for every decoder layer once; each step feeds the newest token only and takes the argmax.

    Returns
    -------
    :class:`Translation`: tokens, their log-probability, the logits of every step, and the cross-attention
    weights every step's query gave the source (a list per decoder layer).
    """
    steps = check_int("steps", steps, 1, model.target_length)
    start_id = check_int("start_id", start_id, 0, model.target_vocab - 1)
    source_ids = np.asarray(source_ids)
    state = model.start_decoding(source_ids, capacity=steps)
    new = np.full((len(source_ids), 1), start_id, dtype=np.int32)
    chosen, logits, weights = [], [], []
    for _ in range(steps):
        step_logits = ops.convert_to_numpy(model.call_cached(new, state)[:, -1])
        token = step_logits.argmax(axis=-1).astype(np.int32)
        chosen.append(token)
        logits.append(step_logits)
        weights.append([ops.convert_to_numpy(w)[:, :, -1] for w in state.cross_weights])
        new = token[:, None]
    tokens, logits = np.stack(chosen, axis=1), np.stack(logits, axis=1)
    logprob = np.take_along_axis(_log_softmax(logits), tokens[..., None].astype(np.int64), axis=-1)[..., 0].sum(-1)
    cross_weights = [np.stack([w[layer] for w in weights], axis=2) for layer in range(len(weights[0]))]
    return Translation(tokens, logprob, logits, cross_weights)


def beam_search(model: EncoderDecoderTransformer, source_ids, steps: int, start_id: int, width: int):
    """Beam search with the caches: keep the ``width`` most likely partial targets of every source.

    Introduced in notebooks/09_transformer_translation.ipynb.

    Every step extends each kept target by every token, scores each extension by its sequence
    log-probability (the sum of its tokens' log-probabilities), and keeps the ``width`` best per source;
    the caches follow the kept targets' parents. All targets have ``steps`` tokens (no end token), so the
    scores compare sequences of one length.

    Returns
    -------
    tokens int32 (batch, steps) of the best target per source, and its log-probability float64 (batch,).
    """
    steps = check_int("steps", steps, 1, model.target_length)
    start_id = check_int("start_id", start_id, 0, model.target_vocab - 1)
    width = check_int("width", width, 1)
    source_ids = np.asarray(source_ids)
    batch = len(source_ids)
    state = model.start_decoding(np.repeat(source_ids, width, axis=0), capacity=steps)
    scores = np.tile([0.0] + [-np.inf] * (width - 1), (batch, 1))       # one live beam at the start
    sequences = np.zeros((batch, width, 0), dtype=np.int32)
    new = np.full((batch * width, 1), start_id, dtype=np.int32)
    for _ in range(steps):
        log_probs = _log_softmax(model.call_cached(new, state)[:, -1]).reshape(batch, width, -1)
        total = (scores[..., None] + log_probs).reshape(batch, -1)      # (batch, width × vocab)
        best = np.argsort(-total, axis=1, kind="stable")[:, :width]
        scores = np.take_along_axis(total, best, axis=1)
        parent, token = best // log_probs.shape[-1], (best % log_probs.shape[-1]).astype(np.int32)
        sequences = np.concatenate([np.take_along_axis(sequences, parent[..., None], axis=1), token[..., None]],
                                   axis=2)
        state.reorder((np.arange(batch)[:, None] * width + parent).reshape(-1))
        new = token.reshape(-1, 1)
    return sequences[:, 0], scores[:, 0]


def sequence_logprob(model: EncoderDecoderTransformer, source_ids, tokens, start_id: int):
    """The log-probability float64 (batch,) that ``model`` gives the target ``tokens`` (batch, steps) of each
    source: one teacher-forced pass, the sum over the steps of each token's log-probability.

    Introduced in notebooks/09_transformer_translation.ipynb. Scoring two decoders' outputs with this one
    function compares them by the same arithmetic (a cached decode sums the same numbers in another order).
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be integer ids of shape (batch, steps), got {tokens.dtype} {tokens.shape}")
    start_id = check_int("start_id", start_id, 0, model.target_vocab - 1)
    inputs = np.concatenate([np.full((len(tokens), 1), start_id), tokens[:, :-1]], axis=1).astype(np.int32)
    log_probs = _log_softmax(model((np.asarray(source_ids), inputs)))
    return np.take_along_axis(log_probs, tokens[..., None].astype(np.int64), axis=-1)[..., 0].sum(axis=-1)
