"""The solution key in ``solutions/`` and the student notebooks generated from it.

``scripts/make_student_notebooks.py`` writes ``notebooks/NN_*.ipynb`` from ``solutions/NN_*.ipynb``
by clearing the solution regions.  The quick tests check its marker handling, that ``notebooks/``
is exactly what it writes, and that the key is clean and complete.  The tests marked ``slow`` (part
of the normal run: they are CI's proof that the key is right) execute every exercise check on a
Jupyter kernel: on the solutions each must say "✓ correct", on the blank student notebooks
"not attempted".  To keep them cheap a notebook is not run in full, only its set-up cells, its
exercise section, and the earlier cells that section needs, found from the names its code reads
(``cells_to_run``): seconds instead of minutes for notebooks 05-08, which train and evaluate
networks before their exercises.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib.util
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_student_notebooks", ROOT / "scripts" / "make_student_notebooks.py")
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

SOLUTIONS = generator.solution_notebooks()
NAMES = [path.name for path in SOLUTIONS]
CHECK_CALL = re.compile(r"\bchecks\.check_\w+\(")
START_CODE = "### START CODE HERE ###"
EXERCISES_HEADING = re.compile(r"^#{2,3} (\d+\. )?Exercises\b", re.MULTILINE)


def _read(path):
    return nbformat.read(path, as_version=4)


def _regions(source: str) -> list[str]:
    """The text of each solution region of a cell."""
    return re.findall(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION$", source, re.MULTILINE | re.DOTALL)


# ------------------------------------------------------------------------------------------ the markers
def test_a_code_region_disappears_with_its_markers():
    source = "def f(x):\n    y = None\n    ### BEGIN SOLUTION\n    y = 2 * x\n    ### END SOLUTION\n\n    return y"
    assert generator.clear_solutions(source, "code") == ("def f(x):\n    y = None\n\n    return y", 1)


def test_a_markdown_region_becomes_the_stub_indented_like_its_marker():
    source = "1. Why?\n\n   ### BEGIN SOLUTION\n   Because.\n\n   Really.\n   ### END SOLUTION\n2. How?"
    assert generator.clear_solutions(source, "markdown") == ("1. Why?\n\n   YOUR ANSWER HERE\n2. How?", 1)


def test_a_cell_without_regions_is_unchanged():
    source = "x = 1  # ### START CODE HERE ###\n\nprint(x)\n"
    assert generator.clear_solutions(source, "code") == (source, 0)


def test_several_regions_in_one_cell():
    source = "a\n### BEGIN SOLUTION\nb\n### END SOLUTION\nc\n  ### BEGIN SOLUTION\nd\n  ### END SOLUTION"
    assert generator.clear_solutions(source, "code") == ("a\nc", 2)
    assert generator.clear_solutions(source, "markdown") == ("a\nYOUR ANSWER HERE\nc\n  YOUR ANSWER HERE", 2)


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx\n### BEGIN SOLUTION\ny\n### END SOLUTION", "inside a solution region"),
    ("### BEGIN SOLUTION\nx", "without ### END SOLUTION"),
    ("x\n### END SOLUTION", "without ### BEGIN SOLUTION"),
    ("# ### BEGIN SOLUTION\nsecret\n# ### END SOLUTION", "alone on its line"),
    ("x = 1  ### BEGIN SOLUTION", "alone on its line"),
])
def test_bad_markers_are_errors_not_leaks(source, message):
    with pytest.raises(generator.SolutionMarkerError, match=message):
        generator.clear_solutions(source, "code")


def _toy_notebook(sources, outputs=None):
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"},
                                                  "language_info": {"name": "python", "version": "3.0"}})
    for index, source in enumerate(sources):
        cell = (nbformat.v4.new_markdown_cell(source.removeprefix("md:")) if source.startswith("md:")
                else nbformat.v4.new_code_cell(source))
        cell.id = f"c{index}"
        if outputs and cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=outputs[index])]
            cell.execution_count = index + 1
            cell.metadata["execution"] = {"iopub.status.idle": f"t{index}"}
        notebook.cells.append(cell)
    return notebook


def test_the_student_notebook_keeps_the_outputs_of_unchanged_cells_only():
    badge = "md:[badge](https://colab.research.google.com/github/o/n/blob/main/solutions/00_x.ipynb)"
    solution = _toy_notebook([
        badge,
        "print(1)",                                                       # unchanged
        "f = None\n### BEGIN SOLUTION\nf = 2\n### END SOLUTION\nprint(f)",  # blanked: the same student source
        "print(3)",                                                       # edited since the last run
        "md:### BEGIN SOLUTION\nanswer\n### END SOLUTION",
    ])
    solution.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    previous = _toy_notebook(["md:old", "print(1)", "f = None\nprint(f)", "print(2)", "md:YOUR ANSWER HERE"],
                             outputs=["", "1\n", "None\n", "2\n", ""])
    previous.metadata["language_info"]["version"] = "3.11.7"

    student = generator.student_notebook(solution, previous)
    cells = student.cells
    assert cells[0].source == "[badge](https://colab.research.google.com/github/o/n/blob/main/notebooks/00_x.ipynb)"
    assert [c.outputs[0].text if c.get("outputs") else None for c in cells] == [None, "1\n", "None\n", None, None]
    assert cells[2].source == "f = None\nprint(f)" and cells[4].source == "YOUR ANSWER HERE"
    assert cells[1].metadata["execution"] == {"iopub.status.idle": "t1"} and cells[1].execution_count == 2
    assert "execution" not in cells[3].metadata and cells[3].execution_count is None
    assert "widgets" not in student.metadata and student.metadata["language_info"]["version"] == "3.11.7"
    assert "widgets" in solution.metadata, "the solution notebook itself is not modified"
    # Generating again from the result changes nothing.
    assert generator.render(generator.student_notebook(solution, student)) == generator.render(student)


def test_check_mode_names_the_stale_notebooks(tmp_path, capsys):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    notebooks.mkdir()
    toy = _toy_notebook(["x = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "md:text"])
    for name in ("01_a.ipynb", "03_b.ipynb"):
        nbformat.write(toy, solutions / name)
    args = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assert generator.main(["--check", *args]) == 1
    assert "notebooks/01_a.ipynb: missing" in capsys.readouterr().out
    assert generator.main(args) == 0
    assert nbformat.read(notebooks / "01_a.ipynb", as_version=4).cells[0].source == "x = None"
    assert generator.main(["--check", *args]) == 0
    edited = nbformat.read(notebooks / "03_b.ipynb", as_version=4)
    edited.cells[1].source = "edited by hand"
    nbformat.write(edited, notebooks / "03_b.ipynb")
    capsys.readouterr()
    assert generator.main(["--check", *args]) == 1
    out = capsys.readouterr().out
    assert "03_b.ipynb: cell c1 differs" in out and "01_a" not in out


def test_set_repository_keeps_the_student_notebooks_in_step_with_the_solutions(tmp_path):
    import shutil
    import sys

    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path)
    for folder in ("notebooks", "solutions"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    done = subprocess.run([sys.executable, ROOT / "scripts" / "set_repository.py", "my-school/inpainting-2027",
                           "--root", tmp_path], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "my-school/inpainting-2027" in (tmp_path / "solutions" / NAMES[0]).read_text(encoding="utf-8")
    assert generator.stale_notebooks(tmp_path / "solutions", tmp_path / "notebooks") == []


# ------------------------------------------------------------------------------------------ the notebooks
def test_student_notebooks_are_generated_from_the_solutions():
    stale = generator.stale_notebooks()
    assert not stale, ("notebooks/ is not what scripts/make_student_notebooks.py writes from solutions/ (edit the "
                       "solutions, then run it): " + "; ".join(stale))


def test_every_notebook_with_exercises_has_a_solution_twin():
    with_exercises = [path.name for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                      if "### START CODE HERE ###" in path.read_text(encoding="utf-8")]
    assert with_exercises and set(with_exercises) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_notebook_is_clean(name):
    path = ROOT / "solutions" / name
    assert path.stat().st_size < 1_000_000
    notebook = _read(path)
    assert "widgets" not in notebook.metadata
    for cell in notebook.cells:
        assert "execution" not in cell.metadata, f"{name}: cell {cell.id} carries execution metadata"
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{name}: cell {cell.id} has outputs"


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_and_question_has_an_answer(name):
    notebook = _read(ROOT / "solutions" / name)
    cells = notebook.cells
    for index, cell in enumerate(cells):
        for region in _regions(cell.source):
            assert region.strip(), f"{name}: an empty solution region in cell {cell.id}"
        if cell.cell_type == "code" and "### START CODE HERE ###" in cell.source:
            assert _regions(cell.source), f"{name}: exercise cell {cell.id} has no solution"
        if cell.cell_type == "markdown" and re.search(r"^#{2,4} Exercise \d", cell.source, re.MULTILINE):
            following = []
            for later in cells[index + 1:]:
                if later.cell_type == "markdown" and re.match(r"#{1,4} ", later.source) and not _regions(later.source):
                    break
                following.append(later)
            assert any(_regions(c.source) for c in following), f"{name}: {cell.source.splitlines()[0]} has no answer"


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_opens_with_objectives_and_closes_with_review_questions(name):
    student, solution = _read(ROOT / "notebooks" / name), _read(ROOT / "solutions" / name)
    opening = student.cells[0].source
    assert opening.startswith(f"# {name[:2]} · ") and f"blob/main/notebooks/{name}" in opening
    for block in ("**Objectives**", "**Prerequisites**", "**Time**"):
        assert block in opening, f"{name}: the first cell has no {block}"
    headings = [i for i, cell in enumerate(solution.cells) if cell.source.startswith("## Review questions")]
    assert len(headings) == 1, f"{name}: one '## Review questions' cell"
    index = headings[0]
    assert index >= len(solution.cells) - 3, f"{name}: the review questions close the notebook"
    questions = re.findall(r"^\d+\. ", solution.cells[index].source, re.MULTILINE)
    answers = _regions(solution.cells[index + 1].source)
    assert 3 <= len(questions) <= 5 and len(answers) == 1
    assert len(re.findall(r"^\d+\. ", answers[0], re.MULTILINE)) == len(questions), f"{name}: one answer per question"
    assert student.cells[index + 1].source == generator.TEXT_STUB


# ------------------------------------------------------------------------------------------ executing the checks
def _python(source: str) -> str:
    """A cell's source as plain Python (IPython magics translated; a cell magic's body kept)."""
    from IPython.core.inputtransformer2 import TransformerManager

    lines = source.split("\n")
    if lines and lines[0].startswith("%%"):  # %%time: the body is still the cell's code
        lines = lines[1:]
    return TransformerManager().transform_cell("\n".join(lines))


class _Names(ast.NodeVisitor):
    """The names a cell defines (binds at top level), binds anywhere, and reads."""

    def __init__(self, source: str):
        self.defined, self.bound, self.loaded = set(), set(), set()
        self._depth = 0
        self.visit(ast.parse(_python(source)))
        self.free = self.loaded - self.bound - set(dir(builtins))

    def _bind(self, name):
        self.bound.add(name)
        if self._depth == 0:
            self.defined.add(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.loaded.add(node.id)
        else:
            self._bind(node.id)

    def _scope(self, node, name=None):
        if name:
            self._bind(name)
        arguments = getattr(node, "args", None)
        if isinstance(arguments, ast.arguments):
            for default in arguments.defaults + [d for d in arguments.kw_defaults if d is not None]:
                self.visit(default)
            for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [arguments.vararg,
                                                                                         arguments.kwarg]:
                if arg is not None:
                    self.bound.add(arg.arg)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        self._depth += 1
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)
        self._depth -= 1

    def visit_FunctionDef(self, node):
        self._scope(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._scope(node, node.name)

    def visit_Lambda(self, node):
        self._scope(node)

    def _comprehension(self, node):
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Import(self, node):
        for alias in node.names:
            self._bind((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node):
        if node.name:
            self._bind(node.name)
        self.generic_visit(node)


def exercise_section(notebook) -> int:
    """Index of the markdown cell that opens the exercises."""
    return next(i for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "markdown" and EXERCISES_HEADING.search(cell.source))


def exercise_cells(notebook) -> set[int]:
    """The exercises wherever they sit (an exercise may come before the library's version of the same
    thing, mid-notebook): code cells with a solution region or a START CODE HERE marker, and the code
    cell after each if it calls a check.  A check of the notebook's own code elsewhere is not one."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    found = {i for i in code if _regions(notebook.cells[i].source) or START_CODE in notebook.cells[i].source}
    following = {code[code.index(i) + 1] for i in found if i != code[-1]}
    return found | {i for i in following if CHECK_CALL.search(_python(notebook.cells[i].source))}


def cells_to_run(notebook) -> list[int]:
    """The set-up cells (the code cells before the first section), the exercise section, the exercises
    placed before it, and every earlier cell that defines a name those cells read (recursively; the
    last definition before the reader)."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    first_text = next(i for i, cell in enumerate(notebook.cells) if i > 0 and cell.cell_type == "markdown")
    start = exercise_section(notebook)
    selected = {i for i in code if i < first_text or i >= start} | exercise_cells(notebook)
    names = {i: _Names(notebook.cells[i].source) for i in code}
    todo = sorted(selected)
    while todo:
        reader = todo.pop()
        for name in names[reader].free:
            writers = [i for i in code if i < reader and name in names[i].defined]
            if writers and writers[-1] not in selected:
                selected.add(writers[-1])
                todo.append(writers[-1])
    return sorted(selected)


def _execute(path: Path, tmp_path: Path):
    """Run ``cells_to_run`` of the notebook at ``path`` on a fresh kernel in its folder (ci profile)."""
    from nbclient import NotebookClient

    notebook = _read(path)
    selected = cells_to_run(notebook)
    subset = copy.deepcopy(notebook)
    subset.cells = [subset.cells[i] for i in selected]
    env = dict(os.environ, COURSE_PROFILE="ci", TF_CPP_MIN_LOG_LEVEL="3", COURSE_OUTPUT_DIR=str(tmp_path))
    if env.get("COURSE_DATA_DIR"):  # the kernel runs in the notebook's folder, not here
        env["COURSE_DATA_DIR"] = str(Path(env["COURSE_DATA_DIR"]).expanduser().resolve())
    client = NotebookClient(subset, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start, exercises = exercise_section(notebook), exercise_cells(notebook)
    return [(index, cell) for index, cell in zip(selected, subset.cells) if index >= start or index in exercises]


def _printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def _verdicts(cell) -> list[str]:
    """The lines the checks print: "✓ correct", "✗ ..." or "… not attempted yet: ..."."""
    return [line for line in _printed(cell).splitlines() if line[:1] in ("✓", "✗", "…")]


def _check_cells(executed):
    cells = [(cell, len(CHECK_CALL.findall(_python(cell.source)))) for _, cell in executed if cell.cell_type == "code"]
    return [(cell, calls) for cell, calls in cells if calls]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_check_says_correct_on_the_solutions(name, tmp_path):
    path = ROOT / "solutions" / name
    notebook = _read(path)
    with_solutions = {i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and _regions(cell.source)}
    assert with_solutions <= set(cells_to_run(notebook)), "every solved cell runs"
    executed = _execute(path, tmp_path)
    checked = _check_cells(executed)
    assert checked, f"{name}: no exercise check ran"
    for cell, calls in checked:
        assert _verdicts(cell) == ["✓ correct"] * calls, f"{name}, cell {cell.id}: {_printed(cell)!r}"
    for _, cell in executed:
        printed = _printed(cell)
        assert "✗" not in printed and "not attempted" not in printed, f"{name}, cell {cell.id}: {printed!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_check_says_not_attempted_on_the_student_notebooks(name, tmp_path):
    executed = _execute(ROOT / "notebooks" / name, tmp_path)
    checked = _check_cells(executed)
    assert checked, f"{name}: no exercise check ran"
    for cell, calls in checked:
        verdicts = _verdicts(cell)
        assert len(verdicts) == calls and all(v.startswith("… not attempted") for v in verdicts), (
            f"{name}, cell {cell.id}: {_printed(cell)!r}")
