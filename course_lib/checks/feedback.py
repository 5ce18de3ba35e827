"""The framework of the exercise checks (cs231n style): verdicts, the one printed line, the library trap.

Each ``check_*`` function of a :mod:`course_lib.checks` module takes the student's function, runs it
on a few fixed inputs and compares the answer with an independent reference written in plain NumPy.
It prints one line and returns:

* ``True``  -- "✓ correct";
* ``False`` -- "✗ <what is wrong>": a hint when the answer matches a common mistake, else
  the wrong shape or the :func:`rel_error` of the answer;
* ``None``  -- "… not attempted yet" (the student's function still returns ``None``).

An exercise that asks for a function course_lib already has (the diffusion step, the hole PSNR,
the composite, ...) is not passed by calling that library function: while the check calls the
student's function, the library function's code is swapped for a trap (:func:`switched_off`), so a
function that is, or only wraps, the library's version gets "✗ ... calls course_lib's ...".  No check
can be passed by typing a printed number either: each calls the student's function on inputs the
notebook never shows.

A check never raises, whatever the student's code does, so a notebook with unsolved
exercises still runs top to bottom (in CI, too).

Every check also records its verdict, ``{"check": "check_psnr", "verdict": "correct"}``, one of
:data:`VERDICT_NAMES` ("error": the student's code raised inside the check), in :data:`VERDICTS`
and, when ``$COURSE_VERDICTS`` names a file, as one JSON line appended to it: that is what
``python -m course_lib grade`` reads, never the printed line.  All checks report through
:func:`say`, the one place that prints and records.  :func:`run_check` runs the usual check: the
student's function against a reference on a list of cases, with hints for known wrong answers.

Conventions as everywhere in course_lib: images float in [0, 1], masks 1 = valid, 0 = hole.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Callable, Iterator, Sequence

import numpy as np

from course_lib import config


CORRECT = "✓ correct"
NOT_ATTEMPTED = "… not attempted yet: fill in the code between the markers"


def rel_error(x, y) -> float:
    """The largest relative error between ``x`` and ``y``, elementwise: max |x-y| / max(1e-8, |x|+|y|).

    About 1e-7 or less means "equal up to float32 round-off"; 1e-2 or more means a real
    difference.  ``x`` and ``y`` must broadcast to one shape.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


# --------------------------------------------------------------------------------------
# The machinery shared by the checks.
# --------------------------------------------------------------------------------------

#: What a check can record, in the order the grader lists them; "error": the student's code raised.
VERDICT_NAMES = ("correct", "wrong", "not attempted", "error")

#: Every verdict recorded in this process, in order: ``{"check": "check_psnr", "verdict": "correct"}``.
VERDICTS: list[dict[str, str]] = []


class ErrorLine(str):
    """A ✗ line that reports an exception raised by the student's code: :func:`say` records "error"."""


def say(ok: bool | None, message: str) -> bool | None:
    """Print the check's one line, record its verdict (:data:`VERDICTS`, ``$COURSE_VERDICTS``), return ``ok``."""
    print(message)
    if ok is None:
        verdict = "not attempted"
    else:
        verdict = "correct" if ok else "error" if isinstance(message, ErrorLine) else "wrong"
    _record({"check": _reporting_check(), "verdict": verdict})
    return ok


def _reporting_check() -> str:
    """The name of the public ``check_*`` function of course_lib.checks.* on the call stack (the outermost one)."""
    name, frame = "unknown check", sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name.startswith("check_") and frame.f_globals.get("__name__", "").startswith(
                "course_lib.checks"):
            name = frame.f_code.co_name
        frame = frame.f_back
    return name


def _record(record: dict[str, str]) -> None:
    """Append ``record`` to :data:`VERDICTS` and, when ``$COURSE_VERDICTS`` is set, to that file as a JSON line."""
    VERDICTS.append(record)
    path = config.verdicts_file()
    if path is None:
        return
    try:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as err:  # a check never raises
        print(f"(the verdict could not be written to $COURSE_VERDICTS: {err})")


#: The start of the message of the exception a library function raises while a check has switched it off.
_TRAP_MESSAGE = "course_lib.checks switched this library function off while it checks the exercise: "


def _trap_code(name: str):
    """The code of a function that raises ``RuntimeError(_TRAP_MESSAGE + name)`` whatever its arguments."""
    namespace: dict = {}
    exec(f"def trap(*args, **kwargs):\n    raise RuntimeError({_TRAP_MESSAGE + name!r})", namespace)  # noqa: S102
    return namespace["trap"].__code__


def library_functions(names: Sequence[str]) -> list[tuple[Callable, str]]:
    """``["metrics.psnr", ...]`` -> ``[(course_lib.metrics.psnr, "metrics.psnr"), ...]`` (imported on demand)."""
    import importlib

    found = []
    for name in names:
        module, attribute = name.rsplit(".", 1)
        found.append((getattr(importlib.import_module(f"course_lib.{module}"), attribute), name))
    return found


@contextlib.contextmanager
def switched_off(functions: Sequence[tuple[Callable, str]], called: list[str]) -> Iterator[None]:
    """Swap the code of each library function for a trap that raises, and back; note in ``called`` the trap that fired.

    Swapping ``__code__`` rather than the module attribute also catches ``from course_lib.metrics import
    psnr`` and a student function that *is* the library function (or a ``functools.partial`` of it).
    """
    saved = []
    try:
        for function, name in functions:
            code = function.__code__
            try:
                function.__code__ = _trap_code(name)
            except ValueError:  # a closure: its code cannot be swapped, so it stays on
                continue
            saved.append((function, code))
        yield
    except RuntimeError as err:
        if not str(err).startswith(_TRAP_MESSAGE):
            raise
        called.append(str(err)[len(_TRAP_MESSAGE):])
    finally:
        for function, code in saved:
            function.__code__ = code


def trapped_name(err: BaseException | None) -> str | None:
    """The library function a trap names, in ``err`` or an exception it came from (``tf.function`` and Keras
    re-raise errors with more text around them), else None."""
    seen = set()
    while err is not None and id(err) not in seen:
        text = str(err)
        if _TRAP_MESSAGE in text:
            return text.split(_TRAP_MESSAGE, 1)[1].split()[0].strip("'\".,")
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_text(err: BaseException, limit: int = 300) -> str:
    """The student's exception on one short line: Keras's own message (which it marks in bold inside a long
    wrapper) without colour codes, at most ``limit`` characters."""
    text = str(err)
    inner = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, re.S)
    text = " ".join(ANSI.sub("", inner.group(1) if inner else text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _delegation_message(names: Sequence[str]) -> str:
    return (f"✗ your function calls course_lib's {names[0]}, the library's version of what this exercise asks you "
            "to write: write it yourself, with NumPy")


def run_check(
    student_fn: Callable,
    cases: Sequence[tuple],
    reference: Callable,
    *,
    tol: float = 1e-5,
    mistakes: Sequence[tuple[Callable, str]] = (),
    forbidden: Sequence[str] = (),
) -> bool | None:
    """Call ``student_fn(*case)`` and ``reference(*case)`` for every case and compare.

    ``mistakes`` holds ``(wrong_reference, hint)`` pairs: when the student's answer matches
    a known wrong answer, the hint says which mistake it is.  ``forbidden`` names the library
    functions (``"metrics.psnr"``) that the exercise asks the student to write: they are switched
    off while the student's function runs, and calling one is reported as such.
    """
    if not callable(student_fn):
        return say(False, f"✗ expected a function, got {type(student_fn).__name__}: pass the function itself, "
                          "without calling it (check(my_fn), not check(my_fn()))")
    library = library_functions(forbidden)
    for i, case in enumerate(cases):
        args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case)
        called: list[str] = []
        try:
            with np.errstate(divide="ignore", invalid="ignore"), switched_off(library, called):
                answer = student_fn(*args)
        except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
            return say(False, ErrorLine(f"✗ your function raised {type(err).__name__}: {err}"))
        if called:
            return say(False, _delegation_message(called))
        if answer is None:
            if i == 0:
                return say(None, NOT_ATTEMPTED)
            return say(False, f"✗ your function returned None for test case {i + 1}: every path must return a value")
        expected = np.asarray(reference(*case), dtype=np.float64)
        try:
            got = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError):
            return say(False, f"✗ your function returned {type(answer).__name__}, which is not a number or an array")
        if not matches(got, expected, tol):
            for wrong, hint in mistakes:
                with np.errstate(all="ignore"):
                    wrong_answer = np.asarray(wrong(*case), dtype=np.float64)
                if matches(got, wrong_answer, tol):
                    return say(False, f"✗ {hint}")
            if got.shape != expected.shape:
                return say(False, f"✗ wrong shape: got {got.shape}, expected {expected.shape}")
            if not np.array_equal(np.isfinite(got), np.isfinite(expected)):
                return say(False, "✗ your answer has inf or nan where the expected answer does not "
                                  "(a division by zero?)")
            err = rel_error(np.nan_to_num(got), np.nan_to_num(expected))
            return say(False, f"✗ wrong values in test case {i + 1}: rel_error = {err:.1e} (should be < {tol:.0e})")
    return say(True, CORRECT)


def matches(got: np.ndarray, expected: np.ndarray, tol: float) -> bool:
    """Same shape, inf/nan in the same places, and equal up to ``tol``.

    Equal means rel_error < tol, or (for values near zero, where a relative error says little)
    an absolute difference below tol times the largest expected magnitude.
    """
    if got.shape != expected.shape:
        return False
    finite = np.isfinite(expected)
    if not np.array_equal(np.isfinite(got), finite) or not np.array_equal(got[~finite], expected[~finite]):
        return False
    got, expected = got[finite], expected[finite]
    if got.size == 0:
        return True
    scale = max(1.0, float(np.max(np.abs(expected))))
    return rel_error(got, expected) < tol or float(np.max(np.abs(got - expected))) < tol * scale


def seeded_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def random_masks(n: int, size: int, seed: int) -> np.ndarray:
    """Float32 (n, size, size, 1) masks, 1 = valid, with holes of different sizes (one mask has none)."""
    rng = seeded_rng(seed)
    masks = np.ones((n, size, size, 1), np.float32)
    for i in range(1, n):
        masks[i, ..., 0] = (rng.random((size, size)) > 0.1 * i).astype(np.float32)
    return masks


def random_images(n: int, size: int, seed: int) -> np.ndarray:
    return seeded_rng(seed).random((n, size, size, 3)).astype(np.float32)
