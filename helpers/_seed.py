"""Seeding, and the few per-backend settings the course needs: one call fixes every random number it draws."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np

from helpers._checks import check_int

#: What ``set_seed`` guarantees on each backend (CPU), in one sentence each.
DETERMINISM = {
    "tensorflow": "bit-for-bit repeatable on one machine: op determinism is switched on "
                  "(tf.config.experimental.enable_op_determinism) and oneDNN's reordering is off",
    "jax": "bit-for-bit repeatable on one machine: JAX's CPU ops are deterministic and Keras draws its "
           "random numbers from the seeded global generator",
    "torch": "repeatable on one machine: torch.manual_seed and torch.use_deterministic_algorithms(True) "
             "(warn_only, so an op without a deterministic version warns instead of failing)",
}


def backend() -> str:
    """The Keras backend in use: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    import keras

    return keras.backend.backend()


def steps_per_execution(steps: int = 16) -> int:
    """``steps`` batches per call into the backend for ``compile``, or 1 on PyTorch.

    Introduced in notebooks/02_timestep_attention.ipynb. Running several batches per call
    gives the same updates with less overhead per batch on TensorFlow and JAX; Keras 3's
    PyTorch trainer runs one batch per call and refuses any other value.
    """
    steps = check_int("steps", steps, 1)
    return 1 if backend() == "torch" else steps


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Run the ``with`` block on one CPU thread on PyTorch; change nothing on TensorFlow and JAX.

    Introduced in notebooks/08_causal_decoding.ipynb, which measures CPU time per token.
    Between operations PyTorch's idle worker threads keep spinning, and the process's CPU
    time counts that (1x to 2x the wall time of a step, changing from one call to the
    next). The thread count in use before the block is restored after it, also on error.
    """
    if backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy, Keras and the backend in use, and make the backend as deterministic as it allows.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb; every notebook calls it
    once, right after its parameters. What it guarantees on each backend is in
    ``helpers.DETERMINISM``.

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer in [0, 2**32 - 1].
    """
    seed = check_int("seed", seed, 0, 2**32 - 1)
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)          # Python, NumPy, the backend's generator and Keras' global seed
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif name == "torch":
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
