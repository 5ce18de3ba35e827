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


def test_the_notebooks_are_numbered_in_order_without_gaps():
    numbers = [nb.name[:2] for nb in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(NOTEBOOKS))], numbers
    assert len(NOTEBOOKS) == 11


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


# ----------------------------------------------------------------------------- the README and the results pages
MARKDOWN_PAGES = ["README.md", "CONTRIBUTING.md", "results/README.md", "benchmarks/README.md"]


def _update_results_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme_results", ROOT / "scripts" / "update_readme_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_read_in_two_minutes():
    size = (ROOT / "README.md").stat().st_size
    assert size < 10_000, f"README.md is {size:,} bytes; keep it under 10,000 (details go to results/ or CONTRIBUTING.md)"


def test_readme_gives_exactly_the_two_commands_after_cloning():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]
    assert commands == ["python3 scripts/run_course.py", "python3 scripts/run_tests.py"]


@pytest.mark.parametrize("page", MARKDOWN_PAGES)
def test_every_relative_link_resolves(page):
    path = ROOT / page
    targets = re.findall(r"\]\(([^)\s]+)\)", path.read_text())
    assert targets, f"{page} links to nothing"
    missing = []
    for target in targets:
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        if not (path.parent / target.split("#", 1)[0]).exists():
            missing.append(target)
    assert not missing, f"{page} links to files that do not exist: {missing}"


def test_generated_results_pages_are_what_the_script_writes_now():
    """README's headline block and results/README.md follow results.json and the shipped networks' records:
    after a new evaluation or a new network, run scripts/update_readme_results.py."""
    if not (ROOT / "results" / "results.json").exists():
        pytest.skip("no results/results.json yet")
    script = _update_results_script()
    for path, wanted in script.wanted_files().items():
        assert path.read_text() == wanted, (
            f"{path.relative_to(ROOT)} is out of date: run python scripts/update_readme_results.py")


def test_readme_headline_table_holds_the_means_of_results_json():
    """Read back independently of the generator: every cell of the README's table against the JSON."""
    results = json.loads((ROOT / "results" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- results:begin -->", 1)[1].split("<!-- results:end -->", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    groups = results["metadata"]["groups"]
    assert {"improved", "pconv", "vanilla", "biharmonic"} <= {row.split("|")[1].strip() for row in rows}
    for row in rows:
        method, *cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == len(groups), row
        for group, cell in zip(groups, cells):
            summary = results["results"][method]["composite"][group]["hole_psnr"]
            assert cell == f"{summary['mean']:.2f} ± {summary['ci95']:.2f}", (method, group, cell)


def test_results_page_holds_every_table_and_says_how_the_networks_were_trained():
    from course_lib import reporting

    results = ROOT / "results" / "results.json"
    page = (ROOT / "results" / "README.md").read_text()
    assert reporting.results_table_markdown(results) in page
    assert reporting.paired_table_markdown(results) in page
    for name in ("vanilla", "pconv", "improved"):
        run = json.loads((ROOT / "course_lib" / "data" / "pretrained" / name / "run.json").read_text())
        assert f"| {name} | " in page and f" | {run['settings']['seed']} | " in page
        if "continued_from" in run:
            assert "schedule differs" in page and "continue_pretrained.py" in page
    assert "results/seeds/seeds.md" in page


@pytest.mark.parametrize("page", MARKDOWN_PAGES)
def test_pages_tell_what_the_course_is_not_how_it_was_made(page):
    text = (ROOT / page).read_text()
    for phrase in (r"\bsessions?\b", r"\blent\b", r"\blending\b", r"stretch goal", r"\btarget (is|was|of)\b",
                   r"one day to the next", r"\brestart", r"available to us"):
        assert not re.search(phrase, text, flags=re.I), f"{page}: {phrase!r} tells how the course was made"


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

    assert not hasattr(models, "MODEL_NAMES")  # one registry: build_model checks course_lib.names
    assert tuple(losses.LOSSES) == names.LOSS_NAMES


def _tested_with_rows():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Tested with"):]
    section = section[:section.index("\n## ", 1)]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| package")]
    return {row[0]: row[1:] for row in rows}


PACKAGES = {"TensorFlow": "tensorflow", "Keras": "keras", "NumPy": "numpy",
            "OpenCV": "opencv-python-headless", "scikit-image": "scikit-image"}


def test_the_readme_tested_with_table_says_what_pyproject_and_the_colab_stack_say():
    """Each row: the range of ``pyproject.toml``, a lowest version inside it that starts at its lower
    bound, Colab's pin from ``.ci/colab-stack.txt`` where it has one, and the main version of the comment."""
    rows = _tested_with_rows()
    assert set(rows) == set(PACKAGES), rows
    lines = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    colab = dict(line.split("==") for line in (ROOT / ".ci" / "colab-stack.txt").read_text().splitlines()
                 if line and not line.startswith("#"))
    for label, name in PACKAGES.items():
        needs, lowest, colab_version, main = rows[label]
        spec = next(line for line in lines if re.split(r"[<>=]", line)[0] == name)
        bounds = dict(re.findall(r"(>=|<)([\d.]+)", spec))
        assert needs.replace(" ", "") == ",".join(f"{'≥' if op == '>=' else op}{v}" for op, v in bounds.items())
        assert lowest == bounds[">="] or lowest.startswith(bounds[">="] + "."), (label, lowest, spec)
        assert colab_version == colab.get(name, main), (label, colab_version)
        assert re.search(rf'"{re.escape(spec)}",\s*#\s*{re.escape(main)}\b', pyproject), (label, main)


def test_ci_runs_the_other_versions_too():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/run_version_tests.py" in ci


def test_each_other_environment_runs_the_quick_unit_tests_and_what_exists_of_its_own_extras():
    """scripts/run_version_tests.py: first the unit tests without the long ones, then the environment's
    extras, each a file, folder or test that is there (a renamed notebook would leave a selection that
    runs nothing); the notebooks in Colab's; ``--full`` what scripts/run_tests.py runs."""
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("run_version_tests", ROOT / "scripts" / "run_version_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    browser_test = (ROOT / "tests" / "browser" / "test_jupyterlab.py").read_text()
    for name in module.ENVIRONMENTS:
        quick, also = module.pytest_runs(name)
        assert module.pytest_runs(name, "quick") == [quick]
        assert quick[quick.index("-m") + 1] == "not long"
        assert {f"--ignore={path}" for path in ("tests/browser", "tests/test_solutions.py")} <= set(quick)
        for selection in also:
            path, _, test = selection.partition("::")
            assert (ROOT / path).exists(), selection
            if test:
                function, _, notebook = test.rstrip("]").partition("[")
                assert f"def {function}(" in browser_test and (ROOT / "notebooks" / notebook).is_file(), selection
        assert module.pytest_runs(name, "full") == [["tests", "notebooks"]]
    assert "notebooks" in module.pytest_runs("colab")[1]
    assert "long:" in (ROOT / "tests" / "conftest.py").read_text()  # the marker is registered


def test_the_tests_spread_over_workers_in_units_that_keep_shared_state_together():
    """tests/conftest.py's units for pytest-xdist (scripts/run_tests.py): every notebook under nbval in one,
    a test file in one, the browser test and the solution key one test each; and run_tests.py asks for them."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("course_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    cells = [f"notebooks/{name}::Cell {k}" for name in ("00_setup_and_data.ipynb", "07_comparison.ipynb")
             for k in (0, 5)]
    assert len({conftest.work_unit(nodeid) for nodeid in cells}) == 1
    assert conftest.work_unit("tests/test_site.py::test_a") == conftest.work_unit("tests/test_site.py::test_b")
    assert conftest.work_unit("tests/test_site.py::test_a") != conftest.work_unit("tests/test_grade.py::test_a")
    for path in conftest.SPREAD:
        assert (ROOT / path).is_file(), path
        one, two = (f"{path}::test_x[{name}]" for name in ("00_setup_and_data.ipynb", "01_classical_inpainting.ipynb"))
        assert conftest.work_unit(one) != conftest.work_unit(two)
    sys.path.insert(0, str(ROOT / "scripts"))
    import run_tests

    options = run_tests.parallel_options(cores=2)
    assert options[options.index("-n") + 1] == "2" and options[options.index("--dist") + 1] == "loadscope"
    assert run_tests.parallel_options(cores=64)[1] == "4"
