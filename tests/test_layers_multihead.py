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
    real = tokens != 0            # padded query rows are meaningless in both layers (and differ)
    assert np.abs(expected - got)[real].max() <= 1e-5
    assert np.abs(got[~real]).max() == 0.0, "ours: a padded query attends nowhere (output = zero bias)"


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
