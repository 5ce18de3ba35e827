"""Run the tests on the other versions the course supports: the lowest that ``pyproject.toml`` allows,
and the stack of Colab's runtime.

    python3 scripts/run_version_tests.py [lowest] [colab] [--unit-only] [-- PYTEST_ARGUMENTS]

Each environment is made in ``build/envs/NAME`` with uv (a dependency of the ``dev`` extra):

- ``lowest``: ``course_lib[dev]`` resolved with ``--resolution lowest-direct``, so every package that
  ``pyproject.toml`` names comes at the lowest version its range allows (their own dependencies at the
  newest that fit).  A lower bound that does not work fails here.
- ``colab``: ``course_lib[dev]`` with ``.ci/colab-stack.txt`` as constraints (Colab's TensorFlow, Keras
  and NumPy; the rest as in the main environment).

In each, the unit tests run; then, unless ``--unit-only``, the notebooks, in a different runner in each:
in ``lowest`` the browser tests (every student notebook run in JupyterLab, which also tries the lowest
JupyterLab, ipywidgets and Playwright), in ``colab`` the exercise checks on the solution key
(``tests/test_solutions.py``) and every notebook under nbval in the ``ci`` profile, as students run them
there.  Both runners in both would add about ten minutes to CI.  Arguments after ``--`` go to pytest
(``-- -k metrics``).  The packages come from uv's cache after the first run (``~/.cache/uv``).
Output: a line per environment with its versions, then pytest's.  Exit status: 0 when every run passed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _bootstrap import ROOT, reexec_in_environment, venv_python
from run_tests import NBVAL_OPTIONS, test_environment

COLAB_STACK = ROOT / ".ci" / "colab-stack.txt"
#: How each environment resolves ``course_lib[dev]`` (uv's options) and what it runs beside the unit tests.
ENVIRONMENTS = {
    "lowest": {"resolve": ["--resolution", "lowest-direct"], "also": ["tests/browser"]},
    "colab": {"resolve": ["--constraint", str(COLAB_STACK)], "also": ["tests/test_solutions.py", "notebooks"]},
}
#: What some environment runs beside the unit tests; the unit tests are ``tests/`` without these.
NOT_UNIT = ["tests/browser", "tests/test_solutions.py"]
VERSIONS = ("import sys, tensorflow, keras, numpy, cv2, skimage; print(f'Python {sys.version.split()[0]}, "
            "TensorFlow {tensorflow.__version__}, Keras {keras.__version__}, NumPy {numpy.__version__}, "
            "OpenCV {cv2.__version__}, scikit-image {skimage.__version__}')")


def make_environment(name: str) -> Path:
    """Create (or update) ``build/envs/NAME`` and install ``course_lib[dev]`` as ``ENVIRONMENTS[name]`` says.
    uv's output goes to ``build/envs/NAME.log``; raises ``RuntimeError`` with its last line on failure."""
    venv = ROOT / "build" / "envs" / name
    log = venv.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    uv = [sys.executable, "-m", "uv"]
    steps = [[*uv, "venv", "--seed", "--allow-existing", "--python", sys.executable, str(venv)],
             [*uv, "pip", "install", "--python", str(venv_python(venv)), *ENVIRONMENTS[name]["resolve"],
              "-e", f"{ROOT}[dev]"]]
    with open(log, "w") as out:
        for step in steps:
            out.write("+ " + " ".join(step) + "\n")
            out.flush()
            if subprocess.run(step, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                last = log.read_text().strip().splitlines()[-1:]
                raise RuntimeError(f"the {name} environment could not be installed ({log}): {' '.join(last)}")
    return venv


def pytest_paths(name: str, unit_only: bool) -> list[str]:
    """pytest's paths and ``--ignore`` options for the environment ``name``: ``tests/`` without what
    :data:`NOT_UNIT` names, except what the environment runs ``also`` (unless ``unit_only``)."""
    also = [] if unit_only else ENVIRONMENTS[name]["also"]
    # What lies under tests/ is run by not ignoring it: naming it beside tests/ as well makes pytest 8.0
    # collect only the named folder.
    return ["tests", *[f"--ignore={path}" for path in NOT_UNIT if path not in also],
            *[path for path in also if not path.startswith("tests/")]]


def run(name: str, unit_only: bool, pytest_args: list[str]) -> int:
    """Make the environment ``name`` and run its tests; pytest's exit status (1 when the set-up failed)."""
    started = time.monotonic()
    try:
        venv = make_environment(name)
    except RuntimeError as error:
        print(f"{name}: {error}", flush=True)
        return 1
    python = str(venv_python(venv))
    env = test_environment(ROOT / "build" / f"test-run-{name}")
    versions = subprocess.run([python, "-c", VERSIONS], capture_output=True, text=True, env=env)
    print(f"\n== {name}: {versions.stdout.strip() or versions.stderr.strip()[-300:]} "
          f"(set up in {time.monotonic() - started:.0f} s)", flush=True)
    cmd = [python, "-m", "pytest", *pytest_paths(name, unit_only), *NBVAL_OPTIONS, "-q", *pytest_args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    ours, pytest_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    unit_only = "--unit-only" in ours
    names = [arg for arg in ours if arg != "--unit-only"] or list(ENVIRONMENTS)
    unknown = [name for name in names if name not in ENVIRONMENTS]
    if unknown:
        print(f"error: unknown environment {unknown[0]!r}: choose from {', '.join(ENVIRONMENTS)}")
        return 2
    failed = [name for name in names if run(name, unit_only, pytest_args) != 0]
    if failed:
        print(f"\nfailed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main(sys.argv[1:]))
