"""The attention layers the course teaches, each defined once (Keras 3, ``keras.ops``).

Notebooks show a layer's source with ``helpers.show.source(...)`` where they teach it.
Every layer has ``get_config`` and is registered for ``.keras`` saving.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from helpers._checks import check_float, check_int


def masked_softmax(scores, mask=None):
    """Softmax over the last axis where ``mask`` (bool, broadcastable) is True.

    Masked scores become -1e9 rather than -inf before the softmax: masked positions get
    exactly zero weight, and a row with no True entry stays finite (uniform weights).
    Shared by every attention layer of the course.
    """
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
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
        weights (and a zero output), never NaN — as in ``keras.layers.MultiHeadAttention``.
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


def split_heads(x, num_heads: int):
    """(batch, T, num_heads · d) → (batch, num_heads, T, d) by reshape and transpose.

    Introduced in notebooks/06_multi_head_attention.ipynb, with :func:`split_heads_on_batch`.
    """
    batch, length = ops.shape(x)[0], ops.shape(x)[1]
    x = ops.reshape(x, (batch, length, num_heads, ops.shape(x)[-1] // num_heads))
    return ops.transpose(x, (0, 2, 1, 3))


def merge_heads(x):
    """Inverse of :func:`split_heads`: (batch, num_heads, T, d) → (batch, T, num_heads · d)."""
    x = ops.transpose(x, (0, 2, 1, 3))
    return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2] * ops.shape(x)[3]))


def split_heads_on_batch(x, num_heads: int):
    """(batch, T, num_heads · d) → (num_heads · batch, T, d): the articles' trick.

    Cut the feature axis into ``num_heads`` slices and stack them along the batch axis,
    so that one ordinary (batched) attention call serves every head. Rows
    ``h · batch … (h + 1) · batch - 1`` are head ``h``.
    """
    return ops.concatenate(ops.split(x, num_heads, axis=-1), axis=0)


def merge_heads_from_batch(x, num_heads: int):
    """Inverse of :func:`split_heads_on_batch`: (num_heads · batch, T, d) → (batch, T, num_heads · d)."""
    return ops.concatenate(ops.split(x, num_heads, axis=0), axis=-1)


def causal_mask(query_length: int, key_length: int):
    """Bool (1, query_length, key_length): position i may attend to keys 0 … i only.

    Aligned like ``keras.layers.MultiHeadAttention(use_causal_mask=True)``: query i sees
    key j when j <= i.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.expand_dims(cols <= rows, 0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadAttention(layers.Layer):
    """Multi-head attention from scratch, weight-compatible with ``keras.layers.MultiHeadAttention``.

    Introduced in notebooks/06_multi_head_attention.ipynb.

    Each head ``h`` projects the inputs with its own ``W_Q^h, W_K^h, W_V^h`` (plus biases),
    runs :func:`scaled_dot_product_attention` with scale ``1 / sqrt(key_dim)``, and the
    heads' outputs are concatenated and projected by ``W_O``. The projections are stored
    with the same shapes as Keras' (query kernel ``(query_dim, num_heads, key_dim)``,
    output kernel ``(num_heads, value_dim, output_dim)``…), so
    :meth:`load_keras_weights` can copy a built Keras layer and both compute the same
    function.

    Parameters
    ----------
    num_heads : int
    key_dim : int
        Size of each head's query and key.
    value_dim : int or None
        Size of each head's value; ``None`` means ``key_dim``.
    dropout : float
        Dropout on the attention weights during training, in [0, 1).
    use_bias : bool
        Biases on the four projections.
    output_shape : int or None
        Last dimension of the output; ``None`` means the query's last dimension.

    Call arguments
    --------------
    query : (batch, T_q, query_dim)
    value : (batch, T_k, value_dim_in)
    key : (batch, T_k, key_dim_in), optional; ``None`` means ``value``.
    attention_mask : bool (batch, T_q, T_k), optional; True where query i may attend to key j.
    use_causal_mask : bool
        Also forbid attending to later positions.
    query_mask, value_mask, key_mask : bool (batch, T), optional
        Padding masks; Keras fills them in from ``Embedding(mask_zero=True)``. Padded keys
        and values get zero weight; a padded query gets zero weights everywhere (its
        output is just the output bias) and its mask travels on to the next layer.
    return_attention_scores : bool
        Also return the weights, (batch, num_heads, T_q, T_k) (before dropout).
    training : bool or None
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.key_dim = check_int("key_dim", key_dim, 1)
        self.value_dim = self.key_dim if value_dim is None else check_int("value_dim", value_dim, 1)
        self.dropout = _check_dropout(dropout)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self._output_dim = None if output_shape is None else check_int("output_shape", output_shape, 1)
        self.dropout_layer = layers.Dropout(self.dropout)
        self.supports_masking = True

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"MultiHeadAttention needs {name} of shape (batch, T, features) with "
                                 f"features known, got {tuple(shape)}")
        heads, output_dim = self.num_heads, self._output_dim or query_shape[-1]

        def projection(name, kernel_shape, bias_shape):
            kernel = self.add_weight(name=f"{name}_kernel", shape=kernel_shape, initializer="glorot_uniform")
            bias = self.add_weight(name=f"{name}_bias", shape=bias_shape, initializer="zeros") if self.use_bias \
                else None
            return kernel, bias

        self.query_kernel, self.query_bias = projection("query", (query_shape[-1], heads, self.key_dim),
                                                        (heads, self.key_dim))
        self.key_kernel, self.key_bias = projection("key", (key_shape[-1], heads, self.key_dim), (heads, self.key_dim))
        self.value_kernel, self.value_bias = projection("value", (value_shape[-1], heads, self.value_dim),
                                                        (heads, self.value_dim))
        self.output_kernel, self.output_bias = projection("output", (heads, self.value_dim, output_dim),
                                                          (output_dim,))

    @staticmethod
    def _project(x, kernel, bias):
        """(batch, T, features) → (batch, heads, T, head_dim)."""
        projected = ops.einsum("btf,fhd->bhtd", x, kernel)
        return projected if bias is None else projected + ops.expand_dims(bias, 1)

    def call(self, query, value, key=None, attention_mask=None, use_causal_mask: bool = False,
             return_attention_scores: bool = False, training=None, query_mask=None, value_mask=None,
             key_mask=None):
        key = value if key is None else key
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        mask = self._combined_mask(q, k, attention_mask, use_causal_mask, query_mask, value_mask, key_mask)
        heads, weights = scaled_dot_product_attention(
            q, k, v, mask=None if mask is None else ops.expand_dims(mask, 1),   # same mask for every head
            scale=1.0 / float(self.key_dim) ** 0.5)
        if self.dropout > 0.0:
            heads = ops.matmul(self.dropout_layer(weights, training=training), v)
        outputs = ops.einsum("bhtd,hdo->bto", heads, self.output_kernel)
        if self.output_bias is not None:
            outputs = outputs + self.output_bias
        return (outputs, weights) if return_attention_scores else outputs

    @staticmethod
    def _combined_mask(q, k, attention_mask, use_causal_mask, query_mask, value_mask, key_mask):
        """AND of every mask given, as bool (batch or 1, T_q, T_k); None when there is none."""
        parts = []
        if query_mask is not None:
            parts.append(ops.expand_dims(ops.cast(query_mask, "bool"), -1))
        for padding in (value_mask, key_mask):
            if padding is not None:
                parts.append(ops.expand_dims(ops.cast(padding, "bool"), -2))
        if use_causal_mask:
            parts.append(causal_mask(ops.shape(q)[2], ops.shape(k)[2]))
        if attention_mask is not None:
            parts.append(ops.cast(attention_mask, "bool"))
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = ops.logical_and(mask, part)
        return mask

    def compute_mask(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, **kwargs):
        return query_mask

    def load_keras_weights(self, keras_layer):
        """Copy the weights of a built ``keras.layers.MultiHeadAttention`` with the same settings."""
        if not isinstance(keras_layer, keras.layers.MultiHeadAttention) or not keras_layer.built:
            raise ValueError(f"load_keras_weights needs a built keras.layers.MultiHeadAttention, got {keras_layer!r}")
        sources = [keras_layer._query_dense, keras_layer._key_dense, keras_layer._value_dense,
                   keras_layer._output_dense]
        targets = [(self.query_kernel, self.query_bias), (self.key_kernel, self.key_bias),
                   (self.value_kernel, self.value_bias), (self.output_kernel, self.output_bias)]
        for dense, (kernel, bias) in zip(sources, targets):
            if tuple(dense.kernel.shape) != tuple(kernel.shape) or (bias is None) != (dense.bias is None):
                raise ValueError(f"weight shapes differ: Keras {dense.name} kernel {tuple(dense.kernel.shape)}, "
                                 f"ours {tuple(kernel.shape)}; build both with the same num_heads, key_dim, "
                                 "value_dim, use_bias, output_shape and input sizes")
            kernel.assign(dense.kernel)
            if bias is not None:
                bias.assign(dense.bias)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_dim}


def positional_encoding(length: int, depth: int):
    """Sinusoidal positional encoding (Vaswani et al., 2017), float32 (length, depth).

    Introduced in notebooks/06_multi_head_attention.ipynb.

    ``PE[p, 2i] = sin(p / 10000^(2i/depth))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/depth))``:
    every position gets a distinct pattern, and ``PE[p + k]`` is a fixed rotation of
    ``PE[p]`` for every ``p``, so relative offsets are easy to read with a linear map.
    """
    length = check_int("length", length, 1)
    depth = check_int("depth", depth, 2)
    if depth % 2:
        raise ValueError(f"depth must be an even integer >= 2, got {depth}")
    positions = np.arange(length)[:, None]
    frequencies = 1.0 / 10000 ** (np.arange(0, depth, 2) / depth)
    encoding = np.zeros((length, depth), dtype=np.float32)
    encoding[:, 0::2] = np.sin(positions * frequencies)
    encoding[:, 1::2] = np.cos(positions * frequencies)
    return encoding


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

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerEncoderBlock(layers.Layer):
    """One Transformer encoder block (post-norm, as in Vaswani et al., 2017).

    Introduced in notebooks/06_multi_head_attention.ipynb; reused in notebook 07.

    ``x = LayerNorm(x + Dropout(MHA(x, x)))``, then
    ``x = LayerNorm(x + Dropout(Dense(ReLU(Dense(x)))))``.

    Parameters
    ----------
    num_heads : int
    ff_dim : int
        Hidden width of the feed-forward part.
    dropout : float
        In [0, 1).

    Call arguments
    --------------
    inputs : (batch, T, model_dim)
    mask : bool (batch, T), optional; padding mask (filled in by Keras after ``Embedding(mask_zero=True)``).
    return_attention_scores : bool
        Also return the weights, (batch, num_heads, T, T).
    """

    def __init__(self, num_heads: int, ff_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.dropout = _check_dropout(dropout)
        self.supports_masking = True

    def build(self, input_shape):
        model_dim = input_shape[-1]
        if len(input_shape) != 3 or model_dim is None or model_dim % self.num_heads:
            raise ValueError("TransformerEncoderBlock needs inputs (batch, T, model_dim) with model_dim a multiple "
                             f"of num_heads={self.num_heads}, got {tuple(input_shape)}")
        self.attention = MultiHeadAttention(self.num_heads, model_dim // self.num_heads, dropout=self.dropout,
                                            name="attention")
        self.attention.build(input_shape, input_shape)
        self.feed_forward = keras.Sequential([layers.Dense(self.ff_dim, activation="relu"), layers.Dense(model_dim)],
                                             name="feed_forward")
        self.feed_forward.build(input_shape)
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)
        self.drop1 = layers.Dropout(self.dropout)
        self.drop2 = layers.Dropout(self.dropout)

    def call(self, inputs, mask=None, training=None, return_attention_scores: bool = False):
        attended, weights = self.attention(inputs, inputs, query_mask=mask, value_mask=mask,
                                           return_attention_scores=True, training=training)
        x = self.norm1(inputs + self.drop1(attended, training=training))
        x = self.norm2(x + self.drop2(self.feed_forward(x), training=training))
        return (x, weights) if return_attention_scores else x

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout}


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
