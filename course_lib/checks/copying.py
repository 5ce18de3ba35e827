"""The checks of notebook 02 (copying instead of smoothing): the masked patch distance and its matrix form.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
Masks are 1 = known (valid), 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import random_masks, run_check, seeded_rng


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
    rng = seeded_rng(seed)
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
    return run_check(student_fn, _patch_cases(20), _patch_ssd_reference, mistakes=mistakes)


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
    rng = seeded_rng(21)
    cases = []
    for n, m, size in ((3, 7, 6), (5, 11, 4), (1, 4, 8)):
        queries = rng.random((n, size, size, 3)).astype(np.float32)
        masks = random_masks(n + 1, size, seed=int(rng.integers(1000)))[1:]
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
    return run_check(student_fn, cases, _masked_distances_reference, mistakes=mistakes, tol=1e-4)
