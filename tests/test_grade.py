"""`python -m course_lib grade`: the checks record their verdicts, and the grader runs a class's notebooks.

The class is six tiny notebooks written here, each calling three fast NumPy checks of course_lib.checks (from modules
that do not import TensorFlow, which would take longer than a cell's time limit here), so that
a whole grading run takes about half a minute: solved, blank, wrong, one that raises, one that kills its kernel,
and one that never ends.
"""

import contextlib
import csv
import importlib
import inspect
import io
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib import grade
from course_lib.checks import feedback, pconv_unet
from course_lib.__main__ import main

# ----------------------------------------------------------------------------- the verdicts the checks record

CHECK_MODULES = ["setup_and_data", "classical_inpainting", "copying", "measuring", "partial_convolution",
                 "vanilla_unet", "pconv_unet", "comparison", "better_losses", "adversarial_losses", "beyond_cifar"]


def _public_checks(module):
    return [f for name, f in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("check_") and f.__module__ == module.__name__]


def _recorded(call):
    """The verdicts that ``call()`` records, with its printing swallowed."""
    start = len(feedback.VERDICTS)
    with contextlib.redirect_stdout(io.StringIO()):
        call()
    return feedback.VERDICTS[start:]


@pytest.mark.parametrize("module_name", CHECK_MODULES)
def test_every_check_records_one_verdict_under_its_own_name(module_name):
    """Each public check reports through the one hook: one record per call, named after the check."""
    module = importlib.import_module(f"course_lib.checks.{module_name}")
    found = _public_checks(module)
    assert found, f"no check_* function in course_lib.checks.{module_name}"

    def raises(*args, **kwargs):
        raise ZeroDivisionError("the student's bug")

    for check in found:
        name = check.__name__
        if name == "check_pconv_layer":  # takes a class
            import keras

            class Raising(keras.layers.Layer):
                def __init__(self, *args, **kwargs):
                    raise ZeroDivisionError("the student's bug")

            blank, raising = None, Raising
        else:
            blank, raising = (lambda *args, **kwargs: None), raises
        assert _recorded(lambda: check(blank)) == [{"check": name, "verdict": "not attempted"}]
        assert _recorded(lambda: check(raising)) == [{"check": name, "verdict": "error"}], (
            f"{name}: the student's exception must be recorded as 'error', not 'wrong'")


def test_verdicts_are_appended_to_the_file_named_by_course_verdicts(tmp_path, monkeypatch):
    path = tmp_path / "verdicts.jsonl"
    monkeypatch.setenv("COURSE_VERDICTS", str(path))
    calls = [lambda h: (h + 1) // 2, lambda h: h, lambda h: None, lambda h: 1 / 0, 42]
    recorded = []
    for student_fn in calls:
        recorded += _recorded(lambda: pconv_unet.check_layers_to_close(student_fn))
    with contextlib.redirect_stdout(io.StringIO()):
        print("✓ correct")  # printed text is not a verdict
    expected = [{"check": "check_layers_to_close", "verdict": v}
                for v in ("correct", "wrong", "not attempted", "error", "wrong")]
    assert recorded == expected
    assert [json.loads(line) for line in path.read_text().splitlines()] == expected
    assert grade._read_verdicts(path) == {"check_layers_to_close": "wrong"}  # the last verdict counts


# ----------------------------------------------------------------------------- a class of six submissions

SOLVED = {
    "hole_ratio": "return (np.asarray(masks) == 0).reshape(len(masks), -1).mean(axis=1)",
    "win_rate": "keep = np.isfinite(a) & np.isfinite(b)\n"
                "    return np.mean((a[keep] > b[keep]) + 0.5 * (a[keep] == b[keep]))",
    "block_mean": "h, w, c = image.shape\n    return image.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))",
}
WRONG = {
    "hole_ratio": "return (np.asarray(masks) != 0).reshape(len(masks), -1).mean(axis=1)",
    "win_rate": "return np.mean(a > b)",
    "block_mean": "return image[::k, ::k]",
}
BLANK = dict.fromkeys(SOLVED, "return None")
ARGUMENTS = {"hole_ratio": "masks", "win_rate": "a, b", "block_mean": "image, k"}
MODULES = {"hole_ratio": "setup_and_data", "win_rate": "comparison", "block_mean": "beyond_cifar"}


def _write_notebook(path, bodies, *, before=None, check_calls=None):
    """A notebook with one exercise per entry of ``bodies``: the student's function, then its check.

    ``before``: code cells to insert before an exercise's cells; ``check_calls``: other calls of a check.
    """
    before, check_calls = before or {}, check_calls or {}
    cells = [new_markdown_cell("# Exercises"), new_code_cell("import numpy as np")]
    for name, body in bodies.items():
        cells += [new_code_cell(code) for code in before.get(name, [])]
        cells.append(new_code_cell(f"def {name}({ARGUMENTS[name]}):\n    {body}"))
        call = check_calls.get(name, f"checks.check_{name}({name});")
        cells.append(new_code_cell(f"from course_lib.checks import {MODULES[name]} as checks\n{call}"))
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _class(folder):
    _write_notebook(folder / "alice.ipynb", SOLVED)
    _write_notebook(folder / "bob.ipynb", BLANK)
    # kills its kernel after the first exercise
    _write_notebook(folder / "carol.ipynb", SOLVED, before={"win_rate": ["import os\nos._exit(1)"]})
    # raises inside the check, then a typo makes the check's cell raise; the last exercise still runs
    _write_notebook(folder / "dave.ipynb", {**SOLVED, "hole_ratio": "return 1 / 0"},
                    check_calls={"win_rate": "checks.check_win_rate(win_rte)"})
    # loops inside a check (interrupted at the cell limit), then loops ignoring interrupts (killed at the notebook's)
    _write_notebook(folder / "eve.ipynb", {**SOLVED, "win_rate": "while True:\n        pass"},
                    before={"block_mean": ["import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                                           "    except KeyboardInterrupt:\n        pass"]})
    _write_notebook(folder / "fiona.ipynb", WRONG, before={"win_rate": ['print("✓ correct")']})
    (folder / "notes.txt").write_text("not a submission")


@pytest.mark.long
@pytest.mark.slow
def test_grading_a_class(tmp_path, capsys):
    _class(tmp_path / "submissions")
    out, summary, executed = tmp_path / "out" / "grades.csv", tmp_path / "summary.csv", tmp_path / "executed"
    code = main(["grade", str(tmp_path / "submissions"), "--out", str(out), "--summary", str(summary),
                 "--timeout", "15", "--cell-timeout", "5", "--executed", str(executed)])
    printed = capsys.readouterr().out
    assert code == 0, printed

    with open(out, newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["student", "check_hole_ratio", "check_win_rate", "check_block_mean", "run"],
        ["alice", "correct", "correct", "correct", "finished"],
        ["bob", "not attempted", "not attempted", "not attempted", "finished"],
        ["carol", "correct", "error", "error", "the kernel died"],
        ["dave", "error", "error", "correct", "finished, 1 cell raised"],
        ["eve", "correct", "error", "error", "stopped at the time limit of 15 s, 1 cell raised"],
        ["fiona", "wrong", "wrong", "wrong", "finished"],
    ]
    summary_lines = [
        "check_hole_ratio  3 of 6 correct (1 wrong, 1 not attempted, 1 error)",
        "check_win_rate    1 of 6 correct (1 wrong, 1 not attempted, 3 error)",
        "check_block_mean  2 of 6 correct (1 wrong, 1 not attempted, 2 error)",
    ]
    lines = printed.splitlines()
    start = lines.index(summary_lines[0])
    assert lines[start:start + 3] == summary_lines
    students = ["alice", "bob", "carol", "dave", "eve", "fiona"]
    assert [line.split(":")[0] for line in lines[:6]] == [f"[{i}/6] {s}" for i, s in enumerate(students, 1)]
    with open(summary, newline="") as file:
        assert list(csv.reader(file)) == [
            ["exercise", "correct", "wrong", "not attempted", "error"],
            ["check_hole_ratio", "3", "1", "1", "1"],
            ["check_win_rate", "1", "1", "1", "3"],
            ["check_block_mean", "2", "1", "1", "2"],
        ]
    alice = nbformat.read(executed / "alice" / "alice.ipynb", as_version=4)
    assert "✓ correct" in "".join(o.get("text", "") for c in alice.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_a_folder_per_student_shares_one_output_folder_in_the_ci_profile(tmp_path, monkeypatch):
    """A student's notebooks run in name order with one COURSE_OUTPUT_DIR, in the ci profile whatever the grader's."""
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    first = {"hole_ratio": SOLVED["hole_ratio"]}
    write = 'import os, pathlib\npathlib.Path(os.environ["COURSE_OUTPUT_DIR"], "from_01").write_text("x")'
    second = {"block_mean": 'import os, pathlib\n    ok = pathlib.Path(os.environ["COURSE_OUTPUT_DIR"], '
                            '"from_01").exists() and os.environ["COURSE_PROFILE"] == "ci"\n'
                            '    h, w, c = image.shape\n'
                            '    return image.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3)) if ok else '
                            'image[::k, ::k]'}
    _write_notebook(tmp_path / "subs" / "gina" / "01_masks.ipynb", first, before={"hole_ratio": [write]})
    _write_notebook(tmp_path / "subs" / "gina" / "02_layers.ipynb", second)
    _write_notebook(tmp_path / "subs" / "hugo" / "02_layers.ipynb", second)
    (tmp_path / "subs" / ".ipynb_checkpoints").mkdir()
    said = []
    grades = grade.grade(tmp_path / "subs", tmp_path / "grades.csv", timeout=60, cell_timeout=30, say=said.append)
    assert grades.exercises == ["01_masks: check_hole_ratio", "02_layers: check_block_mean"]
    assert grades.rows == {
        "gina": {"01_masks: check_hole_ratio": "correct", "02_layers: check_block_mean": "correct",
                 "run": "01_masks.ipynb: finished; 02_layers.ipynb: finished"},
        "hugo": {"01_masks: check_hole_ratio": "not attempted", "02_layers: check_block_mean": "wrong",
                 "run": "02_layers.ipynb: finished"},
    }


# ----------------------------------------------------------------------------- bad input

def _folder_without_notebooks(root):
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("x")
    return root


def _a_notebook_file(root):
    nbformat.write(new_notebook(), root / "alice.ipynb")
    return root / "alice.ipynb"


@pytest.mark.parametrize("make, expected", [
    (lambda root: root / "missing", "no folder"),
    (_folder_without_notebooks, "no notebooks in"),
    (_a_notebook_file, "is a file, not a folder"),
])
def test_bad_submissions_folder_gets_one_line_and_exit_code_1(tmp_path, capsys, make, expected):
    folder = make(tmp_path)
    assert main(["grade", str(folder), "--out", str(tmp_path / "grades.csv")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("python -m course_lib grade: error: ") and expected in captured.err
    assert not (tmp_path / "grades.csv").exists()
