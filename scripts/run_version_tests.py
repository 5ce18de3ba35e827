"""Run the tests on the other versions the course supports: the lowest that ``pyproject.toml`` allows,
and the stack of Colab's runtime.

    python3 scripts/run_version_tests.py [lowest] [colab] [--quick | --full] [-- PYTEST_ARGUMENTS]

Each environment is made in ``build/envs/NAME`` with uv (a dependency of the ``dev`` extra):

- ``lowest``: ``course_lib[dev]`` resolved with ``--resolution lowest-direct``, so every package that
  ``pyproject.toml`` names comes at the lowest version its range allows (their own dependencies at the
  newest that fit).  A lower bound that does not work fails here.
- ``colab``: ``course_lib[dev]`` with ``.ci/colab-stack.txt`` as constraints (Colab's TensorFlow, Keras
  and NumPy; the rest as in the main environment).

In each, two pytest runs.  First the unit tests without those marked ``long`` (training runs, studies,
commands in a subprocess: most of the unit tests' time; the main environment runs them).
Then what the environment adds (:data:`ENVIRONMENTS`): in ``colab`` every notebook under nbval in the
``ci`` profile, as students run them there; in ``lowest`` the JAX backend's tests (JAX at its lowest)
and notebook 07 in JupyterLab in a browser (the explorer widget with the lowest JupyterLab, ipywidgets and
Playwright).  So each bound is exercised at a fraction of the main run's time; ``--full`` runs the
whole suite instead (every test, the browser tests, the solution key and the notebooks, as
``scripts/run_tests.py`` does), ``--quick`` only the first run.  Arguments after ``--`` go to pytest (``-- -k metrics``).
The packages come from uv's cache after the first run (``~/.cache/uv``).
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
#: How each environment resolves ``course_lib[dev]`` (uv's options) and what it runs after the quick unit tests.
ENVIRONMENTS = {
    "lowest": {"resolve": ["--resolution", "lowest-direct"],
               "also": ["tests/test_jax_backend.py",
                        "tests/browser/test_jupyterlab.py::test_notebook_runs_in_jupyterlab[07_comparison.ipynb]"]},
    "colab": {"resolve": ["--constraint", str(COLAB_STACK)], "also": ["notebooks"]},
}
#: Not unit tests: the notebooks run in JupyterLab, and the solution key's checks run on a kernel.
NOT_UNIT = ["tests/browser", "tests/test_solutions.py"]
#: The first run's selection: the unit tests without the long ones.
QUICK = ["tests", *[f"--ignore={path}" for path in NOT_UNIT], "-m", "not long"]
#: ``--full``: what ``scripts/run_tests.py`` runs in the main environment.
FULL = ["tests", "notebooks"]
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


def pytest_runs(name: str, mode: str = "default") -> list[list[str]]:
    """The pytest selections run in the environment ``name``, one list of paths and options per run:
    ``mode`` ``"default"`` (the quick unit tests, then the environment's ``also``), ``"quick"`` or ``"full"``."""
    if mode == "full":
        return [FULL]
    return [QUICK] if mode == "quick" else [QUICK, ENVIRONMENTS[name]["also"]]


def set_up(name: str) -> Path | None:
    """Make the environment ``name`` and print its versions; its Python, or None (and a line) when that failed."""
    started = time.monotonic()
    try:
        venv = make_environment(name)
    except RuntimeError as error:
        print(f"{name}: {error}", flush=True)
        return None
    python = venv_python(venv)
    versions = subprocess.run([str(python), "-c", VERSIONS], capture_output=True, text=True,
                              env=test_environment(ROOT / "build" / f"test-run-{name}"))
    print(f"== {name}: {versions.stdout.strip() or versions.stderr.strip()[-300:]} "
          f"(set up in {time.monotonic() - started:.0f} s)", flush=True)
    return python


def run(name: str, python: Path, mode: str, pytest_args: list[str]) -> int:
    """Run the tests of the environment ``name`` with its ``python``; 0 when every run passed."""
    env = test_environment(ROOT / "build" / f"test-run-{name}")
    print(f"\n== {name}", flush=True)
    failed = 0
    for selection in pytest_runs(name, mode):
        cmd = [str(python), "-m", "pytest", *selection, *NBVAL_OPTIONS, "-q", *pytest_args]
        print("+", " ".join(cmd), flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        # pytest's 5 (nothing collected) is a failure too, a selection gone stale, unless the arguments
        # after -- (a -k, say) narrowed it.
        failed += code != 0 and not (code == 5 and pytest_args)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    ours, pytest_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    modes = [arg for arg in ours if arg in ("--quick", "--full")]
    names = [arg for arg in ours if arg not in modes] or list(ENVIRONMENTS)
    unknown = [name for name in names if name not in ENVIRONMENTS]
    if unknown or len(modes) > 1:
        print(f"error: unknown environment {unknown[0]!r}: choose from {', '.join(ENVIRONMENTS)}" if unknown
              else "error: --quick and --full exclude each other: give one of them or neither")
        return 2
    mode = modes[0].lstrip("-") if modes else "default"
    # Every environment is installed before any test runs: the installs build course_lib in the checkout
    # (an editable install), which is then left alone while tests run, here or in a run beside this one.
    pythons = {name: set_up(name) for name in names}
    failed = [name for name, python in pythons.items() if python is None or run(name, python, mode, pytest_args) != 0]
    if failed:
        print(f"\nfailed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main(sys.argv[1:]))
