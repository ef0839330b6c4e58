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
    with pytest.raises(ValueError, match="score must be one of"):
        Seq2SeqAttention("cosine")
    with pytest.raises(ValueError, match="needs equal query and key sizes"):
        Seq2SeqAttention("dot")(query, keys[..., :5])


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def _softmax(scores):
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _score_inputs(query_dim=8, key_dim=8, t_out=3, t_in=7):
    rng = np.random.default_rng(11)
    return (rng.standard_normal((2, t_out, query_dim)).astype("float32"),
            rng.standard_normal((2, t_in, key_dim)).astype("float32"))


def test_general_score_is_s_w_h_and_differs_from_dot():
    query, keys = _score_inputs()
    general, dot = Seq2SeqAttention("general"), Seq2SeqAttention("dot")
    general(query, keys)
    w = numpy(general.w)
    assert np.abs(w - np.eye(8)).max() > 0.1, "glorot init: W is not the identity"
    np.testing.assert_allclose(numpy(general.scores(query, keys)), query @ w @ keys.transpose(0, 2, 1), atol=1e-5)
    dot_scores = numpy(dot.scores(query, keys))
    np.testing.assert_allclose(dot_scores, query @ keys.transpose(0, 2, 1), atol=1e-5)
    assert np.abs(numpy(general.scores(query, keys)) - dot_scores).max() > 0.1, "general must use W"
    general.w.assign(np.eye(8, dtype="float32"))           # W = I: Luong general is Luong dot
    np.testing.assert_allclose(numpy(general.scores(query, keys)), dot_scores, atol=1e-5)


def test_concat_score_is_additive_with_stacked_w():
    """concat: e = vᵀ tanh(W [s_t; h_i]); additive: vᵀ tanh(W1 h_i + W2 s_t). Equal for W = [W2; W1]
    (in the layer's column-vector layout: the query rows W2 on top of the key rows W1)."""
    query, keys = _score_inputs(query_dim=8, key_dim=8)     # equal sizes: a wrong stacking still fits
    concat, additive = Seq2SeqAttention("concat", units=5), Seq2SeqAttention("additive", units=5)
    concat(query, keys)
    additive(query, keys)
    additive.set_weights(concat.get_weights())
    w1, w2, v = numpy(concat.w_keys), numpy(concat.w_query), numpy(concat.v)
    pairs = np.concatenate([np.broadcast_to(query[:, :, None], (2, 3, 7, 8)),
                            np.broadcast_to(keys[:, None], (2, 3, 7, 8))], axis=-1)   # [s_t; h_i]
    expected = np.tanh(pairs @ np.concatenate([w2, w1], axis=0)) @ v
    np.testing.assert_allclose(numpy(concat.scores(query, keys)), expected, atol=1e-5)
    np.testing.assert_allclose(numpy(additive.scores(query, keys)), expected, atol=1e-5)
    additive_formula = np.tanh((keys @ w1)[:, None] + (query @ w2)[:, :, None]) @ v
    np.testing.assert_allclose(expected, additive_formula, atol=1e-5)
    wrong_order = np.tanh(pairs @ np.concatenate([w1, w2], axis=0)) @ v
    assert np.abs(wrong_order - expected).max() > 1e-2, "the stacking order matters"


def test_hard_alignment_is_one_hot_at_the_soft_argmax():
    query, keys = _score_inputs(t_in=9)
    mask = np.arange(9)[None] < np.array([9, 4])[:, None]
    hard = Seq2SeqAttention(alignment="hard")
    _, soft_w = hard(query, keys, mask=mask, training=True)
    context, hard_w = hard(query, keys, mask=mask, training=False)
    soft_w, hard_w = numpy(soft_w), numpy(hard_w)
    assert not set(np.unique(soft_w)) <= {0.0, 1.0}, "training: the soft weights"
    assert set(np.unique(hard_w)) == {0.0, 1.0}, "inference: only zeros and ones"
    assert np.all((hard_w == 1).sum(-1) == 1), "exactly one position per step"
    np.testing.assert_array_equal(hard_w.argmax(-1), soft_w.argmax(-1))
    assert np.all(hard_w[1, :, 4:] == 0), "never a padded position"
    np.testing.assert_allclose(numpy(context), np.take_along_axis(keys, hard_w.argmax(-1)[..., None], 1), atol=1e-6)


@pytest.mark.parametrize("window", [2, 4])
def test_local_p_weights_are_soft_weights_times_a_gaussian_at_the_predicted_centre(window):
    """Local-p: α = softmax(e) · exp(-(i - p_t)² / (2σ²)), σ = window / 2, p_t = S · sigmoid(v_pᵀ tanh(W_p s_t))."""
    rng = np.random.default_rng(7)
    t_in = 40
    query = rng.standard_normal((2, 4, 6)).astype("float32")
    keys = rng.standard_normal((2, t_in, 6)).astype("float32")
    mask = np.arange(t_in)[None] < np.array([t_in, 25])[:, None]
    local = Seq2SeqAttention("additive", alignment="local", units=5, window=window)
    local(query, keys, mask=mask)
    local.v_p.assign(rng.standard_normal(5).astype("float32") * 2)      # centres spread over the source
    soft = Seq2SeqAttention("additive", alignment="soft", units=5)
    soft(query, keys, mask=mask)
    soft.set_weights([numpy(w) for w in (local.w_keys, local.w_query, local.v)])
    context, local_w = (numpy(t) for t in local(query, keys, mask=mask))
    soft_w = numpy(soft(query, keys, mask=mask)[1])

    lengths = mask.sum(-1)[:, None]
    centre = lengths * _sigmoid(np.tanh(query @ numpy(local.w_p)) @ numpy(local.v_p))    # (batch, T_out)
    assert centre.std() > 1.0, "the test needs centres at different places"
    sigma = window / 2.0
    for b in range(2):
        for t in range(4):
            valid = np.flatnonzero(mask[b])
            # the window's shape: log(local / soft) is the parabola -(i - p_t)² / (2σ²), peak at p_t
            near = valid[np.abs(valid - centre[b, t]) <= 3 * sigma]    # where the ratio is well above rounding
            log_ratio = np.log(local_w[b, t, near]) - np.log(soft_w[b, t, near])
            a, b1, c = np.polyfit(near, log_ratio, 2)
            np.testing.assert_allclose(-1.0 / (2 * a), sigma**2, rtol=1e-3)          # width: σ = window / 2
            np.testing.assert_allclose(-b1 / (2 * a), centre[b, t], atol=1e-3)       # centred at p_t
            np.testing.assert_allclose(c - b1**2 / (4 * a), 0.0, atol=1e-3)          # peak value 1: exp(0)
            far = np.abs(valid - centre[b, t]) > 4 * sigma
            assert far.any() and local_w[b, t, valid[far]].max() <= np.exp(-8.0), "outside the window: ~0"
    gaussian = np.exp(-(np.arange(t_in)[None, None] - centre[..., None]) ** 2 / (2 * sigma**2))
    np.testing.assert_allclose(local_w, soft_w * gaussian, atol=1e-6)
    assert np.all(local_w[1, :, 25:] == 0)
    np.testing.assert_allclose(context, local_w @ keys, atol=1e-5)


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


def test_attention_decoder_input_feeding_feeds_the_previous_attentional_vector():
    """query='current': with input_feeding the GRU also reads h̃_{t-1} (zero at t = 0); without, it does not."""
    from helpers.layers import AttentionDecoder
    embedded, states, initial, mask = _decoder_inputs()
    fed = AttentionDecoder(8, "additive", input_feeding=True, attention_units=4)
    plain = AttentionDecoder(8, "additive", input_feeding=False, attention_units=4)
    fed(embedded, states, initial, mask=mask)
    plain(embedded, states, initial, mask=mask)
    assert tuple(fed.cell.kernel.shape) == (5 + 8, 24) and tuple(plain.cell.kernel.shape) == (5, 24)
    weights = [numpy(w) for w in fed.weights]
    kernel_index = next(i for i, w in enumerate(fed.weights) if w is fed.cell.kernel)
    plain_weights = list(weights)
    plain_weights[kernel_index] = weights[kernel_index][:5]      # the same GRU, minus the rows that read h̃_{t-1}
    plain.set_weights(plain_weights)
    out_fed, w_fed = (numpy(t) for t in fed(embedded, states, initial, mask=mask))
    out_plain, w_plain = (numpy(t) for t in plain(embedded, states, initial, mask=mask))
    np.testing.assert_allclose(out_fed[:, 0], out_plain[:, 0], atol=1e-6)   # h̃_{-1} = 0: step 0 is the same
    assert np.abs(out_fed[:, 1:] - out_plain[:, 1:]).max() > 1e-3, "later steps read h̃_{t-1}"
    assert np.abs(w_fed[:, 1:] - w_plain[:, 1:]).max() > 1e-4
    weights[kernel_index][5:] = 0.0                               # feed rows zeroed: nothing else differs
    fed.set_weights(weights)
    np.testing.assert_allclose(numpy(fed(embedded, states, initial, mask=mask)[0]), out_plain, atol=1e-6)


def test_attention_decoder_query_order():
    """'previous' (Bahdanau): s_{t-1} asks before the GRU steps, and the GRU reads c_t; 'current' (Luong):
    the GRU steps first and s_t asks."""
    from helpers.layers import AttentionDecoder
    embedded, states, initial, mask = _decoder_inputs()
    changed = embedded.copy()
    changed[:, 0] += 2.0                                          # a different first input character
    for query in ("previous", "current"):
        decoder = AttentionDecoder(8, "additive", query=query, attention_units=4)
        _, weights = (numpy(t) for t in decoder(embedded, states, initial, mask=mask))
        _, weights_changed = (numpy(t) for t in decoder(changed, states, initial, mask=mask))
        first_step = numpy(decoder.attention(initial[:, None], states, mask=mask)[1])[:, 0]
        if query == "previous":                                   # step 0's query is the initial state itself
            assert tuple(decoder.cell.kernel.shape) == (5 + 6, 24), "the GRU reads x_t and c_t"
            np.testing.assert_allclose(weights[:, 0], first_step, atol=1e-6)
            np.testing.assert_allclose(weights_changed[:, 0], weights[:, 0], atol=1e-6)
        else:                                                     # step 0's query is the GRU's state after x_0
            assert np.abs(weights[:, 0] - first_step).max() > 1e-4
            assert np.abs(weights_changed[:, 0] - weights[:, 0]).max() > 1e-4
        assert np.abs(weights_changed[:, 1] - weights[:, 1]).max() > 1e-4


def test_attention_decoder_rejects_what_it_would_ignore():
    from helpers.layers import AttentionDecoder
    with pytest.raises(ValueError, match="input_feeding=False has no effect with query='previous'"):
        AttentionDecoder(8, query="previous", input_feeding=False)
    with pytest.raises(ValueError, match="score=None, query='previous'"):
        AttentionDecoder(8, score=None, query="previous")


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
