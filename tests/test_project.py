"""The repository keeps its promises to users: one environment described twice, notebooks that run anywhere."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _requirement_names_and_specs(lines):
    return {re.split(r"[<>=~!\[ ]", line, maxsplit=1)[0].lower(): line.replace(" ", "") for line in lines}


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    yml = (ROOT / "environment.yml").read_text()
    listed = [m.group(1) for m in re.finditer(r'^\s*-\s*"([^"]+)"\s*$', yml, flags=re.M)]
    listed = [line for line in listed if not line.startswith("-e")]
    assert _requirement_names_and_specs(listed) == _requirement_names_and_specs(wanted)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 scripts/run_tests.py" in readme
    assert "python3 scripts/run_tests.py" in ci


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("script", [".ci/run", "benchmarks/jax_gpu_session.sh"])
def test_shell_scripts_parse(script):
    """``bash -n`` reads the whole script without running it: a syntax error shows here, not on CI's
    machine or on a borrowed GPU machine."""
    done = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_ten_notebooks_are_numbered_in_order():
    numbers = [nb.name[:2] for nb in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(10)], numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small(path):
    assert path.stat().st_size < 1_000_000, f"{path.name} is {path.stat().st_size / 1e6:.2f} MB; keep it under 1 MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_badge_and_one_guarded_colab_cell(path):
    cells = _cells(path)
    assert f"blob/main/notebooks/{path.name}" in _source(cells[0]), "the first cell carries the Open-in-Colab badge"
    installs = [c for c in cells if c["cell_type"] == "code" and re.search(r"pip install", _source(c))]
    assert len(installs) == 1, "exactly one install cell"
    assert '"google.colab" in sys.modules' in _source(installs[0])
    assert "==" not in _source(installs[0]), "no hard pins inside notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_path_hacks_or_blocking_cells(path):
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    for forbidden in (r"sys\.path", r"os\.chdir", r"drive\.mount", r"(?<![\w.])input\(", "NBVAL_"):
        assert not re.search(forbidden, code), f"{path.name} contains {forbidden!r} (nbval markers are cell tags)"
    tagged = [c for c in _cells(path) if "nbval-check-output" in c.get("metadata", {}).get("tags", [])]
    assert tagged, f"{path.name} compares none of its deterministic cells (tag one 'nbval-check-output')"
    assert all(c["cell_type"] == "code" for c in tagged)


def test_readme_results_table_is_regenerated_from_results_json():
    from course_lib import evaluate

    results = ROOT / "results" / "results.json"
    if not results.exists():
        pytest.skip("no results/results.json yet")
    readme = (ROOT / "README.md").read_text()
    assert evaluate.results_table_markdown(results) in readme
    assert evaluate.paired_table_markdown(results) in readme


# ----------------------------------------------------------------------------- the repository URL
def _repository_url(root=ROOT):
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def _named_repositories(root):
    """Every OWNER/NAME that the README and the notebooks name in a Colab badge or an install cell."""
    named = set()
    for path in [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        text = path.read_text()
        badges = re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/", text)
        installs = re.findall(r"course-lib @ git\+https://github\.com/([\w.-]+/[\w.-]+)", text)
        assert badges, f"{path.name} has no Colab badge"
        if path.suffix == ".ipynb":
            assert installs, f"{path.name} has no install cell naming the repository"
        named.update(badges + installs)
    return named


def test_badges_and_install_cells_name_the_repository_of_pyproject():
    url = _repository_url()
    assert url.startswith("https://github.com/")
    assert _named_repositories(ROOT) == {url.removeprefix("https://github.com/")}


def test_set_repository_rewrites_every_place(tmp_path):
    import shutil
    import sys

    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(ROOT / "README.md", tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    script = ROOT / "scripts" / "set_repository.py"
    done = subprocess.run([sys.executable, script, "my-school/inpainting-2027", "--root", tmp_path],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _repository_url(tmp_path) == "https://github.com/my-school/inpainting-2027"
    assert _named_repositories(tmp_path) == {"my-school/inpainting-2027"}
    for path in (tmp_path / "notebooks").glob("*.ipynb"):
        json.loads(path.read_text())  # still a valid notebook
    bad = subprocess.run([sys.executable, script, "not a repository", "--root", tmp_path],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "OWNER/NAME" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_hold_no_tensorflow_log_lines(path):
    """TensorFlow's start-up lines are noise for students (scripts/refresh_notebooks.py strips them)."""
    log_line = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:[\d.]+ |WARNING: All log messages before absl)", re.MULTILINE)
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            text = _source({"source": output.get("text", "")}) if output.get("output_type") == "stream" else ""
            assert not log_line.search(text), f"{path.name}: {text[:200]!r}"


def test_light_modules_and_the_help_do_not_import_tensorflow():
    """Figures, metrics, masks, data and `--help` must start fast: no TensorFlow, no Keras."""
    import sys

    script = (
        "import sys\n"
        "import course_lib.config, course_lib.names, course_lib.data, course_lib.masks, course_lib.metrics\n"
        "import course_lib.classical, course_lib.recipes, course_lib.reporting, course_lib.viz, course_lib.validation\n"
        "import course_lib.console, course_lib.handoff\n"
        "from course_lib.__main__ import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_names_module_agrees_with_what_it_names():
    from course_lib import losses, models, names

    assert models.MODEL_NAMES == names.MODEL_NAMES
    assert tuple(losses.LOSSES) == names.LOSS_NAMES
