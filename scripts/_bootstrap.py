"""Create or reuse the course's virtual environment (``.venv/``) and install course_lib into it.

Used by ``scripts/run_course.py``, ``scripts/run_tests.py`` and the other scripts that need the course's
packages.  Needs only Python >= 3.10 whose ``venv`` module can install pip (on Debian, Ubuntu and WSL that
is the ``python3-venv`` package).  Standard library only: this runs before anything is installed.

- The environment is built in a temporary folder beside ``.venv`` and moved into place only once
  ``python -m pip --version`` works in it, so a failed or interrupted set-up leaves no half-made ``.venv``.
- A ``.venv`` that has no pip, or that another Python version made, is rebuilt (one line says so).
- The install is redone only when ``pyproject.toml`` changes (a stamp file in the venv records its hash).
- ``COURSE_VENV`` names another folder, for example an environment of one's own: it is made there if
  missing, used as it is otherwise, and never deleted.
- When something fails, the console gets at most three lines; the whole output is in ``setup.log``
  inside the environment's folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: A folder named by ``COURSE_VENV`` is the user's: never rebuilt or deleted, whatever is wrong with it.
OWN_VENV = bool(os.environ.get("COURSE_VENV"))
VENV = Path(os.environ.get("COURSE_VENV") or ROOT / ".venv").expanduser().absolute()
STAMP_NAME = ".course_lib-installed"
LOG_NAME = "setup.log"
STAMP = VENV / STAMP_NAME
#: Where the set-up's own output goes (venv's and pip's messages): the console shows a line or two.
SETUP_LOG = VENV / LOG_NAME


def venv_python(venv: Path = VENV) -> Path:
    """The Python interpreter inside the virtual environment ``venv``."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


# ----------------------------------------------------------------------------- what is there
def made_by(venv: Path) -> tuple[int, int] | None:
    """(major, minor) of the Python that made ``venv``, from its ``pyvenv.cfg``; None when that doesn't say."""
    try:
        lines = (venv / "pyvenv.cfg").read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, equals, value = line.partition("=")
        if equals and key.strip() in ("version", "version_info"):  # venv writes the first, virtualenv and uv the second
            parts = value.strip().split(".")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                return int(parts[0]), int(parts[1])
    return None


def _pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def install_is_current(venv: Path) -> bool:
    """Whether ``venv`` records a finished install of this ``pyproject.toml``."""
    try:
        return (venv / STAMP_NAME).read_text().strip() == _pyproject_hash()
    except OSError:
        return False


def pip_works(python: Path) -> bool:
    """Whether ``python -m pip --version`` succeeds (``-I``: no PYTHONPATH, no user site, no current folder)."""
    try:
        done = subprocess.run([str(python), "-I", "-m", "pip", "--version"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def has_content(venv: Path) -> bool:
    """Whether ``venv`` holds anything but a set-up log (a failed first attempt leaves only that)."""
    if not venv.is_dir():
        return venv.exists() or venv.is_symlink()
    return any(entry.name != LOG_NAME for entry in venv.iterdir())


def venv_problem(venv: Path, check_version: bool = True) -> str | None:
    """Why the environment at ``venv`` can't be used as it is (a short phrase), or None when it can.

    Checks that its Python is there, that it was made by this Python's major.minor (from ``pyvenv.cfg``;
    skipped with ``check_version=False``) and that ``python -m pip --version`` works in it.  The pip check
    is skipped where a finished course_lib install is recorded: pip worked then, and asking again would
    cost a second on every run.
    """
    python = venv_python(venv)
    if not python.exists():
        return f"it has no Python ({python.relative_to(venv).as_posix()} is missing)"
    found, this = made_by(venv), sys.version_info[:2]
    if check_version and found and found != this:
        return (f"Python {found[0]}.{found[1]} made it and this is Python {this[0]}.{this[1]} "
                f"(to keep it, run the command with python{found[0]}.{found[1]})")
    if not install_is_current(venv) and not pip_works(python):
        return "it has no pip"
    return None


# ----------------------------------------------------------------------------- when venv fails: what to install
def read_os_release(paths: tuple[str, ...] = ("/etc/os-release", "/usr/lib/os-release")) -> dict[str, str]:
    """``/etc/os-release`` as a dict (``ID``, ``ID_LIKE``, ...); empty where there is none."""
    for path in paths:
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
        return {key.strip(): value.strip().strip("'\"") for key, value in pairs}
    return {}


def _is_default_python3() -> bool:
    """Whether this is the distribution's ``python3`` (then ``python3-venv`` fits; else the versioned package)."""
    return os.path.realpath("/usr/bin/python3") == os.path.realpath(sys.executable)


def install_hint(platform: str = sys.platform, os_release: dict[str, str] | None = None,
                 base_prefix: str = sys.base_prefix) -> str:
    """What to do so that this Python's ``venv`` can install pip: one short sentence, without a full stop."""
    if platform == "win32":
        return 'Install Python from python.org with "pip" ticked'
    if platform == "darwin":
        return "Install Python from python.org, or run `brew install python`"
    release = read_os_release() if os_release is None else os_release
    family = {release.get("ID", ""), *release.get("ID_LIKE", "").split()}
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if base_prefix != "/usr" and platform.startswith("linux"):  # pyenv, conda, a build from source: apt can't help
        return (f"This Python ({base_prefix}) lacks ensurepip: reinstall it with pip included, "
                f"or use the system's python3")
    if family & {"debian", "ubuntu"}:
        package = "python3-venv" if _is_default_python3() else f"python{version}-venv"
        return f"Run `sudo apt install {package}`"
    if family & {"fedora", "rhel", "centos"}:
        return "Run `sudo dnf install python3 python3-pip`"
    if "arch" in family:
        return "Run `sudo pacman -S python python-pip`"
    if family & {"suse", "opensuse"}:
        return "Run `sudo zypper install python3 python3-pip`"
    return f"Install your system's package that gives Python {version} its venv and ensurepip modules"


def creation_failure(target: Path, output: str, log: Path | None) -> str:
    """The message (two lines) for a virtual environment that could not be made at ``target``.

    ``output``: what venv and the pip check printed; ``log``: where that was kept (None: nowhere).
    """
    where = f" (venv's output is in {log})" if log else ""
    if "ensurepip" in output or "No module named pip" in output:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return (f"Cannot create the virtual environment {target}: this Python {version} cannot install pip "
                f"into it{where}.\n{install_hint()}, then run the same command again; or set COURSE_VENV "
                f"to an environment of your own that has pip.")
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("$ ")]
    reason = lines[-1] if lines else "venv failed"
    return (f"Cannot create the virtual environment {target}: {reason}{where}.\nFix that and run the same "
            f"command again, or set COURSE_VENV to another folder (or to an environment of your own that has pip).")


# ----------------------------------------------------------------------------- making it
def _logged(cmd: list, log: Path) -> bool:
    """Run ``cmd`` in ``ROOT`` with its output appended to ``log``; whether it succeeded."""
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(str(c) for c in cmd)}\n")
        out.flush()
        try:
            done = subprocess.run([str(c) for c in cmd], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        except OSError as error:
            out.write(f"{error}\n")
            return False
    return done.returncode == 0


def _relocate(build: Path, target: Path) -> None:
    """Write ``target`` where venv and pip wrote ``build``'s own path: in ``pyvenv.cfg``, the activate scripts
    and the ``#!`` line of pip's commands.  A venv isn't movable otherwise.  Binaries (the ``.exe`` launchers
    on Windows) are left as they are: ``python -m pip`` works there all the same."""
    old, new = os.fsencode(build), os.fsencode(target)
    for path in [build / "pyvenv.cfg", *venv_python(build).parent.iterdir()]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data:
            path.write_bytes(data.replace(old, new))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _keep_log(log: Path, target: Path) -> Path | None:
    """Append ``log`` to ``target``'s set-up log (making the folder if needed); where it went, or None."""
    kept = target / LOG_NAME
    try:
        target.mkdir(parents=True, exist_ok=True)
        with open(kept, "a") as out:
            out.write(log.read_text(errors="replace"))
    except OSError:
        return None
    return kept


def create_environment(target: Path) -> None:
    """Make a virtual environment with a working pip at ``target`` (replacing what is there), or exit.

    It is built in a temporary folder beside ``target`` by this Python's ``venv`` and moved into place only
    once ``python -m pip --version`` works in it.  On failure the temporary folder is removed, venv's output
    is kept in ``target/setup.log`` and the exit message (two lines) says what to install for this platform.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
    except OSError as error:
        sys.exit(creation_failure(target, str(error), None))
    log = build / LOG_NAME
    try:
        made = (_logged([sys.executable, "-m", "venv", "--prompt", target.name, build], log)
                and _logged([venv_python(build), "-I", "-m", "pip", "--version"], log))
    except BaseException:  # Ctrl-C included: no half-made folder stays behind
        shutil.rmtree(build, ignore_errors=True)
        raise
    if not made:
        output = log.read_text(errors="replace")
        kept = _keep_log(log, target)
        shutil.rmtree(build, ignore_errors=True)
        sys.exit(creation_failure(target, output, kept))
    _relocate(build, target)
    try:
        _remove(target)
        os.replace(build, target)
    except OSError as error:
        shutil.rmtree(build, ignore_errors=True)
        if has_content(target) and venv_problem(target) is None:
            return  # another run of the scripts made it meanwhile
        sys.exit(f"Cannot put the new virtual environment in place at {target}: {error}.\n"
                 f"Delete {target} by hand (or set COURSE_VENV to another folder), then run the same command again.")


# ----------------------------------------------------------------------------- installing into it
def pip_failure(log_text: str, log: Path) -> str:
    """The message (two lines) for a failed ``pip install``: pip's last ERROR line, or the output's last line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if any("No matching distribution found for tensorflow" in line for line in errors):
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        errors = [f"TensorFlow has no package for Python {version} on this platform: run the command with an "
                  f"older Python 3 (3.10 or later), or set COURSE_VENV to an environment that has TensorFlow."]
    shown = errors[-1:] or lines[-1:]
    return "\n".join(shown + [f"Setting up {log.parent} failed (the whole output is in {log})."])


def _run(cmd: list, venv: Path) -> None:
    """Run ``cmd`` with its output appended to ``venv``'s set-up log; on failure say why in a few lines and exit."""
    log = venv / LOG_NAME
    start = log.stat().st_size if log.exists() else 0  # the log holds earlier runs too: judge this one only
    if not _logged(cmd, log):
        with open(log, "rb") as out:
            out.seek(start)
            sys.exit(pip_failure(out.read().decode(errors="replace"), log))


def ensure_environment(venv: Path = VENV, own: bool = OWN_VENV) -> Path:
    """Make ``venv`` a working environment with ``course_lib[dev]`` installed as ``pyproject.toml`` says;
    return its Python.

    A missing (or log-only) folder is made; a broken one is rebuilt, saying why in one line, unless it is
    ``own`` (named by ``COURSE_VENV``): then the message says what is wrong and nothing is deleted.
    """
    if sys.version_info < (3, 10):
        sys.exit(f"Python >= 3.10 is needed, this is {sys.version.split()[0]}.")
    if not has_content(venv):
        create_environment(venv)
    else:
        problem = venv_problem(venv, check_version=not own)
        if problem and own:
            sys.exit(f"COURSE_VENV={venv} can't be used: {problem}. Fix it, or point COURSE_VENV at a new folder "
                     f"(the environment is made there).")
        if problem:
            print(f"Rebuilding {venv}: {problem}.", flush=True)
            create_environment(venv)
    python = venv_python(venv)
    wanted = _pyproject_hash()
    if not install_is_current(venv):
        print(f"Installing course_lib and its dependencies into {venv} (the first time: a few minutes; "
              f"pip's output goes to {venv / LOG_NAME}) ...", flush=True)
        _run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], venv)
        _run([python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], venv)
        (venv / STAMP_NAME).write_text(wanted + "\n")
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
