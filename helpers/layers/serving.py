"""Attention at inference scale (notebook 11): a decoder step as one pure function of the weights, with a
fixed-shape key/value cache that a compiler can take whole; paged and prefix caches; greedy speculative decoding;
the counts of bytes and operations that place prefill and decode on a roofline.

The step computes exactly what :class:`~helpers.layers.decoding.DecoderOnlyTransformer` computes (notebook 08's
model, its weights read by :func:`decoder_weights`), written with ``keras.ops`` only and no Python state, so that
:func:`compile_step` can hand it to XLA (TensorFlow, JAX) as one program.
"""

from __future__ import annotations

import functools
import math
import time

import keras
import numpy as np
from keras import ops

from helpers._checks import check_int
from helpers.layers.decoding import DecoderOnlyTransformer, _check_token_ids

LAYER_NORM_EPSILON = 1e-6          # that of every LayerNormalization in DecoderOnlyTransformer
MASKED = -1e9                      # the score a key beyond the query's position gets (weight exactly 0)


def _tensor(variable):
    """A backend tensor holding the variable's current values (a copy): a Keras variable passed to a compiled
    TensorFlow function would be read anew at every call."""
    return ops.convert_to_tensor(ops.convert_to_numpy(variable))


def decoder_weights(model: DecoderOnlyTransformer) -> dict:
    """The weights of a built :class:`DecoderOnlyTransformer` as a nested dict of tensors.

    Introduced in notebooks/11_serving_attention.ipynb. Tensors, not variables, so the dict can be an
    argument of a compiled function (a JAX ``jit``, a TensorFlow ``tf.function``). Per block: the four
    attention kernels and biases of :class:`~helpers.layers.multihead.MultiHeadAttention` (query, key and value
    ``(model_dim, heads, head_dim)``, output ``(heads, head_dim, model_dim)``), the two LayerNorms and the two
    feed-forward Dense layers.
    """
    if not isinstance(model, DecoderOnlyTransformer):
        raise ValueError(f"model must be a DecoderOnlyTransformer, got {type(model).__name__}")
    if not model.built:
        model.build()
    blocks = []
    for block in model.blocks:
        attention = block.attention
        dense_in, dense_out = block.feed_forward.layers
        blocks.append({
            "query_kernel": _tensor(attention.query_kernel), "query_bias": _tensor(attention.query_bias),
            "key_kernel": _tensor(attention.key_kernel), "key_bias": _tensor(attention.key_bias),
            "value_kernel": _tensor(attention.value_kernel), "value_bias": _tensor(attention.value_bias),
            "output_kernel": _tensor(attention.output_kernel), "output_bias": _tensor(attention.output_bias),
            "norm1_gamma": _tensor(block.norm1.gamma), "norm1_beta": _tensor(block.norm1.beta),
            "norm2_gamma": _tensor(block.norm2.gamma), "norm2_beta": _tensor(block.norm2.beta),
            "ff1_kernel": _tensor(dense_in.kernel), "ff1_bias": _tensor(dense_in.bias),
            "ff2_kernel": _tensor(dense_out.kernel), "ff2_bias": _tensor(dense_out.bias),
        })
    return {
        "token_embedding": _tensor(model.token_embedding.embeddings),
        "position_embedding": _tensor(model.position_embedding.embeddings),
        "blocks": blocks,
        "final_gamma": _tensor(model.final_norm.gamma), "final_beta": _tensor(model.final_norm.beta),
        "logits_kernel": _tensor(model.to_logits.kernel), "logits_bias": _tensor(model.to_logits.bias),
    }


def weight_bytes(weights: dict) -> int:
    """Bytes of every weight in ``weights`` (a :func:`decoder_weights` dict)."""
    total = 0
    for value in _leaves(weights):
        total += int(np.prod(ops.shape(value))) * np.dtype(keras.backend.standardize_dtype(value.dtype)).itemsize
    return total


def _leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _leaves(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            yield from _leaves(value)
    else:
        yield tree


def new_static_cache(weights: dict, batch_size: int, capacity: int, dtype: str = "float32"):
    """Empty key and value buffers of a fixed shape: two lists with one ``(batch, heads, capacity, head_dim)``
    tensor per layer. Their shape never changes while decoding, so a compiled step is compiled once."""
    batch_size = check_int("batch_size", batch_size, 1)
    capacity = check_int("capacity", capacity, 1, int(ops.shape(weights["position_embedding"])[0]))
    _, heads, head_dim = ops.shape(weights["blocks"][0]["key_kernel"])
    shape = (batch_size, heads, capacity, head_dim)
    keys = [ops.zeros(shape, dtype) for _ in weights["blocks"]]
    values = [ops.zeros(shape, dtype) for _ in weights["blocks"]]
    return keys, values


def _layer_norm(x, gamma, beta):
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON) * gamma + beta


def _project(x, kernel, bias):
    """(batch, t, features) → (batch, heads, t, head_dim), as MultiHeadAttention._project."""
    return ops.einsum("btf,fhd->bhtd", x, kernel) + ops.expand_dims(bias, 1)


def _write(buffer, new, start):
    """``buffer`` (batch, heads, capacity, head_dim) with ``new`` (batch, heads, t, head_dim) written at positions
    ``start … start + t - 1``, ``start`` one position per row, shape (batch,). A selection, not arithmetic: each slot
    takes the new value whose position it is, or keeps its own, so the values are copied exactly; one pass over
    the buffer, which a compiler fuses into one loop (measured faster here than a scatter)."""
    batch, heads, capacity, head_dim = ops.shape(buffer)
    length = ops.shape(new)[2]
    offset = ops.arange(capacity, dtype="int32")[None, :] - start[:, None]                        # (batch, C)
    inside = ((offset >= 0) & (offset < length))[:, None, :, None]
    if length == 1:
        return ops.where(inside, new, buffer)                                      # new broadcast over the slots
    index = ops.broadcast_to(ops.clip(offset, 0, length - 1)[:, None, :, None], (batch, heads, capacity, head_dim))
    return ops.where(inside, ops.take_along_axis(new, index, axis=2), buffer)


def decoder_step(weights: dict, ids, keys: list, values: list, start):
    """Logits for ``ids`` (batch, t), the tokens at positions ``start … start + t - 1``, and the caches with their
    keys and values written.

    Introduced in notebooks/11_serving_attention.ipynb. The computation of
    :meth:`DecoderOnlyTransformer.call_cached` as a pure function: no Python state, every shape fixed by the
    arguments' shapes (attention runs over the whole buffer, the positions after each query's own masked out), so
    a compiler can take it whole (:func:`compile_step`). With ``start = 0`` and fresh buffers of capacity ``t`` it
    is one full pass over ``ids``: what decoding without a cache runs at every step.

    Parameters
    ----------
    weights : dict from :func:`decoder_weights`.
    ids : int32 (batch, t).
    keys, values : lists of (batch, heads, capacity, head_dim), one per layer (:func:`new_static_cache`).
    start : int32 scalar (all rows at the same position) or (batch,) (one position per row).

    Returns
    -------
    logits (batch, t, vocab), keys, values.
    """
    length = ops.shape(ids)[1]
    capacity = ops.shape(keys[0])[2]
    start = ops.convert_to_tensor(start, "int32")
    per_row = start if len(ops.shape(start)) else ops.broadcast_to(start, (ops.shape(ids)[0],))
    positions = per_row[:, None] + ops.arange(length, dtype="int32")[None, :]                  # (batch, t)
    x = ops.take(weights["token_embedding"], ids, axis=0) + ops.take(weights["position_embedding"], positions,
                                                                       axis=0)
    visible = ops.arange(capacity, dtype="int32")[None, None, :] <= positions[:, :, None]       # (batch, t, C)
    visible = ops.expand_dims(visible, 1)                                                      # over heads
    new_keys, new_values = [], []
    for block, layer_keys, layer_values in zip(weights["blocks"], keys, values):
        normed = _layer_norm(x, block["norm1_gamma"], block["norm1_beta"])
        query = _project(normed, block["query_kernel"], block["query_bias"])
        layer_keys = _write(layer_keys, _project(normed, block["key_kernel"], block["key_bias"]), per_row)
        layer_values = _write(layer_values, _project(normed, block["value_kernel"], block["value_bias"]), per_row)
        head_dim = ops.shape(query)[-1]
        scores = ops.matmul(query, ops.swapaxes(layer_keys, -1, -2)) / math.sqrt(head_dim)
        weights_ = ops.softmax(ops.where(visible, scores, MASKED), axis=-1)
        heads = ops.matmul(weights_, layer_values)
        x = x + ops.einsum("bhtd,hdo->bto", heads, block["output_kernel"]) + block["output_bias"]
        normed = _layer_norm(x, block["norm2_gamma"], block["norm2_beta"])
        hidden = ops.gelu(ops.matmul(normed, block["ff1_kernel"]) + block["ff1_bias"], approximate=False)
        x = x + ops.matmul(hidden, block["ff2_kernel"]) + block["ff2_bias"]
        new_keys.append(layer_keys)
        new_values.append(layer_values)
    x = _layer_norm(x, weights["final_gamma"], weights["final_beta"])
    return ops.matmul(x, weights["logits_kernel"]) + weights["logits_bias"], new_keys, new_values


def compile_step(function=decoder_step):
    """``function`` compiled as one program where the backend allows it, and which backend that is.

    Introduced in notebooks/11_serving_attention.ipynb. TensorFlow: ``tf.function(jit_compile=True)`` (XLA);
    JAX: ``jax.jit`` (XLA). PyTorch: the function unchanged (eager; ``torch.compile`` would need a C++ tool chain at
    run time, which the course does not assume). Each new combination of input shapes
    compiles once, on its first call.

    Returns
    -------
    (callable, str): the function to call, and "XLA" or "eager".
    """
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        # one tf.function per combination of input shapes: each traces once (a single tf.function would trace
        # anew for every shape and warn that it retraces, although a new shape is the reason for a new program)
        compiled = {}

        def call(*args):
            signature = tuple(tuple(np.shape(x)) for x in _leaves(args))
            if signature not in compiled:
                # a new callable object per program: TensorFlow counts traces per Python function (its code object,
                # which a partial does not have) and would warn of "retracing" for what is one program per shape
                compiled[signature] = tf.function(functools.partial(function), jit_compile=True)
            return compiled[signature](*args)

        return call, "XLA"
    if name == "jax":
        import jax

        return jax.jit(function), "XLA"
    return function, "eager"


def best_seconds(function, *args, repeats: int = 3) -> float:
    """The shortest wall time of ``repeats`` calls of ``function(*args)``, each waited for until its result is
    in host memory (a backend may return before the work is done)."""
    repeats = check_int("repeats", repeats, 1)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        ops.convert_to_numpy(next(iter(_leaves(result))))
        best = min(best, time.perf_counter() - start)
    return best


def step_counts(weights: dict, context: int, new_tokens: int = 1, batch_size: int = 1,
                dtype_bytes: int = 4) -> dict:
    """Multiply-add work and the least memory traffic of one step, counted from the shapes of ``weights``.

    Introduced in notebooks/11_serving_attention.ipynb. The step feeds ``new_tokens`` per sequence, for
    ``batch_size`` sequences, after ``context`` cached positions (decode: ``new_tokens = 1``; prefill of a prompt:
    ``context = 0, new_tokens = len(prompt)``).

    - ``flops``: 2 per multiply-add: every weight matrix once per new token (the embedding tables are read by
      lookup, not multiplied), and attention's two products (scores and weighted sum) over the visible positions;
    - ``weight_bytes``: every weight matrix and vector read once per step, whatever the batch, plus one row of each
      embedding table per new token;
    - ``cache_bytes``: the keys and values read (``context + new_tokens`` positions per sequence) and written
      (``new_tokens`` positions);
    - ``bytes`` = ``weight_bytes + cache_bytes``, ``intensity`` = ``flops / bytes`` (operations per byte).
    Activations are left out: they are small next to the weights for one token and stay in the caches.
    """
    context = check_int("context", context, 0)
    new_tokens = check_int("new_tokens", new_tokens, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    dtype_bytes = check_int("dtype_bytes", dtype_bytes, 1)
    model_dim = int(ops.shape(weights["token_embedding"])[1])
    matrices, vectors = 0, 0
    for block in weights["blocks"]:
        for name, value in block.items():
            size = int(np.prod(ops.shape(value)))
            if name.endswith("kernel"):
                matrices += size
            else:
                vectors += size
    matrices += int(np.prod(ops.shape(weights["logits_kernel"])))
    vectors += int(np.prod(ops.shape(weights["logits_bias"]))) + 2 * model_dim
    layers_ = len(weights["blocks"])
    tokens = batch_size * new_tokens
    # query t sees context + t + 1 positions (causal); summed over the new tokens
    visible = new_tokens * context + new_tokens * (new_tokens + 1) // 2
    attention_flops = 2 * 2 * batch_size * visible * model_dim * layers_
    flops = 2 * matrices * tokens + attention_flops
    weight_traffic = (matrices + vectors) * dtype_bytes + 2 * tokens * model_dim * dtype_bytes
    cache_traffic = 2 * layers_ * batch_size * (context + 2 * new_tokens) * model_dim * dtype_bytes
    total = weight_traffic + cache_traffic
    return {"flops": flops, "weight_bytes": weight_traffic, "cache_bytes": cache_traffic, "bytes": total,
            "intensity": flops / total}


class PagedKVCache:
    """Keys and values kept in fixed-size blocks from one shared pool, found through a block table per sequence.

    Introduced in notebooks/11_serving_attention.ipynb (the layout of vLLM's PagedAttention, Kwon et al. 2023).
    A sequence owns ``ceil(length / block_size)`` blocks, anywhere in the pool; :meth:`gather` reads them back in
    table order as one contiguous buffer. Blocks are reference-counted, so sequences that start with the same
    tokens can share the full blocks of that prefix (:meth:`fork`). Bookkeeping only, in NumPy: the pool holds one
    array per layer, ``(num_blocks, heads, block_size, head_dim)`` for keys and for values.

    Parameters
    ----------
    num_layers, num_heads, head_dim, block_size, num_blocks : int, each >= 1
    """

    def __init__(self, num_layers: int, num_heads: int, head_dim: int, block_size: int, num_blocks: int,
                 dtype: str = "float32"):
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.block_size = check_int("block_size", block_size, 1)
        self.num_blocks = check_int("num_blocks", num_blocks, 1)
        shape = (self.num_blocks, check_int("num_heads", num_heads, 1), self.block_size,
                 check_int("head_dim", head_dim, 1))
        self.keys = [np.zeros(shape, dtype) for _ in range(self.num_layers)]
        self.values = [np.zeros(shape, dtype) for _ in range(self.num_layers)]
        self.references = np.zeros(self.num_blocks, int)
        self.tables: dict = {}
        self.lengths: dict = {}

    def _allocate(self) -> int:
        free = np.flatnonzero(self.references == 0)
        if not len(free):
            raise ValueError(f"the pool's {self.num_blocks} blocks are all in use; free a sequence or make a pool "
                             "with more num_blocks")
        block = int(free[0])
        self.references[block] = 1
        return block

    def append(self, sequence, keys: list, values: list) -> None:
        """Store the keys and values of new positions of ``sequence`` (a new name starts a sequence): one
        ``(heads, t, head_dim)`` array per layer for keys and for values. Only full blocks are ever shared
        (:meth:`fork`), so a write never lands in a shared block: the next position of a sequence whose last block is
        full goes to a new block."""
        table = self.tables.setdefault(sequence, [])
        length = self.lengths.get(sequence, 0)
        new = np.asarray(keys[0]).shape[1]
        for offset in range(new):
            position = length + offset
            slot = position % self.block_size
            if slot == 0:
                table.append(self._allocate())
            block = table[-1]
            for layer in range(self.num_layers):
                self.keys[layer][block, :, slot] = np.asarray(keys[layer])[:, offset]
                self.values[layer][block, :, slot] = np.asarray(values[layer])[:, offset]
        self.lengths[sequence] = length + new

    def fork(self, parent, child, length: int) -> None:
        """Start ``child`` with the first ``length`` positions of ``parent``, sharing its full blocks (no copy);
        ``length`` must be a multiple of ``block_size``, the granularity at which blocks can be shared."""
        if parent not in self.tables:
            raise ValueError(f"no sequence {parent!r} in this cache; known: {sorted(map(str, self.tables))}")
        length = check_int("length", length, 0, self.lengths[parent])
        if length % self.block_size:
            raise ValueError(f"length must be a multiple of block_size={self.block_size} (only full blocks are "
                             f"shared), got {length}")
        shared = self.tables[parent][:length // self.block_size]
        self.references[shared] += 1
        self.tables[child] = list(shared)
        self.lengths[child] = length

    def free(self, sequence) -> None:
        """Give back the blocks of ``sequence`` (a shared block stays while another sequence uses it)."""
        for block in self.tables.pop(sequence):
            self.references[block] -= 1
        del self.lengths[sequence]

    def gather(self, sequence, layer: int):
        """Keys and values of ``sequence`` in ``layer``, contiguous: two ``(heads, length, head_dim)`` arrays."""
        table, length = self.tables[sequence], self.lengths[sequence]
        if not table:
            empty = self.keys[layer][:0].reshape(self.keys[layer].shape[1], 0, self.keys[layer].shape[3])
            return empty, empty.copy()
        keys = np.concatenate(list(self.keys[layer][table]), axis=1)[:, :length]
        values = np.concatenate(list(self.values[layer][table]), axis=1)[:, :length]
        return keys, values

    @property
    def blocks_in_use(self) -> int:
        return int((self.references > 0).sum())


def speculative_generate(step, target_weights: dict, draft_weights: dict, prompts, steps: int, draft_length: int,
                         capacity: int | None = None):
    """Greedy speculative decoding: the draft proposes ``draft_length`` tokens, the target checks them in one step.

    Introduced in notebooks/11_serving_attention.ipynb (Leviathan et al. 2023; Chen et al. 2023, greedy case).
    Each round, for every sequence of the batch: the draft model continues greedily by ``draft_length`` tokens;
    the target runs once on the last accepted token and the proposals (``draft_length + 1`` positions) and
    gives its own greedy choice at each; the proposals are accepted up to the first disagreement, and the
    target's choice there (or after the last proposal, if all were accepted) is appended. Every appended token is
    the target's greedy choice given the tokens before it, so the result is the target's greedy output. Rows
    accept different numbers of tokens: every row keeps its own position (``decoder_step`` with one start per
    row), and a rejected proposal's keys and values are simply overwritten by the next round.

    Parameters
    ----------
    step : :func:`decoder_step`, compiled or not.
    target_weights, draft_weights : dicts from :func:`decoder_weights` with the same vocabulary.
    prompts : int (batch, P), P >= 2.
    steps, draft_length : int, >= 1.
    capacity : int or None, the length of the key/value buffers: at least P + steps + draft_length + 1 (the
        default). A compiled step compiles one program per input shape, so calls that share a capacity (several
        draft lengths, or :func:`greedy_generate`) share the programs of the steps whose shapes agree.

    Returns
    -------
    int32 (batch, steps), and a dict: ``rounds`` (target steps after the prompt), ``proposed`` and ``accepted``
    (draft tokens, over the rows still generating and the tokens they still need), ``acceptance_rate``.

    In exact arithmetic the output is the target's greedy output. In floating point, the target's step over
    ``draft_length + 1`` positions sums in another order than its one-token steps, so where its two best logits are
    closer than that rounding, the two may pick different tokens.
    """
    prompts = np.asarray(prompts)
    if prompts.ndim != 2 or prompts.shape[1] < 2 or not np.issubdtype(prompts.dtype, np.integer):
        raise ValueError(f"prompts must be integer ids of shape (batch, P) with P >= 2, got {prompts.dtype} "
                         f"{prompts.shape}")
    vocab = int(ops.shape(target_weights["logits_kernel"])[1])
    if int(ops.shape(draft_weights["logits_kernel"])[1]) != vocab:
        raise ValueError("the draft and the target must share one vocabulary, got "
                         f"{int(ops.shape(draft_weights['logits_kernel'])[1])} and {vocab} tokens")
    _check_token_ids("prompts", prompts, vocab)
    steps = check_int("steps", steps, 1)
    draft_length = check_int("draft_length", draft_length, 1)
    batch, prompt_length = prompts.shape
    needed = prompt_length + steps + draft_length + 1
    capacity = needed if capacity is None else check_int("capacity", capacity, needed)
    for name, weights in (("target", target_weights), ("draft", draft_weights)):
        if int(ops.shape(weights["position_embedding"])[0]) < capacity:
            raise ValueError(f"the {name} model's max_length is {int(ops.shape(weights['position_embedding'])[0])}; "
                             f"capacity {capacity} positions are needed (prompt length {prompt_length} + "
                             f"steps={steps} + draft_length={draft_length} + 1 at least)")
    prompts = prompts.astype("int32")
    target_cache = new_static_cache(target_weights, batch, capacity)
    draft_cache = new_static_cache(draft_weights, batch, capacity)
    zero = np.zeros(batch, "int32")
    logits, *target_cache = step(target_weights, prompts, *target_cache, zero)
    _, *draft_cache = step(draft_weights, prompts[:, :-1], *draft_cache, zero)
    out = np.zeros((batch, steps + draft_length + 1), "int32")
    out[:, 0] = ops.convert_to_numpy(logits[:, -1]).argmax(-1)
    # row b: sequence = prompt + out[b, :done[b]]; the target's cache holds every position but the last token's
    done = np.ones(batch, int)
    rounds = proposed = accepted = 0
    rows = np.arange(batch)
    while done.min() < steps:
        active = done < steps
        # position of the newest token (not yet in a cache); a finished row repeats a position inside the buffers
        # (its results are not used)
        last = prompt_length + np.minimum(done, steps - 1) - 1
        newest = np.minimum(done, steps - 1)
        previous = np.where(newest >= 2, out[rows, np.maximum(newest - 2, 0)], prompts[:, -1])
        feed = np.stack([previous, out[rows, newest - 1]], axis=1).astype("int32")
        proposals = np.zeros((batch, draft_length), "int32")
        logits, *draft_cache = step(draft_weights, feed, *draft_cache, (last - 1).astype("int32"))
        for i in range(draft_length):
            proposals[:, i] = ops.convert_to_numpy(logits[:, -1]).argmax(-1)
            if i + 1 < draft_length:
                logits, *draft_cache = step(draft_weights, proposals[:, i:i + 1], *draft_cache,
                                            (last + 1 + i).astype("int32"))
        check = np.concatenate([out[rows, newest - 1][:, None], proposals], axis=1).astype("int32")
        logits, *target_cache = step(target_weights, check, *target_cache, last.astype("int32"))
        choice = ops.convert_to_numpy(logits).argmax(-1)               # (batch, draft_length + 1)
        agree = np.cumprod(proposals == choice[:, :-1], axis=1).sum(axis=1)     # proposals accepted per row
        rounds += 1
        for b in np.flatnonzero(active):
            n = int(agree[b])
            useful = min(draft_length, steps - int(done[b]))     # proposals beyond the last token needed do not count
            proposed += useful
            accepted += min(n, useful)
            out[b, done[b]:done[b] + n] = proposals[b, :n]
            out[b, done[b] + n] = choice[b, n]
            done[b] += n + 1
    return out[:, :steps], {"rounds": rounds, "proposed": proposed, "accepted": accepted,
                            "acceptance_rate": accepted / max(proposed, 1)}


def greedy_generate(step, weights: dict, prompts, steps: int, capacity: int | None = None):
    """The target alone, greedily, one token per step, with a fixed-shape cache (for comparison with
    :func:`speculative_generate`); ``capacity``: the buffers' length, at least P + steps (the default).
    Returns int32 (batch, steps)."""
    prompts = np.asarray(prompts).astype("int32")
    steps = check_int("steps", steps, 1)
    batch, prompt_length = prompts.shape
    needed = prompt_length + steps
    cache = new_static_cache(weights, batch, needed if capacity is None else check_int("capacity", capacity, needed))
    logits, *cache = step(weights, prompts, *cache, np.asarray(0, "int32"))
    out = np.zeros((batch, steps), "int32")
    for i in range(steps):
        out[:, i] = ops.convert_to_numpy(logits[:, -1]).argmax(-1)
        if i + 1 < steps:
            logits, *cache = step(weights, out[:, i:i + 1], *cache, np.asarray(prompt_length + i, "int32"))
    return out
