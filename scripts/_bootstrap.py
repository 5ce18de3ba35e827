"""Create or reuse the course's virtual environment (``.venv/``) and install course_lib into it.

Used by ``scripts/run_course.py`` and ``scripts/run_tests.py``; needs only Python >= 3.10 and pip.
The install is redone only when ``pyproject.toml`` changes (a stamp file in the venv records its hash).
Set ``COURSE_VENV`` to use another folder.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("COURSE_VENV") or ROOT / ".venv")
STAMP = VENV / ".course_lib-installed"


def venv_python() -> Path:
    """The Python interpreter inside the course's virtual environment."""
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


#: Where the set-up's own output goes (pip's warnings, build messages): the console shows one line.
SETUP_LOG = VENV / "setup.log"


def _run(cmd: list[str]) -> None:
    """Run ``cmd`` with its output appended to :data:`SETUP_LOG`; on failure show its end and exit."""
    SETUP_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(SETUP_LOG, "a") as log:
        log.write(f"\n$ {' '.join(str(c) for c in cmd)}\n")
        log.flush()
        done = subprocess.run([str(c) for c in cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = SETUP_LOG.read_text().splitlines()[-30:]
        sys.exit("\n".join(tail) + f"\nSetting up {VENV} failed (the whole output is in {SETUP_LOG}).")


def ensure_environment() -> Path:
    """Create ``.venv`` if needed, install ``course_lib[dev]`` if ``pyproject.toml`` changed; return its Python."""
    if sys.version_info < (3, 10):
        sys.exit(f"Python >= 3.10 is needed, this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, cwd=ROOT)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print(f"Installing course_lib and its dependencies into {VENV} (the first time: a few minutes; "
              f"pip's output goes to {SETUP_LOG}) ...", flush=True)
        _run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        _run([python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"])
        STAMP.write_text(wanted + "\n")
    return python


def reexec_in_environment(script: str) -> None:
    """Run ``script`` again with the venv's Python unless this already is that Python."""
    python = ensure_environment()
    if Path(sys.prefix).resolve() != VENV.resolve():
        completed = subprocess.run([str(python), script, *sys.argv[1:]], cwd=ROOT)
        sys.exit(completed.returncode)


def absolute_data_dir(env: dict) -> None:
    """Make ``COURSE_DATA_DIR`` absolute: notebook kernels run in ``notebooks/``, not where we were started."""
    if env.get("COURSE_DATA_DIR"):
        env["COURSE_DATA_DIR"] = str(Path(env["COURSE_DATA_DIR"]).expanduser().resolve())
