import keras
import numpy as np
import pytest

from helpers.layers import DimensionAttention, FeedForwardAttention, TimestepAttention

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
