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


def test_head_splitting_rejects_widths_that_do_not_divide():
    x = np.zeros((2, 5, 10), "float32")
    with pytest.raises(ValueError, match=r"split_heads: num_heads must divide x's last dimension \(10\), "
                                         r"got num_heads=3"):
        course_layers.split_heads(x, 3)
    with pytest.raises(ValueError, match=r"split_heads_on_batch: num_heads must divide x's last dimension \(10\), "
                                         r"got num_heads=4"):
        course_layers.split_heads_on_batch(x, 4)
    with pytest.raises(ValueError, match=r"merge_heads_from_batch: num_heads must divide x's first dimension "
                                         r"\(2\), got num_heads=3"):
        course_layers.merge_heads_from_batch(x, 3)
    with pytest.raises(ValueError, match=r"merge_heads needs x of shape \(batch, num_heads, T, d\), "
                                         r"got shape \(2, 5, 10\)"):
        course_layers.merge_heads(x)
    with pytest.raises(ValueError, match="split_heads needs x of rank 3"):
        course_layers.split_heads(x[0], 2)
    with pytest.raises(ValueError, match="num_heads must be an integer >= 1, got 0"):
        course_layers.split_heads(x, 0)


@pytest.mark.parametrize("lengths, match", [((0, 4), "query_length must be an integer >= 1, got 0"),
                                            ((3, -1), "key_length must be an integer >= 1, got -1"),
                                            ((2.5, 4), r"query_length must be an integer >= 1, got 2.5 \(float\)")])
def test_causal_mask_rejects_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        course_layers.causal_mask(*lengths)
    assert keras.ops.convert_to_numpy(course_layers.causal_mask(np.int64(2), 3)).tolist() == \
        [[[True, False, False], [True, True, False]]]


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


def _randomise(layer, seed):
    """Every weight of ``layer`` drawn anew (LayerNorm scales near 1, biases non-zero), so that a formula that
    swaps or skips a part cannot agree by accident."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        noise = rng.standard_normal(tuple(weight.shape)).astype("float32") * 0.3
        weight.assign(noise + 1.0 if "gamma" in weight.path else noise)


def _independent_block_parts(block, x, activation):
    """Fresh Keras layers holding the block's weights: MultiHeadAttention, the two Dense, the two LayerNorms."""
    heads = block.num_heads
    attention = keras.layers.MultiHeadAttention(heads, x.shape[-1] // heads)
    attention(x, x)
    attention.set_weights([keras.ops.convert_to_numpy(w) for w in block.attention.weights])
    hidden, out = keras.layers.Dense(block.ff_dim, activation=activation), keras.layers.Dense(x.shape[-1])
    hidden.build(x.shape)
    out.build((*x.shape[:-1], block.ff_dim))
    hidden.set_weights(block.feed_forward.layers[0].get_weights())
    out.set_weights(block.feed_forward.layers[1].get_weights())
    norms = []
    for source in (block.norm1, block.norm2):
        norm = keras.layers.LayerNormalization(epsilon=1e-6)
        norm.build(x.shape)
        norm.set_weights(source.get_weights())
        norms.append(norm)
    return attention, (lambda h: out(hidden(h))), norms


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_equals_its_formula_from_independent_keras_layers(norm_first):
    x = np.random.default_rng(4).standard_normal((2, 5, 8)).astype("float32") * 3 + 1
    block = TransformerEncoderBlock(2, 16, norm_first=norm_first)
    block(x)
    _randomise(block, 5)
    attention, feed_forward, (norm1, norm2) = _independent_block_parts(block, x, "relu")
    if norm_first:           # x + MHA(LN1(x)), then + FF(LN2(·)): the output is not normalised
        h = keras.ops.add(x, attention(norm1(x), norm1(x)))
        expected = h + feed_forward(norm2(h))
    else:                    # LN1(x + MHA(x)), then LN2(· + FF(·))
        h = norm1(keras.ops.add(x, attention(x, x)))
        expected = norm2(h + feed_forward(h))
    out = keras.ops.convert_to_numpy(block(x))
    assert np.abs(out - keras.ops.convert_to_numpy(expected)).max() <= 1e-5
    if not norm_first:       # post-norm ends with LayerNorm: undo its scale and shift, zero mean and unit variance
        gamma, beta = (keras.ops.convert_to_numpy(w) for w in (block.norm2.gamma, block.norm2.beta))
        normalised = (out - beta) / gamma
        np.testing.assert_allclose(normalised.mean(-1), 0, atol=1e-4)
        np.testing.assert_allclose(normalised.std(-1), 1, atol=1e-3)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_round_trip(norm_first, tmp_path):
    x = np.random.default_rng(4).standard_normal((2, 5, 8)).astype("float32") * 3 + 1
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, TransformerEncoderBlock(2, 16, norm_first=norm_first)(inputs))
    model.save(tmp_path / "block.keras")
    loaded = keras.models.load_model(tmp_path / "block.keras")
    assert loaded.layers[-1].norm_first is norm_first
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="norm_first must be True or False, got 1"):
        TransformerEncoderBlock(2, 16, norm_first=1)


def test_multi_head_attention_dropout_acts_on_the_weights_like_keras():
    """training=True drops attention weights (scaled by 1 / (1 - rate)); Keras' explicit path does the same.
    Over many independent draws (a batch of copies) both have the inference output as mean and the variance
    that dropping each weight independently gives."""
    rate, copies = 0.4, 4000
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(6)
    query, value = rng.standard_normal((1, 3, 6)).astype("float32"), rng.standard_normal((1, 5, 6)).astype("float32")
    query, value = np.repeat(query, copies, axis=0), np.repeat(value, copies, axis=0)
    reference, ours = keras.layers.MultiHeadAttention(2, 4, dropout=rate), MultiHeadAttention(2, 4, dropout=rate)
    reference(query[:1], value[:1])
    ours(query[:1], value[:1])
    ours.load_keras_weights(reference)
    inference, weights = (keras.ops.convert_to_numpy(t) for t in
                          ours(query[:1], value[:1], return_attention_scores=True, training=False))
    np.testing.assert_allclose(inference, keras.ops.convert_to_numpy(reference(query[:1], value[:1])), atol=1e-5)
    # Var(out_o) = rate / (1 - rate) · Σ_h Σ_j w_hj² a_hjo², a_hjo: value j of head h through the output kernel
    projected = np.einsum("tf,fhd->htd", value[0], keras.ops.convert_to_numpy(ours.value_kernel)) \
        + keras.ops.convert_to_numpy(ours.value_bias)[:, None]
    through = np.einsum("hjd,hdo->hjo", projected, keras.ops.convert_to_numpy(ours.output_kernel))
    variance = rate / (1 - rate) * np.einsum("hqj,hjo->qo", weights[0] ** 2, through**2)
    draws = {}
    for name, layer in (("ours", ours), ("keras", reference)):
        draws[name] = keras.ops.convert_to_numpy(layer(query, value, training=True))
        assert np.abs(draws[name] - inference).max() > 0.1, f"{name}: training=True must drop weights"
        np.testing.assert_allclose(draws[name].mean(0), inference[0], atol=5 * np.sqrt(variance.max() / copies))
        np.testing.assert_allclose(draws[name].var(0), variance, rtol=0.15)
    np.testing.assert_allclose(draws["ours"].var(0), draws["keras"].var(0), rtol=0.2)
    rows = draws["ours"].reshape(copies, -1)
    assert len(np.unique(rows.round(5), axis=0)) > copies // 10, "every copy draws its own mask"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(query[:2], value[:2], training=False)),
                               np.repeat(inference, 2, axis=0), atol=1e-6)        # inference: no dropout


def test_scaled_embedding_stays_dense_in_an_encoder_block():
    """Keras marks KerasTensor * scalar as sparse (notebook 06 scales its embedding with Rescaling instead)."""
    tokens = keras.Input((5,), dtype="int32")
    scaled = keras.layers.Rescaling(2.0)(keras.layers.Embedding(10, 8)(tokens))
    assert not scaled.sparse
    hidden = TransformerEncoderBlock(2, 16)(scaled)
    assert tuple(hidden.shape) == (None, 5, 8)
