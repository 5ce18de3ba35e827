"""Hole masks: random families for training, and the fixed set used for evaluation.

Convention (the partial-convolution one, used everywhere in the course):
masks are float32 arrays of shape ``(N, H, W, 1)`` with **1 = valid pixel, 0 = hole**.
A masked image is ``image * mask``.

OpenCV and scikit-image use the opposite convention (nonzero = hole to fill).
A mask that is fully inverted is still a valid 0/1 array, so no function here can
tell; if results look like the network "fills" the known pixels, check this first.

Families (every generator is reproducible: the same ``seed`` gives the same masks):

* :func:`stroke_masks` -- 1 to 9 thin straight lines, the masks of the source material;
* :func:`irregular_masks` -- free-form brush strokes in the style of Liu et al. (2018),
  with the hole ratio kept inside a chosen range;
* :func:`box_masks` -- rectangles, or the Context Encoder's centred square.

The fixed evaluation set (:func:`load_eval_masks`) ships inside the package,
in ``course_lib/data/eval_masks.npz``, and is rebuilt by ``python scripts/make_eval_masks.py``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import cv2
import numpy as np

from course_lib import config, validation

__all__ = [
    "EVAL_BINS",
    "EVAL_MASKS_PATH",
    "EVAL_MASKS_SHA256",
    "MASK_FAMILIES",
    "box_masks",
    "build_eval_masks",
    "check_binary",
    "eval_mask_names",
    "eval_masks_checksum",
    "hole_ratio",
    "irregular_masks",
    "load_eval_masks",
    "make_masks",
    "mixed_masks",
    "stroke_masks",
    "validate_masks",
]

# --------------------------------------------------------------------------- helpers


def _check_count_and_size(n, size) -> None:
    for name, value, low in (("n", n, 0), ("size", size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {value!r}.")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}.")


def _holes_to_masks(holes: np.ndarray) -> np.ndarray:
    """uint8 ``(N, H, W)`` with 1 = hole  ->  float32 ``(N, H, W, 1)`` with 1 = valid."""
    return (1 - holes).astype(np.float32)[..., np.newaxis]


# --------------------------------------------------------------------------- strokes (the "source" recipe's masks)


def stroke_masks(n, size=32, seed=None):
    """Masks of 1 to 9 thin straight lines: the course's reconstruction of the source's masks (its
    slides do not say how they were drawn).

    Each image gets ``randint(1, 10)`` lines drawn with ``cv2.line``
    between points whose coordinates are ``randint(1, 32)`` (so 1..size-1), each
    ``randint(1, 3)`` (1 or 2) pixels thick.  The lines are the holes.

    Returns float32 ``(n, size, size, 1)``, 1 = valid, 0 = hole.
    """
    _check_count_and_size(n, size)
    rng = np.random.default_rng(seed)
    # All random numbers are drawn at once; only the drawing loops in Python.
    lines_per_mask = rng.integers(1, 10, size=n)
    n_lines = int(lines_per_mask.sum())
    endpoints = rng.integers(1, size, size=(n_lines, 4))  # x1, y1, x2, y2
    thickness = rng.integers(1, 3, size=n_lines)
    owner = np.repeat(np.arange(n), lines_per_mask)  # which mask each line belongs to

    holes = np.zeros((n, size, size), np.uint8)
    for i, (x1, y1, x2, y2), width in zip(owner.tolist(), endpoints.tolist(), thickness.tolist()):
        cv2.line(holes[i], (x1, y1), (x2, y2), color=1, thickness=width)
    return _holes_to_masks(holes)


# --------------------------------------------------------------------------- irregular (Liu et al. style)

# A stroke is a random walk of a round brush.  Lengths and widths scale with the
# mask size; at 32 x 32: 1 to 6 segments of 2..8 pixels, brush 1..4 pixels wide.
_MAX_SEGMENTS = 6
_MAX_TURN = math.pi / 2  # radians between one segment and the next, at most
# Strokes that would push the ratio past the range are thrown away; after this many
# in a row the mask is started again (this only happens for narrow ranges), and after
# that many fresh starts we give up rather than loop forever on an impossible range.
_MAX_REJECTED_STROKES = 30
_MAX_RESTARTS = 1000


def _random_strokes(rng, count: int, size: int):
    """``count`` random walks at once: vertices ``(count, _MAX_SEGMENTS + 1, 1, 2)`` int32 (x, y),
    number of vertices used ``(count,)`` and brush widths in pixels ``(count,)``."""
    n_vertices = rng.integers(2, _MAX_SEGMENTS + 2, size=count)
    lengths = rng.uniform(2, max(3, size / 4), size=(count, _MAX_SEGMENTS))
    turns = rng.uniform(-_MAX_TURN, _MAX_TURN, size=(count, _MAX_SEGMENTS))
    angles = rng.uniform(0, 2 * math.pi, size=(count, 1)) + np.cumsum(turns, axis=1)
    steps = np.stack([lengths * np.cos(angles), lengths * np.sin(angles)], axis=-1)
    starts = rng.uniform(0, size, size=(count, 1, 2))
    vertices = np.concatenate([starts, starts + np.cumsum(steps, axis=1)], axis=1)
    # Vertices may leave the image; OpenCV clips the drawing, so the walk just exits.
    vertices = np.rint(vertices).astype(np.int32)
    widths = rng.integers(1, max(2, size // 8) + 1, size=count)
    return vertices[:, :, np.newaxis, :], n_vertices, widths


def _stroke_stream(rng, size: int, chunk: int = 4096):
    """An endless supply of ``(vertices (k, 1, 2) int32, width)`` strokes.

    Drawing random numbers in chunks is what keeps this fast; the fixed chunk size
    keeps it reproducible.
    """
    while True:
        vertices, n_vertices, widths = _random_strokes(rng, chunk, size)
        for stroke, n_used, width in zip(vertices, n_vertices.tolist(), widths.tolist()):
            yield stroke[:n_used], width


def _irregular_holes(strokes, size: int, target: int, lowest: int, highest: int) -> np.ndarray:
    """uint8 ``(size, size)``, 1 = hole, with between ``max(lowest, target)`` and ``highest`` hole pixels.

    Strokes are added until the target is reached; one that would go past ``highest``
    is thrown away.  After too many throw-aways in a row the mask starts again.
    """
    for _ in range(_MAX_RESTARTS):
        holes = np.zeros((size, size), np.uint8)
        n_holes, rejected = 0, 0
        while n_holes < target and rejected < _MAX_REJECTED_STROKES:
            vertices, width = next(strokes)
            candidate = holes.copy()
            cv2.polylines(candidate, [vertices], isClosed=False, color=1, thickness=width)
            n_candidate = np.count_nonzero(candidate)
            if n_candidate <= highest:
                holes, n_holes, rejected = candidate, n_candidate, 0
            else:
                rejected += 1
        if lowest <= n_holes <= highest:
            return holes
    raise ValueError(
        f"could not draw a {size}x{size} brush-stroke mask with {lowest} to {highest} hole pixels; "
        "the hole_range is too narrow for strokes of this size: widen it."
    )


def _hole_pixel_bounds(hole_range, size: int) -> tuple[int, int]:
    """``(lo, hi)`` ratios -> the smallest and largest whole number of hole pixels inside them."""
    try:
        lo, hi = (float(value) for value in hole_range)
    except (TypeError, ValueError):
        raise TypeError(f"hole_range must be a pair of numbers (lo, hi), got {hole_range!r}.") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"hole_range must satisfy 0 <= lo <= hi <= 1, got {hole_range!r}.")
    pixels = size * size
    lowest, highest = math.ceil(lo * pixels), math.floor(hi * pixels)
    if lowest > highest:
        raise ValueError(
            f"hole_range {hole_range!r} contains no possible hole ratio for {size}x{size} masks "
            f"(ratios move in steps of 1/{pixels}); widen the range."
        )
    return lowest, highest


def irregular_masks(n, size=32, hole_range=(0.1, 0.5), seed=None):
    """Free-form brush-stroke masks in the style of Liu et al. (2018), hole ratio in ``hole_range``.

    Each mask draws a target number of hole pixels uniformly in the range, then adds
    random strokes (random walks of a round brush with random width, number of
    vertices and turning angles) until it reaches the target; a stroke that would
    overshoot the range is thrown away and another one drawn.  So every mask's hole
    ratio ``r`` satisfies ``lo <= r <= hi`` exactly.

    Returns float32 ``(n, size, size, 1)``, 1 = valid, 0 = hole.
    """
    _check_count_and_size(n, size)
    lowest, highest = _hole_pixel_bounds(hole_range, size)
    rng = np.random.default_rng(seed)
    targets = rng.integers(lowest, highest + 1, size=n).tolist()  # hole pixels wanted per mask
    strokes = _stroke_stream(rng, size)
    holes = np.zeros((n, size, size), np.uint8)
    for i, target in enumerate(targets):
        holes[i] = _irregular_holes(strokes, size, target, lowest, highest)
    return _holes_to_masks(holes)


# --------------------------------------------------------------------------- boxes


def _box_sides(box_size, size: int) -> tuple[int, int]:
    height, width = (box_size, box_size) if np.isscalar(box_size) else box_size
    if not (1 <= height <= size and 1 <= width <= size):
        raise ValueError(f"box_size {box_size!r} must be between 1 and size={size} (int or (height, width)).")
    return int(height), int(width)


def box_masks(n, size=32, *, box_size=None, centered=False, seed=None):
    """One rectangular hole per mask.

    * ``centered=False``: random position; sides ``box_size`` (int or ``(height, width)``)
      or, if ``None``, random sides between ``size // 8`` and ``size // 2``.
    * ``centered=True``: the Context Encoder's hole, a square of side ``size // 2``
      (or ``box_size``) in the centre; for odd leftovers it sits half a pixel up-left.

    Returns float32 ``(n, size, size, 1)``, 1 = valid, 0 = hole.
    """
    _check_count_and_size(n, size)
    rng = np.random.default_rng(seed)
    if box_size is None and centered:
        box_size = size // 2
    if box_size is None:
        low, high = max(1, size // 8), max(1, size // 2)
        heights = rng.integers(low, high + 1, size=n)
        widths = rng.integers(low, high + 1, size=n)
    else:
        height, width = _box_sides(box_size, size)
        heights, widths = np.full(n, height), np.full(n, width)
    if centered:
        tops, lefts = (size - heights) // 2, (size - widths) // 2
    else:
        tops = rng.integers(0, size - heights + 1)
        lefts = rng.integers(0, size - widths + 1)

    coords = np.arange(size)
    in_rows = (coords >= tops[:, None]) & (coords < (tops + heights)[:, None])  # (n, size)
    in_cols = (coords >= lefts[:, None]) & (coords < (lefts + widths)[:, None])
    holes = (in_rows[:, :, None] & in_cols[:, None, :]).astype(np.uint8)
    return _holes_to_masks(holes)


# --------------------------------------------------------------------------- families and checks

#: Hole ratios the ``"mixed"`` family's irregular half covers: the evaluation bins' whole range.
MIXED_HOLE_RANGE = (0.01, 0.6)


def mixed_masks(n, size=32, seed=None):
    """Half stroke masks, half irregular masks with hole ratio in :data:`MIXED_HOLE_RANGE`, shuffled.

    The training mix of the pretrained models: the source's thin strokes plus the large
    free-form holes of the evaluation bins.  float32 ``(n, size, size, 1)``, 1 = valid, 0 = hole.
    """
    rng = np.random.default_rng(seed)
    stroke_seed, irregular_seed = (int(s) for s in rng.integers(0, 2**31, size=2))
    n_strokes = n // 2
    masks = np.concatenate([
        stroke_masks(n_strokes, size, seed=stroke_seed),
        irregular_masks(n - n_strokes, size, hole_range=MIXED_HOLE_RANGE, seed=irregular_seed),
    ])
    return masks[rng.permutation(n)]


#: Mask families by name; each is called as ``family(n, size=32, seed=None)``.
MASK_FAMILIES = {
    "strokes": stroke_masks,
    "irregular": irregular_masks,
    "boxes": box_masks,
    "mixed": mixed_masks,
}


def check_family(family) -> str:
    """``family`` if it names one of :data:`MASK_FAMILIES`, else a ValueError that lists them."""
    if family not in MASK_FAMILIES:
        raise ValueError(f"Unknown mask family {family!r}: choose one of {sorted(MASK_FAMILIES)}.")
    return family


def make_masks(family, n, size=32, seed=None):
    """``n`` masks of the named family (see :data:`MASK_FAMILIES`): float32 ``(n, size, size, 1)``."""
    return MASK_FAMILIES[check_family(family)](n, size=size, seed=seed)


def check_binary(masks):
    """``masks`` (any shape) as float32 after checking that every value is exactly 0 or 1
    (:func:`course_lib.validation.check_binary`)."""
    return validation.check_binary(masks)


def validate_masks(masks, *, images=None):
    """Check masks follow the convention and return them as float32 ``(N, H, W, 1)``.

    Accepts ``(N, H, W, 1)`` or ``(N, H, W)`` (a channel axis is added), any numeric or
    bool dtype, values exactly 0 or 1 (1 = valid, 0 = hole).  With ``images``
    ``(N, H, W, C)`` the first three sizes must match
    (:func:`course_lib.validation.check_masks`).
    """
    return validation.check_masks(masks, images=images)


def hole_ratio(masks):
    """Fraction of hole pixels (value 0) of each mask: float64 ``(N,)`` in [0, 1]."""
    masks = validate_masks(masks)
    n_pixels = masks.shape[1] * masks.shape[2]
    return np.count_nonzero(masks == 0, axis=(1, 2, 3)) / n_pixels


# --------------------------------------------------------------------------- the fixed evaluation set

#: Hole-ratio bins of the evaluation set, as in Liu et al. (2018).
EVAL_BINS = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
EVAL_MASKS_PER_GROUP = 200
EVAL_MASKS_SIZE = 32
EVAL_MASKS_SEED = 2018
EVAL_MASKS_PATH = config.PACKAGE_DATA_DIR / "eval_masks.npz"
#: sha256 of the evaluation masks (see :func:`eval_masks_checksum`).  It changes only if
#: the masks change, which would make new results incomparable with old ones.
EVAL_MASKS_SHA256 = "a8ca17074a4f3ce06588796d7efcaea71cb14cecae4964737a86a2ad1c8fb12b"


def eval_mask_names() -> list[str]:
    """``["0.01-0.1", "0.1-0.2", ..., "0.5-0.6", "strokes"]``: the groups, in order."""
    return [f"{lo:g}-{hi:g}" for lo, hi in EVAL_BINS] + ["strokes"]


def build_eval_masks(per_group=EVAL_MASKS_PER_GROUP, seed=EVAL_MASKS_SEED, size=EVAL_MASKS_SIZE):
    """Generate the evaluation masks from scratch (what ``scripts/make_eval_masks.py`` saves).

    Group ``k`` (in :func:`eval_mask_names` order) uses seed ``seed + k``: irregular
    masks with hole ratio inside the ``k``-th bin of :data:`EVAL_BINS`, then stroke masks.

    Returns dict name -> float32 ``(per_group, size, size, 1)``, 1 = valid, 0 = hole.
    """
    masks = {}
    for k, (name, hole_range) in enumerate(zip(eval_mask_names(), EVAL_BINS)):
        masks[name] = irregular_masks(per_group, size, hole_range=hole_range, seed=seed + k)
    masks["strokes"] = stroke_masks(per_group, size, seed=seed + len(EVAL_BINS))
    return masks


def eval_masks_checksum(masks) -> str:
    """sha256 hex digest over, for each group in order, its name (utf-8) then its masks
    as uint8 bytes ``(K, H, W)`` (1 = valid, 0 = hole, C order)."""
    digest = hashlib.sha256()
    for name, group in masks.items():
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(group[..., 0], dtype=np.uint8).tobytes())
    return digest.hexdigest()


def load_eval_masks(path=None, *, verify=True):
    """The fixed evaluation masks: dict name -> float32 ``(K, 32, 32, 1)``, 1 = valid, 0 = hole.

    Keys, in order: ``"0.01-0.1"``, ``"0.1-0.2"``, ..., ``"0.5-0.6"`` (irregular masks
    whose hole ratio lies in that bin) and ``"strokes"`` (the source's line masks).
    The file stores each group as ``np.packbits`` of the 0/1 masks along the last axis
    (masks are square).  With ``verify`` the content is checked against
    :data:`EVAL_MASKS_SHA256`.
    """
    path = Path(path) if path is not None else EVAL_MASKS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; restore it with `git checkout -- course_lib/data/eval_masks.npz` "
            "or rebuild it with `python scripts/make_eval_masks.py`."
        )
    with np.load(path) as stored:
        masks = {}
        for name in eval_mask_names():
            packed = stored[name]  # (K, H, ceil(W / 8)) uint8
            bits = np.unpackbits(packed, axis=-1, count=packed.shape[1])
            masks[name] = bits.astype(np.float32)[..., np.newaxis]
    if verify and eval_masks_checksum(masks) != EVAL_MASKS_SHA256:
        raise ValueError(
            f"{path} does not match EVAL_MASKS_SHA256, so results would not be comparable with the "
            "course's; restore it with `git checkout -- course_lib/data/eval_masks.npz`."
        )
    return masks
