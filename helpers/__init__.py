"""Shared helpers for the *Attention, hands-on* course.

Import ``helpers`` before ``keras`` or ``tensorflow`` in a notebook: the one thing
this package does on import is to set three environment defaults. Two keep
TensorFlow's C++ start-up messages out of the notebook outputs
(``TF_CPP_MIN_LOG_LEVEL=3``) and make its CPU kernels bit-for-bit repeatable
(``TF_ENABLE_ONEDNN_OPTS=0``); the third picks the Keras backend, TensorFlow unless
``KERAS_BACKEND`` says ``jax`` or ``torch``. All use ``os.environ.setdefault``, so a value
you set yourself wins. Nothing else happens on import: no seeding, no plotting style.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from helpers import claims, data, layers, paths, plotting, report, show  # noqa: E402
from helpers.claims import claim  # noqa: E402
from helpers.explorer import explore, explore_sampling  # noqa: E402
from helpers.layers.efficient import kv_cache_bytes  # noqa: E402
from helpers._seed import DETERMINISM, backend, one_cpu_thread, set_seed, steps_per_execution  # noqa: E402

__all__ = ["DETERMINISM", "backend", "claim", "claims", "data", "explore", "explore_sampling", "kv_cache_bytes",
           "layers", "one_cpu_thread", "paths", "plotting", "report", "set_seed", "show", "steps_per_execution"]
__version__ = "0.1.0"
