"""Tests of helpers.layers.efficient (notebook 10)."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers.layers import (GroupedQueryAttention, MultiHeadLatentAttention, apply_rope, causal_mask,
                            kv_cache_bytes_per_token, naive_attention, online_softmax, repeat_kv_heads,
                            rope_frequencies,
                            scaled_dot_product_attention, sliding_window_attention, sliding_window_mask,
                            tiled_attention, tiled_attention_2d)


def as_numpy(x):
    return ops.convert_to_numpy(x)


def max_diff(a, b):
    return float(np.abs(as_numpy(a) - as_numpy(b)).max())


GQA_CASES = {
    # name: (head_dim, query heads, kv heads, use_bias, T_q, T_k, cross, causal, attention mask, padding, window)
    "MQA": (8, 8, 1, True, 6, 6, False, False, False, False, None),
    "GQA": (8, 8, 2, True, 6, 6, False, False, False, False, None),
    "MHA": (8, 4, 4, True, 6, 6, False, False, False, False, None),
    "GQA causal": (4, 6, 3, True, 7, 7, False, True, False, False, None),
    "GQA attention mask, no bias": (4, 6, 2, False, 5, 7, True, False, True, False, None),
    "MQA padding on the values": (8, 4, 1, True, 7, 7, False, False, False, True, None),
    "GQA causal sliding window": (8, 4, 2, True, 9, 9, False, True, False, False, 3),
    "GQA two-sided sliding window": (8, 4, 2, True, 9, 9, False, False, False, False, 2),
    "MQA window of one": (8, 2, 1, True, 5, 5, False, True, False, False, 1),
}


@pytest.mark.parametrize("case", GQA_CASES)
@pytest.mark.parametrize("scores", [False, True])
def test_grouped_query_attention_equals_keras(case, scores):
    head_dim, q_heads, kv_heads, use_bias, tq, tk, cross, causal, with_mask, padding, window = GQA_CASES[case]
    rng = np.random.default_rng(len(case))
    query = rng.standard_normal((3, tq, 10)).astype("float32")
    value = rng.standard_normal((3, tk, 10)).astype("float32")
    key = rng.standard_normal((3, tk, 10)).astype("float32") if cross else None
    kwargs = {"use_causal_mask": causal}
    if with_mask:
        mask = rng.random((3, tq, tk)) > 0.4
        mask[..., 0] = True                           # every query sees a key (see the class docstring)
        kwargs["attention_mask"] = mask
    if padding:
        kwargs["value_mask"] = np.arange(tk)[None] < np.array([tk, tk - 2, 3])[:, None]
    reference = keras.layers.GroupQueryAttention(head_dim, q_heads, kv_heads, use_bias=use_bias,
                                                 sliding_window=window)
    ours = GroupedQueryAttention(head_dim, q_heads, kv_heads, use_bias=use_bias, sliding_window=window)
    expected = reference(query, value, key=key, return_attention_scores=scores, **kwargs)   # both Keras paths
    ours(query, value, key=key)
    ours.load_keras_weights(reference)
    got = ours(query, value, key=key, return_attention_scores=scores, **kwargs)
    for mine, theirs in zip(*((got, expected) if scores else ((got,), (expected,)))):
        assert mine.shape == theirs.shape
        assert max_diff(mine, theirs) <= 1e-5


def test_repeat_kv_heads_follows_keras_order_and_grouping_is_repeating():
    x = np.arange(2 * 3 * 4 * 5, dtype="float32").reshape(2, 3, 4, 5)
    repeated = as_numpy(repeat_kv_heads(x, 2))
    assert repeated.shape == (2, 6, 4, 5)
    for head in range(6):
        np.testing.assert_array_equal(repeated[:, head], x[:, head // 2])
    layer = GroupedQueryAttention(4, 6, 3)
    seq = np.random.default_rng(1).standard_normal((2, 5, 8)).astype("float32")
    _, weights = layer(seq, seq, return_attention_scores=True)
    q = ops.einsum("btf,fhd->bhtd", seq, layer.query_kernel) + layer.query_bias[:, None]
    k = repeat_kv_heads(ops.einsum("btf,fhd->bhtd", seq, layer.key_kernel) + layer.key_bias[:, None], 2)
    expected = ops.softmax(ops.matmul(q, ops.swapaxes(k, -1, -2)) / 2.0, axis=-1)
    assert max_diff(weights, expected) <= 1e-6


def test_grouped_query_attention_round_trip_and_bad_input(tmp_path):
    seq = np.random.default_rng(2).standard_normal((2, 6, 8)).astype("float32")
    inputs = keras.Input((6, 8))
    outputs = GroupedQueryAttention(4, 4, 2, sliding_window=3, rope=True, name="gqa")(inputs, inputs,
                                                                                      use_causal_mask=True)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "gqa.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert max_diff(model(seq), loaded(seq)) == 0.0
    assert loaded.get_layer("gqa").get_config()["rope"] is True
    tokens = keras.Input((None, 8))                                    # any length: symbolic shapes
    any_length = keras.Model(tokens, GroupedQueryAttention(4, 4, 2, sliding_window=2, rope=True)(tokens, tokens))
    assert any_length(seq[:, :5]).shape == (2, 5, 8)
    with pytest.raises(ValueError, match="num_query_heads .6. must be a multiple of num_key_value_heads .4."):
        GroupedQueryAttention(8, 6, 4)
    with pytest.raises(ValueError, match="sliding_window must be an integer >= 1"):
        GroupedQueryAttention(8, 4, 2, sliding_window=0)
    with pytest.raises(ValueError, match="rope=True needs an even head_dim"):
        GroupedQueryAttention(5, 4, 2, rope=True)
    with pytest.raises(ValueError, match="head_dim must be an integer >= 1"):
        GroupedQueryAttention(0, 4, 2)
    with pytest.raises(ValueError, match="query of shape"):
        GroupedQueryAttention(4, 2, 1)(seq[0], seq[0])
    with pytest.raises(ValueError, match="built keras.layers.GroupQueryAttention"):
        GroupedQueryAttention(4, 2, 1).load_keras_weights(keras.layers.MultiHeadAttention(2, 4))
    reference = keras.layers.GroupQueryAttention(4, 4, 2)
    reference(seq, seq)
    mismatched = GroupedQueryAttention(4, 4, 1)
    mismatched(seq, seq)
    with pytest.raises(ValueError, match="weight shapes differ"):
        mismatched.load_keras_weights(reference)


@pytest.mark.parametrize("causal", [False, True])
def test_grouped_query_attention_rope_equals_the_manual_apply_rope_path(causal):
    """rope=True: project, rotate queries and keys with apply_rope (positions 0 … T - 1), then attention with
    each key/value head repeated for its group of query heads, then the output projection."""
    seq = np.random.default_rng(8).standard_normal((2, 9, 10)).astype("float32")
    rotary, plain = GroupedQueryAttention(4, 6, 2, rope=True), GroupedQueryAttention(4, 6, 2)
    rotary(seq, seq)
    plain(seq, seq)
    plain.set_weights([as_numpy(w) for w in rotary.weights])
    got, weights = rotary(seq, seq, use_causal_mask=causal, return_attention_scores=True)

    def project(kernel, bias):
        return ops.einsum("btf,fhd->bhtd", seq, kernel) + bias[:, None]

    q = apply_rope(project(rotary.query_kernel, rotary.query_bias))
    k = repeat_kv_heads(apply_rope(project(rotary.key_kernel, rotary.key_bias)), 3)
    v = repeat_kv_heads(project(rotary.value_kernel, rotary.value_bias), 3)
    heads, expected_weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(9, 9)[None] if causal else None)
    expected = ops.einsum("bhtd,hdo->bto", heads, rotary.output_kernel) + rotary.output_bias
    assert max_diff(weights, expected_weights) <= 1e-6
    assert max_diff(got, expected) <= 1e-5
    unrotated = plain(seq, seq, use_causal_mask=causal)
    assert max_diff(got, unrotated) > 1e-2, "rope=False must differ: the rotation changes the scores"
    q0 = project(rotary.query_kernel, rotary.query_bias)
    assert max_diff(apply_rope(q0)[:, :, :1], q0[:, :, :1]) <= 1e-6, "position 0 is not rotated"


def test_kv_cache_bytes_per_token():
    assert kv_cache_bytes_per_token(32, 128, num_layers=32) == 2 * 32 * 32 * 128 * 2
    assert kv_cache_bytes_per_token(1, 128) == 512
    assert kv_cache_bytes_per_token(8, 64, bytes_per_value=4) == 2 * 8 * 64 * 4
    with pytest.raises(ValueError, match="num_key_value_heads"):
        kv_cache_bytes_per_token(0, 128)


def test_kv_cache_bytes_schemes_and_bad_input():
    from helpers import kv_cache_bytes
    assert kv_cache_bytes(32, 4096, n_kv_heads=32, head_dim=128) == 2 * 32 * 4096 * 32 * 128 * 2
    assert kv_cache_bytes(2, 10, latent_dim=6, dtype_bytes=4, batch=3) == 3 * 2 * 10 * 6 * 4
    full = kv_cache_bytes(6, 100, n_kv_heads=2, head_dim=4)
    assert kv_cache_bytes(6, 100, n_kv_heads=2, head_dim=4, window=200) == full           # window > context
    assert kv_cache_bytes(6, 100, n_kv_heads=2, head_dim=4, window=10) == full // 10
    # every 3rd layer (2 and 5 of 0-5) keeps 100 tokens, the other four keep 10
    assert kv_cache_bytes(6, 100, n_kv_heads=2, head_dim=4, window=10, full_attention_every=3) == \
        (2 * 100 + 4 * 10) * 2 * 2 * 4 * 2
    assert kv_cache_bytes(6, 100, n_kv_heads=2, head_dim=4, window=10, full_attention_every=1) == full
    for kwargs, message in (({"n_kv_heads": 2}, "together"), ({}, "together"),
                            ({"n_kv_heads": 2, "head_dim": 4, "latent_dim": 8}, "not both"),
                            ({"latent_dim": 8, "full_attention_every": 2}, "needs window"),
                            ({"latent_dim": 8, "window": 4, "full_attention_every": 3}, "exceeds n_layers"),
                            ({"latent_dim": 0}, "latent_dim"), ({"latent_dim": 8, "window": 0}, "window"),
                            ({"latent_dim": 8, "dtype_bytes": 0}, "dtype_bytes")):
        with pytest.raises(ValueError, match=message):
            kv_cache_bytes(2, 10, **kwargs)


def test_multi_head_latent_attention_absorbed_equals_plain_and_is_causal(tmp_path):
    layer = MultiHeadLatentAttention(num_heads=3, head_dim=4, latent_dim=5)
    x = np.random.default_rng(4).standard_normal((2, 7, 12)).astype("float32")
    plain, weights = layer(x, return_attention_scores=True)
    absorbed, absorbed_weights = layer(x, absorbed=True, return_attention_scores=True)
    assert np.abs(as_numpy(plain) - as_numpy(absorbed)).max() < 1e-5
    assert np.abs(as_numpy(weights) - as_numpy(absorbed_weights)).max() < 1e-6
    assert np.all(np.triu(as_numpy(weights), k=1) == 0)
    assert tuple(layer.latent(x).shape) == (2, 7, 5)
    changed = x.copy()
    changed[:, 4:] += 10.0
    assert np.array_equal(as_numpy(layer(changed))[:, :4], as_numpy(plain)[:, :4])        # causal
    path = tmp_path / "mla.keras"
    inputs = keras.Input((7, 12))
    keras.Model(inputs, layer(inputs)).save(path)
    reloaded = keras.models.load_model(path)
    assert np.abs(as_numpy(reloaded(x)) - as_numpy(plain)).max() < 1e-6
    with pytest.raises(ValueError, match="latent_dim"):
        MultiHeadLatentAttention(2, 4, 0)


def test_sliding_window_mask():
    band = as_numpy(sliding_window_mask(6, 6, 2))[0]
    assert band.sum(axis=1).tolist() == [2, 3, 3, 3, 3, 2]            # |i - j| < 2: three keys in the middle
    causal_band = as_numpy(sliding_window_mask(6, 6, 3, causal=True))[0]
    assert causal_band.sum(axis=1).tolist() == [1, 2, 3, 3, 3, 3]     # keys i-2 … i
    np.testing.assert_array_equal(as_numpy(sliding_window_mask(5, 5, 5, causal=True))[0],
                                  as_numpy(causal_mask(5, 5))[0])      # a window >= T is the causal mask
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        sliding_window_mask(4, 4, 0)
    with pytest.raises(ValueError, match="causal must be True or False"):
        sliding_window_mask(4, 4, 2, causal=1)


@pytest.mark.parametrize("depth, length", [(16, 64), (64, 512), (128, 1024)])
def test_rope_scores_depend_on_the_offset_only(depth, length):
    rng = np.random.default_rng(depth)
    q = rng.standard_normal(depth).astype("float32")
    k = rng.standard_normal(depth).astype("float32")
    queries = as_numpy(apply_rope(np.tile(q, (length, 1))))
    keys = as_numpy(apply_rope(np.tile(k, (length, 1))))
    scores = queries @ keys.T / np.sqrt(depth)                        # [m, n]: query at m, key at n
    spread = max(np.ptp(np.diagonal(scores, offset)) for offset in range(-length + 1, length))
    assert spread <= 1e-5
    assert np.ptp(scores) > 0.1                                       # and it does depend on the offset


def test_rope_rotates_without_changing_lengths_and_position_zero_is_identity():
    x = np.random.default_rng(3).standard_normal((2, 3, 10, 8)).astype("float32")
    rotated = as_numpy(apply_rope(x))
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_allclose(rotated[..., 0, :], x[..., 0, :], atol=1e-7)
    shifted = as_numpy(apply_rope(x, positions=np.arange(5, 15)))
    padded = np.concatenate([x[..., :5, :], x], axis=-2)              # x's rows now sit at positions 5 … 14
    assert max_diff(shifted, as_numpy(apply_rope(padded))[..., 5:, :]) <= 1e-5
    np.testing.assert_allclose(rope_frequencies(8), [1.0, 0.1, 0.01, 0.001], rtol=1e-6)
    with pytest.raises(ValueError, match="even, known last dimension"):
        apply_rope(np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="depth must be an even integer"):
        rope_frequencies(7)
    with pytest.raises(ValueError, match="base must be > 1"):
        rope_frequencies(8, base=1.0)


@pytest.mark.parametrize("positions", [np.arange(9), [0, 1, 2], range(11), np.arange(10)[None], 3,
                                       ops.arange(9)], ids=["9", "list of 3", "range 11", "2-D", "scalar", "tensor"])
def test_apply_rope_rejects_positions_of_the_wrong_length(positions):
    x = np.zeros((2, 10, 8), "float32")
    with pytest.raises(ValueError, match=r"positions must hold one position per row of x \(T = 10"):
        apply_rope(x, positions=positions)
    assert apply_rope(x, positions=np.arange(3, 13)).shape == x.shape
    assert apply_rope(x, positions=ops.arange(10)).shape == x.shape


@pytest.mark.parametrize("block_size", [1, 3, 16, 100])
def test_online_softmax_equals_softmax(block_size):
    scores = np.random.default_rng(block_size).standard_normal((3, 4, 37)).astype("float32") * 10
    probabilities, running_max, running_sum = online_softmax(scores, block_size)
    assert max_diff(probabilities, ops.softmax(scores, axis=-1)) <= 1e-6
    np.testing.assert_allclose(as_numpy(running_max)[..., 0], scores.max(-1))
    np.testing.assert_allclose(as_numpy(running_sum)[..., 0],
                               np.exp(scores - scores.max(-1, keepdims=True)).sum(-1), rtol=1e-5)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("causal", [False, True])
def test_tiled_attention_equals_naive_on_random_shapes(seed, causal):
    rng = np.random.default_rng(seed)
    t_query = int(rng.integers(1, 70))
    t_key = t_query if causal else int(rng.integers(1, 70))
    block = int(rng.integers(1, 40))                                  # mostly not a divisor of T
    depth, depth_v = int(rng.integers(1, 20)), int(rng.integers(1, 20))
    lead = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    query = rng.standard_normal(lead + (t_query, depth)).astype("float32") * 2
    key = rng.standard_normal(lead + (t_key, depth)).astype("float32") * 2
    value = rng.standard_normal(lead + (t_key, depth_v)).astype("float32")
    expected, naive_peak = naive_attention(query, key, value, causal=causal, return_peak=True)
    got, tiled_peak = tiled_attention(query, key, value, block_size=block, causal=causal, return_peak=True)
    assert got.shape == expected.shape
    assert max_diff(got, expected) <= 1e-5, (t_query, t_key, block, depth, lead)
    rows = int(np.prod(lead + (t_query,)))
    assert naive_peak == rows * t_key
    assert tiled_peak == rows * max(min(block, t_key), depth_v)


def test_tiled_attention_scale_and_bad_input():
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((2, 9, 4)).astype("float32") for _ in range(3))
    assert max_diff(tiled_attention(q, k, v, 4, scale=0.3), naive_attention(q, k, v, scale=0.3)) <= 1e-6
    for bad in (0, -1, 2.0, None):
        with pytest.raises(ValueError, match="block_size must be an integer >= 1"):
            tiled_attention(q, k, v, bad)
        with pytest.raises(ValueError, match="block_size must be an integer >= 1"):
            online_softmax(q, bad)
    with pytest.raises(ValueError, match="causal must be True or False"):
        tiled_attention(q, k, v, 4, causal="yes")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("causal", [False, True])
def test_tiled_attention_2d_equals_naive_and_skips_the_hidden_tiles(seed, causal):
    rng = np.random.default_rng(40 + seed)
    t_query = int(rng.integers(1, 70))
    t_key = t_query if causal else int(rng.integers(1, 70))
    query_block, key_block = (int(n) for n in rng.integers(1, 30, size=2))    # mostly unequal, not divisors
    lead = tuple(int(n) for n in rng.integers(1, 3, size=int(rng.integers(0, 3))))
    query, key = (rng.standard_normal(lead + (t, 8)).astype("float32") * 2 for t in (t_query, t_key))
    value = rng.standard_normal(lead + (t_key, 5)).astype("float32")
    got, (computed, total) = tiled_attention_2d(query, key, value, query_block, key_block, causal=causal,
                                                return_tiles=True)
    assert max_diff(got, naive_attention(query, key, value, causal=causal)) <= 1e-5
    assert total == -(-t_query // query_block) * -(-t_key // key_block)
    # a tile (query block q, key block k) is computed unless causal and its first key follows its last query
    expected = sum(not (causal and k * key_block > min((q + 1) * query_block, t_query) - 1)
                   for q in range(-(-t_query // query_block)) for k in range(-(-t_key // key_block)))
    assert computed == expected


def test_tiled_attention_2d_computes_about_half_the_causal_tiles_and_checks_input():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 96, 4)).astype("float32") for _ in range(3))
    _, tiles = tiled_attention_2d(q, k, v, 16, 16, causal=True, return_tiles=True)
    assert tiles == (6 * 7 // 2, 36)                                  # n (n + 1) / 2 of n² tiles, n = 6
    _, tiles = tiled_attention_2d(q, k, v, 16, 16, return_tiles=True)
    assert tiles == (36, 36)
    unskipped, tiles = tiled_attention_2d(q, k, v, 16, 16, causal=True, skip=False, return_tiles=True)
    assert tiles == (36, 36)
    assert max_diff(unskipped, naive_attention(q, k, v, causal=True)) <= 1e-5
    with pytest.raises(ValueError, match="skip must be True or False"):
        tiled_attention_2d(q, k, v, causal=True, skip="no")
    assert max_diff(tiled_attention_2d(q, k, v, 7, 5, scale=0.3), naive_attention(q, k, v, scale=0.3)) <= 1e-6
    for name, bad in (("query_block_size", dict(query_block_size=0)), ("key_block_size", dict(key_block_size=1.5))):
        with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
            tiled_attention_2d(q, k, v, **bad)
    with pytest.raises(ValueError, match="query_offset must be an integer >= 0"):
        tiled_attention(q, k, v, 4, query_offset=-1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("causal", [True, False])
def test_sliding_window_attention_equals_masked_naive(seed, causal):
    rng = np.random.default_rng(100 + seed)
    length, window, block = int(rng.integers(1, 60)), int(rng.integers(1, 20)), int(rng.integers(1, 25))
    q, k, v = (rng.standard_normal((2, length, 6)).astype("float32") for _ in range(3))
    mask = sliding_window_mask(length, length, window, causal=causal)[0]
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    got, peak = sliding_window_attention(q, k, v, window, block_size=block, causal=causal, return_peak=True)
    assert max_diff(got, expected) <= 1e-5, (length, window, block)
    keys_per_block = min(length, block + window - 1 + (0 if causal else window - 1))
    assert peak <= 2 * max(min(block, length) * keys_per_block, min(block, length) * 6)


def test_sliding_window_attention_bad_input():
    q = np.zeros((1, 8, 4), "float32")
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        sliding_window_attention(q, q, q, 0)
    with pytest.raises(ValueError, match="block_size must be an integer >= 1"):
        sliding_window_attention(q, q, q, 2, block_size=0)
    with pytest.raises(ValueError, match="same known length"):
        sliding_window_attention(q, np.zeros((1, 6, 4), "float32"), np.zeros((1, 6, 4), "float32"), 2)
