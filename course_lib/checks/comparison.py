"""The checks of notebook 07 (comparison): the paired difference of two methods' scores and the win rate.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
Scores are per-image arrays (N,); a pair counts only when both of its values are finite.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import run_check, seeded_rng


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
    rng = seeded_rng(seed)
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
    return run_check(student_fn, _score_cases(90), _paired_reference, mistakes=mistakes,
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
    return run_check(student_fn, _score_cases(91), _win_rate_reference, mistakes=mistakes, tol=1e-9)
