"""Immediate feedback for the notebooks' exercises (cs231n style).

Each ``check_*`` function takes the student's function, runs it on a few fixed inputs and
compares the answer with an independent reference written here in plain NumPy.  It prints
one line and returns:

* ``True``  -- "✓ correct";
* ``False`` -- "✗ <what is wrong>": a hint when the answer matches a common mistake, else
  the wrong shape or the :func:`rel_error` of the answer;
* ``None``  -- "… not attempted yet" (the student's function still returns ``None``).

An exercise that asks for a function course_lib already has (the diffusion step, the hole PSNR,
the composite, ...) is not passed by calling that library function: while the check calls the
student's function, the library function's code is swapped for a trap, so a function that is, or
only wraps, the library's version gets "✗ ... calls course_lib's ...".  No check can be passed by
typing a printed number either: each calls the student's function on inputs the notebook never shows.

A check never raises, whatever the student's code does, so a notebook with unsolved
exercises still runs top to bottom (in CI, too).

Every check also records its verdict, ``{"check": "check_psnr", "verdict": "correct"}``, one of
:data:`VERDICT_NAMES` ("error": the student's code raised inside the check), in :data:`VERDICTS`
and, when ``$COURSE_VERDICTS`` names a file, as one JSON line appended to it: that is what
``python -m course_lib grade`` reads, never the printed line.  All checks report through
:func:`_say`, the one place that prints and records.

Conventions as everywhere in course_lib: images float in [0, 1], masks 1 = valid, 0 = hole.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from course_lib import config
from course_lib.metrics import SSIM_C1, SSIM_C2

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


class _ErrorLine(str):
    """A ✗ line that reports an exception raised by the student's code: :func:`_say` records "error"."""


def _say(ok: bool | None, message: str) -> bool | None:
    """Print the check's one line, record its verdict (:data:`VERDICTS`, ``$COURSE_VERDICTS``), return ``ok``."""
    print(message)
    if ok is None:
        verdict = "not attempted"
    else:
        verdict = "correct" if ok else "error" if isinstance(message, _ErrorLine) else "wrong"
    _record({"check": _reporting_check(), "verdict": verdict})
    return ok


def _reporting_check() -> str:
    """The name of the public ``check_*`` function of course_lib.checks* on the call stack (the outermost one)."""
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


def _library_functions(names: Sequence[str]) -> list[tuple[Callable, str]]:
    """``["metrics.psnr", ...]`` -> ``[(course_lib.metrics.psnr, "metrics.psnr"), ...]`` (imported on demand)."""
    import importlib

    found = []
    for name in names:
        module, attribute = name.rsplit(".", 1)
        found.append((getattr(importlib.import_module(f"course_lib.{module}"), attribute), name))
    return found


@contextlib.contextmanager
def _switched_off(functions: Sequence[tuple[Callable, str]], called: list[str]) -> Iterator[None]:
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


def _trapped_name(err: BaseException | None) -> str | None:
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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _error_text(err: BaseException, limit: int = 300) -> str:
    """The student's exception on one short line: Keras's own message (which it marks in bold inside a long
    wrapper) without colour codes, at most ``limit`` characters."""
    text = str(err)
    inner = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, re.S)
    text = " ".join(_ANSI.sub("", inner.group(1) if inner else text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _delegation_message(names: Sequence[str]) -> str:
    return (f"✗ your function calls course_lib's {names[0]}, the library's version of what this exercise asks you "
            "to write: write it yourself, with NumPy")


def _run_check(
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
        return _say(False, f"✗ expected a function, got {type(student_fn).__name__}: pass the function itself, "
                           "without calling it (check(my_fn), not check(my_fn()))")
    library = _library_functions(forbidden)
    for i, case in enumerate(cases):
        args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in case)
        called: list[str] = []
        try:
            with np.errstate(divide="ignore", invalid="ignore"), _switched_off(library, called):
                answer = student_fn(*args)
        except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
            return _say(False, _ErrorLine(f"✗ your function raised {type(err).__name__}: {err}"))
        if called:
            return _say(False, _delegation_message(called))
        if answer is None:
            if i == 0:
                return _say(None, NOT_ATTEMPTED)
            return _say(False, f"✗ your function returned None for test case {i + 1}: every path must return a value")
        expected = np.asarray(reference(*case), dtype=np.float64)
        try:
            got = np.asarray(answer, dtype=np.float64)
        except (TypeError, ValueError):
            return _say(False, f"✗ your function returned {type(answer).__name__}, which is not a number or an array")
        if not _matches(got, expected, tol):
            for wrong, hint in mistakes:
                with np.errstate(all="ignore"):
                    wrong_answer = np.asarray(wrong(*case), dtype=np.float64)
                if _matches(got, wrong_answer, tol):
                    return _say(False, f"✗ {hint}")
            if got.shape != expected.shape:
                return _say(False, f"✗ wrong shape: got {got.shape}, expected {expected.shape}")
            if not np.array_equal(np.isfinite(got), np.isfinite(expected)):
                return _say(False, "✗ your answer has inf or nan where the expected answer does not "
                                   "(a division by zero?)")
            err = rel_error(np.nan_to_num(got), np.nan_to_num(expected))
            return _say(False, f"✗ wrong values in test case {i + 1}: rel_error = {err:.1e} (should be < {tol:.0e})")
    return _say(True, CORRECT)


def _matches(got: np.ndarray, expected: np.ndarray, tol: float) -> bool:
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


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _random_masks(n: int, size: int, seed: int) -> np.ndarray:
    """Float32 (n, size, size, 1) masks, 1 = valid, with holes of different sizes (one mask has none)."""
    rng = _rng(seed)
    masks = np.ones((n, size, size, 1), np.float32)
    for i in range(1, n):
        masks[i, ..., 0] = (rng.random((size, size)) > 0.1 * i).astype(np.float32)
    return masks


def _random_images(n: int, size: int, seed: int) -> np.ndarray:
    return _rng(seed).random((n, size, size, 3)).astype(np.float32)


# --------------------------------------------------------------------------------------
# Notebook 00: setup and data.
# --------------------------------------------------------------------------------------

def _hole_ratio_reference(masks):
    masks = np.asarray(masks, np.float64)
    return (masks == 0).reshape(len(masks), -1).mean(axis=1)


def check_hole_ratio(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(masks) -> (N,)`` the fraction of hole pixels (value 0) of each mask (N, H, W, 1)."""
    cases = [(_random_masks(4, 8, seed=1),), (_random_masks(6, 32, seed=2),)]
    mistakes = [
        (lambda m: 1.0 - _hole_ratio_reference(m), "you computed the fraction of VALID pixels: in course_lib 1 = valid, "
                                                   "0 = hole, so count the zeros"),
        (lambda m: _hole_ratio_reference(m).mean(), "you returned one number for the whole batch: return one ratio "
                                                    "per mask, shape (N,) (average over axes 1, 2, 3 only)"),
    ]
    return _run_check(student_fn, cases, _hole_ratio_reference, mistakes=mistakes, forbidden=["masks.hole_ratio"])


def _grown_holes_reference(masks):
    """Holes grown by one pixel (8-neighbourhood), with plain loops; beyond the frame counts as valid."""
    masks = np.asarray(masks, np.float64)
    n, h, w, _ = masks.shape
    grown = masks.copy()
    for b in range(n):
        for i in range(h):
            for j in range(w):
                window = masks[b, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2, 0]
                grown[b, i, j, 0] = 0.0 if (window == 0).any() else 1.0
    return grown


def check_grow_holes(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(masks (N,H,W,1), 1 = valid) -> (N,H,W,1)``: each hole grown by one pixel (8-neighbourhood).

    A pixel becomes a hole when it or any of its 8 neighbours is a hole; the frame of the image is not a hole.
    """
    def shift_max(masks, offsets, frame_is_hole=False):
        holes = 1.0 - np.asarray(masks, np.float64)
        padded = np.pad(holes, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=1.0 if frame_is_hole else 0.0)
        h, w = holes.shape[1:3]
        grown = np.max([padded[:, 1 + di:1 + di + h, 1 + dj:1 + dj + w] for di, dj in offsets], axis=0)
        return 1.0 - grown

    square = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
    cross = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
    mistakes = [
        (lambda m: shift_max(m, cross), "diagonal neighbours count too: grow with the 3 × 3 square, not the cross "
                                         "of 4 neighbours"),
        (lambda m: shift_max(m, square, frame_is_hole=True), "the frame around the image is not a hole: pad the "
                                                             "mask with 1 (valid), not 0"),
        (lambda m: 1.0 - shift_max(1.0 - np.asarray(m, np.float64), square),
         "you grew the valid region: the HOLES (mask 0) must grow"),
        (lambda m: 1.0 - _grown_holes_reference(m), "return the course's convention, 1 = valid, 0 = hole"),
    ]
    cases = [(_random_masks(3, 9, seed=5),), (np.ones((1, 5, 7, 1), np.float32),)]
    edge = np.ones((1, 6, 6, 1), np.float32)
    edge[0, 0, 2] = edge[0, 5, 5] = 0.0                           # holes on the frame and in a corner
    cases.append((edge,))
    return _run_check(student_fn, cases, _grown_holes_reference, mistakes=mistakes, forbidden=["losses.dilate_holes"])


def _opencv_mask_reference(cv_mask):
    return (np.asarray(cv_mask) == 0).astype(np.float32)[..., None]


def check_opencv_mask_to_course(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(cv_mask uint8 (H,W), 255 = hole, 0 = valid) -> float32 (H,W,1), 1 = valid, 0 = hole``."""
    rng = _rng(5)
    cases = [((rng.random((8, 8)) < 0.3).astype(np.uint8) * 255,), ((rng.random((5, 7)) < 0.5).astype(np.uint8) * 255,)]
    mistakes = [
        (lambda c: (np.asarray(c) > 0).astype(np.float32)[..., None],
         "you kept OpenCV's convention (nonzero = hole): invert it, so that holes become 0 and valid pixels 1"),
        (lambda c: (np.asarray(c) == 0).astype(np.float32),
         "values are right but the channel axis is missing: return shape (H, W, 1) (e.g. with [..., None])"),
        (lambda c: (255 - np.asarray(c, np.float64))[..., None],
         "values must be 0 and 1, not 0 and 255: divide by 255 or compare with 0"),
    ]
    return _run_check(student_fn, cases, _opencv_mask_reference, mistakes=mistakes)


# --------------------------------------------------------------------------------------
# Notebook 01: classical inpainting.
# --------------------------------------------------------------------------------------

def _laplacian_reference(u):
    """5-point Laplacian with replicated borders, written as a plain loop over pixels."""
    u = np.asarray(u, np.float64)
    h, w = u.shape[:2]
    out = np.zeros_like(u)
    for i in range(h):
        for j in range(w):
            up, down = u[max(i - 1, 0), j], u[min(i + 1, h - 1), j]
            left, right = u[i, max(j - 1, 0)], u[i, min(j + 1, w - 1)]
            out[i, j] = up + down + left + right - 4.0 * u[i, j]
    return out


def check_laplacian(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(u (H,W) or (H,W,C)) -> same shape``: the 5-point Laplacian, borders replicated."""
    rng = _rng(6)
    cases = [(rng.random((6, 7)),), (rng.random((5, 5, 3)).astype(np.float32),)]

    def zero_padded(u):
        u = np.asarray(u, np.float64)
        pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
        p = np.pad(u, pad)
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u

    def periodic(u):
        u = np.asarray(u, np.float64)
        return (np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u)

    mistakes = [
        (lambda u: -_laplacian_reference(u), "the sign is flipped: the Laplacian is (up + down + left + right) - 4·centre"),
        (zero_padded, "the border is padded with zeros: replicate the border instead (np.pad(..., mode='edge'))"),
        (periodic, "np.roll wraps around the image (periodic border): replicate the border instead "
                   "(np.pad(..., mode='edge'))"),
    ]
    return _run_check(student_fn, cases, _laplacian_reference, mistakes=mistakes, tol=1e-6,
                      forbidden=["classical._laplacian"])


def _diffusion_step_reference(u, mask, dt):
    u = np.asarray(u, np.float64)
    hole = 1.0 - np.asarray(mask, np.float64)
    return u + dt * hole * _laplacian_reference(u)


def check_diffusion_step(student_fn: Callable[[np.ndarray, np.ndarray, float], Any]) -> bool | None:
    """Check ``student_fn(u (H,W,C), mask (H,W,1), dt) -> (H,W,C)``: u + dt·Δu in the holes, known pixels unchanged."""
    rng = _rng(7)
    cases = [
        (rng.random((6, 6, 3)), _random_masks(2, 6, seed=8)[1], 0.25),
        (rng.random((5, 7, 1)), (rng.random((5, 7, 1)) > 0.5).astype(np.float32), 0.1),
    ]
    mistakes = [
        (lambda u, m, dt: np.asarray(u, np.float64) + dt * _laplacian_reference(u),
         "the known pixels changed: apply the update only in the holes (multiply it by 1 - mask)"),
        (lambda u, m, dt: np.asarray(u, np.float64) + dt * np.asarray(m, np.float64) * _laplacian_reference(u),
         "you updated the valid pixels and froze the holes: multiply the update by (1 - mask), not by mask"),
        (lambda u, m, dt: np.asarray(u, np.float64) - dt * (1.0 - np.asarray(m, np.float64)) * _laplacian_reference(u),
         "wrong sign: the heat equation is du/dt = +Δu, so u ← u + dt·Δu"),
        (lambda u, m, dt: np.asarray(u, np.float64) + (1.0 - np.asarray(m, np.float64)) * _laplacian_reference(u),
         "you forgot to multiply the Laplacian by dt"),
    ]
    return _run_check(student_fn, cases, _diffusion_step_reference, mistakes=mistakes, tol=1e-6,
                      forbidden=["classical.diffusion_step", "classical._laplacian"])


# --------------------------------------------------------------------------------------
# Notebook 02: copying instead of smoothing.
# --------------------------------------------------------------------------------------

def _patch_ssd_reference(target, known, candidates):
    """Sum over the target's known pixels (and channels) of (candidate - target)², for each candidate, by loops."""
    target, known = np.asarray(target, np.float64), np.asarray(known, np.float64)
    candidates = np.asarray(candidates, np.float64)
    p, q, channels = target.shape
    distances = np.zeros(len(candidates))
    for m, candidate in enumerate(candidates):
        for i in range(p):
            for j in range(q):
                if known[i, j, 0] == 1:
                    distances[m] += sum((candidate[i, j, c] - target[i, j, c]) ** 2 for c in range(channels))
    return distances


def _patch_cases(seed: int):
    rng = _rng(seed)
    cases = []
    for p, channels, n_candidates in ((5, 3, 12), (7, 3, 30), (3, 1, 4)):
        target = rng.random((p, p, channels)).astype(np.float32)
        known = (rng.random((p, p, 1)) > 0.4).astype(np.float32)
        known[0, 0] = 1.0
        target[known[..., 0] == 0] = rng.random() * 5                 # hole values that must not count
        candidates = rng.random((n_candidates, p, p, channels)).astype(np.float32)
        cases.append((target, known, candidates))
    return cases


def check_patch_ssd(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(target (p,p,C), known (p,p,1) 1 = known, candidates (M,p,p,C)) -> (M,)``.

    The sum of squared differences between each candidate and the target over the target's KNOWN pixels only.
    """
    def everywhere(t, k, c):
        return _patch_ssd_reference(t, np.ones_like(np.asarray(k)), c)

    def over_the_hole(t, k, c):
        return _patch_ssd_reference(t, 1.0 - np.asarray(k), c)

    def mean_over_known(t, k, c):
        return _patch_ssd_reference(t, k, c) / (np.sum(k) * np.shape(t)[-1])

    def absolute(t, k, c):
        return (np.abs(np.asarray(c, np.float64) - np.asarray(t, np.float64)) * np.asarray(k)).sum(axis=(1, 2, 3))

    mistakes = [
        (everywhere, "count only the target's known pixels (known = 1): its hole pixels hold no information"),
        (over_the_hole, "the other way round: compare on the KNOWN pixels of the target (known = 1)"),
        (mean_over_known, "return the sum over the known pixels, not the mean"),
        (absolute, "square the differences: a sum of SQUARED differences"),
    ]
    return _run_check(student_fn, _patch_cases(20), _patch_ssd_reference, mistakes=mistakes)


def _masked_distances_reference(queries, masks, database):
    """D[i, j] = Σ masks[i] · (queries[i] − database[j])², by a loop over the pairs."""
    queries, masks = np.asarray(queries, np.float64), np.asarray(masks, np.float64)
    database = np.asarray(database, np.float64)
    distances = np.zeros((len(queries), len(database)))
    for i in range(len(queries)):
        for j in range(len(database)):
            distances[i, j] = np.sum(masks[i] * (queries[i] - database[j]) ** 2)
    return distances


def check_masked_distances(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(queries (N,H,W,C), masks (N,H,W,1) 1 = valid, database (M,H,W,C)) -> (N, M)``.

    ``D[i, j]`` = the sum over the known pixels of query i (and the channels) of (query − database image)².
    """
    rng = _rng(21)
    cases = []
    for n, m, size in ((3, 7, 6), (5, 11, 4), (1, 4, 8)):
        queries = rng.random((n, size, size, 3)).astype(np.float32)
        masks = _random_masks(n + 1, size, seed=int(rng.integers(1000)))[1:]
        cases.append((queries, masks, rng.random((m, size, size, 3)).astype(np.float32)))

    def unmasked(q, m, d):
        return _masked_distances_reference(q, np.ones_like(np.asarray(m)), d)

    def database_term_unmasked(q, m, d):
        q, m, d = (np.asarray(a, np.float64) for a in (q, m, d))
        m3 = np.broadcast_to(m, q.shape)
        return ((m3 * q ** 2).sum(axis=(1, 2, 3))[:, None] - 2 * (m3 * q).reshape(len(q), -1) @ d.reshape(len(d), -1).T
                + (d ** 2).sum(axis=(1, 2, 3))[None, :])

    def holes_only(q, m, d):
        return _masked_distances_reference(q, 1.0 - np.asarray(m), d)

    mistakes = [
        (unmasked, "compare only the known pixels of each query (mask 1): multiply by the query's mask"),
        (database_term_unmasked, "the database term needs the query's mask too: Σ m·y², a matrix product of the "
                                 "masks with the squared database images, not Σ y² over every pixel"),
        (holes_only, "the other way round: compare on the KNOWN pixels (mask 1)"),
        (lambda q, m, d: _masked_distances_reference(q, m, d).T, "return shape (N, M): one row per query"),
    ]
    return _run_check(student_fn, cases, _masked_distances_reference, mistakes=mistakes, tol=1e-4)


# --------------------------------------------------------------------------------------
# Notebook 03: measuring inpainting.
# --------------------------------------------------------------------------------------

def _psnr_reference(y_true, y_pred):
    err = (np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)) ** 2
    mse = err.reshape(len(err), -1).mean(axis=1)
    return 10.0 * np.log10(1.0 / mse)


def _psnr_cases(seed: int):
    rng = _rng(seed)
    y = _random_images(4, 8, seed=seed)
    noise = rng.normal(0.0, 1.0, y.shape) * np.array([0.01, 0.03, 0.1, 0.2]).reshape(4, 1, 1, 1)
    return y, np.clip(y + noise, 0.0, 1.0).astype(np.float32)


def check_psnr(student_fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(y_true, y_pred) -> (N,)``: PSNR in dB of each image pair (N,H,W,3), data range 1."""
    cases = [_psnr_cases(9), _psnr_cases(10)]
    mistakes = [
        (lambda a, b: 20.0 * np.log10(1.0 / _mse(a, b)), "use 10·log10(MAX²/MSE) (or 20·log10(MAX/√MSE)): you "
                                                         "used 20·log10 with the MSE, which is already squared"),
        (lambda a, b: 10.0 * np.log10(255.0 ** 2 / _mse(a, b)), "MAX is 1.0 here (images are floats in [0, 1]), not 255"),
        (lambda a, b: _psnr_reference(a, b).mean(), "return one PSNR per image, shape (N,): average the squared "
                                                    "error over axes 1, 2, 3 only"),
        (lambda a, b: 10.0 * np.log10(1.0 / _mse(a, b).mean()) * np.ones(len(a)),
         "return one PSNR per image: average the squared error over axes 1, 2, 3 only"),
    ]
    return _run_check(student_fn, cases, _psnr_reference, mistakes=mistakes, forbidden=["metrics.psnr", "metrics.mse"])


def _mse(a, b):
    err = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    return err.reshape(len(err), -1).mean(axis=1)


def _hole_psnr_reference(y_true, y_pred, mask):
    hole = np.broadcast_to(1.0 - np.asarray(mask, np.float64), np.shape(y_true))
    err = (np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)) ** 2 * hole
    n = len(err)
    mse = err.reshape(n, -1).sum(axis=1) / hole.reshape(n, -1).sum(axis=1)
    return 10.0 * np.log10(1.0 / mse)


def _hole_psnr_cases(seed: int):
    y, pred = _psnr_cases(seed)
    masks = _random_masks(5, 8, seed=seed)[1:]  # every mask has a hole
    # Known pixels copied from the ground truth, as an inpainting method returns them.
    pred = (masks * y + (1 - masks) * pred).astype(np.float32)
    return y, pred, masks


def check_hole_psnr(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(y_true, y_pred, mask) -> (N,)``: PSNR over the hole pixels only (mask 1 = valid, 0 = hole)."""
    cases = [_hole_psnr_cases(11), _hole_psnr_cases(12)]

    def over_valid(a, b, m):
        return _hole_psnr_reference(a, b, 1.0 - np.asarray(m, np.float64))

    def whole_image(a, b, m):
        return _psnr_reference(a, b)

    def divided_by_pixels_not_values(a, b, m):
        hole = 1.0 - np.asarray(m, np.float64)
        err = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2 * hole
        n = len(err)
        return 10.0 * np.log10(hole.reshape(n, -1).sum(axis=1) / err.reshape(n, -1).sum(axis=1))

    mistakes = [
        (whole_image, "this is the whole-image PSNR: average the squared error over the hole pixels only"),
        (over_valid, "you measured the VALID pixels (mask == 1): the hole is where mask == 0, use 1 - mask"),
        (divided_by_pixels_not_values,
         "the mean divides by the number of hole PIXELS but sums over 3 channels: divide by the number of hole "
         "values (hole pixels × 3), e.g. by broadcasting the mask to the image's shape first"),
    ]
    return _run_check(student_fn, cases, _hole_psnr_reference, mistakes=mistakes,
                      forbidden=["metrics.psnr", "metrics.mse", "metrics._mean_per_image"])


def _global_ssim_reference(x, y):
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(), y.var()
    cov = ((x - mx) * (y - my)).mean()
    return ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)) / ((mx ** 2 + my ** 2 + SSIM_C1) * (vx + vy + SSIM_C2))


def check_global_ssim(student_fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(x (H,W), y (H,W)) -> float``: SSIM with one window covering the whole image.

    Uses means, (population) variances and covariance over all pixels, C1 = 0.01², C2 = 0.03².
    """
    rng = _rng(13)
    x = rng.random((16, 16))
    cases = [(x, x), (x, np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)), (x, 0.5 * x + 0.2), (x, 1.0 - x)]
    mistakes = [
        (lambda a, b: ((2 * np.mean(a) * np.mean(b) + SSIM_C1) / (np.mean(a) ** 2 + np.mean(b) ** 2 + SSIM_C1)),
         "this is only the luminance term l(x, y): multiply by the contrast-structure term "
         "(2σxy + C2) / (σx² + σy² + C2)"),
        (lambda a, b: ((2 * np.mean(a) * np.mean(b)) * (2 * np.mean((a - a.mean()) * (b - b.mean()))))
         / ((np.mean(a) ** 2 + np.mean(b) ** 2) * (np.var(a) + np.var(b))),
         "you left out the constants C1 = 0.01² and C2 = 0.03² (they keep the ratio stable when the means or "
         "variances are near zero)"),
    ]
    return _run_check(student_fn, cases, _global_ssim_reference, mistakes=mistakes, tol=1e-6)


# --------------------------------------------------------------------------------------
# Notebook 04: partial convolution.
# --------------------------------------------------------------------------------------

def _window_cases(seed: int):
    """Mask windows (k, k, C_in): fully valid, fully hole, and partly valid."""
    rng = _rng(seed)
    full = np.ones((3, 3, 4), np.float32)
    empty = np.zeros((3, 3, 4), np.float32)
    partial = (rng.random((3, 3, 4)) > 0.6).astype(np.float32)
    partial[1, 1, 0] = 1.0
    single = np.zeros((5, 5, 1), np.float32)
    single[4, 0, 0] = 1.0
    channel = np.ones((3, 3, 2), np.float32)
    channel[..., 1] = 0.0
    return [(full,), (empty,), (partial,), (single,), (channel,)]


def _mask_update_reference(m_window):
    return np.float64(np.sum(m_window) > 0)


def check_mask_update(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(m_window (k,k,C_in)) -> float``: m' = 1 if the window sees any valid value, else 0."""
    mistakes = [
        (lambda m: np.float64(np.all(np.asarray(m) > 0)),
         "m' is 1 when the window sees AT LEAST ONE valid value (sum(M) > 0), not only when all are valid"),
        (lambda m: np.float64(np.sum(m)), "return 0 or 1, not the number of valid values"),
    ]
    return _run_check(student_fn, _window_cases(14), _mask_update_reference, mistakes=mistakes)


def _scaling_ratio_reference(m_window):
    m = np.asarray(m_window, np.float64)
    total = m.sum()
    return np.float64(m.size / total if total > 0 else 0.0)


def check_scaling_ratio(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(m_window (k,k,C_in)) -> float``: sum(1)/sum(M) over the k·k·C_in window, 0 if sum(M) = 0."""

    def source_bug(m):
        m = np.asarray(m, np.float64)
        total = m.sum()
        return np.float64(m.shape[0] * m.shape[1] / total if total > 0 else 0.0)

    def inverted(m):
        m = np.asarray(m, np.float64)
        return np.float64(m.sum() / m.size)

    mistakes = [
        (source_bug, "you divided k·k by sum(M): sum(1) counts every value of the window, k·k·C_in (this is "
                     "exactly the source's bug 1)"),
        (inverted, "the ratio is upside down: sum(1) / sum(M), which is ≥ 1"),
    ]

    return _run_check(student_fn, _window_cases(15), _scaling_ratio_reference, mistakes=mistakes)


def _pconv_window_reference(x_window, m_window, kernel, bias):
    x = np.asarray(x_window, np.float64)
    m = np.asarray(m_window, np.float64)
    w = np.asarray(kernel, np.float64)
    b = np.asarray(bias, np.float64)
    total = m.sum()
    if total == 0:
        return np.zeros_like(b)
    out = np.zeros_like(b)
    for c_out in range(w.shape[-1]):
        out[c_out] = np.sum(w[..., c_out] * x * m) * (m.size / total) + b[c_out]
    return out


def check_pconv_window(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(x_window (k,k,C_in), m_window (k,k,C_in), kernel (k,k,C_in,C_out), bias (C_out,)) -> (C_out,)``.

    One output pixel of a partial convolution: Wᵀ(X⊙M)·sum(1)/sum(M) + b if sum(M) > 0, else 0.
    """
    rng = _rng(16)
    cases = []
    for (m,) in _window_cases(17):
        k, _, c_in = m.shape
        x = rng.random(m.shape).astype(np.float32)
        cases.append((x, m, rng.normal(0, 0.5, (k, k, c_in, 3)).astype(np.float32),
                      rng.normal(0, 0.5, 3).astype(np.float32)))

    def bias_in_holes(x, m, w, b):
        total = np.sum(m)
        if total == 0:
            return np.asarray(b, np.float64)
        return _pconv_window_reference(x, m, w, b)

    def unscaled(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        return np.einsum("ijc,ijco->o", np.asarray(x, np.float64) * m, np.asarray(w, np.float64)) + b

    def unmasked(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        s = np.asarray(m, np.float64).size / np.sum(m)
        return np.einsum("ijc,ijco->o", np.asarray(x, np.float64), np.asarray(w, np.float64)) * s + b

    def scaled_bias(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        s = np.asarray(m, np.float64).size / np.sum(m)
        return (np.einsum("ijc,ijco->o", np.asarray(x, np.float64) * m, np.asarray(w, np.float64)) + b) * s

    mistakes = [
        (bias_in_holes, "a window with no valid value must output 0, not the bias (this is the source's bug 3)"),
        (unscaled, "the sum is not rescaled: multiply Wᵀ(X⊙M) by sum(1)/sum(M)"),
        (unmasked, "multiply the inputs by the mask (X⊙M) before the weighted sum, so holes contribute nothing"),
        (scaled_bias, "only Wᵀ(X⊙M) is rescaled: add the bias after multiplying by sum(1)/sum(M)"),
    ]
    return _run_check(student_fn, cases, _pconv_window_reference, mistakes=mistakes)


# --- notebooks 05-08 ---
# Checks for the exercises of notebooks 05 (vanilla U-Net), 06 (PConv U-Net), 07 (comparison) and
# 07 (beyond the source).  References are hand-computed formulas or plain loops, never course_lib code.

def _check_number(answer, expected: float, mistakes: Sequence[tuple[float, str]] = (), *, tol: float = 1e-9,
                  what: str = "your answer") -> bool | None:
    """Compare one number with ``expected``; ``mistakes`` holds ``(wrong value, hint)`` pairs."""
    if answer is None:
        return _say(None, NOT_ATTEMPTED)
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return _say(False, f"✗ {what} is a {type(answer).__name__}, not a number")
    if rel_error(got, expected) <= tol:
        return _say(True, CORRECT)
    for wrong, hint in mistakes:
        if rel_error(got, wrong) <= tol:
            return _say(False, f"✗ {hint}")
    return _say(False, f"✗ {what} is {got:,.10g}, which is off by {got - expected:+,.10g} (rel_error = "
                       f"{rel_error(got, expected):.1e})")


# --------------------------------------------------------------------------------------
# Notebook 05: the vanilla U-Net.
# --------------------------------------------------------------------------------------

def _conv_params_reference(kernel_size, c_in, c_out, use_bias=True):
    return kernel_size * kernel_size * c_in * c_out + (c_out if use_bias else 0)


def _unet_layer_specs(widths: Sequence[int], c_in: int = 3, c_out: int = 3) -> list[tuple[int, int, int, str]]:
    """(kernel size, C_in, C_out, description) of every layer with weights of a vanilla U-Net, in Keras' order.

    ``widths``: the channels of each level, the last one the bottleneck's ((32, 64, 128, 256, 512) for the
    source's network).  Written out from the diagram, not from course_lib.models.
    """
    specs = []
    depth = len(widths) - 1
    for level, width in enumerate(widths):
        where = "the bottleneck" if level == depth else f"encoder level {level + 1}"
        specs += [(3, c_in, width, f"the first 3x3 Conv2D of {where}"),
                  (3, width, width, f"the second 3x3 Conv2D of {where}")]
        c_in = width
    for level in reversed(range(depth)):
        width = widths[level]
        where = f"decoder level {level + 1}"
        specs += [(2, widths[level + 1], width, f"the 2x2 Conv2DTranspose of {where}"),
                  (3, 2 * width, width, f"the first 3x3 Conv2D of {where}, after the concatenation"),
                  (3, width, width, f"the second 3x3 Conv2D of {where}")]
    specs.append((3, widths[0], c_out, "the output Conv2D (3 filters, RGB)"))
    return specs


def _layer_hint(answer: float, spec: tuple[int, int, int, str], widths: Sequence[int]) -> str | None:
    """A hint when one layer's count matches a common mistake."""
    k, c_in, c_out, what = spec
    if answer == k * k * c_in * c_out:
        return "its bias is missing (one per output channel)"
    if "Conv2DTranspose" in what:
        if answer == _conv_params_reference(3, c_in, c_out):
            return "a Conv2DTranspose here has a 2x2 kernel, not 3x3"
        if answer == _conv_params_reference(k, 2 * c_out, c_out):
            return (f"its input is the level below, with {c_in} channels: that is twice this level's width only "
                    f"when the widths double (these widths are {list(widths)})")
    if "concatenation" in what and answer == _conv_params_reference(k, c_in // 2, c_out):
        return "after the concatenation this convolution sees the upsampled AND the skip channels: 2 x width"
    return None


def check_unet_layer_params(student_fn: Callable[[Sequence[int]], Any], model=None) -> bool | None:
    """Check ``student_fn(widths) -> list``: the parameter count of every layer with weights of a vanilla U-Net.

    ``widths`` gives the channels of each level, the bottleneck's last: ``[32, 64, 128, 256, 512]`` is the
    source's network, and the check also tries other widths and depths (so a list copied from
    ``model.summary()`` does not pass).  Layers in Keras' order: two 3x3 convolutions per encoder level and
    in the bottleneck, then per decoder level (deepest first) a 2x2 Conv2DTranspose and two 3x3
    convolutions, then the 3x3 output convolution (3 filters).  With ``model`` (the Keras model of the
    first widths) the first answer is compared with ``model``'s own layers as well.
    """
    if not callable(student_fn):
        return _say(False, f"✗ expected a function, got {type(student_fn).__name__}: pass the function itself, "
                           "without calling it (check(my_fn), not check(my_fn()))")
    cases = [(32, 64, 128, 256, 512), (8, 16, 32, 64, 128), (4, 8, 12), (5, 7, 11, 13, 17)]
    first = None
    for i, widths in enumerate(cases):
        try:
            answer = student_fn(list(widths))
        except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
            return _say(False, _ErrorLine(f"✗ your function raised {type(err).__name__}: {err}"))
        if answer is None:
            return _say(None if i == 0 else False, NOT_ATTEMPTED if i == 0 else
                        f"✗ your function returned None for widths {list(widths)}: every path must return a list")
        try:
            got = [float(value) for value in answer]
        except (TypeError, ValueError):
            return _say(False, f"✗ return a list of numbers, one per layer with weights; got {type(answer).__name__}")
        specs = _unet_layer_specs(widths)
        expected = [float(_conv_params_reference(k, c_in, c_out)) for k, c_in, c_out, _ in specs]
        if i == 0 and model is not None:
            counted = [float(layer.count_params()) for layer in model.layers if layer.count_params()]
            if counted != expected:
                return _say(False, "✗ pass the vanilla U-Net of this notebook as model= "
                                   "(models.build_vanilla_unet())")
        if i == 0:
            first = got
        elif got == first:
            return _say(False, f"✗ your function returns the same list for widths {list(widths)} as for "
                               f"{list(cases[0])}: compute each count from widths")
        if len(got) != len(expected):
            return _say(False, f"✗ for widths {list(widths)} your list has {len(got)} entries, but the U-Net has "
                               f"{len(expected)} layers with weights: 2 convolutions per encoder level and in the "
                               "bottleneck, a Conv2DTranspose and 2 convolutions per decoder level, and the output "
                               "convolution")
        for index, (value, wanted, spec) in enumerate(zip(got, expected, specs)):
            if value != wanted:
                hint = _layer_hint(value, spec, widths)
                source = "the model's" if i == 0 and model is not None else "expected"
                return _say(False, f"✗ widths {list(widths)}, layer {index + 1} ({spec[3]}): you have {value:,.0f}, "
                                   f"{source} {wanted:,.0f}" + (f": {hint}" if hint else ""))
    return _say(True, CORRECT)


# --------------------------------------------------------------------------------------
# Notebook 06: the partial-convolution U-Net.
# --------------------------------------------------------------------------------------

def _update_mask_reference(mask, kernel_size):
    mask = np.asarray(mask, np.float64)
    h, w = mask.shape
    r = kernel_size // 2
    out = np.zeros_like(mask)
    for i in range(h):
        for j in range(w):
            window = mask[max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1]
            out[i, j] = 1.0 if window.sum() > 0 else 0.0
    return out


def check_update_mask(student_fn: Callable[[np.ndarray, int], Any]) -> bool | None:
    """Check ``student_fn(mask (H,W) 0/1, kernel_size odd) -> (H,W)``: m' of a stride-1 'same' PConv2D."""
    rng = _rng(50)
    stripe = np.ones((9, 9), np.float32)
    stripe[3:6] = 0.0
    cases = [
        ((rng.random((8, 8)) > 0.7).astype(np.float32), 3),
        ((rng.random((6, 10)) > 0.85).astype(np.float32), 3),
        ((rng.random((9, 7)) > 0.9).astype(np.float32), 5),
        (stripe, 3),
        (np.zeros((4, 4), np.float32), 3),
    ]

    def eroded(mask, k):
        mask = np.asarray(mask, np.float64)
        return 1.0 - _update_mask_reference(1.0 - mask, k)

    mistakes = [
        (eroded, "you shrank the VALID region: m' is 1 where the window contains at least one valid pixel "
                 "(the holes shrink, the valid region grows)"),
        (lambda mask, k: _update_mask_reference(mask, k)[..., None],
         "values are right, but return an (H, W) array (drop the channel axis)"),
        (lambda mask, k: np.asarray(mask, np.float64), "you returned the mask unchanged"),
    ]
    return _run_check(student_fn, cases, _update_mask_reference, mistakes=mistakes, tol=1e-9)


def check_layers_to_close(student_fn: Callable[[int], Any]) -> bool | None:
    """Check ``student_fn(height) -> int``: stride-1 3×3 PConv layers that close a stripe hole ``height`` rows tall."""
    cases = [(h,) for h in (1, 2, 3, 4, 5, 8, 11)]
    mistakes = [
        (lambda h: h, "each layer eats one row from BOTH sides of the stripe (top and bottom)"),
        (lambda h: h // 2, "close, but an odd height needs one more layer: round up, (height + 1) // 2"),
        (lambda h: h // 2 + 1, "that is one layer too many for even heights: (height + 1) // 2"),
    ]
    return _run_check(student_fn, cases, lambda h: (h + 1) // 2, mistakes=mistakes, tol=1e-9)


# --------------------------------------------------------------------------------------
# Notebook 07: comparison.
# --------------------------------------------------------------------------------------

def _finite_pairs(a, b) -> list[tuple[float, float]]:
    """The pairs (a[i], b[i]) in which both values are finite, in order (a plain loop)."""
    return [(float(x), float(y)) for x, y in zip(np.asarray(a, np.float64), np.asarray(b, np.float64))
            if np.isfinite(x) and np.isfinite(y)]


def _paired_reference(a, b):
    """Mean and 95 % half-width (1.96 · s / √n, s with n − 1) of the differences a − b over the finite pairs."""
    differences = [x - y for x, y in _finite_pairs(a, b)]
    n = len(differences)
    mean = sum(differences) / n
    variance = sum((d - mean) ** 2 for d in differences) / (n - 1)
    return np.array([mean, 1.96 * (variance / n) ** 0.5])


def _score_cases(seed: int):
    """Per-image scores of two methods on the same images: correlated, one case with inf and NaN pairs."""
    rng = _rng(seed)
    cases = []
    for n in (40, 7):
        difficulty = rng.normal(25.0, 4.0, n)                     # shared by both methods
        a = difficulty + rng.normal(0.4, 0.6, n)
        b = difficulty + rng.normal(0.0, 0.6, n)
        b[:2] = a[:2]                                             # ties
        cases.append((a, b))
    a, b = cases[0][0].copy(), cases[0][1].copy()
    a[3], b[5], a[8], b[8] = np.inf, np.nan, np.nan, 30.0         # exact fills and undefined scores
    cases.append((a, b))
    return cases


def check_paired_difference(student_fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(a (N,), b (N,)) -> (mean, ci95)``: the paired comparison of two methods' per-image scores.

    The differences ``a[i] - b[i]`` of the pairs whose two values are finite; their mean and the 95 % half-width
    ``1.96 * s / sqrt(n)`` with the sample standard deviation ``s`` (n − 1).
    """
    def unpaired(a, b):
        pairs = np.array(_finite_pairs(a, b))
        n = len(pairs)
        return np.array([pairs[:, 0].mean() - pairs[:, 1].mean(),
                         1.96 * np.sqrt(pairs[:, 0].var(ddof=1) / n + pairs[:, 1].var(ddof=1) / n)])

    def population_std(a, b):
        d = np.array([x - y for x, y in _finite_pairs(a, b)])
        return np.array([d.mean(), 1.96 * d.std() / np.sqrt(len(d))])

    def spread_not_interval(a, b):
        d = np.array([x - y for x, y in _finite_pairs(a, b)])
        return np.array([d.mean(), 1.96 * d.std(ddof=1)])

    def misaligned(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        n = min(len(a), len(b))
        return _paired_reference(a[:n], b[:n])

    mistakes = [
        (unpaired, "this is the interval of two separate means: take the difference image by image first, then the "
                   "mean and the interval of those differences (the shared difficulty cancels in each difference)"),
        (population_std, "use the sample standard deviation, which divides by n − 1 (np.std(..., ddof=1))"),
        (spread_not_interval, "the interval of a MEAN shrinks with more images: 1.96 · s / √n, not 1.96 · s"),
        (lambda a, b: _paired_reference(b, a),
         "the difference is a − b (the first method minus the second), not b − a"),
        (misaligned, "drop a PAIR when either of its values is not finite, so that the pairs stay aligned: "
                     "dropping the bad values of a and b separately pairs different images"),
    ]
    return _run_check(student_fn, _score_cases(90), _paired_reference, mistakes=mistakes,
                      forbidden=["reporting.paired_difference", "reporting.summarize"], tol=1e-6)


def _win_rate_reference(a, b):
    """The share of the finite pairs in which a > b, a tie counting one half."""
    pairs = _finite_pairs(a, b)
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in pairs) / len(pairs)


def check_win_rate(student_fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(a (N,), b (N,)) -> float``: the share of images on which the first method scores higher.

    Over the pairs whose two values are finite; a tie counts one half.
    """
    def ratio(a, b, tie):
        pairs = _finite_pairs(a, b)
        return sum(1.0 if x > y else tie if x == y else 0.0 for x, y in pairs) / len(pairs)

    def over_all(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(((a > b) + 0.5 * (a == b)).sum() / len(a))

    mistakes = [
        (lambda a, b: ratio(a, b, 1.0), "a tie is not a win: count it one half"),
        (lambda a, b: ratio(a, b, 0.0), "a tie is not a loss either: count it one half"),
        (lambda a, b: ratio(a, b, 0.5) * len(_finite_pairs(a, b)), "return a share between 0 and 1, not a count"),
        (over_all, "leave out the pairs in which either value is not finite (NaN: no score), and divide by the "
                   "number of pairs kept"),
        (lambda a, b: 1.0 - _win_rate_reference(a, b), "the other way round: the share of images on which the FIRST "
                                                       "method scores higher"),
    ]
    return _run_check(student_fn, _score_cases(91), _win_rate_reference, mistakes=mistakes, tol=1e-9)


# --------------------------------------------------------------------------------------
# Notebook 08: beyond the source.
# --------------------------------------------------------------------------------------

def _total_variation_reference(image, region):
    """Liu et al.'s L_tv of one image, with plain loops: pairs of neighbours both in ``region``."""
    image = np.asarray(image, np.float64)
    region = np.asarray(region, np.float64)[..., 0]
    h, w, c = image.shape
    total = 0.0
    for i in range(h):
        for j in range(w):
            if j + 1 < w and region[i, j] and region[i, j + 1]:
                total += np.abs(image[i, j + 1] - image[i, j]).sum()
            if i + 1 < h and region[i, j] and region[i + 1, j]:
                total += np.abs(image[i + 1, j] - image[i, j]).sum()
    return total / (h * w * c)


def _tv_cases(seed: int):
    rng = _rng(seed)
    cases = []
    for shape in ((6, 6, 3), (5, 8, 3), (7, 4, 1)):
        region = (rng.random(shape[:2] + (1,)) > 0.4).astype(np.float32)
        cases.append((rng.random(shape).astype(np.float32), region))
    cases.append((rng.random((5, 5, 3)).astype(np.float32), np.ones((5, 5, 1), np.float32)))
    return cases


def check_total_variation(student_fn: Callable[[np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(image (H,W,C), region (H,W,1) 0/1) -> float``: Liu et al.'s total-variation term.

    Sum of |I[i,j+1]-I[i,j]| and |I[i+1,j]-I[i,j]| over neighbour pairs whose two pixels are both in the
    region (and over channels), divided by H·W·C.
    """
    def everywhere(image, region):
        return _total_variation_reference(image, np.ones_like(np.asarray(region)))

    def unnormalised(image, region):
        image = np.asarray(image)
        return _total_variation_reference(image, region) * image.size

    def one_pixel_in_region(image, region):
        image = np.asarray(image, np.float64)
        r = np.asarray(region, np.float64)
        dh = np.abs(image[:, 1:] - image[:, :-1]) * r[:, :-1]
        dv = np.abs(image[1:] - image[:-1]) * r[:-1]
        return (dh.sum() + dv.sum()) / image.size

    def squared_differences(image, region):
        image = np.asarray(image, np.float64)
        r = np.asarray(region, np.float64)
        dh = (image[:, 1:] - image[:, :-1]) ** 2 * r[:, 1:] * r[:, :-1]
        dv = (image[1:] - image[:-1]) ** 2 * r[1:] * r[:-1]
        return (dh.sum() + dv.sum()) / image.size

    mistakes = [
        (everywhere, "you summed over the whole image: count only pairs whose two pixels are in the region"),
        (unnormalised, "divide the sum by the number of values of the image, H·W·C"),
        (one_pixel_in_region, "a pair counts only when BOTH of its pixels are in the region (multiply the two "
                              "region values)"),
        (squared_differences, "Liu et al.'s TV is an L1 term: absolute differences, not squared ones"),
    ]
    return _run_check(student_fn, _tv_cases(70), _total_variation_reference, mistakes=mistakes)


def _liu_pixel_loss_reference(image, output, mask):
    """L_valid + 6 L_hole of one image, with plain loops; both terms divided by H·W·C."""
    image = np.asarray(image, np.float64)
    output = np.asarray(output, np.float64)
    mask = np.asarray(mask, np.float64)
    h, w, c = image.shape
    valid = hole = 0.0
    for i in range(h):
        for j in range(w):
            error = np.abs(output[i, j] - image[i, j]).sum()
            if mask[i, j, 0] == 1:
                valid += error
            else:
                hole += error
    return (valid + 6.0 * hole) / (h * w * c)


def check_liu_pixel_loss(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(image (H,W,3), output (H,W,3), mask (H,W,1)) -> float``: L_valid + 6 L_hole, both / (H·W·C)."""
    cases = [(_random_images(1, 8, seed=80)[0], _random_images(1, 8, seed=81)[0], _random_masks(3, 8, seed=82)[2]),
             (_random_images(1, 6, seed=83)[0], _random_images(1, 6, seed=84)[0], _random_masks(6, 6, seed=85)[5])]

    def parts(image, output, mask):
        error = np.abs(np.asarray(output, np.float64) - np.asarray(image, np.float64))
        mask = np.broadcast_to(np.asarray(mask, np.float64), error.shape)
        return error, mask

    def per_region_mean(image, output, mask):
        error, mask = parts(image, output, mask)
        return (error * mask).sum() / mask.sum() + 6.0 * (error * (1 - mask)).sum() / (1 - mask).sum()

    def swapped(image, output, mask):
        error, mask = parts(image, output, mask)
        return (6.0 * (error * mask).sum() + (error * (1 - mask)).sum()) / error.size

    def plain_l1(image, output, mask):
        error, _ = parts(image, output, mask)
        return error.mean()

    mistakes = [
        (per_region_mean, "both terms divide by N = H·W·C, the size of the whole image, not by the number of valid "
                          "or hole values (Liu et al.'s normalisation)"),
        (swapped, "the weights are swapped: the HOLE term (mask 0) gets the 6"),
        (plain_l1, "this is the plain L1 loss: weigh the hole pixels (mask 0) 6 times"),
    ]
    return _run_check(student_fn, cases, _liu_pixel_loss_reference, mistakes=mistakes)


# --------------------------------------------------------------------------------------
# Notebook 10: beyond CIFAR-10.
# --------------------------------------------------------------------------------------

def _block_mean_reference(image, k):
    """The mean of each k x k block of an (H, W, C) image, with plain loops."""
    image = np.asarray(image, np.float64)
    h, w, c = image.shape
    out = np.zeros((h // k, w // k, c))
    for i in range(h // k):
        for j in range(w // k):
            out[i, j] = image[i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(-1, c).mean(axis=0)
    return out


def check_block_mean(student_fn: Callable[[np.ndarray, int], Any]) -> bool | None:
    """Check ``student_fn(image (H, W, C), k) -> (H/k, W/k, C)``: each output pixel is the mean of a k x k block
    (H and W are multiples of k)."""
    rng = _rng(90)
    cases = [(rng.random((8, 8, 3)).astype(np.float32), 2), (rng.random((12, 6, 3)).astype(np.float32), 3),
             (rng.random((16, 20, 1)).astype(np.float32), 4), (rng.random((6, 6, 3)).astype(np.float32), 1)]

    def one_pixel_per_block(image, k):
        return np.asarray(image)[::k, ::k]

    def mixed_blocks(image, k):
        h, w, c = np.asarray(image).shape
        return np.asarray(image, np.float64).reshape(h // k, w // k, k, k, c).mean(axis=(2, 3))

    def block_sum(image, k):
        return _block_mean_reference(image, k) * k * k

    mistakes = [
        (one_pixel_per_block, "you kept one pixel of each block (image[::k, ::k]): that is subsampling, which aliases; "
                              "average all k·k pixels of the block"),
        (mixed_blocks, "your blocks mix pixels from different places: reshape to (H/k, k, W/k, k, C), so that axes 1 "
                       "and 3 run inside a block, and average over those two axes"),
        (block_sum, "that is the SUM of each block: divide by k·k (or take the mean)"),
    ]
    return _run_check(student_fn, cases, _block_mean_reference, mistakes=mistakes, forbidden=("data.shrink",))
