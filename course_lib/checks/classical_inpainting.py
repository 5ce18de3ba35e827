"""The checks of notebook 01 (classical inpainting): the 5-point Laplacian and one diffusion step.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
Images are float (H, W) or (H, W, C); masks (H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import random_masks, run_check, seeded_rng


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
    rng = seeded_rng(6)
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
    return run_check(student_fn, cases, _laplacian_reference, mistakes=mistakes, tol=1e-6,
                     forbidden=["classical._laplacian"])


def _diffusion_step_reference(u, mask, dt):
    u = np.asarray(u, np.float64)
    hole = 1.0 - np.asarray(mask, np.float64)
    return u + dt * hole * _laplacian_reference(u)


def check_diffusion_step(student_fn: Callable[[np.ndarray, np.ndarray, float], Any]) -> bool | None:
    """Check ``student_fn(u (H,W,C), mask (H,W,1), dt) -> (H,W,C)``: u + dt·Δu in the holes, known pixels unchanged."""
    rng = seeded_rng(7)
    cases = [
        (rng.random((6, 6, 3)), random_masks(2, 6, seed=8)[1], 0.25),
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
    return run_check(student_fn, cases, _diffusion_step_reference, mistakes=mistakes, tol=1e-6,
                     forbidden=["classical.diffusion_step", "classical._laplacian"])
