"""The check of notebook 10 (beyond CIFAR-10): shrinking an image by the mean of each k x k block.

The check prints one line and returns True / False / None (:mod:`course_lib.checks.feedback`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import run_check, seeded_rng


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
    rng = seeded_rng(90)
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
    return run_check(student_fn, cases, _block_mean_reference, mistakes=mistakes, forbidden=("photographs.shrink",))
