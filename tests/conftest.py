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

# Under pytest-xdist (`python -m pytest tests -n 2`, the README's command for the other backends), each worker
# computes on one CPU thread: two workers on two cores, not four threads competing for them (PyTorch's idle
# threads spin). Set before any backend is imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name, value in (("OMP_NUM_THREADS", "1"), ("TF_NUM_INTRAOP_THREADS", "1"),
                        ("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")):
        os.environ.setdefault(name, value)
