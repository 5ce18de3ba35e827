"""The set-up behind the README's two commands (``scripts/_bootstrap.py``) on a machine that isn't ready.

No network and no real install: environments are made with ``venv --without-pip`` in ``tmp_path``, and
where one needs pip, a stand-in ``pip`` package (it answers ``--version`` and records its arguments) is put
into it.  The course's own ``.venv`` is never touched.
"""

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("_bootstrap", ROOT / "scripts" / "_bootstrap.py")
bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bootstrap)

THIS = f"{sys.version_info[0]}.{sys.version_info[1]}"
DEBIAN_COMPLAINT = (
    "The virtual environment was not created successfully because ensurepip is not\n"
    "available.  On Debian/Ubuntu systems, you need to install the python3-venv\n"
    "package using the following command.\n\n    apt install python3.11-venv\n\n"
    "You may need to use sudo with that command.\n"
)
FAKE_PIP = '''import sys
if sys.argv[1:] == ["--version"]:
    print("pip 0.0 (stand-in)")
else:
    with open({calls!r}, "a") as out:
        out.write(" ".join(sys.argv[1:]) + "\\n")
'''

_real_run = subprocess.run


def _site_packages(venv):
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def _add_fake_pip(venv, calls):
    package = _site_packages(venv) / "pip"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_PIP.format(calls=str(calls)))


def _make_venv(venv, with_fake_pip=None):
    """A real environment made by this Python, without pip (or with the stand-in, recording to ``with_fake_pip``)."""
    _real_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    if with_fake_pip:
        _add_fake_pip(venv, with_fake_pip)


def _is_venv_call(cmd):
    return "-m" in cmd and "venv" in cmd


def _venv_makes(outcome, calls=None):
    """A ``subprocess.run`` for ``_bootstrap`` whose ``venv`` calls end in ``outcome``.

    ``"debian"``: venv prints Debian's complaint and fails; ``"no pip"``: it makes an environment without
    pip; ``"fake pip"``: it makes one with the stand-in; any other string: venv prints it and fails.
    """

    def run(cmd, *args, **kwargs):
        cmd = [str(c) for c in cmd]
        if not _is_venv_call(cmd):
            return _real_run(cmd, *args, **kwargs)
        if outcome in ("no pip", "fake pip"):  # the real venv call, as _bootstrap made it, without pip
            _real_run([*cmd[:-1], "--without-pip", cmd[-1]], check=True, capture_output=True)
            if outcome == "fake pip":
                _add_fake_pip(Path(cmd[-1]), calls)
            return subprocess.CompletedProcess(cmd, 0)
        kwargs["stdout"].write(DEBIAN_COMPLAINT if outcome == "debian" else outcome + "\n")
        return subprocess.CompletedProcess(cmd, 1)

    return run


def _leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if ".partial-" in path.name)


# ----------------------------------------------------------------------------- venv can't be made
def test_venv_without_ensurepip_ends_in_two_lines_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("debian"))
    target = tmp_path / ".venv"
    with pytest.raises(SystemExit) as exit_:
        bootstrap.create_environment(target)
    message = exit_.value.code
    assert isinstance(message, str)  # sys.exit(str): printed on stderr, exit status 1, no traceback
    lines = message.splitlines()
    assert len(lines) <= 2
    assert "Cannot create the virtual environment" in lines[0] and "cannot install pip" in lines[0]
    assert bootstrap.install_hint() in message and "COURSE_VENV" in message
    # venv's own lines went to the log, not the console; nothing half-made stays
    assert "apt install python3.11-venv" not in message
    assert str(target / "setup.log") in message
    assert "ensurepip is not" in (target / "setup.log").read_text()
    assert [p.name for p in target.iterdir()] == ["setup.log"]
    assert _leftovers(tmp_path) == []
    assert not bootstrap.has_content(target)  # the next run makes it quietly, as on a fresh clone


def test_venv_that_makes_no_pip_is_not_moved_into_place(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("no pip"))
    target = tmp_path / ".venv"
    with pytest.raises(SystemExit) as exit_:
        bootstrap.create_environment(target)
    assert "cannot install pip" in exit_.value.code and bootstrap.install_hint() in exit_.value.code
    assert not bootstrap.venv_python(target).exists()
    assert "No module named pip" in (target / "setup.log").read_text()
    assert _leftovers(tmp_path) == []


def test_other_venv_failure_shows_its_last_line(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("Error: [Errno 28] No space left on device"))
    with pytest.raises(SystemExit) as exit_:
        bootstrap.create_environment(tmp_path / ".venv")
    message = exit_.value.code
    assert len(message.splitlines()) <= 2
    assert "No space left on device" in message and "COURSE_VENV" in message
    assert "sudo apt" not in message  # not a missing package: no install hint
    assert _leftovers(tmp_path) == []


def test_a_folder_that_cannot_be_written_ends_in_one_message(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(bootstrap.tempfile, "mkdtemp", refuse)
    with pytest.raises(SystemExit) as exit_:
        bootstrap.create_environment(tmp_path / ".venv")
    assert "Permission denied" in exit_.value.code and "COURSE_VENV" in exit_.value.code


@pytest.mark.parametrize("platform, release, base_prefix, expected", [
    ("linux", {"ID": "debian"}, "/usr", "sudo apt install python3-venv"),
    ("linux", {"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "/usr", "sudo apt install python3-venv"),
    ("linux", {"ID": "fedora"}, "/usr", "sudo dnf install python3"),
    ("linux", {"ID": "debian"}, "/opt/pyenv/versions/3.11.7", "lacks ensurepip"),
    ("linux", {"ID": "plan9"}, "/usr", "venv and ensurepip"),
    ("darwin", {}, "/Library/Frameworks/Python.framework", "brew install python"),
    ("win32", {}, "C:\\Python311", '"pip" ticked'),
])
def test_install_hint_fits_the_platform(platform, release, base_prefix, expected, monkeypatch):
    monkeypatch.setattr(bootstrap, "_is_default_python3", lambda: True)
    assert expected in bootstrap.install_hint(platform, release, base_prefix)


def test_install_hint_names_the_versioned_package_for_another_python3(monkeypatch):
    monkeypatch.setattr(bootstrap, "_is_default_python3", lambda: False)
    assert f"sudo apt install python{THIS}-venv" in bootstrap.install_hint("linux", {"ID": "ubuntu"}, "/usr")


def test_os_release_is_read_with_its_quotes_removed(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('# comment\nID=ubuntu\nID_LIKE="debian"\nPRETTY_NAME="Ubuntu 24.04 LTS"\n')
    found = bootstrap.read_os_release((str(tmp_path / "missing"), str(release)))
    assert found["ID"] == "ubuntu" and found["ID_LIKE"] == "debian" and found["PRETTY_NAME"] == "Ubuntu 24.04 LTS"
    assert bootstrap.read_os_release((str(tmp_path / "missing"),)) == {}


# ----------------------------------------------------------------------------- a leftover .venv
def test_leftover_venv_without_pip_is_rebuilt(tmp_path, monkeypatch, capsys):
    venv, calls = tmp_path / ".venv", tmp_path / "pip-calls.txt"
    _make_venv(venv)  # what the old set-up left on Debian without python3-venv
    (venv / "old-marker").write_text("")
    assert bootstrap.venv_problem(venv) == "it has no pip"

    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("fake pip", calls))
    python = bootstrap.ensure_environment(venv, own=False)

    assert capsys.readouterr().out.splitlines()[0] == f"Rebuilding {venv}: it has no pip."
    assert python == bootstrap.venv_python(venv) and python.exists()
    assert not (venv / "old-marker").exists()
    assert bootstrap.venv_problem(venv) is None and bootstrap.install_is_current(venv)
    assert f"install --quiet -e {ROOT}[dev]" in calls.read_text()
    assert _leftovers(tmp_path) == []
    # moved into place: nothing in it names the temporary folder any more
    for path in [venv / "pyvenv.cfg", *bootstrap.venv_python(venv).parent.iterdir()]:
        if path.is_file() and not path.is_symlink():
            assert ".partial-" not in path.read_text(errors="replace"), path


def test_venv_from_another_python_version_is_rebuilt(tmp_path, monkeypatch, capsys):
    venv, calls = tmp_path / ".venv", tmp_path / "pip-calls.txt"
    _make_venv(venv, with_fake_pip=calls)
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    config = venv / "pyvenv.cfg"
    config.write_text(config.read_text().replace(f"version = {THIS}", f"version = {other}"))
    assert bootstrap.made_by(venv) == (sys.version_info[0], sys.version_info[1] + 1)
    assert f"Python {other} made it" in bootstrap.venv_problem(venv)

    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("fake pip", calls))
    bootstrap.ensure_environment(venv, own=False)

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Rebuilding {venv}: Python {other} made it and this is Python {THIS}")
    assert bootstrap.made_by(venv) == sys.version_info[:2]
    assert bootstrap.venv_problem(venv) is None


@pytest.mark.parametrize("line, version", [
    ("version = 3.12.1", (3, 12)), ("version_info = 3.13.0.final.0", (3, 13)), ("home = /usr/bin", None),
])
def test_made_by_reads_venv_and_uv_configs(tmp_path, line, version):
    (tmp_path / "pyvenv.cfg").write_text(f"home = /usr/bin\n{line}\n")
    assert bootstrap.made_by(tmp_path) == version


def test_good_venv_is_reused_without_running_anything(tmp_path, monkeypatch, capsys):
    venv = tmp_path / ".venv"
    _make_venv(venv)
    (venv / bootstrap.STAMP_NAME).write_text(bootstrap._pyproject_hash() + "\n")

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(bootstrap.subprocess, "run", no_subprocess)
    assert bootstrap.ensure_environment(venv, own=False) == bootstrap.venv_python(venv)
    assert capsys.readouterr().out == ""


def test_own_course_venv_is_never_deleted(tmp_path, monkeypatch):
    venv = tmp_path / "mine"
    _make_venv(venv)
    (venv / "precious").write_text("")
    monkeypatch.setattr(bootstrap.subprocess, "run", _venv_makes("fake pip"))
    with pytest.raises(SystemExit) as exit_:
        bootstrap.ensure_environment(venv, own=True)
    assert exit_.value.code.startswith(f"COURSE_VENV={venv} can't be used: it has no pip.")
    assert (venv / "precious").exists()


def test_own_course_venv_of_another_python_is_used_as_it_is(tmp_path):
    venv = tmp_path / "mine"
    _make_venv(venv, with_fake_pip=tmp_path / "pip-calls.txt")
    config = venv / "pyvenv.cfg"
    config.write_text(config.read_text().replace(f"version = {THIS}", "version = 3.99.0"))
    assert bootstrap.venv_problem(venv, check_version=False) is None
    assert "3.99" in bootstrap.venv_problem(venv)


# ----------------------------------------------------------------------------- pip install fails
def test_pip_failure_shows_pips_errors_not_its_whole_output(tmp_path):
    log = tmp_path / ".venv" / "setup.log"
    output = "\n".join([f"WARNING: Retrying ({i}) after connection broken" for i in range(20)] + [
        "ERROR: Could not find a version that satisfies the requirement numpy>=1.26",
        "ERROR: No matching distribution found for numpy>=1.26"])
    lines = bootstrap.pip_failure(output, log).splitlines()
    assert lines == ["ERROR: No matching distribution found for numpy>=1.26",
                     f"Setting up {log.parent} failed (the whole output is in {log})."]
    # no ERROR line (a crash, say): the output's last line
    assert bootstrap.pip_failure("Collecting numpy\nKilled\n", log).splitlines()[0] == "Killed"


def test_pip_failure_for_a_python_without_tensorflow_says_which_python_to_use(tmp_path):
    output = ("ERROR: Could not find a version that satisfies the requirement tensorflow>=2.16\n"
              "ERROR: No matching distribution found for tensorflow>=2.16\n")
    message = bootstrap.pip_failure(output, tmp_path / "setup.log")
    assert f"TensorFlow has no package for Python {THIS}" in message and "older Python" in message
    assert len(message.splitlines()) == 2


def test_a_failed_install_is_reported_from_this_run_only(tmp_path, monkeypatch):
    venv = tmp_path / ".venv"
    venv.mkdir()
    (venv / "setup.log").write_text("ERROR: an old failure, fixed since\n")

    def pip_crashes(cmd, *args, stdout, **kwargs):
        stdout.write("Collecting numpy\nKilled\n")
        return subprocess.CompletedProcess(cmd, -9)

    monkeypatch.setattr(bootstrap.subprocess, "run", pip_crashes)
    with pytest.raises(SystemExit) as exit_:
        bootstrap._run(["python", "-m", "pip", "install", "numpy"], venv)
    assert exit_.value.code.splitlines()[0] == "Killed"
