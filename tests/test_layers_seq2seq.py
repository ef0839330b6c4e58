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
