"""Attention as modern language models use it (notebook 10): grouped-query and multi-query
attention, rotary position embeddings (RoPE), sliding-window masks, the bytes of a key/value cache, multi-head
latent attention, and the online softmax behind tiled ("flash") attention."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from helpers._checks import check_float, check_int
from helpers.layers._common import PACKAGE, copy_projections
from helpers.layers.multihead import MultiHeadAttention, causal_mask
from helpers.layers.self_attention import scaled_dot_product_attention


def repeat_kv_heads(x, num_repeats: int):
    """(batch, kv_heads, T, d) → (batch, kv_heads · num_repeats, T, d): each key/value head copied.

    Introduced in notebooks/10_efficient_attention.ipynb. This is what
    ``keras.layers.GroupQueryAttention`` does before ordinary multi-head attention: key/value
    head ``g`` serves query heads ``g · r … g · r + r - 1`` (``r = num_repeats``), so query
    head ``u`` reads key/value head ``u // r``.
    """
    num_repeats = check_int("num_repeats", num_repeats, 1)
    return ops.repeat(x, num_repeats, axis=1)


def kv_cache_bytes_per_token(num_key_value_heads: int, head_dim: int, num_layers: int = 1,
                             bytes_per_value: int = 2) -> int:
    """Bytes a decoder caches per generated token: a key and a value per key/value head and layer.

    Introduced in notebooks/10_efficient_attention.ipynb:
    ``2 · num_layers · num_key_value_heads · head_dim · bytes_per_value`` (2 bytes for float16
    or bfloat16). The query heads do not appear: queries are never cached.
    """
    num_key_value_heads = check_int("num_key_value_heads", num_key_value_heads, 1)
    head_dim = check_int("head_dim", head_dim, 1)
    num_layers = check_int("num_layers", num_layers, 1)
    bytes_per_value = check_int("bytes_per_value", bytes_per_value, 1)
    return 2 * num_layers * num_key_value_heads * head_dim * bytes_per_value


def kv_cache_bytes(n_layers: int, context: int, *, n_kv_heads: int | None = None, head_dim: int | None = None,
                   latent_dim: int | None = None, dtype_bytes: int = 2, batch: int = 1, window: int | None = None,
                   full_attention_every: int | None = None) -> int:
    """The bytes of keys and values (or latent vectors) a decoder keeps for ``batch`` sequences of ``context`` tokens.

    Introduced in notebooks/10_efficient_attention.ipynb. Give either ``n_kv_heads`` and ``head_dim`` (multi-head
    attention: ``n_kv_heads`` = the heads; grouped-query: fewer; multi-query: 1), each layer keeping a key and a
    value per head and token, or ``latent_dim`` (multi-head latent attention: one latent vector per token and layer;
    with a decoupled RoPE key, ``latent_dim`` = its latent size + the RoPE key's size).

    ``window``: sliding-window layers keep ``min(context, window)`` tokens. With ``full_attention_every=k`` (needs
    ``window``), every k-th layer (layers k-1, 2k-1, ... counting from 0) keeps the full context and the others the
    window (Gemma 3: k = 6, five windowed layers to one global). ``dtype_bytes``: 2 for float16 or bfloat16.
    """
    n_layers = check_int("n_layers", n_layers, 1)
    context = check_int("context", context, 0)
    dtype_bytes = check_int("dtype_bytes", dtype_bytes, 1)
    batch = check_int("batch", batch, 1)
    heads_given = n_kv_heads is not None or head_dim is not None
    if heads_given and latent_dim is not None:
        raise ValueError("give either n_kv_heads and head_dim (MHA, GQA, MQA) or latent_dim (MLA), not both; got "
                         f"n_kv_heads={n_kv_heads}, head_dim={head_dim}, latent_dim={latent_dim}")
    if latent_dim is not None:
        per_token_layer = check_int("latent_dim", latent_dim, 1)
    elif n_kv_heads is not None and head_dim is not None:
        per_token_layer = 2 * check_int("n_kv_heads", n_kv_heads, 1) * check_int("head_dim", head_dim, 1)
    else:
        raise ValueError("give n_kv_heads and head_dim together (MHA, GQA, MQA), or latent_dim (MLA); got "
                         f"n_kv_heads={n_kv_heads}, head_dim={head_dim}")
    if full_attention_every is not None:
        full_attention_every = check_int("full_attention_every", full_attention_every, 1)
        if window is None:
            raise ValueError(f"full_attention_every={full_attention_every} needs window (the other layers' sliding "
                             "window); without a window every layer keeps the full context")
        if full_attention_every > n_layers:
            raise ValueError(f"full_attention_every={full_attention_every} exceeds n_layers={n_layers}: no layer would "
                             f"keep the full context; use a value in [1, {n_layers}], or leave it out")
    if window is None:
        tokens = n_layers * context
    else:
        window = check_int("window", window, 1)
        full = 0 if full_attention_every is None else n_layers // full_attention_every
        tokens = full * context + (n_layers - full) * min(context, window)
    return batch * tokens * per_token_layer * dtype_bytes


def sliding_window_mask(query_length: int, key_length: int, window: int, causal: bool = False):
    """Bool (1, query_length, key_length): query i may see key j when ``|i - j| < window``.

    Introduced in notebooks/10_efficient_attention.ipynb. This is the band Keras 3.15 builds for
    ``sliding_window=window`` (symmetric: ``2 · window - 1`` keys in the middle of a sequence);
    with ``causal=True`` it is ANDed with :func:`causal_mask`, leaving keys ``i - window + 1 … i``:
    ``window`` keys, the query's own position included.
    """
    query_length = check_int("query_length", query_length, 1)
    key_length = check_int("key_length", key_length, 1)
    window = check_int("window", window, 1)
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    band = _band(query_length, key_length, window)
    return ops.logical_and(band, causal_mask(query_length, key_length)) if causal else band


def _band(query_length, key_length, window: int):
    """Bool (1, query_length, key_length), ``|i - j| < window``; lengths may be symbolic (no checks)."""
    rows = ops.expand_dims(ops.arange(query_length), 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.expand_dims(ops.abs(rows - cols) < window, 0)


def rope_frequencies(depth: int, base: float = 10000.0):
    """The ``depth // 2`` rotation speeds of RoPE, ``base^(-2i / depth)``, float32 (depth // 2,).

    Introduced in notebooks/10_efficient_attention.ipynb; the same speeds as the sinusoidal
    encoding of notebook 06 (:func:`positional_encoding`).
    """
    depth = check_int("depth", depth, 2)
    if depth % 2:
        raise ValueError(f"depth must be an even integer >= 2, got {depth}")
    base = check_float("base", base, 1.0, open_min=True)
    return (1.0 / base ** (np.arange(0, depth, 2) / depth)).astype("float32")


def apply_rope(x, positions=None, base: float = 10000.0):
    """Rotary position embedding (Su et al., 2021): rotate feature pairs by position-dependent angles.

    Introduced in notebooks/10_efficient_attention.ipynb.

    Feature ``i`` and feature ``i + d/2`` (the "rotate half" pairing of GPT-NeoX and Llama) form a
    2-D point that is rotated by the angle ``p · θ_i`` at position ``p``, with the speeds
    :func:`rope_frequencies`. Rotations keep lengths and compose, so for a query at ``m`` and a key
    at ``n``: ``⟨R_m q, R_n k⟩ = ⟨q, R_{n - m} k⟩``, a function of ``n - m`` only.

    Parameters
    ----------
    x : (..., T, d) with d even
        Queries or keys, heads on any leading axis.
    positions : int array (T,), optional
        Position of each row; ``None`` means ``0 … T - 1``. Another length than T is a ``ValueError``.
    base : float
        > 1; larger means slower rotations.

    Returns
    -------
    Same shape and dtype as ``x``.
    """
    x = ops.convert_to_tensor(x)
    depth = x.shape[-1] if len(x.shape) >= 2 else None
    if depth is None or depth % 2:
        raise ValueError(f"apply_rope needs an even, known last dimension, got shape {tuple(x.shape)}")
    length = x.shape[-2] if isinstance(x.shape[-2], int) else None      # known (not None, not symbolic)
    if positions is not None:
        known = np.shape(positions) if isinstance(positions, (np.ndarray, list, tuple, range)) else \
            tuple(getattr(positions, "shape", ()))
        if len(known) != 1 or (length is not None and isinstance(known[0], int) and known[0] != length):
            raise ValueError(f"positions must hold one position per row of x (T = {x.shape[-2]}, x of shape "
                             f"{tuple(x.shape)}), got positions of shape {tuple(known)}")
    if positions is None and length is not None:
        positions = np.arange(length)
    if positions is None or not isinstance(positions, (np.ndarray, list, tuple, range)):
        # positions only known when the graph runs: angles in float32
        positions = ops.arange(ops.shape(x)[-2]) if positions is None else positions
        angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * rope_frequencies(depth, base)
        cos_half, sin_half = ops.cos(angles), ops.sin(angles)
    else:
        # positions known now: angles and their cos/sin in float64 with NumPy, so that p · θ keeps its
        # precision at large p on every backend (JAX would round a float64 array to float32 first)
        frequencies = 1.0 / base ** (np.arange(0, depth, 2) / depth)
        angles = np.asarray(positions, dtype="float64")[:, None] * frequencies            # (T, d/2)
        cos_half, sin_half = np.cos(angles), np.sin(angles)
    cos = ops.cast(ops.concatenate([cos_half] * 2, axis=-1), x.dtype)                   # (T, d)
    sin = ops.cast(ops.concatenate([sin_half] * 2, axis=-1), x.dtype)
    first, second = x[..., : depth // 2], x[..., depth // 2:]
    rotated_half = ops.concatenate([-second, first], axis=-1)                           # (-x2, x1)
    return x * cos + rotated_half * sin


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupedQueryAttention(layers.Layer):
    """Grouped-query attention from scratch, weight-compatible with ``keras.layers.GroupQueryAttention``.

    Introduced in notebooks/10_efficient_attention.ipynb.

    ``num_query_heads`` query heads share ``num_key_value_heads`` key/value heads, in groups of
    ``r = num_query_heads // num_key_value_heads`` consecutive query heads (query head ``u`` reads
    key/value head ``u // r``, Keras' order). One key/value head is multi-query attention (MQA);
    as many as query heads is multi-head attention (MHA). The key/value heads are never copied:
    the queries are reshaped to (batch, kv_heads, r, T, d) and one broadcast matmul serves a group.

    Parameters
    ----------
    head_dim : int
        Size of every query, key and value head.
    num_query_heads : int
    num_key_value_heads : int
        Must divide ``num_query_heads``.
    use_bias : bool
        Biases on the four projections.
    sliding_window : int or None
        As in Keras 3.15: query i may see key j only when ``|i - j| < sliding_window``
        (see :func:`sliding_window_mask`); combine with ``use_causal_mask=True`` for the causal band.
    rope : bool
        Rotate queries and keys with :func:`apply_rope` (positions ``0 … T - 1``) after projecting
        them. Not in Keras' layer; off by default.
    rope_base : float

    Call arguments
    --------------
    query : (batch, T_q, features); value : (batch, T_k, features_v); key : optional, ``None`` means value.
    attention_mask : bool (batch, T_q, T_k), optional; True where query i may attend to key j.
    use_causal_mask : bool
    query_mask, value_mask, key_mask : bool (batch, T), optional padding masks.
    return_attention_scores : bool
        Also return the weights (batch, num_query_heads, T_q, T_k).

    A query row that may see no key gets all-zero weights here; Keras' fused path
    (``ops.dot_product_attention``) spreads it uniformly instead. Rows that see at least one key agree.
    """

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int, use_bias: bool = True,
                 sliding_window: int | None = None, rope: bool = False, rope_base: float = 10000.0, **kwargs):
        super().__init__(**kwargs)
        self.head_dim = check_int("head_dim", head_dim, 1)
        self.num_query_heads = check_int("num_query_heads", num_query_heads, 1)
        self.num_key_value_heads = check_int("num_key_value_heads", num_key_value_heads, 1)
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(f"num_query_heads ({self.num_query_heads}) must be a multiple of num_key_value_heads "
                             f"({self.num_key_value_heads}); allowed: a divisor of {self.num_query_heads}")
        for name, flag in (("use_bias", use_bias), ("rope", rope)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        if rope and self.head_dim % 2:
            raise ValueError(f"rope=True needs an even head_dim, got {self.head_dim}")
        self.use_bias, self.rope = use_bias, rope
        self.rope_base = check_float("rope_base", rope_base, 1.0, open_min=True)
        self.sliding_window = None if sliding_window is None else check_int("sliding_window", sliding_window, 1)
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        self.supports_masking = True

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"GroupedQueryAttention needs {name} of shape (batch, T, features) with "
                                 f"features known, got {tuple(shape)}")
        q_heads, kv_heads, size = self.num_query_heads, self.num_key_value_heads, self.head_dim

        def projection(name, kernel_shape, bias_shape):
            kernel = self.add_weight(name=f"{name}_kernel", shape=kernel_shape, initializer="glorot_uniform")
            bias = self.add_weight(name=f"{name}_bias", shape=bias_shape, initializer="zeros") if self.use_bias \
                else None
            return kernel, bias

        self.query_kernel, self.query_bias = projection("query", (query_shape[-1], q_heads, size), (q_heads, size))
        self.key_kernel, self.key_bias = projection("key", (key_shape[-1], kv_heads, size), (kv_heads, size))
        self.value_kernel, self.value_bias = projection("value", (value_shape[-1], kv_heads, size), (kv_heads, size))
        self.output_kernel, self.output_bias = projection("output", (q_heads, size, query_shape[-1]),
                                                          (query_shape[-1],))

    def call(self, query, value, key=None, attention_mask=None, use_causal_mask: bool = False,
             return_attention_scores: bool = False, query_mask=None, value_mask=None, key_mask=None):
        key = value if key is None else key
        q = MultiHeadAttention._project(query, self.query_kernel, self.query_bias)     # (b, U, T_q, d)
        k = MultiHeadAttention._project(key, self.key_kernel, self.key_bias)           # (b, V, T_k, d)
        v = MultiHeadAttention._project(value, self.value_kernel, self.value_bias)
        if self.rope:
            q, k = apply_rope(q, base=self.rope_base), apply_rope(k, base=self.rope_base)
        mask = MultiHeadAttention._combined_mask(q, k, attention_mask, use_causal_mask, query_mask, value_mask,
                                                 key_mask)
        if self.sliding_window is not None:
            band = _band(ops.shape(q)[2], ops.shape(k)[2], self.sliding_window)
            mask = band if mask is None else ops.logical_and(mask, band)
        batch, t_query = ops.shape(q)[0], ops.shape(q)[2]
        grouped_q = ops.reshape(q, (batch, self.num_key_value_heads, self.num_repeats, t_query, self.head_dim))
        heads, weights = scaled_dot_product_attention(
            grouped_q, ops.expand_dims(k, 2), ops.expand_dims(v, 2),        # one k, v per group: broadcast
            mask=None if mask is None else mask[:, None, None],
            scale=1.0 / math.sqrt(self.head_dim))
        heads = ops.reshape(heads, (batch, self.num_query_heads, t_query, self.head_dim))
        outputs = ops.einsum("bhtd,hdo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        if return_attention_scores:
            return outputs, ops.reshape(weights, (batch, self.num_query_heads, t_query, ops.shape(k)[2]))
        return outputs

    def compute_mask(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, **kwargs):
        return query_mask

    def load_keras_weights(self, keras_layer):
        """Copy the weights of a built ``keras.layers.GroupQueryAttention`` with the same settings."""
        if not isinstance(keras_layer, keras.layers.GroupQueryAttention) or not keras_layer.built:
            raise ValueError(f"load_keras_weights needs a built keras.layers.GroupQueryAttention, got {keras_layer!r}")
        if keras_layer.use_gate:
            raise ValueError("the Keras layer uses use_gate=True, which this layer does not have")
        copy_projections(self, keras_layer, "head_dim, num_query_heads, num_key_value_heads, use_bias")

    def get_config(self):
        return {**super().get_config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "sliding_window": self.sliding_window, "rope": self.rope, "rope_base": self.rope_base}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadLatentAttention(layers.Layer):
    """Multi-head latent attention (DeepSeek-V2, 2024), causal, without RoPE: a decoder caches one latent vector
    per token instead of a key and a value per head.

    Introduced in notebooks/10_efficient_attention.ipynb.

    ``c = x · W_down`` (batch, T, latent_dim) is all a decoder keeps per token and layer. The plain form
    up-projects it to every head's key and value, ``k_h = c · W_uk[h]``, ``v_h = c · W_uv[h]``, and attends as
    multi-head attention does. The **absorbed** form never builds them: ``q_h · k_hᵀ = (q_h · W_uk[h]ᵀ) · cᵀ`` folds
    the key up-projection into the query, and ``Σ w · v_h · W_o[h] = (Σ w · c) · (W_uv[h] · W_o[h])`` folds the value
    up-projection into the output projection, so each head attends over the latent vectors themselves. The two
    forms are equal up to float rounding (the products are regrouped).

    Parameters
    ----------
    num_heads, head_dim, latent_dim : int, each >= 1

    Call arguments
    --------------
    inputs : (batch, T, model_dim)
    absorbed : bool
        Compute with the absorbed form instead of the plain one.
    return_attention_scores : bool
        Also return the weights (batch, num_heads, T, T).
    """

    def __init__(self, num_heads: int, head_dim: int, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.head_dim = check_int("head_dim", head_dim, 1)
        self.latent_dim = check_int("latent_dim", latent_dim, 1)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"MultiHeadLatentAttention needs inputs (batch, T, model_dim), got {tuple(input_shape)}")
        model_dim, heads, size, latent = input_shape[-1], self.num_heads, self.head_dim, self.latent_dim

        def weight(name, shape):
            return self.add_weight(name=name, shape=shape, initializer="glorot_uniform")

        self.query_kernel = weight("query_kernel", (model_dim, heads, size))
        self.down_kernel = weight("down_kernel", (model_dim, latent))
        self.key_up_kernel = weight("key_up_kernel", (latent, heads, size))
        self.value_up_kernel = weight("value_up_kernel", (latent, heads, size))
        self.output_kernel = weight("output_kernel", (heads, size, model_dim))

    def latent(self, inputs):
        """What the cache keeps: (batch, T, latent_dim)."""
        return ops.matmul(inputs, self.down_kernel)

    def call(self, inputs, absorbed: bool = False, return_attention_scores: bool = False):
        length = ops.shape(inputs)[1]
        mask = causal_mask(length, length)[:, None]                             # (1, 1, T, T)
        latent = self.latent(inputs)
        query = ops.einsum("btf,fhd->bhtd", inputs, self.query_kernel)
        scale = 1.0 / math.sqrt(self.head_dim)
        if absorbed:
            query_latent = ops.einsum("bhtd,chd->bhtc", query, self.key_up_kernel)             # (b, h, T, latent)
            shared = ops.expand_dims(latent, 1)                                                 # one for all heads
            heads, weights = scaled_dot_product_attention(query_latent, shared, shared, mask=mask, scale=scale)
            value_output = ops.einsum("chd,hdo->cho", self.value_up_kernel, self.output_kernel)
            outputs = ops.einsum("bhtc,cho->bto", heads, value_output)
        else:
            key = ops.einsum("btc,chd->bhtd", latent, self.key_up_kernel)
            value = ops.einsum("btc,chd->bhtd", latent, self.value_up_kernel)
            heads, weights = scaled_dot_product_attention(query, key, value, mask=mask, scale=scale)
            outputs = ops.einsum("bhtd,hdo->bto", heads, self.output_kernel)
        return (outputs, weights) if return_attention_scores else outputs

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "latent_dim": self.latent_dim}


def _check_block_size(block_size) -> int:
    return check_int("block_size", block_size, 1)


def online_softmax(scores, block_size: int = 64):
    """Softmax over the last axis, its normaliser found in one pass over blocks of columns.

    Introduced in notebooks/10_efficient_attention.ipynb (Milakov & Gimelshein, 2018).

    A plain softmax reads the scores three times (max, sum of exponentials, divide). Here one pass
    keeps a running max ``m`` and a running sum ``l`` of ``exp(s - m)``; when a block raises the max,
    the sum so far is rescaled by ``exp(m_old - m_new)``. A second pass divides.

    Returns
    -------
    probabilities (same shape as ``scores``), and the final running max and sum, each (..., 1).
    """
    block_size = _check_block_size(block_size)
    scores = ops.convert_to_tensor(scores)          # NumPy in, a backend tensor out (NumPy - torch tensor fails)
    length = scores.shape[-1]
    running_max, running_sum = None, None
    for start in range(0, length, block_size):
        block = scores[..., start:start + block_size]
        block_max = ops.max(block, axis=-1, keepdims=True)
        new_max = block_max if running_max is None else ops.maximum(running_max, block_max)
        block_sum = ops.sum(ops.exp(block - new_max), axis=-1, keepdims=True)
        running_sum = block_sum if running_sum is None else running_sum * ops.exp(running_max - new_max) + block_sum
        running_max = new_max
    return ops.exp(scores - running_max) / running_sum, running_max, running_sum


def _size(x) -> int:
    return int(np.prod(ops.shape(x)))


def naive_attention(query, key, value, causal: bool = False, scale=None, return_peak: bool = False):
    """Attention the plain way: the full (T_q, T_k) score matrix, a softmax, a product.

    Introduced in notebooks/10_efficient_attention.ipynb as the reference for :func:`tiled_attention`;
    it is :func:`scaled_dot_product_attention` with an optional causal mask (aligned as
    :func:`causal_mask`). ``return_peak=True`` also returns the element count of the largest
    intermediate array it creates (the weights, ``... × T_q × T_k``).
    """
    mask = causal_mask(ops.shape(query)[-2], ops.shape(key)[-2])[0] if causal else None     # (T_q, T_k)
    outputs, weights = scaled_dot_product_attention(query, key, value, mask=mask, scale=scale)
    return (outputs, _size(weights)) if return_peak else outputs


def tiled_attention(query, key, value, block_size: int = 64, causal: bool = False, scale=None,
                    return_peak: bool = False, query_offset: int = 0):
    """Attention computed block by block over the keys, never holding a (T_q, T_k) matrix.

    Introduced in notebooks/10_efficient_attention.ipynb: FlashAttention's idea (Dao et al., 2022)
    without its GPU kernel. For each block of ``block_size`` keys: scores ``S = q kᵀ · scale``
    (..., T_q, block), a new running max ``m``, ``P = exp(S - m)``, and the running sum ``l`` and
    output accumulator ``O`` rescaled by ``exp(m_old - m)`` before ``rowsum(P)`` and ``P v`` are added.
    At the end ``O / l`` is the softmax-weighted sum, equal to :func:`naive_attention`.

    Parameters
    ----------
    query : (..., T_q, d); key : (..., T_k, d); value : (..., T_k, d_v)
    block_size : int
        Keys per block, >= 1; T_k need not be a multiple of it.
    causal : bool
        Query i sees keys j <= i (as :func:`causal_mask`).
    scale : float, optional; ``None`` means ``1 / sqrt(d)``.
    return_peak : bool
        Also return the element count of the largest intermediate array created.
    query_offset : int
        Position of the first query, for the causal mask when the queries are a block of a longer
        sequence (:func:`tiled_attention_2d`); 0 by default.

    Returns
    -------
    outputs (..., T_q, d_v) [, peak elements]
    """
    block_size = _check_block_size(block_size)
    query_offset = check_int("query_offset", query_offset, 0)
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    query, key, value = (ops.convert_to_tensor(x) for x in (query, key, value))
    t_query, t_key = query.shape[-2], key.shape[-2]
    if t_query is None or t_key is None:
        raise ValueError(f"tiled_attention needs known lengths, got query {tuple(query.shape)}, key "
                         f"{tuple(key.shape)}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    query = query * ops.cast(scale, query.dtype)
    rows = ops.expand_dims(ops.arange(query_offset, query_offset + t_query), 1)
    running_max = running_sum = accumulator = None
    peak = 0
    for start in range(0, t_key, block_size):
        key_block, value_block = key[..., start:start + block_size, :], value[..., start:start + block_size, :]
        scores = ops.matmul(query, ops.swapaxes(key_block, -1, -2))                      # (..., T_q, block)
        if causal:
            cols = ops.expand_dims(ops.arange(start, start + ops.shape(key_block)[-2]), 0)
            scores = ops.where(cols <= rows, scores, ops.full_like(scores, -1e9))
        block_max = ops.max(scores, axis=-1, keepdims=True)
        new_max = block_max if running_max is None else ops.maximum(running_max, block_max)
        probabilities = ops.exp(scores - new_max)                                        # unnormalised
        block_sum = ops.sum(probabilities, axis=-1, keepdims=True)
        block_out = ops.matmul(probabilities, value_block)                               # (..., T_q, d_v)
        if running_max is None:
            running_sum, accumulator = block_sum, block_out
        else:
            correction = ops.exp(running_max - new_max)
            running_sum = running_sum * correction + block_sum
            accumulator = accumulator * correction + block_out
        running_max = new_max
        peak = max(peak, _size(scores), _size(probabilities), _size(block_out))
    outputs = accumulator / running_sum
    return (outputs, peak) if return_peak else outputs


def tiled_attention_2d(query, key, value, query_block_size: int = 64, key_block_size: int = 64,
                       causal: bool = False, scale=None, skip: bool = True, return_tiles: bool = False):
    """Attention tiled over the queries and the keys; with ``causal``, tiles the mask hides are skipped.

    Introduced in notebooks/10_efficient_attention.ipynb: FlashAttention-2's loop order (Dao, 2023)
    without its GPU kernel. The queries are cut into blocks of ``query_block_size``; each block runs
    :func:`tiled_attention` over key blocks of ``key_block_size``, so the largest score array is one
    ``query_block_size x key_block_size`` tile. With ``causal=True`` a query block ending at position
    ``e - 1`` stops at the key block that holds key ``e - 1``: every later key block is hidden from every
    query of the block, and is never computed (for ``T_q = T_k`` and equal block sizes, ``n (n + 1) / 2``
    of the ``n²`` tiles are computed). Equal to :func:`naive_attention`.

    Parameters
    ----------
    query : (..., T_q, d); key : (..., T_k, d); value : (..., T_k, d_v)
    query_block_size, key_block_size : int >= 1
    causal : bool
        Query i sees keys j <= i (as :func:`causal_mask`).
    scale : float, optional; ``None`` means ``1 / sqrt(d)``.
    skip : bool
        With ``causal``, skip the tiles the mask hides entirely (the default); False computes and masks
        every tile, the same arithmetic as :func:`tiled_attention`, to time what skipping saves.
    return_tiles : bool
        Also return ``(tiles computed, tiles in the full grid)``.
    """
    if not isinstance(skip, bool):
        raise ValueError(f"skip must be True or False, got {skip!r}")
    query_block_size = check_int("query_block_size", query_block_size, 1)
    key_block_size = check_int("key_block_size", key_block_size, 1)
    t_query, t_key = query.shape[-2], key.shape[-2]
    if t_query is None or t_key is None:
        raise ValueError(f"tiled_attention_2d needs known lengths, got query {tuple(query.shape)}, key "
                         f"{tuple(key.shape)}")
    key_tiles = -(-t_key // key_block_size)
    outputs, computed = [], 0
    for start in range(0, t_query, query_block_size):
        stop = min(start + query_block_size, t_query)
        # causal: keys from position `stop` on are after every query of this block; whole tiles of them are skipped
        tiles = min(key_tiles, -(-stop // key_block_size)) if causal and skip else key_tiles
        visible = min(t_key, tiles * key_block_size)
        outputs.append(tiled_attention(query[..., start:stop, :], key[..., :visible, :], value[..., :visible, :],
                                       key_block_size, causal=causal, scale=scale, query_offset=start))
        computed += tiles
    result = ops.concatenate(outputs, axis=-2)
    return (result, (computed, key_tiles * -(-t_query // query_block_size))) if return_tiles else result


def sliding_window_attention(query, key, value, window: int, block_size: int = 64, causal: bool = True,
                             scale=None, return_peak: bool = False):
    """Sliding-window self-attention that only computes the scores inside the band.

    Introduced in notebooks/10_efficient_attention.ipynb. Query i sees key j when ``|i - j| < window``
    (Keras' ``sliding_window=`` meaning; with ``causal=True`` also ``j <= i``). The queries are cut into
    blocks of ``block_size``; a block starting at ``s`` and ending before ``e`` scores only the keys
    ``s - window + 1 … e - 1`` (``… e + window - 2`` without ``causal``), so time and the largest
    intermediate grow like ``T · (block_size + window)``, not ``T²``. Equal to
    :func:`naive_attention` with :func:`sliding_window_mask`.

    Parameters
    ----------
    query, key : (..., T, d); value : (..., T, d_v). Self-attention: one length T for all three.
    window : int >= 1; block_size : int >= 1; causal : bool; scale : float, optional.
    return_peak : bool
        Also return the element count of the largest intermediate array created.
    """
    window = check_int("window", window, 1)
    block_size = _check_block_size(block_size)
    if not isinstance(causal, bool):
        raise ValueError(f"causal must be True or False, got {causal!r}")
    length = query.shape[-2]
    if length is None or key.shape[-2] != length or value.shape[-2] != length:
        raise ValueError("sliding_window_attention is self-attention: query, key and value need the same known "
                         f"length, got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    outputs, peak = [], 0
    for start in range(0, length, block_size):
        stop = min(start + block_size, length)
        first, last = max(0, start - window + 1), stop if causal else min(length, stop + window - 1)
        rows = ops.expand_dims(ops.arange(start, stop), 1)          # absolute query positions of this block
        cols = ops.expand_dims(ops.arange(first, last), 0)          # absolute key positions it may need
        band = ops.abs(rows - cols) < window
        if causal:
            band = ops.logical_and(band, cols <= rows)
        block_out, weights = scaled_dot_product_attention(
            query[..., start:stop, :], key[..., first:last, :], value[..., first:last, :], mask=band, scale=scale)
        outputs.append(block_out)
        peak = max(peak, _size(weights), _size(block_out))
    result = ops.concatenate(outputs, axis=-2)
    return (result, peak) if return_peak else result
