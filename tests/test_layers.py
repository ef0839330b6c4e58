import keras
import numpy as np
import pytest

from helpers import layers as course_layers
from helpers.layers import (DimensionAttention, FeedForwardAttention, MultiHeadAttention, PositionEmbedding,
                            SelfAttention, TimestepAttention, TransformerEncoderBlock, positional_encoding,
                            scaled_dot_product_attention)

X = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")


def test_timestep_attention_weights_sum_to_one_over_time():
    out, weights = TimestepAttention()(X, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    assert weights.shape == X.shape
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), X * weights, atol=1e-6)


def test_dimension_attention_weights_sum_to_one_over_features():
    _, weights = DimensionAttention()(X, return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(weights).sum(axis=2), 1.0, atol=1e-6)


@pytest.mark.parametrize("layer_class,axis", [(TimestepAttention, 2), (DimensionAttention, 1)])
def test_single_attention_vector_shares_weights(layer_class, axis):
    _, weights = layer_class(single_attention_vector=True)(X, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    first = np.take(weights, [0], axis=axis)
    np.testing.assert_allclose(weights, np.broadcast_to(first, weights.shape), atol=1e-7)


def test_dimension_attention_equals_timestep_attention_on_transposed_inputs():
    timestep = TimestepAttention()
    dimension = DimensionAttention()
    transposed = np.transpose(X, (0, 2, 1))
    timestep(transposed)
    dimension(X)
    dimension.score.set_weights(timestep.score.get_weights())
    np.testing.assert_allclose(np.transpose(keras.ops.convert_to_numpy(timestep(transposed)), (0, 2, 1)),
                               keras.ops.convert_to_numpy(dimension(X)), atol=1e-7)


@pytest.mark.parametrize("layer_class", [TimestepAttention, DimensionAttention])
def test_keras_round_trip(layer_class, tmp_path):
    inputs = keras.Input((6, 3))
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(layer_class(single_attention_vector=True)(inputs)))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    assert loaded.layers[1].get_config()["single_attention_vector"] is True


def test_bad_arguments():
    with pytest.raises(ValueError, match="single_attention_vector must be True or False"):
        TimestepAttention(single_attention_vector=1)
    with pytest.raises(ValueError, match=r"needs inputs of shape \(batch, time_steps, input_dim\)"):
        TimestepAttention()(np.zeros((2, 5), "float32"))


def _padded(x, extra):
    padded = np.concatenate([x, np.random.default_rng(1).standard_normal((x.shape[0], extra, x.shape[2]))], axis=1)
    mask = np.concatenate([np.ones(x.shape[:2], bool), np.zeros((x.shape[0], extra), bool)], axis=1)
    return padded.astype("float32"), mask


def test_feed_forward_attention_is_a_weighted_sum():
    layer = FeedForwardAttention()
    context, weights = layer(X, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    w, b = (v.numpy() for v in layer.weights)
    expected_weights = np.exp(np.tanh(X @ w + b)[..., 0])
    expected_weights /= expected_weights.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(context), np.einsum("bt,btf->bf", weights, X), atol=1e-6)


def test_feed_forward_attention_ignores_masked_padding():
    layer = FeedForwardAttention()
    reference = keras.ops.convert_to_numpy(layer(X))
    padded, mask = _padded(X, 5)
    context, weights = layer(padded, mask=mask, return_attention_scores=True)
    assert np.abs(keras.ops.convert_to_numpy(context) - reference).max() <= 1e-6
    assert np.all(keras.ops.convert_to_numpy(weights)[:, X.shape[1]:] == 0)


def test_feed_forward_attention_takes_the_keras_mask():
    inputs = keras.Input((None, 3))
    pooled = FeedForwardAttention()(keras.layers.Masking(mask_value=0.0)(inputs))
    model = keras.Model(inputs, pooled)
    reference = model.predict(X, verbose=0)
    padded = np.concatenate([X, np.zeros((4, 7, 3), "float32")], axis=1)
    assert np.abs(model.predict(padded, verbose=0) - reference).max() <= 1e-6


def test_feed_forward_attention_round_trip(tmp_path):
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(FeedForwardAttention()(inputs)))
    model.save(tmp_path / "ffa.keras")
    loaded = keras.models.load_model(tmp_path / "ffa.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match=r"needs inputs of shape \(batch, time_steps, features\)"):
        FeedForwardAttention()(np.zeros((2, 3), "float32"))


def test_scaled_dot_product_attention_matches_numpy():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal(shape).astype("float32") for shape in ((2, 4, 8), (2, 6, 8), (2, 6, 5)))
    mask = np.ones((2, 1, 6), bool)
    mask[1, :, 4:] = False
    out, weights = (keras.ops.convert_to_numpy(t) for t in scaled_dot_product_attention(q, k, v, mask=mask))
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(8)
    scores = np.where(mask, scores, -np.inf)
    expected = np.exp(scores - scores.max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(out, expected @ v, atol=1e-5)
    assert np.all(weights[1, :, 4:] == 0)
    # a row that may see nothing gets zero weights and a zero output, never NaN
    out, all_masked = scaled_dot_product_attention(q, k, v, mask=np.zeros((2, 1, 6), bool))
    assert np.all(keras.ops.convert_to_numpy(all_masked) == 0) and np.all(keras.ops.convert_to_numpy(out) == 0)


@pytest.mark.parametrize("length,units", [(5, 4), (9, 16)])
def test_self_attention_equals_keras_attention(length, units):
    x = np.random.default_rng(length).standard_normal((3, length, 6)).astype("float32")
    mask = np.ones((3, length), bool)
    mask[1, length - 2:] = False
    mask[2, 3:] = False
    layer = SelfAttention(units)
    out, weights = layer(x, mask=mask, return_attention_scores=True)
    q, k, v = layer.query_dense(x), layer.key_dense(x), layer.value_dense(x)
    reference = keras.layers.Attention(use_scale=True)
    reference([q, v, k])
    reference.scale.assign(1 / np.sqrt(units))      # Keras learns the scale; start it at 1/sqrt(d)
    ref_out, ref_weights = reference([q, v, k], mask=[mask, mask], return_attention_scores=True)
    assert np.abs(keras.ops.convert_to_numpy(out) - keras.ops.convert_to_numpy(ref_out)).max() <= 1e-6
    assert np.abs(keras.ops.convert_to_numpy(weights) - keras.ops.convert_to_numpy(ref_weights)).max() <= 1e-6


def test_self_attention_round_trip_and_keras_mask(tmp_path):
    inputs = keras.Input((None,), dtype="int32")
    hidden = SelfAttention(8)(keras.layers.Embedding(10, 6, mask_zero=True)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(hidden)))
    tokens = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    unpadded = model.predict(tokens[:1, :3], verbose=0)
    np.testing.assert_allclose(model.predict(tokens, verbose=0)[:1], unpadded, atol=1e-6)
    model.save(tmp_path / "sa.keras")
    loaded = keras.models.load_model(tmp_path / "sa.keras")
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0), model.predict(tokens, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="units must be an integer >= 1, got 0"):
        SelfAttention(0)


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


def test_seq2seq_attention_variants():
    from helpers.layers import Seq2SeqAttention
    rng = np.random.default_rng(3)
    query, keys = rng.standard_normal((2, 3, 8)).astype("float32"), rng.standard_normal((2, 7, 8)).astype("float32")
    mask = np.arange(7)[None] < np.array([7, 4])[:, None]
    for score in Seq2SeqAttention.SCORES:
        context, weights = (keras.ops.convert_to_numpy(t) for t in Seq2SeqAttention(score)(query, keys, mask=mask))
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert np.all(weights[1, :, 4:] == 0)
        np.testing.assert_allclose(context, weights @ keys, atol=1e-5)
    hard = Seq2SeqAttention(alignment="hard")
    _, soft_w = hard(query, keys, mask=mask, training=True)
    _, hard_w = hard(query, keys, mask=mask, training=False)
    soft_w, hard_w = keras.ops.convert_to_numpy(soft_w), keras.ops.convert_to_numpy(hard_w)
    assert np.array_equal(hard_w.argmax(-1), soft_w.argmax(-1)) and np.all(hard_w.sum(-1) == 1)
    _, local_w = Seq2SeqAttention(alignment="local", window=2)(query, keys, mask=mask)
    assert np.all(keras.ops.convert_to_numpy(local_w).sum(-1) <= 1 + 1e-6)
    with pytest.raises(ValueError, match="score must be one of"):
        Seq2SeqAttention("cosine")
    with pytest.raises(ValueError, match="needs equal query and key sizes"):
        Seq2SeqAttention("dot")(query, keys[..., :5])


def _position_model(length=6, dim=4):
    keras.utils.set_random_seed(0)
    tokens = keras.Input((length,), dtype="int32")
    embedded = keras.layers.Embedding(10, dim, name="token_embedding")(tokens)
    hidden = PositionEmbedding(8, name="position_embedding")(embedded)
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(hidden))
    return keras.Model(tokens, outputs)


def test_position_embedding_weights_are_trainable_and_change_during_fit():
    model = _position_model()
    names = [w.path for w in model.trainable_weights]
    assert "position_embedding/embeddings" in names, names
    layer = model.get_layer("position_embedding")
    assert layer.count_params() == 8 * 4
    before = np.array(layer.embeddings)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, 10, (64, 6)), rng.standard_normal((64, 1)), epochs=2, verbose=0)
    assert np.abs(np.array(layer.embeddings) - before).max() > 1e-3, "the position weights must train"


def test_embedding_on_a_constant_is_not_learned():
    """Why the course needs PositionEmbedding: Embedding(n, d)(arange(n)) becomes a constant."""
    tokens = keras.Input((6,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4)(tokens)
    constant = keras.layers.Embedding(6, 4, name="position_embedding")(keras.ops.arange(6))
    model = keras.Model(tokens, keras.layers.Dense(1)(keras.layers.Flatten()(embedded + constant)))
    assert not any("position_embedding" in w.path for w in model.trainable_weights)


def test_position_embedding_adds_the_first_t_rows_and_round_trips(tmp_path):
    layer = PositionEmbedding(8)
    x = np.zeros((2, 5, 3), "float32")
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out, np.broadcast_to(np.array(layer.embeddings)[:5], (2, 5, 3)))
    model = _position_model()
    model.save(tmp_path / "pe.keras")
    loaded = keras.models.load_model(tmp_path / "pe.keras")
    probe = np.arange(6)[None] % 10
    np.testing.assert_allclose(loaded.predict(probe, verbose=0), model.predict(probe, verbose=0), atol=1e-6)


@pytest.mark.parametrize("kwargs, shape, match", [
    ({"max_length": 0}, (1, 2, 3), "max_length must be"),
    ({"max_length": 4}, (1, 5, 3), "at most 4"),
    ({"max_length": 4}, (1, 5), "needs inputs"),
])
def test_position_embedding_bad_input(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        PositionEmbedding(**kwargs)(np.zeros(shape, "float32"))
