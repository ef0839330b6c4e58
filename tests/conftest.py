"""Test set-up shared by the unit tests and the notebook runs (nbval).

Metrics recorded while the tests run go to a temporary folder, not the course's
``results/``: the notebook kernels that nbval starts inherit this environment.
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")

os.environ.setdefault("COURSE_RESULTS_DIR", tempfile.mkdtemp(prefix="course-results-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
