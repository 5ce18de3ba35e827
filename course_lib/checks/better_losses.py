"""The checks of notebook 08 (better losses and a hybrid): Liu et al.'s total-variation and pixel terms.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
:func:`total_variation_reference` and :func:`liu_pixel_loss_reference` also serve notebook 06's check
of the whole loss (:mod:`course_lib.checks.training`).  Masks are 1 = valid, 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import random_images, random_masks, run_check, seeded_rng


def total_variation_reference(image, region):
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
    rng = seeded_rng(seed)
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
        return total_variation_reference(image, np.ones_like(np.asarray(region)))

    def unnormalised(image, region):
        image = np.asarray(image)
        return total_variation_reference(image, region) * image.size

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
    return run_check(student_fn, _tv_cases(70), total_variation_reference, mistakes=mistakes)


def liu_pixel_loss_reference(image, output, mask):
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
    cases = [(random_images(1, 8, seed=80)[0], random_images(1, 8, seed=81)[0], random_masks(3, 8, seed=82)[2]),
             (random_images(1, 6, seed=83)[0], random_images(1, 6, seed=84)[0], random_masks(6, 6, seed=85)[5])]

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
    return run_check(student_fn, cases, liu_pixel_loss_reference, mistakes=mistakes)
