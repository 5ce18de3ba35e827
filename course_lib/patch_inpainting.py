"""Patch-based inpainting (Criminisi, Perez & Toyama 2004): fill a hole by copying, not smoothing.

Two families of the literature fill a hole by copying rather than smoothing.  *Patch-based*
(:func:`inpaint_patch`, here) copies patches of the image's own known part; *from a database of
images* (:mod:`course_lib.database_inpainting`, Hays & Efros 2007) copies from the most similar images
of a database.  Both are called "exemplar-based" in the literature.

:func:`inpaint_patch` is called like every method of :mod:`course_lib.classical`,
``filled = method(images, masks)`` (masks 1 = valid, 0 = hole), and is the ``"patch"`` entry of
:data:`course_lib.evaluate.CLASSICAL_METHODS`.
"""

from __future__ import annotations

import numpy as np

from course_lib import classical, fill_common

#: Default patch side of :func:`inpaint_patch` (see its docstring for the measurement behind it).
PATCH_SIZE = 5

# Added to the data term so that it is never 0: on a flat region (or along a straight front with
# no structure crossing it) every isophote term vanishes, P = C * D would be 0 everywhere and the
# fill order would fall back to raster order.  With the epsilon, the confidence still decides there.
_DATA_TERM_EPS = 1e-3

# Masked SSDs closer than this are a tie: far above the float64 rounding of the expansion
# (about 1e-13 here), far below what one 8-bit level on one pixel changes (1.5e-5).
_SSD_TIE = 1e-9

_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8


def _check_patch_size(patch_size) -> int:
    if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)) \
            or patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(
            f"patch_size={patch_size!r} must be an odd integer >= 3 (a patch is centred on a pixel); "
            "5, 7 or 9 suit 32 x 32 images."
        )
    return int(patch_size)


class _SourcePatches:
    """Every fully known patch of one image, flattened for a vectorised masked SSD search.

    ``pixels``: float64 (S, p*p, 3), the S candidate source patches (row-major pixel order);
    ``centres``: int (S, 2), their centre pixels (y, x) in image coordinates.
    Only patches that lie entirely inside the image and contain no hole pixel are candidates.
    """

    def __init__(self, image: np.ndarray, known: np.ndarray, patch_size: int):
        p = patch_size
        height, width = known.shape
        if height < p or width < p:
            full = np.zeros((0, 0), bool)
        else:
            full = np.lib.stride_tricks.sliding_window_view(known, (p, p)).all(axis=(-2, -1))
        self.patch_size = p
        self.centres = np.argwhere(full) + p // 2
        if len(self.centres):
            windows = np.lib.stride_tricks.sliding_window_view(image, (p, p), axis=(0, 1))  # (.., 3, p, p)
            self.pixels = windows[full].transpose(0, 2, 3, 1).reshape(-1, p * p, 3).astype(np.float64)
        else:
            self.pixels = np.zeros((0, p * p, 3))
        self._flat = self.pixels.reshape(len(self.pixels), p * p * 3)
        self._squares = (self.pixels ** 2).sum(axis=-1)                 # (S, p*p)

    def __len__(self) -> int:
        return len(self.pixels)

    def ssd(self, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Masked sum of squared differences to every candidate: float64 (S,).

        ``target``: (p, p, 3); ``weight``: (p, p), 1 where the target pixel is known, 0 elsewhere.
        ``sum w (t - s)^2 = sum w t^2 - 2 sum w t s + sum w s^2``: two matrix-vector products
        instead of a loop over the candidates.
        """
        w = weight.reshape(-1).astype(np.float64)
        weighted_target = w[:, None] * target.reshape(-1, 3)
        return (weighted_target * target.reshape(-1, 3)).sum() - 2 * (self._flat @ weighted_target.reshape(-1)) \
            + self._squares @ w

    def best(self, target: np.ndarray, weight: np.ndarray, centre=None) -> int:
        """Index of the candidate with the smallest masked SSD.

        Ties (equal SSD up to float rounding) are common: a target whose known pixels are flat
        matches every flat patch, whatever the patch holds where the target is unknown.  Among
        them the candidate nearest to ``centre`` (y, x) wins, the first one without ``centre``.
        """
        ssd = self.ssd(target, weight)
        tied = np.flatnonzero(ssd <= ssd.min() + _SSD_TIE)
        if centre is None or len(tied) == 1:
            return int(tied[0])
        distance = ((self.centres[tied] - np.asarray(centre)) ** 2).sum(axis=1)
        return int(tied[np.argmin(distance)])


def _fill_front(hole: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Hole pixels with a known 4-neighbour: int (F, 2) of (y, x), in raster order.

    ``hole`` and ``known``: bool (H, W); the arrays are padded, so no hole pixel lies on their edge.
    """
    touches = np.zeros_like(known)
    touches[1:] |= known[:-1]
    touches[:-1] |= known[1:]
    touches[:, 1:] |= known[:, :-1]
    touches[:, :-1] |= known[:, 1:]
    return np.argwhere(hole & touches)


def _known_gradient(grey: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (gy, gx) of ``grey`` (H, W) from known pixels only; 0 at unknown pixels.

    Central differences where both neighbours are known, one-sided where one is, 0 where none is.
    The arrays are padded: their outermost ring is never known.
    """
    def along(axis):
        forward = np.zeros_like(grey)
        backward = np.zeros_like(grey)
        ok_forward = np.zeros_like(known)
        ok_backward = np.zeros_like(known)
        here, after, before = [slice(1, -1)] * 2, [slice(1, -1)] * 2, [slice(1, -1)] * 2
        after[axis], before[axis] = slice(2, None), slice(None, -2)
        here, after, before = tuple(here), tuple(after), tuple(before)
        forward[here] = grey[after] - grey[here]
        backward[here] = grey[here] - grey[before]
        ok_forward[here] = known[here] & known[after]
        ok_backward[here] = known[here] & known[before]
        both = ok_forward & ok_backward
        return np.where(both, (forward + backward) / 2,
                        np.where(ok_forward, forward, np.where(ok_backward, backward, 0.0)))

    return along(0), along(1)


def _data_term(image: np.ndarray, known: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Criminisi's data term ``|isophote . normal| / alpha + eps`` at each front pixel: (F,).

    The isophote (gradient rotated by 90 degrees, alpha = 1 for values in [0, 1]) is taken at
    the known pixel of the front pixel's 3 x 3 neighbourhood where the gradient is strongest
    (the front pixel itself is unknown); the normal of the front is the Sobel gradient of the
    known-pixel indicator, normalised.
    """
    gy, gx = _known_gradient(image.mean(axis=-1), known)
    ys, xs = front[:, 0] - 1, front[:, 1] - 1
    windows = np.lib.stride_tricks.sliding_window_view
    strength = windows(gy ** 2 + gx ** 2, (3, 3))[ys, xs].reshape(len(front), 9)
    strongest = strength.argmax(axis=1)
    rows = np.arange(len(front))
    grad_y = windows(gy, (3, 3))[ys, xs].reshape(len(front), 9)[rows, strongest]
    grad_x = windows(gx, (3, 3))[ys, xs].reshape(len(front), 9)[rows, strongest]
    neighbourhood = windows(known.astype(np.float64), (3, 3))[ys, xs]
    normal_x = (neighbourhood * _SOBEL_X).sum(axis=(1, 2))
    normal_y = (neighbourhood * _SOBEL_X.T).sum(axis=(1, 2))
    length = np.hypot(normal_x, normal_y)
    length[length == 0] = 1.0
    isophote_x, isophote_y = -grad_y, grad_x
    return np.abs(isophote_x * normal_x + isophote_y * normal_y) / length + _DATA_TERM_EPS


def _patch_fill_one(image: np.ndarray, known: np.ndarray, patch_size: int, data_term: bool):
    """Criminisi's algorithm on ONE image with at least one known and one hole pixel.

    ``image``: float32 (H, W, 3); ``known``: bool (H, W).  Returns the filled image float64
    (H, W, 3) and the centres (y, x) of the target patches in fill order (empty when no fully
    known source patch exists and the diffusion fallback filled the hole).
    """
    sources = _SourcePatches(image, known, patch_size)
    if not len(sources):
        fallback = classical.inpaint_diffusion(image[None], known[None, ..., None].astype(np.float32))
        return fallback[0].astype(np.float64), []
    r = patch_size // 2
    pad = ((r, r), (r, r))
    filled = np.pad(image.astype(np.float64), pad + ((0, 0),))
    is_known = np.pad(known, pad)                                  # known or filled; False outside
    inside = np.pad(np.ones_like(known), pad)
    confidence = np.pad(known.astype(np.float64), pad)
    windows = np.lib.stride_tricks.sliding_window_view
    # Confidence = mean over the patch's pixels INSIDE the image: border patches are not penalised.
    inside_count = windows(inside, (patch_size, patch_size)).sum(axis=(-2, -1))
    order = []
    while True:
        hole = inside & ~is_known
        if not hole.any():
            break
        front = _fill_front(hole, is_known)
        ys, xs = front[:, 0] - r, front[:, 1] - r                 # window index = top-left corner
        patch_confidence = windows(confidence, (patch_size, patch_size))[ys, xs].sum(axis=(1, 2)) \
            / inside_count[ys, xs]
        priority = patch_confidence * _data_term(filled, is_known, front) if data_term else patch_confidence
        best = int(np.argmax(priority))
        cy, cx = front[best]
        target = (slice(cy - r, cy + r + 1), slice(cx - r, cx + r + 1))
        best_source = sources.best(filled[target], is_known[target], centre=(cy - r, cx - r))
        source = sources.pixels[best_source].reshape(patch_size, patch_size, 3)
        to_fill = hole[target]
        filled[target][to_fill] = source[to_fill]
        confidence[target][to_fill] = patch_confidence[best]
        is_known[target] |= to_fill
        order.append((int(cy) - r, int(cx) - r))
    return filled[r:-r, r:-r], order


def inpaint_patch(images, masks, *, patch_size: int = PATCH_SIZE, data_term: bool = True) -> np.ndarray:
    """Patch-based inpainting (Criminisi, Perez & Toyama 2004), written here in NumPy.

    Copies whole patches of the image's own known pixels into the hole, one patch at a time,
    so textures and repeated structures continue into the hole (which diffusion cannot do).

    The algorithm, per image
        1. The *fill front* is the set of hole pixels with a known 4-neighbour.
        2. Each front pixel p gets a priority ``P(p) = C(p) * D(p)``.  The *confidence* C is
           the mean confidence of the patch's pixels (1 for an originally known pixel, the
           patch's C for a filled one, 0 in the hole): patches with much reliable information
           go first.  The *data term* ``D = |isophote . normal| / alpha`` (the image's gradient
           rotated by 90 degrees, on known pixels, dotted with the front's normal) favours
           places where an edge runs into the hole, so that lines are continued before the
           flat areas around them are filled.
        3. The target patch (``patch_size`` square) is centred on the front pixel of highest
           priority.  The source patch is the one, among all patches of the image that are
           entirely known (the original known pixels), with the smallest sum of squared
           differences over the target's known pixels: one matrix product for all candidates.
           Among equally good candidates the nearest one wins (a flat target matches every
           flat patch, also those that hold a line where the target is unknown).
        4. The source's pixels are copied into the target's hole pixels, which take the
           target's confidence; repeat until no hole is left.

        ``data_term=False`` sets D = 1: the order is by confidence alone, peeling the hole from
        the outside in (the order of Efros & Leung's texture synthesis), which breaks lines.
        Near the image border the patches are clipped: pixels outside the image are neither
        compared nor filled.  When no patch of the image is entirely known (a tiny image or a
        hole everywhere) the hole is filled by :func:`course_lib.classical.inpaint_diffusion` instead.

    Patch size: 5, the best of 5, 7 and 9 on CIFAR-10 with the evaluation masks
        (``benchmarks/README.md``, ``bench_classical.py``): a 32 x 32 image offers few patches, a smaller
        one finds better matches, and with larger holes a 9 x 9 patch is often nowhere entirely known
        (then the diffusion fallback fills the hole).  A texture whose repeating element is larger than
        the patch needs a larger one.  The cost grows with the image: each copy searches all its patches.

    On CIFAR-10 it loses to the smooth methods by PSNR (``benchmarks/README.md``): a 32 x 32
    photograph rarely holds a second copy of what is missing (an eye, a wheel), and a wrong copy
    costs more PSNR than a blur.  It wins on textures (stripes, checkerboards, bricks), where the
    missing part does repeat and a smooth fill cannot continue it.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        patch_size: odd side of the square patches, >= 3.
        data_term: use Criminisi's data term (True) or the confidence alone (False).

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged; deterministic.
    """
    patch_size = _check_patch_size(patch_size)
    images, known = fill_common.check_inputs(images, masks)

    def fill_one(image, hole):
        return np.clip(_patch_fill_one(image, hole == 0, patch_size, bool(data_term))[0], 0, 1)

    return fill_common.fill_each_image(fill_one, images, known)
