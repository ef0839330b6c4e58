"""Tests of helpers.layers.self_attention (notebook 05)."""

import keras
import numpy as np
import pytest

from helpers.layers import (FeedForwardAttention, PositionEmbedding,
                            SelfAttention, scaled_dot_product_attention)

X = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")


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


def test_position_embedding_takes_any_length_in_a_functional_model():
    """Input((None,)): the symbolic length is unknown while the model is built (JAX cannot slice by it)."""
    tokens = keras.Input((None,), dtype="int32")
    hidden = PositionEmbedding(8)(keras.layers.Embedding(10, 4)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(2)(hidden))
    assert tuple(model.output.shape) == (None, None, 2)
    for length in (3, 8):
        assert keras.ops.convert_to_numpy(model(np.zeros((2, length), "int32"))).shape == (2, length, 2)


@pytest.mark.parametrize("kwargs, shape, match", [
    ({"max_length": 0}, (1, 2, 3), "max_length must be"),
    ({"max_length": 4}, (1, 5, 3), "at most 4"),
    ({"max_length": 4}, (1, 5), "needs inputs"),
])
def test_position_embedding_bad_input(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        PositionEmbedding(**kwargs)(np.zeros(shape, "float32"))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_masked_softmax_fits_the_dtype(dtype):
    """-1e9 overflows float16 to -inf, and an all -inf row has a NaN softmax: the masked value must fit."""
    from helpers.layers._common import large_negative, masked_softmax

    scores = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]], dtype=dtype)
    mask = np.array([[True, False, True], [False, False, False]])
    weights = keras.ops.convert_to_numpy(masked_softmax(scores, mask))
    assert weights.dtype == np.dtype(dtype)
    assert np.isfinite(weights).all(), weights
    assert np.isfinite(np.array(large_negative(dtype), dtype=dtype))
    assert weights[0, 1] == 0.0, "a masked score gets zero weight"
    np.testing.assert_allclose(weights[0, [0, 2]], np.exp([1.0, 3.0]) / np.exp([1.0, 3.0]).sum(), atol=1e-3)
    np.testing.assert_allclose(weights[1], 1 / 3, atol=1e-3)         # a row with no True entry: uniform
    q = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(dtype)
    out, all_masked = scaled_dot_product_attention(q, q, q, mask=np.zeros((2, 1, 3), bool))
    assert np.all(keras.ops.convert_to_numpy(all_masked) == 0) and np.all(keras.ops.convert_to_numpy(out) == 0)


def test_minus_1e9_is_minus_infinity_in_float16():
    """The failure the dtype-aware value avoids (what masked_softmax used to write)."""
    with np.errstate(over="ignore"):                # the overflow is the point: no RuntimeWarning in the log
        assert np.isneginf(np.float16(-1e9))
        scores = keras.ops.full((1, 3), -1e9, dtype="float16")
    assert np.isnan(keras.ops.convert_to_numpy(keras.ops.softmax(scores, axis=-1))).all()
