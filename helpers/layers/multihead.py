"""Multi-head attention and the Transformer encoder block (notebook 06): head splitting,
the causal mask, ``MultiHeadAttention``, sinusoidal positions, ``TransformerEncoderBlock``."""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import layers, ops

from helpers._checks import check_int
from helpers.layers.self_attention import scaled_dot_product_attention
from helpers.layers._common import PACKAGE, _check_dropout, copy_projections


def _static_shape(x) -> tuple:
    """The shape of ``x`` as far as it is known now: ints, and None (or a tensor) where it is symbolic."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _check_heads_divide(function: str, x, num_heads, axis: int, axis_name: str) -> int:
    """``num_heads`` as an int; a ValueError naming it and ``x``'s size on ``axis`` unless that size is a
    multiple of it (sizes unknown until the graph runs are not checked)."""
    num_heads = check_int("num_heads", num_heads, 1)
    shape = _static_shape(x)
    if len(shape) != 3:
        raise ValueError(f"{function} needs x of rank 3, got shape {shape}")
    size = shape[axis]
    if isinstance(size, numbers.Integral) and size % num_heads:
        raise ValueError(f"{function}: num_heads must divide x's {axis_name} ({size}), got num_heads={num_heads}")
    return num_heads


def split_heads(x, num_heads: int):
    """(batch, T, num_heads · d) → (batch, num_heads, T, d) by reshape and transpose.

    Introduced in notebooks/06_multi_head_attention.ipynb, with :func:`split_heads_on_batch`.
    A width that ``num_heads`` does not divide is a ``ValueError``.
    """
    num_heads = _check_heads_divide("split_heads", x, num_heads, -1, "last dimension")
    batch, length = ops.shape(x)[0], ops.shape(x)[1]
    x = ops.reshape(x, (batch, length, num_heads, ops.shape(x)[-1] // num_heads))
    return ops.transpose(x, (0, 2, 1, 3))


def merge_heads(x):
    """Inverse of :func:`split_heads`: (batch, num_heads, T, d) → (batch, T, num_heads · d)."""
    if len(_static_shape(x)) != 4:
        raise ValueError(f"merge_heads needs x of shape (batch, num_heads, T, d), got shape {_static_shape(x)}")
    x = ops.transpose(x, (0, 2, 1, 3))
    return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2] * ops.shape(x)[3]))


def split_heads_on_batch(x, num_heads: int):
    """(batch, T, num_heads · d) → (num_heads · batch, T, d): the articles' trick.

    Cut the feature axis into ``num_heads`` slices and stack them along the batch axis,
    so that one ordinary (batched) attention call serves every head. Rows
    ``h · batch … (h + 1) · batch - 1`` are head ``h``.
    """
    num_heads = _check_heads_divide("split_heads_on_batch", x, num_heads, -1, "last dimension")
    return ops.concatenate(ops.split(x, num_heads, axis=-1), axis=0)


def merge_heads_from_batch(x, num_heads: int):
    """Inverse of :func:`split_heads_on_batch`: (num_heads · batch, T, d) → (batch, T, num_heads · d)."""
    num_heads = _check_heads_divide("merge_heads_from_batch", x, num_heads, 0, "first dimension")
    return ops.concatenate(ops.split(x, num_heads, axis=0), axis=-1)


def causal_mask(query_length: int, key_length: int):
    """Bool (1, query_length, key_length): position i may attend to keys 0 … i only.

    Aligned like ``keras.layers.MultiHeadAttention(use_causal_mask=True)``: query i sees
    key j when j <= i. A length known now must be an integer >= 1 (a symbolic one, known
    only when the graph runs, is taken as it is).
    """
    if isinstance(query_length, numbers.Real):
        query_length = check_int("query_length", query_length, 1)
    if isinstance(key_length, numbers.Real):
        key_length = check_int("key_length", key_length, 1)
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
    :meth:`load_keras_weights` can copy a built Keras layer.

    What matches Keras 3.15 (``tests/test_layers_multihead.py``, TensorFlow backend), after
    :meth:`load_keras_weights`, to 1e-5:

    - every output row of a query that may attend to at least one key, and every weight,
      with or without padding masks (query, value, key), the causal mask and an explicit
      ``attention_mask``, on both of Keras' code paths. Keras computes the weights
      explicitly, with ``keras.layers.Softmax``, when ``return_attention_scores=True`` or
      ``dropout > 0``; otherwise it calls ``keras.ops.dot_product_attention``.
    - A query row that may attend to no key (a padded query, or an all-False row of
      ``attention_mask``) gets zero weights here, so its output is the output bias. Keras'
      explicit path does the same (its Softmax zeroes masked entries). Keras' default path
      does not: ``dot_product_attention`` writes the same large negative into every score
      of that row, so the row gets uniform weights over all keys, masked ones included, and
      its output is the projected mean of the values. Only those rows differ.
    - Keras' ``call`` takes the query mask from the query tensor's Keras mask (set by
      ``Embedding(mask_zero=True)`` or ``Masking``) and ignores a ``query_mask=`` argument;
      this layer uses the argument when it is given, and Keras fills it in from the tensor's
      mask otherwise, so both see the same mask in a model.

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
        output is just the output bias, see above) and its mask travels on to the next layer.
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
        copy_projections(self, keras_layer, "num_heads, key_dim, value_dim, use_bias, output_shape")

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
class TransformerEncoderBlock(layers.Layer):
    """One Transformer encoder block: self-attention, then a position-wise feed-forward part.

    Introduced in notebooks/06_multi_head_attention.ipynb; reused in notebook 07.

    Post-norm (the default, as in Vaswani et al., 2017)::

        x = LayerNorm(x + Dropout(MHA(x, x)))
        x = LayerNorm(x + Dropout(Dense(ReLU(Dense(x)))))

    Pre-norm (``norm_first=True``, as in most recent Transformers)::

        x = x + Dropout(MHA(LayerNorm(x), LayerNorm(x)))
        x = x + Dropout(Dense(ReLU(Dense(LayerNorm(x)))))

    Parameters
    ----------
    num_heads : int
    ff_dim : int
        Hidden width of the feed-forward part.
    dropout : float
        In [0, 1).
    norm_first : bool
        LayerNorm before each sub-layer (pre-norm) instead of after the residual sum.

    Call arguments
    --------------
    inputs : (batch, T, model_dim)
    mask : bool (batch, T), optional; padding mask (filled in by Keras after ``Embedding(mask_zero=True)``).
    return_attention_scores : bool
        Also return the weights, (batch, num_heads, T, T).
    """

    def __init__(self, num_heads: int, ff_dim: int, dropout: float = 0.0, norm_first: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, 1)
        self.ff_dim = check_int("ff_dim", ff_dim, 1)
        self.dropout = _check_dropout(dropout)
        if not isinstance(norm_first, bool):
            raise ValueError(f"norm_first must be True or False, got {norm_first!r}")
        self.norm_first = norm_first
        self.supports_masking = True

    def build(self, input_shape):
        model_dim = input_shape[-1]
        if len(input_shape) != 3 or model_dim is None or model_dim % self.num_heads:
            raise ValueError("TransformerEncoderBlock needs inputs (batch, T, model_dim) with model_dim a multiple "
                             f"of num_heads={self.num_heads}, got {tuple(input_shape)}")
        self.attention = MultiHeadAttention(self.num_heads, model_dim // self.num_heads, dropout=self.dropout,
                                            name="attention")
        self.attention.build(input_shape, input_shape)
        _build_block_sublayers(self, input_shape, activation="relu")

    def call(self, inputs, mask=None, training=None, return_attention_scores: bool = False):
        def attend(x):                 # padded positions neither ask nor are looked at
            return self.attention(x, x, query_mask=mask, value_mask=mask, return_attention_scores=True,
                                  training=training)

        if self.norm_first:            # pre-norm: normalise each sub-layer's input; the residual path stays raw
            attended, weights = attend(self.norm1(inputs))
            x = inputs + self.drop1(attended, training=training)
            x = x + self.drop2(self.feed_forward(self.norm2(x)), training=training)
        else:                          # post-norm: normalise after each residual sum
            attended, weights = attend(inputs)
            x = self.norm1(inputs + self.drop1(attended, training=training))
            x = self.norm2(x + self.drop2(self.feed_forward(x), training=training))
        return (x, weights) if return_attention_scores else x

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout,
                "norm_first": self.norm_first}


def _build_block_sublayers(block, input_shape, activation: str) -> None:
    """The parts a Transformer block has besides its attention: the feed-forward net (``block.ff_dim`` wide,
    ``activation``), two LayerNorms and two Dropouts, built for ``input_shape``. Shared by the encoder block
    here and the decoder block of :mod:`helpers.layers.decoding`."""
    model_dim = input_shape[-1]
    block.feed_forward = keras.Sequential([layers.Dense(block.ff_dim, activation=activation), layers.Dense(model_dim)],
                                          name="feed_forward")
    block.feed_forward.build(input_shape)
    block.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
    block.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
    block.norm1.build(input_shape)
    block.norm2.build(input_shape)
    block.drop1 = layers.Dropout(block.dropout)
    block.drop2 = layers.Dropout(block.dropout)
