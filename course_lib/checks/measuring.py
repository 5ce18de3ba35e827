"""The checks of notebook 03 (measuring inpainting): the PSNR, the PSNR over the holes, a one-window SSIM.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
Images are float in [0, 1], (N, H, W, 3); masks (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import random_images, random_masks, run_check, seeded_rng
from course_lib.metrics import SSIM_C1, SSIM_C2


def _psnr_reference(y_true, y_pred):
    err = (np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)) ** 2
    mse = err.reshape(len(err), -1).mean(axis=1)
    return 10.0 * np.log10(1.0 / mse)


def _psnr_cases(seed: int):
    rng = seeded_rng(seed)
    y = random_images(4, 8, seed=seed)
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
    return run_check(student_fn, cases, _psnr_reference, mistakes=mistakes, forbidden=["metrics.psnr", "metrics.mse"])


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
    masks = random_masks(5, 8, seed=seed)[1:]  # every mask has a hole
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
    return run_check(student_fn, cases, _hole_psnr_reference, mistakes=mistakes,
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
    rng = seeded_rng(13)
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
    return run_check(student_fn, cases, _global_ssim_reference, mistakes=mistakes, tol=1e-6)
