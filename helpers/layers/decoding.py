"""Causal decoding (notebook 08): causal self-attention with a key/value cache, the pre-norm
decoder block, a tiny decoder-only Transformer, and generation (greedy, temperature, top-k)."""

from __future__ import annotations

import warnings

import keras
import numpy as np
from keras import layers, ops

from helpers._checks import check_float, check_int, check_seed
from helpers.layers._common import PACKAGE, _check_dropout, _check_sequence_shape
from helpers.layers.multihead import MultiHeadAttention, _build_block_sublayers, causal_mask
from helpers.layers.self_attention import PositionEmbedding, scaled_dot_product_attention


class KVCache:
    """The keys and values of every decoder layer for the positions decoded so far.

    Introduced in notebooks/08_causal_decoding.ipynb.

    Each layer gets two buffers of shape ``(batch_size, num_heads, capacity, head_dim)``,
    allocated once; a decoding step writes the new positions' keys and values at
    ``length`` and attends over the first ``length + new`` positions only. Misuse (a step
    past ``capacity``, a batch of another size) raises a ``ValueError`` that says what
    happened, instead of silently attending to stale or missing positions.

    Parameters
    ----------
    num_layers, batch_size, num_heads, head_dim, capacity : int, each >= 1
    dtype : str
        dtype of the buffers (that of the model's keys and values).
    """

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, head_dim: int, capacity: int,
                 dtype: str = "float32"):
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.head_dim = check_int("head_dim", head_dim, 1)
        self.capacity = check_int("capacity", capacity, 1)
        self.dtype = dtype
        shape = (self.batch_size, self.num_heads, self.capacity, self.head_dim)
        self.keys = [ops.zeros(shape, dtype) for _ in range(self.num_layers)]
        self.values = [ops.zeros(shape, dtype) for _ in range(self.num_layers)]
        self.length = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by all the buffers (keys and values of every layer)."""
        itemsize = np.dtype(self.dtype).itemsize
        return 2 * self.num_layers * self.batch_size * self.num_heads * self.capacity * self.head_dim * itemsize

    @property
    def bytes_per_token(self) -> int:
        """Bytes one position of one sequence costs: 2 (K and V) × layers × heads × head_dim × itemsize."""
        return self.nbytes // (self.batch_size * self.capacity)

    def check_step(self, batch_size: int, new_positions: int) -> None:
        """Raise ``ValueError`` unless a step with this batch and this many new positions fits."""
        if batch_size != self.batch_size:
            raise ValueError(f"this cache was made for batch_size={self.batch_size}, got a batch of {batch_size}; "
                             "make a new cache for another batch size")
        if new_positions < 1:
            raise ValueError(f"a decoding step needs at least one new position, got {new_positions}")
        if self.length + new_positions > self.capacity:
            raise ValueError(f"cache full: it holds {self.length} of capacity={self.capacity} positions and the step "
                             f"adds {new_positions}; make a cache with a larger capacity (at most the model's "
                             "max_length)")

    def __repr__(self) -> str:
        return (f"KVCache(layers={self.num_layers}, batch={self.batch_size}, heads={self.num_heads}, "
                f"head_dim={self.head_dim}, length={self.length}/{self.capacity}, {self.nbytes:,} bytes)")


@keras.saving.register_keras_serializable(package=PACKAGE)
class CausalSelfAttention(MultiHeadAttention):
    """Multi-head causal self-attention, with an incremental (cached) mode for decoding.

    Introduced in notebooks/08_causal_decoding.ipynb.

    The weights and the full computation are those of :class:`MultiHeadAttention` (so
    ``load_keras_weights`` copies a ``keras.layers.MultiHeadAttention``), called with
    ``use_causal_mask=True``: position ``i`` attends to positions ``0 … i`` only.
    :meth:`call_cached` computes the same outputs for new positions only, given the keys and
    values of the earlier ones.

    Parameters
    ----------
    num_heads, key_dim, dropout, use_bias : as for :class:`MultiHeadAttention`.

    Call arguments
    --------------
    inputs : (batch, T, model_dim)
    return_attention_scores : bool
        Also return the weights, (batch, num_heads, T, T); they are zero above the diagonal.
    training : bool or None
    """

    def build(self, input_shape):
        _check_sequence_shape("CausalSelfAttention", input_shape, "(batch, T, model_dim)")
        super().build(input_shape, input_shape)

    def call(self, inputs, return_attention_scores: bool = False, training=None):
        return super().call(inputs, inputs, use_causal_mask=True, return_attention_scores=return_attention_scores,
                            training=training)

    def compute_mask(self, inputs, mask=None):
        return mask

    def call_cached(self, inputs, keys, values, start: int):
        """Outputs for ``inputs`` at positions ``start … start + t - 1``, attending to the cache.

        Parameters
        ----------
        inputs : (batch, t, model_dim), the new positions.
        keys, values : (batch, num_heads, capacity, key_dim), this layer's buffers of a :class:`KVCache`;
            positions ``0 … start - 1`` hold the earlier keys and values.
        start : int, how many positions the cache already holds.

        Returns
        -------
        outputs (batch, t, model_dim), and the buffers with the new keys and values written at ``start``.
        """
        q = self._project(inputs, self.query_kernel, self.query_bias)
        at = (0, 0, start, 0)                                   # the new positions go in at `start`
        keys = ops.slice_update(keys, at, self._project(inputs, self.key_kernel, self.key_bias))
        values = ops.slice_update(values, at, self._project(inputs, self.value_kernel, self.value_bias))
        # the new queries attend over the filled part, positions 0 … start + t - 1, causally
        heads = _attend_to_filled(q, keys, values, start, scale=1.0 / float(self.key_dim) ** 0.5)
        outputs = ops.einsum("bhtd,hdo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return outputs, keys, values


def _attend_to_filled(query, keys, values, start: int, scale: float):
    """Attention of new queries at positions ``start … start + t - 1`` over the filled part of a cache's buffers
    (positions ``0 … start + t - 1``), with the causal mask aligned to the bottom right (new query i sits at position
    ``start + i``): ``causal_mask(seen, seen)[:, start:, :]``. Kept out of :meth:`CausalSelfAttention.call_cached`,
    which notebook 08 shows, because of its backend plumbing:

    - JAX compiles each operation for the shapes it meets, so a slice that grows by one position per step would be
      compiled anew at every step. On JAX the queries attend over the whole buffer instead, the unfilled positions
      masked out (they get weight exactly 0): the same outputs, fixed shapes, compiled once.
    - With a one-token prompt there is one key, and Keras warns that a softmax over one element gives 1: silenced.
    """
    length = ops.shape(query)[2]
    seen = start + length
    if keras.backend.backend() == "jax":
        mask = ops.arange(ops.shape(keys)[2])[None, :] <= (start + ops.arange(length))[:, None]
        mask = mask[None]
    else:
        keys, values = keys[:, :, :seen], values[:, :, :seen]        # the cost grows with the context
        mask = causal_mask(seen, seen)[:, start:, :]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a softmax over axis -1")
        heads, _ = scaled_dot_product_attention(query, keys, values, mask=ops.expand_dims(mask, 1), scale=scale)
    return heads


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerDecoderBlock(layers.Layer):
    """One pre-norm Transformer decoder block (decoder-only: no cross-attention).

    Introduced in notebooks/08_causal_decoding.ipynb.

    ``x = x + Dropout(CausalSelfAttention(LayerNorm(x)))``, then
    ``x = x + Dropout(Dense(GELU(Dense(LayerNorm(x)))))``. Pre-norm (the normalisation
    inside each residual branch, as in GPT-2) keeps the residual path an identity, which
    trains without the warm-up a post-norm stack needs.

    Parameters
    ----------
    num_heads : int
    ff_dim : int
        Hidden width of the feed-forward part.
    dropout : float
        In [0, 1).

    Call arguments
    --------------
    inputs : (batch, T, model_dim), model_dim a multiple of num_heads.
    return_attention_scores : bool
    training : bool or None
    """

    def __init__(self, num_heads: int, ff_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.dropout = _check_dropout(dropout)

    def build(self, input_shape):
        model_dim = input_shape[-1]
        if len(input_shape) != 3 or model_dim is None or model_dim % self.num_heads:
            raise ValueError("TransformerDecoderBlock needs inputs (batch, T, model_dim) with model_dim a multiple "
                             f"of num_heads={self.num_heads}, got {tuple(input_shape)}")
        self.attention = CausalSelfAttention(self.num_heads, model_dim // self.num_heads, dropout=self.dropout,
                                             name="attention")
        self.attention.build(input_shape)
        _build_block_sublayers(self, input_shape, activation="gelu")

    def call(self, inputs, return_attention_scores: bool = False, training=None):
        attended, weights = self.attention(self.norm1(inputs), return_attention_scores=True, training=training)
        x = inputs + self.drop1(attended, training=training)
        x = x + self.drop2(self.feed_forward(self.norm2(x)), training=training)
        return (x, weights) if return_attention_scores else x

    def call_cached(self, inputs, keys, values, start: int):
        """The block on new positions only (inference): see :meth:`CausalSelfAttention.call_cached`."""
        attended, keys, values = self.attention.call_cached(self.norm1(inputs), keys, values, start)
        x = inputs + attended
        return x + self.feed_forward(self.norm2(x)), keys, values

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DecoderOnlyTransformer(keras.Model):
    """A tiny decoder-only Transformer language model: token ids in, next-token logits out.

    Introduced in notebooks/08_causal_decoding.ipynb.

    Token embedding + learned :class:`PositionEmbedding`, ``num_layers`` pre-norm
    :class:`TransformerDecoderBlock` s, a final ``LayerNormalization`` and a ``Dense`` to
    the vocabulary. ``model(ids)`` recomputes every position (training, or decoding without
    a cache); :meth:`new_cache` and :meth:`call_cached` decode incrementally.

    Parameters
    ----------
    vocab_size : int, >= 2
    max_length : int
        The longest sequence (and cache) the model accepts.
    model_dim : int
        A multiple of ``num_heads``.
    num_heads, ff_dim, num_layers : int
    dropout : float, in [0, 1).

    Call arguments
    --------------
    ids : int (batch, T), T <= max_length, each in [0, vocab_size). Ids known when the model is
        called (NumPy, an eager tensor; always in :meth:`call_cached` and :func:`generate`) are
        checked: one outside the vocabulary is a ``ValueError`` (JAX's lookup would return NaN).
    training : bool or None

    Returns
    -------
    logits (batch, T, vocab_size): row ``t`` predicts token ``t + 1``.
    """

    def __init__(self, vocab_size: int, max_length: int, model_dim: int = 64, num_heads: int = 4, ff_dim: int = 128,
                 num_layers: int = 2, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = check_int("vocab_size", vocab_size, 2)
        self.max_length = check_int("max_length", max_length, 1)
        self.model_dim = check_int("model_dim", model_dim, 1)
        self.num_heads = check_int("num_heads", num_heads, 1)
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim must be a multiple of num_heads={self.num_heads}, got {self.model_dim}")
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.dropout = _check_dropout(dropout)
        self.token_embedding = layers.Embedding(self.vocab_size, self.model_dim, name="token_embedding")
        self.position_embedding = PositionEmbedding(self.max_length, name="position_embedding")
        self.blocks = [TransformerDecoderBlock(self.num_heads, self.ff_dim, self.dropout, name=f"block_{i}")
                       for i in range(self.num_layers)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.to_logits = layers.Dense(self.vocab_size, name="to_logits")

    def build(self, input_shape=None):
        shape = (None, self.max_length, self.model_dim)
        self.token_embedding.build((None, self.max_length))
        self.position_embedding.build(shape)
        for block in self.blocks:
            block.build(shape)
        self.final_norm.build(shape)
        self.to_logits.build(shape)
        self.built = True

    def _check_ids(self, ids, start: int = 0):
        if len(ops.shape(ids)) != 2:
            raise ValueError(f"ids must have shape (batch, T), got {tuple(ops.shape(ids))}")
        length = ops.shape(ids)[1]
        if length is not None and start + length > self.max_length:
            raise ValueError(f"positions {start}…{start + length - 1} do not fit: this model has "
                             f"max_length={self.max_length}")
        _check_token_ids("ids", _values_if_known(ids), self.vocab_size)

    def call(self, ids, training=None):
        self._check_ids(ids)
        x = self.position_embedding(self.token_embedding(ids))
        for block in self.blocks:
            x = block(x, training=training)
        return self.to_logits(self.final_norm(x))

    def new_cache(self, batch_size: int, capacity: int | None = None) -> KVCache:
        """An empty :class:`KVCache` for this model (capacity defaults to ``max_length``)."""
        capacity = self.max_length if capacity is None else check_int("capacity", capacity, 1, self.max_length)
        if not self.built:
            self.build()
        return KVCache(self.num_layers, batch_size, self.num_heads, self.model_dim // self.num_heads, capacity,
                       dtype=self.compute_dtype)

    def call_cached(self, ids, cache: KVCache):
        """Logits for the new tokens ``ids`` (batch, t), which follow the ``cache.length`` cached ones.

        The cache is updated in place (its buffers and its ``length``). The result equals the
        last ``t`` rows of ``model(all ids so far)`` up to float rounding.
        """
        if not isinstance(cache, KVCache):
            raise ValueError(f"cache must be a KVCache from new_cache(), got {type(cache).__name__}")
        self._check_ids(ids, cache.length)
        batch, length = ops.shape(ids)
        cache.check_step(batch, length)
        start = cache.length
        table = ops.convert_to_tensor(self.position_embedding.embeddings)     # a tensor, not the variable (JAX)
        positions = ops.slice(table, (start, 0), (length, self.model_dim))
        x = self.token_embedding(ids) + ops.cast(positions, self.compute_dtype)[None]
        for i, block in enumerate(self.blocks):
            x, cache.keys[i], cache.values[i] = block.call_cached(x, cache.keys[i], cache.values[i], start)
        cache.length = start + length
        return self.to_logits(self.final_norm(x))

    def get_config(self):
        return {"vocab_size": self.vocab_size, "max_length": self.max_length, "model_dim": self.model_dim,
                "num_heads": self.num_heads, "ff_dim": self.ff_dim, "num_layers": self.num_layers,
                "dropout": self.dropout, "name": self.name}


def _values_if_known(x):
    """``x`` as a NumPy array when its values exist now (NumPy, an eager tensor), else None: a symbolic or
    traced tensor (Keras building a model; ``fit``/``predict`` compiled by TensorFlow or JAX), whose values
    only exist when the graph runs."""
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.asarray(x)
    if isinstance(x, keras.KerasTensor):
        return None
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        return x.numpy() if tf.executing_eagerly() and hasattr(x, "numpy") else None
    if name == "jax":
        import jax

        try:
            return np.asarray(x)
        except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
            return None
    if name == "torch":
        import torch

        if isinstance(x, torch.Tensor) and x.device.type == "meta":      # Keras' shape inference on PyTorch
            return None
    return ops.convert_to_numpy(x)


def _check_token_ids(name: str, values, vocab_size: int) -> None:
    """A ValueError naming ``name`` and the offending ids unless every id is in [0, vocab_size);
    ``values`` None (not known yet) passes. Out of range, an embedding lookup fails on TensorFlow and
    PyTorch but returns NaN on JAX, and a NaN row of logits decodes to token 0 without a word."""
    if values is None or values.size == 0:
        return
    bad = (values < 0) | (values >= vocab_size)
    if bad.any():
        raise ValueError(f"{name} must be token ids in [0, {vocab_size - 1}] (vocab_size={vocab_size}), got "
                         f"{sorted(set(values[bad].tolist()))[:10]} at {int(bad.sum())} position(s)")


def top_p_keep(probs, top_p: float):
    """Bool (batch, vocab): the tokens top-p (nucleus) sampling keeps, row by row.

    Introduced in notebooks/11_serving_attention.ipynb (Holtzman et al. 2020). The kept set is the smallest set of
    most likely tokens whose probability reaches ``top_p``: tokens sorted from the most likely, a token is kept when
    the probability of the tokens before it is still below ``top_p`` (so the most likely token is always kept).
    Ties are broken by token id (a stable sort), so the set is one set, not one of several of equal size.
    """
    top_p = check_float("top_p", top_p, 0.0, 1.0, open_min=True)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must have shape (batch, vocab), got {probs.shape}")
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_probs, axis=-1) - sorted_probs          # mass of the more likely tokens
    keep_sorted = before < top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def sampling_distribution(logits, temperature: float, top_k: int | None = None, top_p: float | None = None):
    """The probabilities :func:`next_token` draws from, float64 (batch, vocab), for logits (batch, vocab).

    Introduced in notebooks/08_causal_decoding.ipynb (its sampling explorer computes the same in the browser).
    ``temperature == 0`` gives all the probability to the argmax (greedy decoding); otherwise the softmax of
    ``logits / temperature`` after top-k, then top-p, each removing tokens, renormalised.
    """
    temperature = check_float("temperature", temperature, 0.0)
    logits = np.asarray(ops.convert_to_numpy(logits), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (batch, vocab), got {logits.shape}")
    if top_k is not None:
        top_k = check_int("top_k", top_k, 1, logits.shape[-1])
    if top_p is not None:
        top_p = check_float("top_p", top_p, 0.0, 1.0, open_min=True)
    if temperature == 0.0:
        return np.eye(logits.shape[-1])[logits.argmax(axis=-1)]
    return _sampling_distribution(logits, temperature, top_k, top_p)


def _sampling_distribution(logits, temperature, top_k, top_p):
    scaled = logits / temperature
    if top_k is not None:
        kth = np.sort(scaled, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled >= kth, scaled, -np.inf)
    probs = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None:
        probs = np.where(top_p_keep(probs, top_p), probs, 0.0)
        probs /= probs.sum(axis=-1, keepdims=True)
    return probs


def next_token(logits, temperature: float = 0.0, top_k: int | None = None, rng=None, top_p: float | None = None):
    """Pick one token per row from next-token logits (batch, vocab): greedy or sampled.

    Introduced in notebooks/08_causal_decoding.ipynb; ``top_p`` in notebooks/11_serving_attention.ipynb.

    ``temperature == 0`` is greedy (the argmax). Otherwise the logits are divided by the
    temperature (as the scores in notebook 01: below 1 sharper, above 1 flatter), all but
    the ``top_k`` largest are dropped when ``top_k`` is given, all but the smallest set whose probability reaches
    ``top_p`` when ``top_p`` is given (:func:`top_p_keep`, after top-k), and a token is drawn from
    the softmax of what is left with ``rng`` (a ``numpy.random.Generator``).

    Returns
    -------
    int32 (batch,)

    Raises
    ------
    ValueError
        For NaN or +inf logits (-inf is allowed: it rules a token out), which would otherwise
        decode to token 0 without a word.
    """
    temperature = check_float("temperature", temperature, 0.0)
    logits = np.asarray(ops.convert_to_numpy(logits), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (batch, vocab), got {logits.shape}")
    bad = np.isnan(logits) | np.isposinf(logits)
    if bad.any():           # a NaN row would decode to token 0 (argmax, or no cumulative sum reached)
        rows = np.flatnonzero(bad.any(axis=-1))
        raise ValueError(f"logits must be numbers (-inf rules a token out), got {logits[bad][0]} in row(s) "
                         f"{rows[:10].tolist()}; a NaN often comes from a token id outside the vocabulary "
                         "or from a training run that diverged")
    if top_k is not None:
        top_k = check_int("top_k", top_k, 1, logits.shape[-1])
    if top_p is not None:
        top_p = check_float("top_p", top_p, 0.0, 1.0, open_min=True)
    if temperature == 0.0:
        return logits.argmax(axis=-1).astype(np.int32)
    if rng is None:
        raise ValueError("sampling (temperature > 0) needs rng, a numpy.random.Generator")
    probs = _sampling_distribution(logits, temperature, top_k, top_p)
    draws = rng.random((len(probs), 1))
    return np.minimum((probs.cumsum(axis=-1) < draws).sum(axis=-1), logits.shape[-1] - 1).astype(np.int32)


def generate(model: DecoderOnlyTransformer, prompts, steps: int, temperature: float = 0.0, top_k: int | None = None,
             seed: int | None = None, use_cache: bool = True, return_logits: bool = False,
             top_p: float | None = None):
    """Continue every prompt by ``steps`` tokens, one at a time.

    Introduced in notebooks/08_causal_decoding.ipynb.

    With ``use_cache`` the prompt is run once (filling a :class:`KVCache`) and each later
    step feeds only the newest token; without it, every step runs the model on the whole
    sequence so far and keeps the last row of logits. Both give the same tokens.

    Parameters
    ----------
    model : DecoderOnlyTransformer
    prompts : int (batch, P), all of the same length P >= 1 (pad on the left).
    steps : int, >= 1; P + steps - 1 <= model.max_length (the last token is returned, not fed back).
    temperature, top_k, top_p : see :func:`next_token`.
    seed : int or None, for sampling.
    use_cache : bool
    return_logits : bool
        Also return the logits each step chose from, float32 (batch, steps, vocab).

    Returns
    -------
    int32 (batch, steps), and the logits when asked for.
    """
    prompts = np.asarray(prompts)
    if prompts.ndim != 2 or prompts.shape[1] < 1 or not np.issubdtype(prompts.dtype, np.integer):
        raise ValueError(f"prompts must be integer ids of shape (batch, P) with P >= 1, got {prompts.dtype} "
                         f"{prompts.shape}")
    _check_token_ids("prompts", prompts, model.vocab_size)
    steps = check_int("steps", steps, 1)
    if prompts.shape[1] + steps - 1 > model.max_length:       # the last new token is never fed back
        raise ValueError(f"prompt length {prompts.shape[1]} + steps={steps} - 1 exceeds the model's "
                         f"max_length={model.max_length}")
    rng = np.random.default_rng(check_seed(seed))
    sequence = prompts.astype(np.int32)
    cache = model.new_cache(len(prompts), prompts.shape[1] + steps - 1) if use_cache else None
    chosen, all_logits = [], []
    new = sequence
    for _ in range(steps):
        if use_cache:
            logits = model.call_cached(new, cache)[:, -1]
        else:
            logits = model(sequence)[:, -1]
        token = next_token(logits, temperature, top_k, rng, top_p=top_p)
        new = token[:, None]
        sequence = np.concatenate([sequence, new], axis=1)
        chosen.append(token)
        if return_logits:
            all_logits.append(ops.convert_to_numpy(logits))
    tokens = np.stack(chosen, axis=1)
    return (tokens, np.stack(all_logits, axis=1)) if return_logits else tokens
