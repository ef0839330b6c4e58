"""Seeding: one call fixes every random number the course draws."""

from __future__ import annotations

import random

import numpy as np

from helpers._checks import check_int


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras, and make TensorFlow ops deterministic.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb; every notebook calls it
    once, right after its parameters.

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
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
