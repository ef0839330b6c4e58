"""Tests of helpers.layers.serving (notebook 11): the pure decoder step and its compiled form, the counts behind
the roofline, the paged cache with shared prefixes, greedy speculative decoding; and of top-p (helpers.layers.
decoding) and the date sequences (helpers.data) that notebook 11 adds."""

import numpy as np
import pytest
from keras import ops

import helpers
from helpers.layers import (DecoderOnlyTransformer, PagedKVCache, compile_step, decoder_step, decoder_weights,
                            generate, greedy_generate, new_static_cache, next_token, speculative_generate,
                            step_counts, top_p_keep, weight_bytes)

RNG = np.random.default_rng(0)
IDS = RNG.integers(1, 20, (3, 12)).astype("int32")


def numpy(x):
    return ops.convert_to_numpy(x)


def model(dim=16, heads=4, layers=2, seed=0, vocab=20, max_length=40):
    helpers.set_seed(seed)
    decoder = DecoderOnlyTransformer(vocab, max_length, model_dim=dim, num_heads=heads, ff_dim=2 * dim,
                                     num_layers=layers)
    decoder(IDS)
    rng = np.random.default_rng(seed + 1)       # weights large enough that greedy choices are not near ties
    for weight in decoder.weights:
        weight.assign(rng.standard_normal(tuple(weight.shape)).astype("float32") * 0.5)
    return decoder


@pytest.mark.parametrize("compiled", [False, True])
def test_step_equals_the_model_full_and_cached(compiled):
    decoder = model()
    weights = decoder_weights(decoder)
    step = compile_step()[0] if compiled else decoder_step
    full = numpy(decoder(IDS))
    keys, values = new_static_cache(weights, 3, 12)
    logits, _, _ = step(weights, IDS, keys, values, np.asarray(0, "int32"))
    assert np.abs(numpy(logits) - full).max() < 1e-4
    keys, values = new_static_cache(weights, 3, 20)
    logits, keys, values = step(weights, IDS[:, :7], keys, values, np.asarray(0, "int32"))
    pieces = [numpy(logits)]
    for position in range(7, 12):
        logits, keys, values = step(weights, IDS[:, position:position + 1], keys, values,
                                    np.asarray(position, "int32"))
        pieces.append(numpy(logits))
    assert np.abs(np.concatenate(pieces, axis=1) - full).max() < 1e-4
    # one start per row: rows at different positions
    keys, values = new_static_cache(weights, 3, 20)
    _, keys, values = step(weights, IDS[:, :7], keys, values, np.zeros(3, "int32"))
    logits, _, _ = step(weights, IDS[:, 7:10], keys, values, np.full(3, 7, "int32"))
    assert np.abs(numpy(logits) - full[:, 7:10]).max() < 1e-4


def test_per_row_write_copies_exactly_and_keeps_the_rest():
    weights = decoder_weights(model())
    keys, values = new_static_cache(weights, 3, 20)
    _, keys, values = decoder_step(weights, IDS[:, :8], keys, values, np.zeros(3, "int32"))
    before = [numpy(k) for k in keys]
    starts = np.array([8, 5, 2], "int32")              # rows overwrite different positions
    _, after, _ = decoder_step(weights, IDS[:, :2], keys, values, starts)
    for old, new in zip(before, after):
        new = numpy(new)
        for row, start in enumerate(starts):
            untouched = np.ones(20, bool)
            untouched[start:start + 2] = False
            assert np.array_equal(new[row][:, untouched], old[row][:, untouched])
            assert not np.array_equal(new[row][:, start:start + 2], np.zeros_like(new[row][:, start:start + 2]))


def test_weights_and_counts():
    decoder = model(dim=16, heads=4, layers=2)
    weights = decoder_weights(decoder)
    assert weight_bytes(weights) == 4 * decoder.count_params()
    decode = step_counts(weights, context=9)
    prefill = step_counts(weights, context=0, new_tokens=10)
    assert decode["bytes"] == decode["weight_bytes"] + decode["cache_bytes"]
    assert decode["intensity"] < prefill["intensity"]
    batch = step_counts(weights, context=9, batch_size=8)
    assert batch["flops"] == 8 * decode["flops"] and batch["intensity"] > decode["intensity"]
    # matrices: per block 4 d² (attention) + 2 · d · 2d (feed-forward), plus the logits d · vocab
    matrices = 2 * (4 * 16 * 16 + 2 * 16 * 32) + 16 * 20
    attention = 2 * 2 * 10 * 16 * 2                      # 10 visible positions, 2 layers
    assert decode["flops"] == 2 * matrices + attention
    with pytest.raises(ValueError, match="new_tokens"):
        step_counts(weights, 3, new_tokens=0)
    with pytest.raises(ValueError, match="DecoderOnlyTransformer"):
        decoder_weights("not a model")


def test_paged_cache_gathers_forks_and_copies_on_write():
    pool = PagedKVCache(num_layers=2, num_heads=2, head_dim=3, block_size=4, num_blocks=8)
    rng = np.random.default_rng(1)
    data = {name: ([rng.standard_normal((2, n, 3)).astype("float32") for _ in range(2)],
                   [rng.standard_normal((2, n, 3)).astype("float32") for _ in range(2)]) for name, n in
            (("a", 10), ("b", 5))}
    for start in range(0, 10, 3):                          # interleaved appends: scattered blocks
        for name, (keys, values) in data.items():
            if start < keys[0].shape[1]:
                end = min(start + 3, keys[0].shape[1])
                pool.append(name, [k[:, start:end] for k in keys], [v[:, start:end] for v in values])
    assert pool.tables["a"] != sorted(pool.tables["a"]) or pool.tables["b"][0] < pool.tables["a"][-1]
    for name, (keys, values) in data.items():
        for layer in range(2):
            gathered_keys, gathered_values = pool.gather(name, layer)
            assert np.array_equal(gathered_keys, keys[layer]) and np.array_equal(gathered_values, values[layer])
    assert pool.blocks_in_use == 3 + 2
    pool.fork("a", "c", 8)                                 # shares a's first two blocks
    assert pool.tables["c"] == pool.tables["a"][:2] and pool.blocks_in_use == 5
    pool.append("c", [np.ones((2, 1, 3), "float32")] * 2, [np.ones((2, 1, 3), "float32")] * 2)
    assert pool.blocks_in_use == 6 and pool.lengths["c"] == 9
    assert np.array_equal(pool.gather("a", 0)[0], data["a"][0][0])      # the parent is unchanged
    pool.fork("a", "empty", 0)
    assert pool.gather("empty", 1)[0].shape == (2, 0, 3)
    with pytest.raises(ValueError, match="multiple of block_size"):
        pool.fork("a", "d", 5)
    with pytest.raises(ValueError, match="no sequence"):
        pool.fork("zzz", "d", 4)
    pool.free("a")
    assert pool.blocks_in_use == 5                         # b 2, c 3 (the two shared with a stay)
    full = PagedKVCache(1, 1, 1, block_size=1, num_blocks=1)
    with pytest.raises(ValueError, match="all in use"):
        full.append("x", [np.ones((1, 2, 1))], [np.ones((1, 2, 1))])


def test_speculative_equals_greedy_for_any_draft():
    target, draft = model(seed=0), model(dim=8, heads=2, layers=1, seed=5)
    target_weights = decoder_weights(target)
    step = compile_step()[0]
    capacity = IDS.shape[1] + 8 + 3 + 1                  # room for the longest draft: one capacity for every call
    greedy = greedy_generate(step, target_weights, IDS, 8, capacity=capacity)
    assert np.array_equal(greedy, generate(target, IDS, 8))
    assert np.array_equal(greedy_generate(step, target_weights, IDS, 8), greedy)     # the default: the least capacity
    for draft_length in (1, 3):
        for draft_model in (draft, target):               # a poor draft and a perfect one
            tokens, stats = speculative_generate(step, target_weights, decoder_weights(draft_model), IDS, 8,
                                                 draft_length, capacity=capacity)
            assert np.array_equal(tokens, greedy)
            assert 0.0 <= stats["acceptance_rate"] <= 1.0
        assert stats["acceptance_rate"] == 1.0            # the target as its own draft: every proposal accepted
        assert stats["rounds"] <= -(-7 // (draft_length + 1)) + 1


def test_speculative_bad_input():
    target = model()
    weights = decoder_weights(target)
    with pytest.raises(ValueError, match="max_length"):
        speculative_generate(decoder_step, weights, weights, IDS, 30, 2)
    with pytest.raises(ValueError, match="vocabulary"):
        speculative_generate(decoder_step, weights, decoder_weights(model(vocab=30)), IDS, 4, 2)
    with pytest.raises(ValueError, match="prompts"):
        speculative_generate(decoder_step, weights, weights, IDS[:, :1], 4, 2)
    with pytest.raises(ValueError, match="capacity must be an integer >= 19"):
        speculative_generate(decoder_step, weights, weights, IDS, 4, 2, capacity=18)
    with pytest.raises(ValueError, match="capacity must be an integer >= 16"):
        greedy_generate(decoder_step, weights, IDS, 4, capacity=12)


def test_top_p_keeps_the_smallest_set_reaching_p():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((200, 30)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    for p in (0.1, 0.5, 0.9, 0.999, 1.0):
        keep = top_p_keep(probs, p)
        mass = np.where(keep, probs, 0).sum(axis=-1)
        smallest = np.where(keep, probs, np.inf).min(axis=-1)
        assert (mass >= p - 1e-12).all() and (mass - smallest < p).all()
        assert (np.where(keep, -np.inf, probs).max(axis=-1) <= smallest).all()
    assert top_p_keep(np.array([[0.7, 0.2, 0.1]]), 0.5).tolist() == [[True, False, False]]
    assert top_p_keep(np.array([[0.5, 0.3, 0.2]]), 0.8).tolist() == [[True, True, False]]
    with pytest.raises(ValueError, match="top_p"):
        top_p_keep(probs, 0.0)
    # sampling with top-p never draws a token outside the kept set
    draws = np.stack([next_token(np.log(probs[:5]), 1.0, rng=np.random.default_rng(s), top_p=0.5) for s in range(50)])
    kept = top_p_keep(probs[:5], 0.5)
    assert all(kept[row, draws[:, row]].all() for row in range(5))
    with pytest.raises(ValueError, match="top_p"):
        next_token(np.log(probs[:2]), 1.0, rng=rng, top_p=1.5)


def test_date_sequences_match_notebook_08_layout():
    dates = helpers.data.get_date_sequences(50, seed=0)
    sep, n_source = dates["sep"], 29
    assert dates["vocab"] == sep + 1 and (dates["sequences"][:, n_source] == sep).all()
    assert np.array_equal(dates["sequences"][:, n_source + 1:], dates["targets"])
    assert ((dates["labels"] != 0).sum(axis=1) == 10).all()
    assert np.array_equal(dates["prompts"], dates["sequences"][:, :n_source + 1])
    with pytest.raises(ValueError, match="source_length"):
        helpers.data.get_date_sequences(50, seed=0, source_length=5)
