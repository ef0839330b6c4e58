"""Tests of helpers.layers.translation (notebook 09): cross-attention, the encoder-decoder Transformer, cached
decoding, greedy decoding and beam search."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from helpers.layers import (CrossAttention, CrossAttentionDecoderBlock, DecodingState, EncoderDecoderTransformer,
                            beam_search, greedy_translate, sequence_logprob)

RNG = np.random.default_rng(0)
QUERY = RNG.standard_normal((3, 5, 8)).astype("float32")          # decoder states (batch, T, d)
ENCODED = RNG.standard_normal((3, 7, 8)).astype("float32")        # encoder states (batch, S, d)
MASK = np.ones((3, 7), bool)
MASK[1, 4:] = False
MASK[2, 1:] = False                                               # one source of a single character
SOURCE = RNG.integers(1, 9, (3, 7)).astype("int32")
SOURCE[1, 5:] = 0
START = 5


def numpy(x):
    return ops.convert_to_numpy(x)


def small_model(**kwargs):
    settings = {"source_vocab": 9, "target_vocab": 6, "source_length": 7, "target_length": 4, "model_dim": 8,
                "num_heads": 2, "ff_dim": 12, "num_encoder_layers": 1, "num_decoder_layers": 2}
    model = EncoderDecoderTransformer(**{**settings, **kwargs})
    model((SOURCE, np.full((3, 4), START, "int32")))
    rng = np.random.default_rng(3)            # weights large enough that the distributions are far from uniform
    for weight in model.weights:
        weight.assign(rng.standard_normal(tuple(weight.shape)).astype("float32") * 0.5)
    return model


def cross_pair(heads=2):
    reference = keras.layers.MultiHeadAttention(heads, 8 // heads)
    reference(QUERY, ENCODED)
    ours = CrossAttention(heads, 8 // heads)
    ours(QUERY, ENCODED)
    ours.load_keras_weights(reference)
    return reference, ours


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("explicit", [False, True])
def test_cross_attention_equals_keras_multi_head_attention(heads, masked, explicit):
    """Keras' explicit path (return_attention_scores=True) and its default path (ops.dot_product_attention)."""
    reference, ours = cross_pair(heads)
    mask = MASK if masked else None
    theirs = reference(QUERY, ENCODED, value_mask=mask, return_attention_scores=explicit)
    mine = ours(QUERY, ENCODED, source_mask=mask, return_attention_scores=explicit)
    if explicit:
        assert np.abs(numpy(theirs[1]) - numpy(mine[1])).max() <= 1e-6
        theirs, mine = theirs[0], mine[0]
    assert np.abs(numpy(theirs) - numpy(mine)).max() <= 1e-5


def test_cross_attention_gives_padding_zero_weight_and_has_no_causal_mask():
    _, ours = cross_pair()
    out, weights = ours(QUERY, ENCODED, source_mask=MASK, return_attention_scores=True)
    weights = numpy(weights)
    assert weights.shape == (3, 2, 5, 7)
    assert np.all(weights[np.broadcast_to(~MASK[:, None, None, :], weights.shape)] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert weights[0, :, 0, -1].min() > 0.0, "the first output position sees the last source position"
    changed = ENCODED.copy()
    changed[1, 4:] += 100.0                                      # only padded positions of source 1
    again = numpy(ours(QUERY, changed, source_mask=MASK))
    assert np.abs(again[1] - numpy(out)[1]).max() == 0.0


def test_call_projected_equals_call():
    _, ours = cross_pair()
    keys, values = ours.project_source(ENCODED)
    assert tuple(keys.shape) == (3, 2, 7, 4)
    out, weights = ours.call_projected(QUERY, keys, values, MASK)
    expected, expected_weights = ours(QUERY, ENCODED, source_mask=MASK, return_attention_scores=True)
    assert np.abs(numpy(out) - numpy(expected)).max() <= 1e-6
    assert np.abs(numpy(weights) - numpy(expected_weights)).max() <= 1e-6


def test_cross_attention_rejects_bad_masks():
    _, ours = cross_pair()
    with pytest.raises(ValueError, match=r"source_mask must have shape \(batch, S\) = \(3, 7\).*got \(3, 6\)"):
        ours(QUERY, ENCODED, source_mask=MASK[:, :6])
    empty = MASK.copy()
    empty[0] = False
    with pytest.raises(ValueError, match="source_mask has a row with no True entry"):
        ours(QUERY, ENCODED, source_mask=empty)


def test_decoder_block_is_causal_in_the_target_and_sees_the_whole_source():
    block = CrossAttentionDecoderBlock(2, 12)
    before, weights = block(QUERY, ENCODED, source_mask=MASK, return_attention_scores=True)
    assert tuple(weights.shape) == (3, 2, 5, 7)
    changed = QUERY.copy()
    changed[:, 3:] += 100.0                                      # the target's future of position 2
    after = numpy(block(changed, ENCODED, source_mask=MASK))
    assert np.abs(after[:, :3] - numpy(before)[:, :3]).max() == 0.0
    assert np.abs(after[:, 3:] - numpy(before)[:, 3:]).max() > 0.1
    moved = ENCODED.copy()
    moved[0, -1] += 10.0                                         # the last source character
    assert np.abs(numpy(block(QUERY, moved, source_mask=MASK))[0, 0] - numpy(before)[0, 0]).max() > 1e-3


def test_decoder_block_equals_its_formula_from_independent_keras_layers():
    """x + MHA_causal(LN1(x)); + MHA(LN3(·), encoded); + Dense(GELU(Dense(LN2(·)))), each a fresh Keras layer."""
    block = CrossAttentionDecoderBlock(2, 12)
    block(QUERY, ENCODED)
    rng = np.random.default_rng(9)
    for weight in block.weights:
        noise = rng.standard_normal(tuple(weight.shape)).astype("float32") * 0.3
        weight.assign(noise + 1.0 if "gamma" in weight.path else noise)
    self_mha, cross_mha = keras.layers.MultiHeadAttention(2, 4), keras.layers.MultiHeadAttention(2, 4)
    self_mha(QUERY, QUERY)
    cross_mha(QUERY, ENCODED)
    self_mha.set_weights([numpy(w) for w in block.self_attention.weights])
    cross_mha.set_weights([numpy(w) for w in block.cross_attention.weights])
    hidden, out = keras.layers.Dense(12, activation="gelu"), keras.layers.Dense(8)
    hidden.build(QUERY.shape)
    out.build((*QUERY.shape[:-1], 12))
    hidden.set_weights(block.feed_forward.layers[0].get_weights())
    out.set_weights(block.feed_forward.layers[1].get_weights())
    norms = []
    for source in (block.norm1, block.norm3, block.norm2):
        norm = keras.layers.LayerNormalization(epsilon=1e-6)
        norm.build(QUERY.shape)
        norm.set_weights(source.get_weights())
        norms.append(norm)
    normed = norms[0](QUERY)
    h = ops.add(QUERY, self_mha(normed, normed, use_causal_mask=True))
    h = h + cross_mha(norms[1](h), ENCODED, value_mask=MASK)
    expected = h + out(hidden(norms[2](h)))
    assert np.abs(numpy(block(QUERY, ENCODED, source_mask=MASK)) - numpy(expected)).max() <= 1e-5


def test_cached_decoding_equals_full_recomputation():
    model = small_model()
    targets = np.random.default_rng(1).integers(0, 6, (3, 4)).astype("int32")
    full = numpy(model((SOURCE, targets)))
    state = model.start_decoding(SOURCE)
    pieces = [numpy(model.call_cached(targets[:, :2], state))]
    pieces += [numpy(model.call_cached(targets[:, i:i + 1], state)) for i in (2, 3)]
    assert np.abs(np.concatenate(pieces, axis=1) - full).max() <= 1e-5
    assert state.cache.length == 4
    assert state.source_nbytes == 3 * 2 * 2 * 7 * 8 * 4     # batch × layers × (K, V) × S × model_dim × float32


def test_greedy_translate_takes_the_argmax_of_its_own_logits_and_reports_them():
    model = small_model()
    result = greedy_translate(model, SOURCE, 4, START)
    assert result.tokens.shape == (3, 4) and result.logits.shape == (3, 4, 6)
    np.testing.assert_array_equal(result.tokens, result.logits.argmax(axis=-1))
    inputs = np.concatenate([np.full((3, 1), START), result.tokens[:, :-1]], axis=1).astype("int32")
    assert np.abs(numpy(model((SOURCE, inputs))) - result.logits).max() <= 1e-5
    np.testing.assert_allclose(result.logprob, sequence_logprob(model, SOURCE, result.tokens, START), atol=1e-5)
    assert len(result.cross_weights) == 2 and result.cross_weights[0].shape == (3, 2, 4, 7)
    assert np.all(result.cross_weights[0][1, :, :, 5:] == 0.0), "padding gets no weight while decoding"


def test_beam_width_1_is_greedy_and_a_full_beam_finds_the_best_sequence():
    model = small_model()
    greedy = greedy_translate(model, SOURCE, 2, START)
    tokens, logprob = beam_search(model, SOURCE, 2, START, width=1)
    np.testing.assert_array_equal(tokens, greedy.tokens)
    np.testing.assert_allclose(logprob, greedy.logprob, atol=1e-5)
    # two steps and a beam as wide as the vocabulary keep every first token: beam search is exhaustive
    tokens, logprob = beam_search(model, SOURCE, 2, START, width=6)
    every = np.array(list(itertools.product(range(6), repeat=2)), "int32")
    for row in range(3):
        scores = sequence_logprob(model, np.repeat(SOURCE[row:row + 1], len(every), axis=0), every, START)
        np.testing.assert_array_equal(tokens[row], every[scores.argmax()])
        assert abs(logprob[row] - scores.max()) <= 1e-5
    assert (logprob >= greedy.logprob - 1e-5).all()


def test_decoding_state_reorder_follows_the_rows():
    model = small_model()
    state = model.start_decoding(SOURCE)
    model.call_cached(np.full((3, 1), START, "int32"), state)
    keys0 = numpy(state.cache.keys[0])
    state.reorder([2, 2, 0])
    np.testing.assert_array_equal(numpy(state.cache.keys[0]), keys0[[2, 2, 0]])
    np.testing.assert_array_equal(numpy(state.source_mask), SOURCE[[2, 2, 0]] != 0)


def test_model_rejects_bad_input_and_settings():
    model = small_model()
    with pytest.raises(ValueError, match=r"source_ids must be token ids in \[0, 8\].*got \[9\]"):
        model((np.full((1, 7), 9, "int32"), np.zeros((1, 4), "int32")))
    with pytest.raises(ValueError, match=r"target_ids: positions 0…4 do not fit: this model accepts 4"):
        model((SOURCE, np.zeros((3, 5), "int32")))
    with pytest.raises(ValueError, match="state must be a DecodingState"):
        model.call_cached(np.zeros((3, 1), "int32"), None)
    with pytest.raises(ValueError, match="model_dim must be a multiple of num_heads=3"):
        EncoderDecoderTransformer(9, 6, 7, 4, model_dim=8, num_heads=3)
    with pytest.raises(ValueError, match="width must be an integer"):
        beam_search(model, SOURCE, 2, START, width=0)
    with pytest.raises(ValueError, match="steps must be an integer"):
        greedy_translate(model, SOURCE, 5, START)
    with pytest.raises(ValueError, match="tokens must be integer ids of shape"):
        sequence_logprob(model, SOURCE, np.zeros(4, "int32"), START)
    state = model.start_decoding(SOURCE, capacity=2)
    model.call_cached(np.zeros((3, 2), "int32"), state)
    with pytest.raises(ValueError, match="cache full"):
        model.call_cached(np.zeros((3, 1), "int32"), state)
    assert isinstance(state, DecodingState)


def test_get_config_and_keras_round_trip(tmp_path):
    for layer in (CrossAttention(2, 4, name="a"), CrossAttentionDecoderBlock(2, 12, 0.1, name="b")):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    model = small_model(dropout=0.1)
    assert EncoderDecoderTransformer.from_config(model.get_config()).get_config() == model.get_config()
    model = small_model()
    targets = np.full((3, 4), START, "int32")
    path = tmp_path / "translator.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, EncoderDecoderTransformer)
    np.testing.assert_array_equal(numpy(reloaded((SOURCE, targets))), numpy(model((SOURCE, targets))))
    np.testing.assert_array_equal(greedy_translate(reloaded, SOURCE, 4, START).tokens,
                                  greedy_translate(model, SOURCE, 4, START).tokens)
