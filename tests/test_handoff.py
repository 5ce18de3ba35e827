"""Tests of course_lib.handoff: a class written in one notebook, loaded in another."""

import linecache
import textwrap

import pytest

from course_lib import handoff

CELL = textwrap.dedent('''
    SCALE = 3


    class Tripler:
        """Multiplies by three."""

        def __call__(self, x):
            return np.multiply(x, 3)


    class NeedsTheNotebook:
        def __call__(self, x):
            return x * SCALE
''')


def _define_in_a_cell(name):
    """Run CELL the way IPython runs a cell: compiled from a file that exists only in linecache."""
    filename = "/tmp/ipykernel_0/1234567.py"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace = {"__name__": "notebook_cell_not_a_module", "np": __import__("numpy")}
    exec(compile(CELL, filename, "exec"), namespace)  # noqa: S102
    return namespace[name]


@pytest.fixture
def output_root(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    return tmp_path


def test_a_class_from_a_cell_comes_back_in_another_kernel(output_root, capsys):
    path = handoff.save_class(_define_in_a_cell("Tripler"))
    assert path == output_root / "student" / "Tripler.py"
    text = path.read_text()
    assert "class Tripler:" in text and "NeedsTheNotebook" not in text and "SCALE" not in text
    loaded = handoff.load_class("Tripler", fallback=int)
    assert "Using your Tripler" in capsys.readouterr().out
    assert loaded.__doc__ == "Multiplies by three."
    assert loaded()(2) == 6  # np comes from the file's own imports


def test_nothing_saved_gives_the_fallback(output_root, capsys):
    assert handoff.load_class("Tripler", fallback=dict) is dict
    printed = capsys.readouterr().out
    assert "No Tripler saved" in printed and "using builtins.dict" in printed


def test_a_class_that_needs_its_notebook_falls_back_with_the_reason(output_root, capsys):
    handoff.save_class(_define_in_a_cell("NeedsTheNotebook"))
    cls = handoff.load_class("NeedsTheNotebook", fallback=list)
    assert cls is not list  # it imports: SCALE is read only when called
    with pytest.raises(NameError):
        cls()(1)
    handoff.saved_path("Broken").write_text("class Broken(:\n")
    assert handoff.load_class("Broken", fallback=list) is list
    assert "does not load (SyntaxError" in capsys.readouterr().out


def test_bad_arguments_are_named(output_root):
    with pytest.raises(TypeError, match="takes a class"):
        handoff.save_class(_define_in_a_cell("Tripler")())
    with pytest.raises(ValueError, match="not a Python class name"):
        handoff.saved_path("my layer")
