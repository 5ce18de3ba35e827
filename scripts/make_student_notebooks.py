"""Write the student notebooks in ``notebooks/`` from the solution key in ``solutions/``.

    python3 scripts/make_student_notebooks.py            # (re)write notebooks/NN_*.ipynb
    python3 scripts/make_student_notebooks.py --check    # exit 1, naming the stale notebooks

Every notebook with exercises is written once, in ``solutions/``, with the exercises solved and the
think and review questions answered.  The answers sit between nbgrader's markers, each alone on its
line (indentation allowed)::

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

The student notebook is the solution notebook with those regions cleared:

* **code cells**: the region is removed, markers included.  Everything outside it is the students'
  code, verbatim, so the solution cell carries the students' placeholder too: ``ratio = None``
  before the region, ``return ratio`` after it, or a ``return None`` after the solution's own
  ``return``.  The placeholder makes the function return ``None`` until the student writes
  something, and ``course_lib.checks`` reports ``None`` as "not attempted": the blank notebook
  still runs top to bottom (nothing raises ``NotImplementedError``);
* **markdown cells**: the region becomes one line, ``YOUR ANSWER HERE``, indented like the marker.

Outputs.  A solution notebook stores no outputs; the student notebooks store the outputs of a run
*of the blank notebooks* (``scripts/refresh_notebooks.py``), which is what students see on GitHub
and what ``--nbval-lax`` compares.  Outputs cannot come from the solutions: a check cell says
"✓ correct" there and must say "not attempted" here.  So this script carries over, from the
student notebook it replaces, the outputs (with the execution count and timing metadata) of every
cell whose id, type and source are unchanged, and leaves a changed or new code cell without
outputs until the next ``refresh_notebooks.py``; rerunning this script afterwards changes nothing.
Notebook metadata comes from the solution, without widget state; ``language_info`` (written by the
kernel that ran the notebook) is carried over like the outputs.  Colab badges that point at
``blob/main/solutions/`` point at ``blob/main/notebooks/`` in the student copy.

Why not nbgrader's ``ClearSolutions``?  It does the same marker replacement, but ``pip install
nbgrader`` (0.9.6) adds SQLAlchemy, alembic, Mako, RapidFuzz and notebook 7 to the course
environment, and installing it activates four Jupyter server and five JupyterLab extensions
(formgrader, assignment list, "create assignment", ...), which every student whose environment
``scripts/run_course.py`` sets up (it installs ``course_lib[dev]``) would then see in JupyterLab.  Its code stub is one text for every region, so it could not keep
the exercises' two student forms (``result = None ... return result`` and ``return None``); and
it cannot carry over the outputs of a run of the blank notebooks.  The few lines below keep
nbgrader's marker syntax and markdown stub: ``ClearSolutions(code_stub="", enforce_metadata=False)``
turns ``solutions/`` into the same cell sources, except for one whitespace-only line where each code
region was (and the badge links).  They are stricter about markers than nbgrader (a stray or
misspelt marker is an error, not a leak), and ``tests/test_solutions.py`` tests them.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = ROOT / "solutions"
NOTEBOOKS_DIR = ROOT / "notebooks"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TEXT_STUB = "YOUR ANSWER HERE"
#: Written by the kernel that executed a notebook: carried over from the student notebook being replaced.
EXECUTION_METADATA = "execution"


class SolutionMarkerError(ValueError):
    """Unbalanced or nested solution markers, or a marker that would leak into the student copy."""


def clear_solutions(source: str, cell_type: str) -> tuple[str, int]:
    """The student version of one cell's source, and how many solution regions it had.

    A line whose stripped text is ``### BEGIN SOLUTION`` opens a region and ``### END SOLUTION``
    closes it.  In a code cell the region disappears; in a markdown cell it becomes ``YOUR ANSWER
    HERE``, indented like the opening marker.  Raises :class:`SolutionMarkerError` for a region
    that is nested, not closed or not opened, and for any other line that mentions a marker (a
    misspelt marker would otherwise leak the solution).
    """
    kept: list[str] = []
    inside = False
    regions = 0
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise SolutionMarkerError(f"line {number}: {BEGIN_SOLUTION} inside a solution region")
            inside = True
            regions += 1
            if cell_type == "markdown":
                kept.append(line[: line.index(BEGIN_SOLUTION)] + TEXT_STUB)
        elif marker == END_SOLUTION:
            if not inside:
                raise SolutionMarkerError(f"line {number}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise SolutionMarkerError(f"line {number}: a solution marker must be alone on its line: {line.strip()!r}")
        elif not inside:
            kept.append(line)
    if inside:
        raise SolutionMarkerError(f"{BEGIN_SOLUTION} without {END_SOLUTION}")
    return "\n".join(kept), regions


def student_notebook(solution, previous=None):
    """The student notebook for ``solution`` (a NotebookNode); ``previous``: the one it replaces, if any."""
    notebook = copy.deepcopy(solution)
    notebook.metadata.pop("widgets", None)
    if previous is not None and "language_info" in previous.metadata:
        notebook.metadata["language_info"] = copy.deepcopy(previous.metadata["language_info"])
    earlier = {cell.get("id"): cell for cell in previous.cells} if previous is not None else {}
    for index, cell in enumerate(notebook.cells):
        try:
            source, _ = clear_solutions(cell.source, cell.cell_type)
        except SolutionMarkerError as error:
            raise SolutionMarkerError(f"cell {index} (id {cell.get('id')}): {error}") from None
        cell.source = source.replace("/blob/main/solutions/", "/blob/main/notebooks/")
        cell.metadata.pop(EXECUTION_METADATA, None)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        before = earlier.get(cell.get("id"))
        if before is not None and before.cell_type == "code" and before.source == cell.source:
            cell.outputs = copy.deepcopy(before.outputs)
            cell.execution_count = before.execution_count
            if EXECUTION_METADATA in before.metadata:
                cell.metadata[EXECUTION_METADATA] = copy.deepcopy(before.metadata[EXECUTION_METADATA])
    return notebook


def render(notebook) -> str:
    """The notebook's file contents, exactly as ``nbformat.write`` writes them."""
    import nbformat

    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def expected_student_text(solution_path: Path, student_path: Path) -> str:
    """What this script writes to ``student_path`` for ``solution_path``."""
    import nbformat

    solution = nbformat.read(solution_path, as_version=4)
    previous = nbformat.read(student_path, as_version=4) if student_path.exists() else None
    try:
        return render(student_notebook(solution, previous))
    except SolutionMarkerError as error:
        raise SolutionMarkerError(f"{solution_path.name}, {error}") from None


def solution_notebooks(solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    return sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb"))


def _first_difference(expected: str, actual: str) -> str:
    """A short description of where two notebook texts differ (for --check)."""
    import nbformat

    want, have = nbformat.reads(expected, as_version=4), nbformat.reads(actual, as_version=4)
    if [c.get("id") for c in want.cells] != [c.get("id") for c in have.cells]:
        return "cells added, removed or reordered"
    for cell, other in zip(want.cells, have.cells):
        if cell.source != other.source or cell.cell_type != other.cell_type:
            return f"cell {cell.get('id')} differs"
    return "metadata or outputs differ"


def stale_notebooks(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """``"NAME: why"`` for every student notebook that is not what this script would write."""
    stale = []
    for solution_path in solution_notebooks(solutions_dir):
        student_path = Path(notebooks_dir) / solution_path.name
        if not student_path.exists():
            stale.append(f"{student_path.name}: missing")
            continue
        expected, actual = expected_student_text(solution_path, student_path), student_path.read_text(encoding="utf-8")
        if expected != actual:
            stale.append(f"{student_path.name}: {_first_difference(expected, actual)}")
    return stale


def write_student_notebooks(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write every student notebook that changes; return their paths."""
    written = []
    for solution_path in solution_notebooks(solutions_dir):
        student_path = Path(notebooks_dir) / solution_path.name
        text = expected_student_text(solution_path, student_path)
        if not student_path.exists() or student_path.read_text(encoding="utf-8") != text:
            student_path.write_text(text, encoding="utf-8")
            written.append(student_path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a student notebook is not what this script would write")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not solution_notebooks(args.solutions):
        parser.exit(2, f"make_student_notebooks: no NN_*.ipynb in {args.solutions}\n")
    try:
        if args.check:
            stale = stale_notebooks(args.solutions, args.notebooks)
            for line in stale:
                print(f"stale: notebooks/{line}")
            if stale:
                print("Edit solutions/, not notebooks/; then run python3 scripts/make_student_notebooks.py "
                      "(and scripts/refresh_notebooks.py for the outputs of changed cells).")
                return 1
            print(f"{len(solution_notebooks(args.solutions))} student notebooks are up to date")
            return 0
        written = write_student_notebooks(args.solutions, args.notebooks)
    except SolutionMarkerError as error:
        parser.exit(2, f"make_student_notebooks: {error}\n")
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"{len(written)} student notebook(s) written")
    return 0


if __name__ == "__main__":
    from _bootstrap import reexec_in_environment

    reexec_in_environment(__file__)
    sys.exit(main())
