"""The checks every entry point applies to images and masks, written once.

Conventions (everywhere in course_lib):

* **images**: a batch ``(N, H, W, C)``, ``C = 3`` (RGB) unless a function says otherwise,
  float values in [0, 1] (``uint8`` 0..255 only where a function accepts it), finite, N >= 1;
* **masks**: ``(N, H, W, 1)`` (or ``(N, H, W)``, given a channel axis), values exactly
  0 (hole) or 1 (valid pixel), the same ``(N, H, W)`` as the images they go with.

Each check returns the array in the dtype the caller works in, or raises ``ValueError`` (for a
wrong dtype :class:`ImageDtypeError`, also a ``TypeError``) with a message that names the problem and the fix.
NumPy only: importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Slack on the [0, 1] range, for float rounding such as 1.0000001.
RANGE_TOLERANCE = 1e-6


class ImageDtypeError(TypeError, ValueError):
    """Images of a dtype the caller cannot use; both a TypeError and a ValueError, so that code
    catching either (the command line catches ValueError) reports it."""


def check_values(x, *, name: str = "images", uint8: str = "refuse", tolerance: float = 0.0) -> np.ndarray:
    """The dtype and value rules for images of any shape: float32 in [0, 1], finite.

    Args:
        x: array-like images.
        name: what to call ``x`` in an error message.
        uint8: what ``uint8`` input means: ``"refuse"`` (ambiguous for this caller),
            ``"scale"`` (0..255 -> divided by 255) or ``"keep"`` (returned as uint8).
        tolerance: slack on the range, e.g. :data:`RANGE_TOLERANCE`.

    Returns:
        float32 values in [0, 1] (or the uint8 array with ``uint8="keep"``).
    """
    array = np.asarray(x)
    if array.dtype == np.uint8 and uint8 != "refuse":
        return array if uint8 == "keep" else array.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(array.dtype, np.floating):
        accepted = "float in [0, 1]" + (" or uint8 (0..255)" if uint8 != "refuse" else "")
        raise ImageDtypeError(
            f"{name} have dtype {array.dtype}; expected {accepted}. "
            "Convert 0..255 images with course_lib.data.images_to_float (x / 255)."
        )
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(
            f"{name} contain {int((~finite).sum())} NaN or infinite values; fix the data first "
            "(a dead pixel inside a hole may be set to anything finite, e.g. np.nan_to_num(images), "
            "since inpainting ignores the hole's contents)."
        )
    if array.size:
        low, high = float(array.min()), float(array.max())
        if low < -tolerance or high > 1.0 + tolerance:
            raise ValueError(
                f"{name} have values in [{low:g}, {high:g}], outside [0, 1]. Images on a 0..255 scale: use "
                f"{name} / 255 (uint8 ones: course_lib.data.images_to_float); outputs that overshoot: "
                f"np.clip({name}, 0, 1)."
            )
    return array.astype(np.float32, copy=False)


def check_images(images, *, name: str = "images", channels: int | None = 3, square: bool = False,
                 uint8: str = "refuse", tolerance: float = 0.0) -> np.ndarray:
    """A non-empty batch ``(N, H, W, channels)`` that passes :func:`check_values`.

    Args:
        images: array-like.
        name: what to call it in an error message.
        channels: the required number of channels (None: any).
        square: require ``H == W`` (the training pipeline's crops).
        uint8, tolerance: as in :func:`check_values`.

    Returns:
        float32 ``(N, H, W, C)`` in [0, 1] (uint8 with ``uint8="keep"``).
    """
    array = np.asarray(images)
    wanted = f"(N, H, {'H' if square else 'W'}, {channels if channels else 'C'})"
    if array.ndim != 4 or (channels and array.shape[-1] != channels) or (square and array.shape[1] != array.shape[2]):
        hint = f" For a single image add the batch axis: {name}[None]." if array.ndim == 3 else ""
        raise ValueError(f"{name} have shape {array.shape}; expected a batch {wanted}.{hint}")
    if array.size == 0:
        raise ValueError(f"{name} are empty (shape {array.shape}); pass at least one image with pixels.")
    return check_values(array, name=name, uint8=uint8, tolerance=tolerance)


def check_binary(masks, *, name: str = "masks") -> np.ndarray:
    """``masks`` (any shape) as float32 after checking that every value is exactly 0 or 1.

    The error names the values found and how to binarise them, with a hint for 0/255 masks,
    which would otherwise scale the known pixels by 255.
    """
    masks = np.asarray(masks).astype(np.float32, copy=False)
    if np.isnan(masks).any():
        raise ValueError(f"{name} contain NaN; masks must hold only 0 (hole) and 1 (valid).")
    is_binary = (masks == 0) | (masks == 1)
    if not is_binary.all():
        examples = np.unique(masks[~is_binary])[:5]
        hint = " They look like 0/255 images: use (mask > 127).astype('float32')." if masks.max() > 1 else ""
        raise ValueError(
            f"{name} must contain only 0 and 1 (convention: 1 = valid pixel, 0 = hole), found values "
            f"such as {examples.tolist()}. Binarise them with (mask > 0.5).astype('float32').{hint}"
        )
    return masks


def check_masks(masks, *, images=None, name: str = "masks") -> np.ndarray:
    """Masks that follow the convention, as float32 ``(N, H, W, 1)``.

    Accepts ``(N, H, W, 1)`` or ``(N, H, W)`` (a channel axis is added), any numeric or bool
    dtype, values exactly 0 or 1, N >= 1.  With ``images`` ``(N, H, W, C)`` the first three
    sizes must match.  An inverted mask (OpenCV style, 1 = hole) is also 0/1 and cannot be
    detected here.
    """
    masks = np.asarray(masks)
    if masks.ndim == 3:
        masks = masks[..., np.newaxis]
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise ValueError(
            f"{name} must have shape (N, H, W, 1) or (N, H, W), got {masks.shape}; "
            "for a single mask (H, W) use mask[None]; for (N, H, W, 3) use mask[..., :1]."
        )
    if masks.size == 0:
        raise ValueError(f"{name} are empty (shape {masks.shape}); pass at least one mask.")
    masks = check_binary(masks, name=name)
    if images is not None:
        image_shape = np.shape(images)
        if len(image_shape) != 4 or tuple(image_shape[:3]) != masks.shape[:3]:
            raise ValueError(
                f"{name} {masks.shape} do not match images {tuple(image_shape)}: both must share "
                "(N, H, W); images are (N, H, W, C), masks (N, H, W, 1)."
            )
    return masks


def check_number(name: str, value, *, zero_ok: bool, example=None) -> float:
    """``value`` as a float if it is a finite real number > 0 (>= 0 with ``zero_ok``), else a
    ValueError naming ``name`` (and ``example``, a value that works).  The rule of every
    numeric setting, for the library and the command line alike."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < 0 or (value == 0 and not zero_ok)):
        kind = "non-negative" if zero_ok else "positive"
        hint = f"; e.g. {name}={example}" if example is not None else ""
        raise ValueError(f"{name} must be a finite {kind} number, got {value!r}{hint}.")
    return float(value)


def _check_int(name: str, value, *, minimum: int, kind: str, example) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a {kind} int, got {value!r}; e.g. {name}={example}.")
    return int(value)


def check_positive_int(name: str, value, *, example=1) -> int:
    """``value`` as an int if it is a whole number >= 1 (a Python or NumPy int, not a bool or a
    float), else a ValueError naming ``name`` and ``example``, a value that works.  The rule of
    every count: epochs, batch sizes, numbers of images."""
    return _check_int(name, value, minimum=1, kind="positive", example=example)


def check_seed(value, *, name: str = "seed") -> int:
    """``value`` as an int if it is a whole number >= 0 (NumPy's generators refuse negative
    seeds), else a ValueError naming ``name``.  The rule of every random seed."""
    return _check_int(name, value, minimum=0, kind="non-negative", example=0)
