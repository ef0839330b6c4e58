"""Tests of helpers.layers.decoding (notebook 08)."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers.layers import (CausalSelfAttention, DecoderOnlyTransformer, KVCache, TransformerDecoderBlock, generate,
                            next_token)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 7, 8)).astype("float32")
IDS = RNG.integers(0, 11, (2, 12)).astype("int32")


def numpy(x):
    return ops.convert_to_numpy(x)


def small_model(**kwargs):
    settings = {"vocab_size": 11, "max_length": 16, "model_dim": 8, "num_heads": 2, "ff_dim": 12, "num_layers": 2}
    model = DecoderOnlyTransformer(**{**settings, **kwargs})
    model(IDS)
    return model


@pytest.mark.parametrize("heads, key_dim", [(1, 8), (2, 4), (4, 3)])
def test_causal_self_attention_equals_keras_with_causal_mask(heads, key_dim):
    reference = keras.layers.MultiHeadAttention(heads, key_dim)
    expected, expected_weights = reference(X, X, use_causal_mask=True, return_attention_scores=True)
    ours = CausalSelfAttention(heads, key_dim)
    ours(X)
    ours.load_keras_weights(reference)
    got, weights = ours(X, return_attention_scores=True)
    assert np.abs(numpy(got) - numpy(expected)).max() <= 1e-5
    assert np.abs(numpy(weights) - numpy(expected_weights)).max() <= 1e-6
    assert np.all(np.triu(numpy(weights)[0, 0], k=1) == 0.0), "no weight above the diagonal"


def test_causal_self_attention_never_looks_ahead():
    layer = CausalSelfAttention(2, 4)
    before = numpy(layer(X))
    changed = X.copy()
    changed[:, 4:] += 100.0                      # change the future of position 3
    after = numpy(layer(changed))
    assert np.abs(after[:, :4] - before[:, :4]).max() == 0.0
    assert np.abs(after[:, 4:] - before[:, 4:]).max() > 0.1


@pytest.mark.parametrize("chunks", [[7], [1] * 7, [3, 1, 1, 2], [2, 5]])
def test_call_cached_equals_full_attention(chunks):
    layer = CausalSelfAttention(2, 4)
    full = numpy(layer(X))
    keys = values = ops.zeros((3, 2, 9, 4))
    start, pieces = 0, []
    for size in chunks:
        out, keys, values = layer.call_cached(X[:, start:start + size], keys, values, start)
        pieces.append(numpy(out))
        start += size
    assert np.abs(np.concatenate(pieces, axis=1) - full).max() <= 1e-5


def test_model_cached_logits_equal_full_recomputation():
    model = small_model()
    full = numpy(model(IDS))
    cache = model.new_cache(batch_size=2)
    steps = [numpy(model.call_cached(IDS[:, :5], cache))]
    for t in range(5, IDS.shape[1]):
        steps.append(numpy(model.call_cached(IDS[:, t:t + 1], cache)))
    assert cache.length == IDS.shape[1]
    assert np.abs(np.concatenate(steps, axis=1) - full).max() <= 1e-5


@pytest.mark.parametrize("temperature, top_k", [(0.0, None), (1.0, None), (0.7, 3)])
def test_generate_same_tokens_with_and_without_cache(temperature, top_k):
    model = small_model()
    with_cache, logits_cached = generate(model, IDS[:, :6], 8, temperature=temperature, top_k=top_k, seed=1,
                                         return_logits=True)
    without, logits_full = generate(model, IDS[:, :6], 8, temperature=temperature, top_k=top_k, seed=1,
                                    use_cache=False, return_logits=True)
    assert with_cache.shape == (2, 8) and with_cache.dtype == np.int32
    np.testing.assert_array_equal(with_cache, without)
    assert np.abs(logits_cached - logits_full).max() <= 1e-5


def test_cache_shapes_and_bytes():
    model = small_model()
    cache = model.new_cache(batch_size=3, capacity=10)
    assert len(cache.keys) == 2 and tuple(cache.keys[0].shape) == (3, 2, 10, 4)
    assert cache.bytes_per_token == 2 * 2 * 2 * 4 * 4          # K and V × layers × heads × head_dim × float32
    assert cache.nbytes == cache.bytes_per_token * 3 * 10
    assert "length=0/10" in repr(cache)


def test_cache_misuse_raises_clear_errors():
    model = small_model()
    cache = model.new_cache(batch_size=2, capacity=6)
    with pytest.raises(ValueError, match="batch_size=2, got a batch of 3"):
        model.call_cached(np.zeros((3, 1), "int32"), cache)
    model.call_cached(IDS[:, :5], cache)
    with pytest.raises(ValueError, match="cache full: it holds 5 of capacity=6 positions and the step adds 2"):
        model.call_cached(IDS[:, 5:7], cache)
    assert cache.length == 5, "a refused step leaves the cache as it was"
    model.call_cached(IDS[:, 5:6], cache)
    with pytest.raises(ValueError, match="cache full"):
        model.call_cached(IDS[:, 6:7], cache)
    with pytest.raises(ValueError, match="cache must be a KVCache"):
        model.call_cached(IDS[:, :1], {"keys": []})
    with pytest.raises(ValueError, match="capacity must be an integer in \\[1, 16\\]"):
        model.new_cache(batch_size=2, capacity=17)
    with pytest.raises(ValueError, match="at least one new position"):
        KVCache(1, 1, 1, 1, 4).check_step(1, 0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        KVCache(1, 0, 1, 1, 4)


def test_model_rejects_bad_input_and_settings():
    model = small_model()
    with pytest.raises(ValueError, match="max_length=16"):
        model(np.zeros((1, 17), "int32"))
    with pytest.raises(ValueError, match="shape \\(batch, T\\)"):
        model(np.zeros((1, 4, 2), "int32"))
    with pytest.raises(ValueError, match="model_dim must be a multiple of num_heads=3"):
        DecoderOnlyTransformer(11, 16, model_dim=8, num_heads=3)
    with pytest.raises(ValueError, match="vocab_size"):
        DecoderOnlyTransformer(1, 16)
    with pytest.raises(ValueError, match="multiple of num_heads=3"):
        TransformerDecoderBlock(3, 8)(X)
    with pytest.raises(ValueError, match="CausalSelfAttention needs inputs"):
        CausalSelfAttention(2, 4)(np.zeros((2, 8), "float32"))
    with pytest.raises(ValueError, match="dropout"):
        TransformerDecoderBlock(2, 8, dropout=1.0)


def test_generate_rejects_bad_arguments():
    model = small_model()
    assert generate(model, IDS[:, :10], 7).shape == (2, 7), "10 + 7 - 1 = 16 positions are fed"
    with pytest.raises(ValueError, match="exceeds the model's max_length=16"):
        generate(model, IDS[:, :10], 8)
    with pytest.raises(ValueError, match="prompts must be integer ids"):
        generate(model, np.zeros((2, 3), "float32"), 2)
    with pytest.raises(ValueError, match="prompts must be integer ids"):
        generate(model, np.zeros((3,), "int32"), 2)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        generate(model, IDS[:, :3], 0)


def test_next_token_greedy_temperature_and_top_k():
    logits = np.array([[0.0, 3.0, 1.0, 2.0], [5.0, 0.0, 0.0, 4.9]], "float32")
    np.testing.assert_array_equal(next_token(logits), [1, 0])
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(next_token(logits, 5.0, top_k=1, rng=rng), [1, 0])
    draws = np.stack([next_token(logits, 1.0, top_k=2, rng=rng) for _ in range(400)])
    assert set(draws[:, 0]) == {1, 3} and set(draws[:, 1]) == {0, 3}
    cold = np.stack([next_token(logits, 0.05, rng=rng) for _ in range(200)])
    assert (cold[:, 0] == 1).all()
    hot = np.stack([next_token(logits, 100.0, rng=rng) for _ in range(400)])
    assert len(set(hot[:, 0])) == 4, "a high temperature flattens the distribution"
    with pytest.raises(ValueError, match="needs rng"):
        next_token(logits, 1.0)
    with pytest.raises(ValueError, match="top_k must be an integer in \\[1, 4\\]"):
        next_token(logits, 1.0, top_k=5, rng=rng)
    with pytest.raises(ValueError, match="temperature must be >= 0.0"):
        next_token(logits, -1.0, rng=rng)
    with pytest.raises(ValueError, match="logits must have shape"):
        next_token(logits[0])


def test_decoder_block_equals_its_pre_norm_formula_from_independent_keras_layers():
    """x + MHA_causal(LN1(x)), then + Dense(GELU(Dense(LN2(·)))), each part a fresh Keras layer holding the
    block's weights (all drawn anew, so a swapped or skipped part cannot agree by accident)."""
    block = TransformerDecoderBlock(2, 12)
    block(X)
    rng = np.random.default_rng(9)
    for weight in block.weights:
        noise = rng.standard_normal(tuple(weight.shape)).astype("float32") * 0.3
        weight.assign(noise + 1.0 if "gamma" in weight.path else noise)
    attention = keras.layers.MultiHeadAttention(2, 4)
    attention(X, X)
    attention.set_weights([numpy(w) for w in block.attention.weights])
    hidden, out = keras.layers.Dense(12, activation="gelu"), keras.layers.Dense(8)
    hidden.build(X.shape)
    out.build((*X.shape[:-1], 12))
    hidden.set_weights(block.feed_forward.layers[0].get_weights())
    out.set_weights(block.feed_forward.layers[1].get_weights())
    norm1, norm2 = keras.layers.LayerNormalization(epsilon=1e-6), keras.layers.LayerNormalization(epsilon=1e-6)
    for norm, source in ((norm1, block.norm1), (norm2, block.norm2)):
        norm.build(X.shape)
        norm.set_weights(source.get_weights())
    normed = norm1(X)
    h = ops.add(X, attention(normed, normed, use_causal_mask=True))
    expected = h + out(hidden(norm2(h)))
    assert np.abs(numpy(block(X)) - numpy(expected)).max() <= 1e-5
    keys = values = ops.zeros((3, 2, 7, 4))
    cached, _, _ = block.call_cached(ops.convert_to_tensor(X), keys, values, 0)
    assert np.abs(numpy(cached) - numpy(expected)).max() <= 1e-5


def test_token_ids_outside_the_vocabulary_are_refused():
    """On JAX an embedding lookup past the table returns NaN, and next_token turned a NaN row into token 0."""
    model = small_model()
    for bad in (11, -1):
        ids = IDS.copy()
        ids[1, 3] = bad
        with pytest.raises(ValueError, match=rf"ids must be token ids in \[0, 10\] \(vocab_size=11\), got \[{bad}\]"):
            model(ids)
        with pytest.raises(ValueError, match=rf"ids must be token ids in \[0, 10\].*got \[{bad}\]"):
            model.call_cached(ids[:, :5], model.new_cache(batch_size=2))
        with pytest.raises(ValueError, match=rf"prompts must be token ids in \[0, 10\].*got \[{bad}\]"):
            generate(model, ids[:, :5], 3)
        with pytest.raises(ValueError, match=rf"prompts must be token ids in \[0, 10\].*got \[{bad}\]"):
            generate(model, ids[:, :5], 3, use_cache=False)
    cache = model.new_cache(batch_size=2)
    with pytest.raises(ValueError, match="ids must be token ids"):
        model.call_cached(np.full((2, 1), 11, "int32"), cache)
    assert cache.length == 0, "a refused step leaves the cache as it was"
    assert np.isfinite(numpy(model(np.full((2, 3), 10, "int32")))).all(), "the largest id is fine"


def test_next_token_refuses_nan_logits():
    logits = np.array([[0.0, 3.0, 1.0], [np.nan, np.nan, np.nan]], "float32")
    rng = np.random.default_rng(0)
    for temperature in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"logits must be numbers \(-inf rules a token out\), got nan in "
                                             r"row\(s\) \[1\]"):
            next_token(logits, temperature, rng=rng)
    with pytest.raises(ValueError, match="got inf in row"):
        next_token(np.array([[0.0, np.inf]]))
    ruled_out = np.array([[-np.inf, 1.0, 2.0], [3.0, -np.inf, 0.0]], "float32")
    np.testing.assert_array_equal(next_token(ruled_out), [2, 0])
    draws = np.stack([next_token(ruled_out, 1.0, rng=rng) for _ in range(100)])
    assert (draws[:, 0] != 0).all() and (draws[:, 1] != 1).all(), "a -inf logit is never drawn"


def test_get_config_round_trips():
    for layer in (CausalSelfAttention(2, 4, dropout=0.1, name="a"), TransformerDecoderBlock(2, 12, 0.1, name="b")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    model = small_model(dropout=0.1)
    clone = DecoderOnlyTransformer.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


def test_keras_round_trip(tmp_path):
    model = small_model()
    path = tmp_path / "decoder.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert isinstance(reloaded, DecoderOnlyTransformer)
    np.testing.assert_array_equal(numpy(reloaded(IDS)), numpy(model(IDS)))
    np.testing.assert_array_equal(generate(reloaded, IDS[:, :4], 5), generate(model, IDS[:, :4], 5))

    inputs = keras.Input((7, 8))
    functional = keras.Model(inputs, TransformerDecoderBlock(2, 12)(inputs))
    functional.save(tmp_path / "block.keras")
    again = keras.models.load_model(tmp_path / "block.keras")
    np.testing.assert_array_equal(numpy(again(X)), numpy(functional(X)))
