"""What every classical fill method shares: its input checks, the image-by-image loop, pasting back.

The smoothing methods (:mod:`course_lib.classical`), patch copying (:mod:`course_lib.patch_inpainting`)
and the database method (:mod:`course_lib.database_inpainting`) all take float images (N, H, W, 3) in
[0, 1] and masks (N, H, W, 1) with **1 = valid (known) pixel, 0 = hole**, and return float32 images
whose known pixels are exactly the input's.  The pieces that make that so live here, once.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from course_lib import validation

#: Colour given to images that have no known pixel at all.
ALL_HOLE_FILL = 0.5


# --------------------------------------------------------------------------- checks
def _check_images(images) -> np.ndarray:
    """``images`` as float32 (N, H, W, 3) in [0, 1], or an error saying how to fix it."""
    return validation.check_images(images)


def _check_masks(masks, images: np.ndarray) -> np.ndarray:
    """``masks`` (1 = valid) as a boolean array (N, H, W, 1), checked against the images.

    ``(N, H, W)`` masks are accepted too (see :func:`course_lib.validation.check_masks`).
    """
    return validation.check_masks(masks, images=images).astype(bool)


def check_inputs(images, masks) -> tuple[np.ndarray, np.ndarray]:
    """Checked images float32 (N, H, W, 3) and known-pixel flags bool (N, H, W, 1)."""
    images = _check_images(images)
    return images, _check_masks(masks, images)


# --------------------------------------------------------------------------- shared pieces
def library_hole_mask(known: np.ndarray) -> np.ndarray:
    """The course's mask of ONE image -> the libraries' hole mask.

    ``known``: bool (H, W, 1), True = valid pixel (course convention).
    Returns uint8 (H, W) with 1 = hole, 0 = known: what ``cv2.inpaint`` wants
    (8-bit, nonzero = inpaint here) and, as ``.astype(bool)``, what scikit-image wants.
    """
    return (~known[..., 0]).astype(np.uint8)


def paste_known(images: np.ndarray, filled: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Known pixels from ``images``, hole pixels from ``filled``; float32."""
    return np.where(known, images, filled).astype(np.float32)


def fill_each_image(
    fill_one: Callable[[np.ndarray, np.ndarray], np.ndarray],
    images: np.ndarray,
    known: np.ndarray,
) -> np.ndarray:
    """Run a one-image library method over a checked batch.

    ``fill_one(image, hole)`` gets float32 (H, W, 3) and the library hole mask
    uint8 (H, W) (1 = hole) and returns a float image (H, W, 3) in [0, 1].
    Images without holes are not passed to it; images without any known pixel
    become ``ALL_HOLE_FILL`` gray.
    """
    filled = images.copy()
    for i in range(len(images)):
        n_known = int(known[i].sum())
        if n_known == known[i].size:
            continue
        if n_known == 0:
            filled[i] = ALL_HOLE_FILL
        else:
            filled[i] = fill_one(images[i], library_hole_mask(known[i]))
    return paste_known(images, filled, known)


def known_mean_colour(images: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per-image, per-channel mean of the known pixels: float64 (N, 3); 0.5 where none is known."""
    n_known = known.sum(axis=(1, 2), dtype=np.float64)                   # (N, 1)
    colour_sums = (images * known).sum(axis=(1, 2), dtype=np.float64)   # (N, 3)
    return np.divide(
        colour_sums, n_known, out=np.full_like(colour_sums, ALL_HOLE_FILL), where=n_known > 0
    )
