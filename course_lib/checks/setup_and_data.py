"""The checks of notebook 00 (setup and data): the hole ratio, growing the holes, OpenCV's mask convention.

Each check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
Masks are float32 (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import random_masks, run_check, seeded_rng


def _hole_ratio_reference(masks):
    masks = np.asarray(masks, np.float64)
    return (masks == 0).reshape(len(masks), -1).mean(axis=1)


def check_hole_ratio(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(masks) -> (N,)`` the fraction of hole pixels (value 0) of each mask (N, H, W, 1)."""
    cases = [(random_masks(4, 8, seed=1),), (random_masks(6, 32, seed=2),)]
    mistakes = [
        (lambda m: 1.0 - _hole_ratio_reference(m), "you computed the fraction of VALID pixels: in course_lib 1 = valid, "
                                                   "0 = hole, so count the zeros"),
        (lambda m: _hole_ratio_reference(m).mean(), "you returned one number for the whole batch: return one ratio "
                                                    "per mask, shape (N,) (average over axes 1, 2, 3 only)"),
    ]
    return run_check(student_fn, cases, _hole_ratio_reference, mistakes=mistakes, forbidden=["masks.hole_ratio"])


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
    cases = [(random_masks(3, 9, seed=5),), (np.ones((1, 5, 7, 1), np.float32),)]
    edge = np.ones((1, 6, 6, 1), np.float32)
    edge[0, 0, 2] = edge[0, 5, 5] = 0.0                           # holes on the frame and in a corner
    cases.append((edge,))
    return run_check(student_fn, cases, _grown_holes_reference, mistakes=mistakes, forbidden=["losses.dilate_holes"])


def _opencv_mask_reference(cv_mask):
    return (np.asarray(cv_mask) == 0).astype(np.float32)[..., None]


def check_opencv_mask_to_course(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(cv_mask uint8 (H,W), 255 = hole, 0 = valid) -> float32 (H,W,1), 1 = valid, 0 = hole``."""
    rng = seeded_rng(5)
    cases = [((rng.random((8, 8)) < 0.3).astype(np.uint8) * 255,), ((rng.random((5, 7)) < 0.5).astype(np.uint8) * 255,)]
    mistakes = [
        (lambda c: (np.asarray(c) > 0).astype(np.float32)[..., None],
         "you kept OpenCV's convention (nonzero = hole): invert it, so that holes become 0 and valid pixels 1"),
        (lambda c: (np.asarray(c) == 0).astype(np.float32),
         "values are right but the channel axis is missing: return shape (H, W, 1) (e.g. with [..., None])"),
        (lambda c: (255 - np.asarray(c, np.float64))[..., None],
         "values must be 0 and 1, not 0 and 255: divide by 255 or compare with 0"),
    ]
    return run_check(student_fn, cases, _opencv_mask_reference, mistakes=mistakes)
