"""Tests of helpers.layers.multihead (notebook 06)."""

import keras
import numpy as np
import pytest

from helpers import layers as course_layers
from helpers.layers import (MultiHeadAttention, TransformerEncoderBlock,
                            positional_encoding)

X = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")


MHA_CASES = {
    # name: (num_heads, key_dim, value_dim, output_shape, use_bias, T_q, T_k, cross, padding, causal, attention_mask)
    "self": (2, 4, None, None, True, 5, 5, False, False, False, False),
    "cross, different lengths, key given": (4, 8, 3, 7, True, 6, 9, True, False, False, False),
    "padding masks": (3, 5, None, None, True, 7, 7, False, True, False, False),
    "causal": (3, 5, None, None, True, 7, 7, False, False, True, False),
    "causal and attention mask, no bias": (3, 5, None, None, False, 7, 7, False, False, True, True),
    "cross, attention mask": (2, 6, 4, None, True, 3, 8, True, False, False, True),
    "one head": (1, 16, None, None, True, 4, 4, False, True, True, False),
}


@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_equals_keras(case):
    heads, key_dim, value_dim, output_shape, use_bias, tq, tk, cross, padding, causal, with_mask = MHA_CASES[case]
    rng = np.random.default_rng(len(case))
    query = rng.standard_normal((3, tq, 6)).astype("float32")
    value = rng.standard_normal((3, tk, 5 if cross else 6)).astype("float32")
    key = rng.standard_normal((3, tk, 4)).astype("float32") if cross else None
    kwargs = {"use_causal_mask": causal}
    if with_mask:
        kwargs["attention_mask"] = rng.random((3, tq, tk)) > 0.3
    if padding:
        kwargs["value_mask"] = np.arange(tk)[None] < np.array([tk, tk - 1, 3])[:, None]
    reference = keras.layers.MultiHeadAttention(heads, key_dim, value_dim=value_dim, output_shape=output_shape,
                                                use_bias=use_bias)
    ours = MultiHeadAttention(heads, key_dim, value_dim=value_dim, output_shape=output_shape, use_bias=use_bias)
    expected = reference(query, value, key=key, return_attention_scores=True, **kwargs)
    ours(query, value, key=key)
    ours.load_keras_weights(reference)
    got = ours(query, value, key=key, return_attention_scores=True, **kwargs)
    for mine, theirs in zip(got, expected):
        assert mine.shape == theirs.shape
        assert np.abs(keras.ops.convert_to_numpy(mine) - keras.ops.convert_to_numpy(theirs)).max() <= 1e-5


def test_multi_head_attention_takes_keras_masks_like_keras():
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 8, mask_zero=True)(tokens)
    reference, ours = keras.layers.MultiHeadAttention(2, 4), MultiHeadAttention(2, 4)
    model = keras.Model(tokens, [reference(embedded, embedded), ours(embedded, embedded)])
    ours.load_keras_weights(reference)
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    expected, got = model.predict(tokens, verbose=0)
    real = tokens != 0            # predict takes Keras' default path: a padded query row differs (see below)
    assert np.abs(expected - got)[real].max() <= 1e-5
    assert np.abs(got[~real]).max() == 0.0, "ours: a padded query attends nowhere (output = zero bias)"
    assert np.abs(expected[~real]).min() > 0.0, "Keras' default path: the mean of the values there"


def test_multi_head_attention_is_causal():
    layer = MultiHeadAttention(2, 4)
    x = np.random.default_rng(0).standard_normal((2, 8, 6)).astype("float32")
    changed = x.copy()
    changed[:, 5:] = 100.0
    before = keras.ops.convert_to_numpy(layer(x, x, use_causal_mask=True))
    after = keras.ops.convert_to_numpy(layer(changed, changed, use_causal_mask=True))
    assert np.abs(before[:, :5] - after[:, :5]).max() <= 1e-6
    assert np.abs(before[:, 5:] - after[:, 5:]).max() > 1e-3


def test_head_splitting_two_ways_agree():
    x = np.random.default_rng(1).standard_normal((3, 5, 12)).astype("float32")
    by_reshape = keras.ops.convert_to_numpy(course_layers.split_heads(x, 4))        # (3, 4, 5, 3)
    on_batch = keras.ops.convert_to_numpy(course_layers.split_heads_on_batch(x, 4))  # (12, 5, 3)
    np.testing.assert_array_equal(by_reshape.transpose(1, 0, 2, 3).reshape(12, 5, 3), on_batch)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(course_layers.merge_heads(by_reshape)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(course_layers.merge_heads_from_batch(on_batch, 4)), x)


def test_multi_head_attention_round_trip_and_bad_input(tmp_path):
    inputs = keras.Input((5, 8))
    hidden = TransformerEncoderBlock(2, 16)(inputs)
    outputs = MultiHeadAttention(2, 4, output_shape=3)(hidden, hidden)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(2).standard_normal((2, 5, 8)).astype("float32")
    model.save(tmp_path / "mha.keras")
    loaded = keras.models.load_model(tmp_path / "mha.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="num_heads must be an integer >= 1, got 0"):
        MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        MultiHeadAttention(2, 4, dropout=1.0)
    with pytest.raises(ValueError, match="needs a built keras.layers.MultiHeadAttention"):
        MultiHeadAttention(2, 4).load_keras_weights(keras.layers.Dense(3))
    small = MultiHeadAttention(2, 4)
    small(x, x)
    other = keras.layers.MultiHeadAttention(3, 4)
    other(x, x)
    with pytest.raises(ValueError, match="weight shapes differ"):
        small.load_keras_weights(other)
    with pytest.raises(ValueError, match="model_dim a multiple of num_heads=3"):
        TransformerEncoderBlock(3, 8)(x)


def test_positional_encoding():
    pe = positional_encoding(50, 16)
    assert pe.shape == (50, 16) and pe.dtype == np.float32
    np.testing.assert_allclose(pe[:, 0], np.sin(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(pe[:, 1], np.cos(np.arange(50)), atol=1e-6)
    assert len({tuple(row.round(4)) for row in pe}) == 50, "every position is distinct"
    with pytest.raises(ValueError, match="depth must be an even integer >= 2, got 7"):
        positional_encoding(10, 7)


# Keras 3.15 has two code paths: return_attention_scores=True (or dropout > 0) computes the weights with
# keras.layers.Softmax; otherwise keras.ops.dot_product_attention runs. Compare ours on both, with query masks.
PATH_CASES = {
    # name: (T_q, T_k, cross, query lengths, value lengths, causal, attention mask with an all-False row)
    "no mask": (5, 5, False, None, None, False, False),
    "self, padded queries and values": (7, 7, False, (7, 5, 3), (7, 5, 3), False, False),
    "cross, padded queries only": (5, 8, True, (5, 2, 4), None, False, False),
    "one sequence with no visible value": (4, 6, True, None, (6, 3, 0), False, False),
    "attention mask with an empty row": (6, 7, True, None, None, False, True),
    "causal and padded queries": (6, 6, False, (6, 4, 1), (6, 4, 1), True, False),
}


def _lengths_mask(lengths, size):
    return None if lengths is None else np.arange(size)[None] < np.array(lengths)[:, None]


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit path", "default path"])
@pytest.mark.parametrize("case", PATH_CASES)
def test_multi_head_attention_equals_keras_on_both_paths(case, explicit):
    tq, tk, cross, query_lengths, value_lengths, causal, empty_row = PATH_CASES[case]
    rng = np.random.default_rng(len(case))
    query_mask, value_mask = _lengths_mask(query_lengths, tq), _lengths_mask(value_lengths, tk)
    query = rng.standard_normal((3, tq, 6)).astype("float32")
    if query_mask is not None:
        query *= query_mask[..., None]           # zero rows, so that Masking(0.0) gives Keras the same mask
    value = rng.standard_normal((3, tk, 5 if cross else 6)).astype("float32")
    kwargs = {"use_causal_mask": causal}
    if value_mask is not None:
        kwargs["value_mask"] = value_mask
    if empty_row:
        kwargs["attention_mask"] = rng.random((3, tq, tk)) > 0.3
        kwargs["attention_mask"][1, 2] = False
    reference, ours = keras.layers.MultiHeadAttention(2, 4), MultiHeadAttention(2, 4)
    reference(query, value)
    ours(query, value)
    ours.load_keras_weights(reference)
    # Keras reads the query mask from the tensor's Keras mask only (a fresh one per call: the layer removes it)
    keras_query = query if query_mask is None else keras.layers.Masking(0.0)(query)
    expected = reference(keras_query, value, return_attention_scores=explicit, **kwargs)
    got, weights = (keras.ops.convert_to_numpy(t) for t in
                    ours(query, value, query_mask=query_mask, return_attention_scores=True, **kwargs))
    if explicit:
        expected, expected_weights = expected
        assert np.abs(weights - keras.ops.convert_to_numpy(expected_weights)).max() <= 1e-6
    expected = keras.ops.convert_to_numpy(expected)
    sees_something = weights.sum(axis=(1, 3)) > 0                              # (batch, T_q)
    blind = ~sees_something
    assert blind.any() == (query_lengths is not None or empty_row or value_lengths == (6, 3, 0))
    assert np.abs(got - expected)[sees_something].max() <= 1e-5
    bias = reference._output_dense.bias.numpy()
    np.testing.assert_allclose(got[blind], np.broadcast_to(bias, got[blind].shape), atol=1e-6)
    if blind.any():
        if explicit:                 # Softmax zeroes a fully masked row: the output is the bias, as ours
            np.testing.assert_allclose(expected[blind], got[blind], atol=1e-6)
        else:                        # dot_product_attention: uniform weights over every key, masked ones too
            mean_value = np.einsum("btf,fhd->bhd", value, reference._value_dense.kernel.numpy()) / tk \
                + reference._value_dense.bias.numpy()
            uniform = np.einsum("bhd,hdo->bo", mean_value, reference._output_dense.kernel.numpy()) + bias
            rows = np.broadcast_to(uniform[:, None], expected.shape)[blind]
            np.testing.assert_allclose(expected[blind], rows, atol=1e-5)
            assert np.abs(expected[blind] - got[blind]).max() > 1e-3


def test_keras_ignores_a_query_mask_argument():
    """What the docstring says of Keras 3.15: query_mask= is overwritten by the query tensor's Keras mask."""
    rng = np.random.default_rng(3)
    query, value = rng.standard_normal((2, 4, 6)).astype("float32"), rng.standard_normal((2, 5, 6)).astype("float32")
    query_mask = np.array([[True, True, False, False], [True] * 4])
    reference = keras.layers.MultiHeadAttention(2, 4)
    plain = reference(query, value, return_attention_scores=True)[1]
    with_argument = reference(query, value, query_mask=query_mask, return_attention_scores=True)[1]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain), keras.ops.convert_to_numpy(with_argument))
    ours = MultiHeadAttention(2, 4)
    weights = keras.ops.convert_to_numpy(ours(query, value, query_mask=query_mask, return_attention_scores=True)[1])
    assert np.all(weights[0, :, 2:] == 0) and np.all(weights[0, :, :2].sum(-1) > 0.99)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_norm_placement(norm_first, tmp_path):
    x = np.random.default_rng(4).standard_normal((2, 5, 8)).astype("float32") * 3 + 1
    block = TransformerEncoderBlock(2, 16, norm_first=norm_first)
    out = keras.ops.convert_to_numpy(block(x))
    residual = x + keras.ops.convert_to_numpy(block.attention(block.norm1(x), block.norm1(x)))
    if norm_first:           # the last operation is a residual sum: the output is not normalised
        expected = residual + keras.ops.convert_to_numpy(block.feed_forward(block.norm2(residual)))
        np.testing.assert_allclose(out, expected, atol=1e-5)
    else:                    # post-norm ends with LayerNorm: zero mean, unit variance per position
        np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)
        np.testing.assert_allclose(out.std(-1), 1, atol=1e-3)
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, TransformerEncoderBlock(2, 16, norm_first=norm_first)(inputs))
    model.save(tmp_path / "block.keras")
    loaded = keras.models.load_model(tmp_path / "block.keras")
    assert loaded.layers[-1].norm_first is norm_first
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="norm_first must be True or False, got 1"):
        TransformerEncoderBlock(2, 16, norm_first=1)


def test_scaled_embedding_stays_dense_in_an_encoder_block():
    """Keras marks KerasTensor * scalar as sparse (notebook 06 scales its embedding with Rescaling instead)."""
    tokens = keras.Input((5,), dtype="int32")
    scaled = keras.layers.Rescaling(2.0)(keras.layers.Embedding(10, 8)(tokens))
    assert not scaled.sparse
    hidden = TransformerEncoderBlock(2, 16)(scaled)
    assert tuple(hidden.shape) == (None, 5, 8)
