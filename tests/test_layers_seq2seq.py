"""Tests of helpers.layers.seq2seq (notebook 04)."""

import keras
import numpy as np
import pytest

from helpers.layers import Seq2SeqAttention

X = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")


def test_seq2seq_attention_variants():
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


def _decoder_inputs(batch=3, t_out=4, t_in=7, units=8):
    rng = np.random.default_rng(5)
    return (rng.standard_normal((batch, t_out, 5)).astype("float32"),
            rng.standard_normal((batch, t_in, 6)).astype("float32"),
            rng.standard_normal((batch, units)).astype("float32"),
            np.arange(t_in)[None] < np.array([7, 5, 3])[:, None])


@pytest.mark.parametrize("query,input_feeding", [("current", True), ("current", False), ("previous", True)])
def test_attention_decoder_is_causal_and_ignores_padding(query, input_feeding):
    from helpers.layers import AttentionDecoder
    embedded, states, initial, mask = _decoder_inputs()
    decoder = AttentionDecoder(8, "additive", query=query, input_feeding=input_feeding, attention_units=4)
    out, weights = (keras.ops.convert_to_numpy(t) for t in decoder(embedded, states, initial, mask=mask))
    assert out.shape == (3, 4, 8) and weights.shape == (3, 4, 7)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert np.all(weights[~np.broadcast_to(mask[:, None], weights.shape)] == 0)
    changed = embedded.copy()
    changed[:, 2:] += 1.0                                   # later inputs cannot change earlier outputs
    out2, _ = decoder(changed, states, initial, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out2)[:, :2], out[:, :2], atol=1e-6)
    junk = states.copy()
    junk[~mask] = 50.0                                      # nor can padded source positions
    out3, _ = decoder(embedded, junk, initial, mask=mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out3), out, atol=1e-5)


def test_attention_decoder_without_attention_round_trip_and_bad_input(tmp_path):
    from helpers.layers import AttentionDecoder
    embedded, states, initial, mask = _decoder_inputs()
    plain = AttentionDecoder(8, score=None)
    assert keras.ops.convert_to_numpy(plain(embedded, states, initial)).shape == (3, 4, 8)
    e, s, h = keras.Input((4, 5)), keras.Input((7, 6)), keras.Input((8,))
    out, _ = AttentionDecoder(8, "general", query="previous")(e, s, h)
    model = keras.Model([e, s, h], keras.layers.Dense(2)(out))
    model.save(tmp_path / "decoder.keras")
    loaded = keras.models.load_model(tmp_path / "decoder.keras")
    np.testing.assert_allclose(loaded.predict([embedded, states, initial], verbose=0),
                               model.predict([embedded, states, initial], verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="query must be one of"):
        AttentionDecoder(8, query="next")
    with pytest.raises(ValueError, match="initial_state must have units = 8"):
        AttentionDecoder(8)(embedded, states, initial[:, :5])


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="reads the gradient with tf.GradientTape; the forward check runs on every backend below")
def test_straight_through_alignment_is_one_hot_with_soft_gradients():
    import tensorflow as tf
    rng = np.random.default_rng(3)
    query = rng.standard_normal((2, 3, 4)).astype("float32")
    keys = tf.constant(rng.standard_normal((2, 5, 4)).astype("float32"))
    layer = Seq2SeqAttention("general", alignment="straight_through")
    with tf.GradientTape() as tape:
        tape.watch(keys)
        context, weights = layer(query, keys, training=True)
        loss = tf.reduce_sum(context)
    weights = keras.ops.convert_to_numpy(weights)
    assert set(np.unique(weights)) <= {0.0, 1.0} and np.all(weights.sum(-1) == 1)
    grad = tape.gradient(loss, layer.w)
    assert grad is not None and np.abs(grad.numpy()).max() > 0, "the scores get a gradient through the soft weights"


def test_straight_through_alignment_is_one_hot_on_every_backend():
    rng = np.random.default_rng(3)
    query = rng.standard_normal((2, 3, 4)).astype("float32")
    keys = rng.standard_normal((2, 5, 4)).astype("float32")
    _, weights = Seq2SeqAttention("general", alignment="straight_through")(query, keys, training=True)
    weights = keras.ops.convert_to_numpy(weights)
    assert set(np.unique(weights)) <= {0.0, 1.0} and np.all(weights.sum(-1) == 1)
