"""Grade a class: run every submitted notebook and tabulate what its exercise checks recorded.

``python -m course_lib grade SUBMISSIONS_DIR --out grades.csv`` (see :func:`grade`).

Submissions are either one notebook per student, ``SUBMISSIONS_DIR/<student>.ipynb``, or one folder
per student, ``SUBMISSIONS_DIR/<student>/*.ipynb``.  A folder's notebooks run in name order and share
one output folder, so a class saved in notebook 04 (:mod:`course_lib.handoff`) loads in notebook 06.

Each notebook runs in a fresh Jupyter kernel in the ``ci`` profile, in a scratch folder that is deleted
afterwards, with a time limit per cell (a cell that runs past it is interrupted, and the next cells
still run) and per notebook (the kernel is killed).  A cell that raises does not stop the notebook
either, so an error in one exercise does not hide the verdicts of the later ones.  The checks of
:mod:`course_lib.checks` append their verdicts to the file named by ``$COURSE_VERDICTS``; that file,
not the printed lines, is what is read here.

An exercise is a ``checks.check_*`` function that a notebook calls.  Its verdict for a student is
the last one its check recorded (correct, wrong, not attempted, or error: the student's code raised
inside the check); without one it is "error" when the notebook did not run to its end or the cell
that calls the check raised, else "not attempted" (the call was deleted, or the student's folder
lacks that notebook).

The submissions run as the user who runs the grader, with that user's files and network, unsandboxed:
grade untrusted notebooks in a container.  A notebook runs arbitrary code, so it can also fake its
verdicts; read the notebooks behind surprising grades.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

from course_lib import config
from course_lib.checks.feedback import VERDICT_NAMES

__all__ = ["Grades", "Submission", "find_submissions", "grade", "summary_lines"]

#: A call of an exercise check in a notebook's code, ``checks.check_psnr(`` (a notebook imports its checks module
#: as ``checks``: ``from course_lib.checks import measuring as checks``).
_CHECK_CALL = re.compile(r"\bchecks\s*\.\s*(check_\w+)\s*\(")


@dataclasses.dataclass
class Submission:
    """One student's work: ``notebooks`` in the order they run; ``folder``: submitted as a folder."""

    student: str
    notebooks: list[Path]
    folder: bool


@dataclasses.dataclass
class _Run:
    """What running one notebook gave: the exercises it calls, in order, with their verdicts."""

    exercises: list[str]                   # check names, in the order of the notebook's calls
    verdicts: dict[str, str]               # check name -> the last verdict recorded
    failed: set[str]                       # checks called in a cell that raised
    problem: str | None                    # why the notebook did not run to its end, or None
    cells_raised: int = 0


@dataclasses.dataclass
class Grades:
    """The table :func:`grade` writes: ``rows`` maps each student to one verdict per exercise and ``run``."""

    exercises: list[str]
    rows: dict[str, dict[str, str]]

    def counts(self, exercise: str) -> dict[str, int]:
        """How many students got each verdict (:data:`course_lib.checks.feedback.VERDICT_NAMES`) for ``exercise``."""
        counts = dict.fromkeys(VERDICT_NAMES, 0)
        for row in self.rows.values():
            counts[row[exercise]] += 1
        return counts


def find_submissions(folder: str | os.PathLike) -> list[Submission]:
    """The submissions in ``folder``, sorted by student: ``<student>.ipynb`` files and ``<student>/`` folders
    holding ``*.ipynb`` (hidden files and folders such as ``.ipynb_checkpoints`` are skipped).

    Raises ValueError when ``folder`` is not a folder or holds no notebook.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(f"no folder {folder}: give the folder that holds the submitted notebooks")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder: give the folder that holds the submitted notebooks")
    submissions = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".ipynb":
            found = Submission(path.stem, [path], folder=False)
        elif path.is_dir():
            notebooks = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
            if not notebooks:
                continue
            found = Submission(path.name, notebooks, folder=True)
        else:
            continue
        if found.student in submissions:
            raise ValueError(f"{folder} holds both {path.stem}.ipynb and a folder {path.stem}/: "
                             "keep one submission per student")
        submissions[found.student] = found
    if not submissions:
        raise ValueError(f"no notebooks in {folder}: expected <student>.ipynb files or <student>/ folders "
                         "of .ipynb files")
    return sorted(submissions.values(), key=lambda s: (s.student.lower(), s.student))


def grade(
    submissions_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    timeout: float = 600,
    cell_timeout: int = 300,
    kernel: str = "python3",
    summary: str | os.PathLike | None = None,
    executed_dir: str | os.PathLike | None = None,
    say: Callable[[str], None] | None = None,
) -> Grades:
    """Run every submission of ``submissions_dir`` and write ``out``: one row per student, one column per exercise.

    ``timeout``: seconds per notebook (kernel start included), after which its kernel is killed;
    ``cell_timeout``: seconds per cell, after which the cell is interrupted and the next one runs.
    ``kernel``: the Jupyter kernel (the course's environment).  ``summary``: also write the per-exercise
    counts as a CSV.  ``executed_dir``: keep each executed notebook there, as ``<student>/<notebook>``.
    ``say`` receives the progress lines and, at the end, :func:`summary_lines` (default: printed at once).

    A submission that fails (raises, loops, kills its kernel) only costs its own verdicts.  Raises
    ValueError for a folder without notebooks, a kernel that is not installed, or nbclient missing.
    """
    submissions = find_submissions(submissions_dir)
    _require_kernel(kernel)
    say = say or (lambda line: print(line, flush=True))
    out = Path(out)
    graded, exercises = [], []
    for index, submission in enumerate(submissions, 1):
        started = time.perf_counter()
        runs = _run_submission(submission, timeout=timeout, cell_timeout=cell_timeout, kernel=kernel,
                               executed_dir=executed_dir)
        exercises += [c for columns, _ in runs.values() for c in columns if c not in exercises]
        graded.append((submission, runs))
        recorded = sum(len(run.verdicts) for _, run in runs.values())
        say(f"[{index}/{len(submissions)}] {submission.student}: {_run_note(submission, runs)}; {recorded} "
            f"verdict{'s' * (recorded != 1)} recorded ({time.perf_counter() - started:.0f} s)")
    grades = Grades(exercises, {s.student: _row(exercises, s, runs) for s, runs in graded})
    _write_csv(out, ["student", *exercises, "run"],
               [[student, *(row[e] for e in exercises), row["run"]] for student, row in grades.rows.items()])
    if summary is not None:
        _write_csv(Path(summary), ["exercise", *VERDICT_NAMES],
                   [[e, *grades.counts(e).values()] for e in exercises])
    say("")
    for line in summary_lines(grades):
        say(line)
    return grades


def summary_lines(grades: Grades) -> list[str]:
    """One line per exercise: how many students got it right, and how the others failed."""
    if not grades.exercises:
        return ["no exercise check ran in any submission"]
    width = max(len(e) for e in grades.exercises)
    lines = []
    for exercise in grades.exercises:
        counts = grades.counts(exercise)
        others = ", ".join(f"{counts[v]} {v}" for v in VERDICT_NAMES[1:])
        lines.append(f"{exercise:<{width}}  {counts['correct']} of {len(grades.rows)} correct ({others})")
    return lines


# --------------------------------------------------------------------------------------
# Running the notebooks.
# --------------------------------------------------------------------------------------

def _require_kernel(kernel: str) -> None:
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as err:
        raise ValueError(f"grading needs nbclient and ipykernel ({err}): pip install nbclient ipykernel") from None
    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise ValueError(f"no Jupyter kernel named {kernel!r}: pass --kernel with one of "
                         f"{sorted(KernelSpecManager().find_kernel_specs())}, or pip install ipykernel") from None


def _run_submission(submission: Submission, **options) -> dict[str, tuple[list[str], _Run]]:
    """Run a student's notebooks in one scratch folder; ``{notebook name: (its columns, its run)}``."""
    runs = {}
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
        scratch = Path(scratch)
        (scratch / "output").mkdir()
        for i, notebook in enumerate(submission.notebooks):
            run = _run_notebook(notebook, scratch, scratch / f"verdicts-{i}.jsonl", submission.student, **options)
            prefix = f"{notebook.stem}: " if submission.folder else ""
            runs[notebook.name] = ([prefix + check for check in run.exercises], run)
    return runs


def _kernel_env(scratch: Path, verdicts: Path) -> dict[str, str]:
    env = dict(os.environ, COURSE_PROFILE="ci", COURSE_VERDICTS=str(verdicts),
               COURSE_OUTPUT_DIR=str(scratch / "output"), MPLBACKEND="Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if env.get("COURSE_DATA_DIR"):  # the kernel runs in the scratch folder: a relative path would break
        env["COURSE_DATA_DIR"] = str(Path(env["COURSE_DATA_DIR"]).expanduser().resolve())
    if config.IN_CHECKOUT:  # the kernel imports this course_lib, installed or not
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(config.REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _run_notebook(path: Path, scratch: Path, verdicts: Path, student: str, *, timeout: float, cell_timeout: int,
                  kernel: str, executed_dir: str | os.PathLike | None) -> _Run:
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's warnings about old or odd notebooks
            notebook = nbformat.read(path, as_version=4)
    except Exception as err:  # noqa: BLE001 -- a damaged file is one submission's problem
        return _Run([], {}, set(), problem=f"{path.name} cannot be read ({_one_line(err)})")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code_cells:  # the student's own outputs are not evidence
        cell.outputs, cell.execution_count = [], None
    problem = _execute(notebook, cwd=scratch, env=_kernel_env(scratch, verdicts), timeout=timeout,
                       cell_timeout=cell_timeout, kernel=kernel)
    if executed_dir is not None:
        target = Path(executed_dir) / student / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
    exercises, failed, cells_raised = [], set(), 0
    for cell in code_cells:
        called = _CHECK_CALL.findall(cell.source)
        exercises += [check for check in called if check not in exercises]
        if any(output.get("output_type") == "error" for output in cell.outputs):
            cells_raised += 1
            failed.update(called)
    recorded = _read_verdicts(verdicts)
    exercises += [check for check in recorded if check not in exercises]
    return _Run(exercises, recorded, failed, problem, cells_raised)


def _execute(notebook, *, cwd: Path, env: dict, timeout: float, cell_timeout: int, kernel: str) -> str | None:
    """Execute ``notebook`` in place in a fresh kernel; None if it ran to its end, else why it did not.

    The kernel runs in a worker thread's event loop, so that Ctrl-C and SIGTERM reach the grader (nbclient
    takes them over in the main thread) and stop the kernel on their way out.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    client = NotebookClient(
        notebook, kernel_name=kernel, timeout=cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        shutdown_kernel="immediate", record_timing=False, resources={"metadata": {"path": str(cwd)}})
    loop = asyncio.new_event_loop()
    task = loop.create_task(client.async_execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    timed_out = []

    def stop():  # nbclient turns the cancellation into DeadKernelError, hence the note
        timed_out.append(True)
        task.cancel()

    loop.call_later(timeout, stop)
    outcome: list[str | None] = []
    finished = threading.Event()

    def work():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(task)
            outcome.append(None)
        except (DeadKernelError, asyncio.CancelledError):
            outcome.append(f"stopped at the time limit of {timeout:g} s" if timed_out else "the kernel died")
        except Exception as err:  # noqa: BLE001 -- whatever the submission did, the others still run
            outcome.append(f"could not run ({_one_line(err)})")
        finally:  # nbclient leaves its kernel-alive poll pending when a notebook stops early
            pending = asyncio.all_tasks(loop)
            for leftover in pending:
                leftover.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            finished.set()

    worker = threading.Thread(target=work, name="grade-kernel", daemon=True)
    worker.start()
    try:  # an Event, not Thread.join: a signal that interrupts join() can leave the thread looking finished
        while not finished.wait(0.5):
            pass
    except BaseException:  # Ctrl-C, SIGTERM: kill this kernel, then stop
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(task.cancel)
        finished.wait(30)
        raise
    return outcome[0] if outcome else "could not run"


def _read_verdicts(path: Path) -> dict[str, str]:
    """``{check: its last verdict}`` from the JSON lines the checks appended to ``path`` (insertion: first report)."""
    verdicts: dict[str, str] = {}
    if not path.is_file():
        return verdicts
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("check"), str) and record.get("verdict") in VERDICT_NAMES:
            verdicts[record["check"]] = record["verdict"]
    return verdicts


# --------------------------------------------------------------------------------------
# The table.
# --------------------------------------------------------------------------------------

def _verdict(run: _Run, check: str) -> str:
    if check in run.verdicts:
        return run.verdicts[check]
    return "error" if run.problem or check in run.failed else "not attempted"


def _row(exercises: list[str], submission: Submission, runs: dict[str, tuple[list[str], _Run]]) -> dict[str, str]:
    row = dict.fromkeys(exercises, "not attempted")  # a notebook the student did not submit
    for columns, run in runs.values():
        for column, check in zip(columns, run.exercises):
            row[column] = _verdict(run, check)
    row["run"] = _run_note(submission, runs)
    return row


def _run_note(submission: Submission, runs: dict[str, tuple[list[str], _Run]]) -> str:
    """How the student's notebooks ran: "finished", "finished, 1 cell raised", "the kernel died", ..."""
    notes = []
    for name, (_, run) in runs.items():
        note = run.problem or "finished"
        if run.cells_raised:
            note += f", {run.cells_raised} cell{'s' * (run.cells_raised != 1)} raised"
        notes.append(f"{name}: {note}" if submission.folder else note)
    return "; ".join(notes)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__

