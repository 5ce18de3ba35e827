"""Run every test of the course: every notebook in JupyterLab in a browser, the unit tests of course_lib,
and every notebook under nbval, spread over the machine's cores (pytest-xdist).

    python3 scripts/run_tests.py [extra pytest arguments]

Sets up ``.venv`` first (see ``_bootstrap.py``). Notebooks run in the ``ci`` profile unless
``COURSE_PROFILE`` says otherwise; CIFAR-10 is looked up as ``course_lib.data`` explains
(``COURSE_DATA_DIR``, then ``data/``, then a download). The browser tests (``tests/browser/``) need
the system's Chromium or Chrome and are skipped, with one line, without one; their screenshots go to
``build/test-run/browser/``. The quick tests and the notebooks on the lowest versions the ranges allow and on
Colab's stack: ``scripts/run_version_tests.py`` (CI runs both).
"""

from __future__ import annotations

import os
import subprocess
import sys

from _bootstrap import ROOT, absolute_data_dir, reexec_in_environment

#: pytest's options for the notebooks: nbval, lax (only cells tagged ``nbval-check`` compare outputs), this kernel.
NBVAL_OPTIONS = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=900", "-p", "no:cacheprovider"]


def parallel_options(cores: int | None = None) -> list[str]:
    """pytest-xdist's options: one worker per core, at most 4 (each may hold TensorFlow, a notebook kernel or
    JupyterLab with Chromium), the units of ``tests/conftest.py`` (``work_unit``) kept together and handed out
    in its order (longest first). ``-n 0`` after the command's other arguments runs everything in one process."""
    workers = max(1, min(4, cores or os.cpu_count() or 1))
    return ["-n", str(workers), "--dist", "loadscope", "--no-loadscope-reorder"]


def test_environment(output_dir=ROOT / "build" / "test-run") -> dict:
    """The environment variables of a test run: the ``ci`` profile, CIFAR-10's folder as an absolute
    path, a quiet TensorFlow, and notebooks writing what they train under ``output_dir``."""
    env = dict(os.environ)
    env.setdefault("COURSE_PROFILE", "ci")
    absolute_data_dir(env)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # ipykernel 6 starts debugpy in every kernel, which warns about frozen modules in four lines each time.
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # On a GPU machine the pytest process, the notebook kernels and the subprocesses the tests start
    # all use TensorFlow: each takes GPU memory as it needs it instead of grabbing all of it.
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    # Notebooks write what they train under build/test-run so a test run never touches a course run's results.
    env.setdefault("COURSE_OUTPUT_DIR", str(output_dir))
    return env


if __name__ == "__main__":
    reexec_in_environment(__file__)
    cmd = [sys.executable, "-m", "pytest", "tests", "notebooks", *NBVAL_OPTIONS, *parallel_options(), *sys.argv[1:]]
    print("+", " ".join(cmd), flush=True)
    sys.exit(subprocess.run(cmd, cwd=ROOT, env=test_environment()).returncode)
