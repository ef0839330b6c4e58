"""Tests of helpers.layers.reweighting (notebooks 02-03)."""

import keras
import numpy as np
import pytest

from helpers.layers import DimensionAttention, TimestepAttention

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


def test_attention_pooling_is_a_weighted_sum_with_a_learned_query():
    from helpers.layers import AttentionPooling
    layer = AttentionPooling(key_dim=4)
    pooled, weights = (keras.ops.convert_to_numpy(t) for t in layer(X, return_attention_scores=True))
    keys = X @ keras.ops.convert_to_numpy(layer.w_key)
    scores = keys @ keras.ops.convert_to_numpy(layer.query) / 2.0
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-6)
    np.testing.assert_allclose(pooled, np.einsum("bt,btf->bf", expected, X), atol=1e-6)
    assert pooled.shape == (4, 3)


def test_attention_pooling_ignores_padding_and_round_trips(tmp_path):
    from helpers.layers import AttentionPooling
    padded = np.concatenate([X, np.full((4, 2, 3), 9.0, "float32")], axis=1)
    mask = np.arange(8)[None] < 6
    layer = AttentionPooling(key_dim=4)
    short = keras.ops.convert_to_numpy(layer(X))
    long, weights = layer(padded, mask=np.repeat(mask, 4, axis=0), return_attention_scores=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(long), short, atol=1e-6)
    assert np.all(keras.ops.convert_to_numpy(weights)[:, 6:] == 0)
    inputs = keras.Input((6, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(AttentionPooling(key_dim=5)(inputs)))
    model.save(tmp_path / "pool.keras")
    loaded = keras.models.load_model(tmp_path / "pool.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="key_dim"):
        AttentionPooling(key_dim=0)
    with pytest.raises(ValueError, match=r"AttentionPooling needs inputs of shape \(batch, T, features\)"):
        AttentionPooling()(np.zeros((2, 3), "float32"))
