"""Every install finds the course's files, and the Colab install cell leaves the installed stack alone.

The shipped files (evaluation masks, pretrained networks and their training records) are package data
in ``course_lib/data/``.  The tests build the wheel from a copy of the project, install it with
``pip install --target`` (no ``sys.prefix`` to lean on, like Colab's /usr vs /usr/local) and use it
from a folder that knows nothing of this checkout.  Everything runs offline.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_lib import config

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = ["--no-index", "--no-build-isolation"]  # no package index; build with this venv's setuptools


def pip(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "pip", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of what a build needs: setuptools builds in the source tree (build/, *.egg-info)."""
    copy = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy)
    shutil.copytree(ROOT / "course_lib", copy / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture(scope="module")
def wheel(project, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", *OFFLINE, "--quiet", "-w", out, project, cwd=out)
    (path,) = out.glob("course_lib-*.whl")
    return path


@pytest.fixture(scope="module")
def target(wheel, tmp_path_factory):
    """The wheel installed with ``pip install --target``: a site folder outside any prefix."""
    site = tmp_path_factory.mktemp("site")
    pip("install", "--no-deps", "--no-index", "--quiet", "--target", site, wheel, cwd=site)
    return site


# ------------------------------------------------------------------------------ a checkout
def test_a_checkout_reads_the_package_data_and_searches_data_for_cifar(tmp_path, monkeypatch):
    assert config.IN_CHECKOUT
    assert config.PACKAGE_DATA_DIR == ROOT / "course_lib" / "data"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    assert config.data_search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", ROOT / "data"]


def test_output_goes_to_build_in_a_checkout_to_course_output_elsewhere(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_OUTPUT_DIR", raising=False)
    assert config.output_root() == ROOT / "build"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "IN_CHECKOUT", False)
    assert config.output_root() == tmp_path / "course-output"
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "chosen"))
    assert config.output_dir("runs") == tmp_path / "chosen" / "runs"
    assert (tmp_path / "chosen" / "runs").is_dir()


# ------------------------------------------------------------------------------ a plain install
def test_the_wheel_holds_every_shipped_file(wheel):
    shipped = {path.relative_to(ROOT).as_posix() for path in (ROOT / "course_lib" / "data").rglob("*")
               if path.is_file()}
    assert {f"course_lib/data/pretrained/{name}/{file}" for name in ("vanilla", "pconv", "improved")
            for file in ("weights.npz", "log.csv", "run.json", "export.json")} <= shipped
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert shipped <= names, sorted(shipped - names)
    assert not [name for name in names if name.startswith(("data/", "share/")) or ".data/" in name]


PLAIN_INSTALL_CHECK = """
import json
import sys
import course_lib
from course_lib import config, logs, loss_study, masks, names, pretrained

try:
    loss_study.load()
    stored_study = "loaded"
except FileNotFoundError as error:
    stored_study = str(error)
print(json.dumps({
    "course_lib": course_lib.__file__,
    "in_checkout": config.IN_CHECKOUT,
    "data_search_dirs": [str(path) for path in config.data_search_dirs()],
    "output_dir": str(config.output_dir()),
    "eval_masks": list(masks.load_eval_masks()),  # checks the sha256 too
    "parameters": {name: pretrained.load_pretrained(name).count_params() for name in names.MODEL_NAMES},
    "epochs": {name: len(logs.read_log(pretrained.pretrained_log(name))["epoch"]) for name in names.MODEL_NAMES},
    "stored_study": stored_study,
    "modules": sorted(module.__file__ for name, module in sys.modules.items() if name.startswith("course_lib")),
}))
"""


def test_a_target_install_finds_masks_networks_and_logs(target, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_DATA_DIR", "COURSE_OUTPUT_DIR")}
    # The target folder comes first on sys.path; the venv's site-packages (TensorFlow ...) stay behind it.
    env.update(PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", PLAIN_INSTALL_CHECK], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])

    from course_lib import masks, names

    assert Path(found["course_lib"]).is_relative_to(target), found["course_lib"]
    # The checkout's editable-install hook stays on sys.meta_path: no module may come through it.
    assert all(Path(module).is_relative_to(target) for module in found["modules"]), found["modules"]
    assert found["in_checkout"] is False
    assert found["data_search_dirs"] == []  # no checkout, no COURSE_DATA_DIR: only the Keras cache is left
    assert Path(found["output_dir"]) == tmp_path.resolve() / "course-output"
    assert found["eval_masks"] == masks.eval_mask_names()
    assert list(found["parameters"]) == list(names.MODEL_NAMES)
    assert all(epochs > 0 for epochs in found["epochs"].values()), found["epochs"]
    assert "results/losses" in found["stored_study"]  # a clear message, not a crash elsewhere


# ------------------------------------------------------------------------------ the Colab install cell
def notebook_pip_arguments():
    """The arguments after ``%pip`` in notebook 00's install cell."""
    cells = json.loads((ROOT / "notebooks" / "00_setup_and_data.ipynb").read_text())["cells"]
    lines = [line.strip() for cell in cells if cell["cell_type"] == "code"
             for line in "".join(cell["source"]).splitlines() if line.strip().startswith("%pip install")]
    assert len(lines) == 1, lines
    return shlex.split(lines[0])[1:]


def dry_run_installs(arguments, project, tmp_path):
    """What ``pip install`` with ``arguments``, aimed at ``project``, would install into this venv."""
    command, *rest = arguments
    assert command == "install"
    aimed = [re.sub(r"git\+https://github\.com/[\w.-]+/[\w.-]+", project.as_uri(), arg) for arg in rest]
    assert sum(a != b for a, b in zip(aimed, rest)) == 1, f"no single git+https URL in {rest}"
    report = tmp_path / "report.json"
    # Offline, a dependency pip wanted to change would fail here, naming it.
    pip("install", "--dry-run", "--report", report, *OFFLINE, *aimed, cwd=tmp_path)
    return [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]


def test_the_colab_cell_installs_only_course_lib(project, tmp_path):
    arguments = notebook_pip_arguments()
    assert "--no-deps" in arguments
    assert dry_run_installs(arguments, project, tmp_path) == ["course-lib"]


def test_even_with_dependencies_nothing_else_is_installed_or_downgraded(project, tmp_path):
    arguments = [arg for arg in notebook_pip_arguments() if arg != "--no-deps"]
    assert dry_run_installs(arguments, project, tmp_path) == ["course-lib"]


def test_the_shipped_weights_stay_within_their_25_mb_budget():
    from course_lib import config

    total = sum(path.stat().st_size for path in (config.PACKAGE_DATA_DIR / "pretrained").glob("*/weights.npz"))
    assert total <= 25_000_000, f"{total / 1e6:.1f} MB of shipped weights: over the 25 MB budget (data/README.md)"
