"""Classical inpainting: methods without learning, behind one signature.

Every method is called the same way::

    filled = method(images, masks)

* ``images``: float (N, H, W, 3), values in [0, 1];
* ``masks``: (N, H, W, 1) (or (N, H, W)), **1 = valid (known) pixel, 0 = hole** --
  the course's convention.  OpenCV and scikit-image use the opposite (nonzero = hole); the
  conversion happens once, in :func:`_library_hole_mask`;
* returns float32 (N, H, W, 3) in [0, 1] in which **every known pixel is exactly
  the input's** (``images.astype('float32')``): the methods only fill the holes.

Shared behaviour: an image without a hole comes back unchanged; an image with no
known pixel carries no information and comes back flat 0.5 gray.  Bad input
raises ``ValueError`` naming the problem and the fix.

The methods, from crude to clever (the keys of :data:`CLASSICAL_METHODS`):

=================  =========================================================
``mean fill``      each hole pixel = the image's mean known colour
``diffusion``      heat equation, written here in NumPy (harmonic inpainting)
``telea``          OpenCV, fast marching (Telea 2004)
``navier-stokes``  OpenCV, fluid-dynamics transport (Bertalmio et al. 2001)
``biharmonic``     scikit-image, smooth (biharmonic) interpolation
``patch``          patch copying in priority order (Criminisi et al. 2004), NumPy
=================  =========================================================

Two families of the literature fill a hole by copying rather than smoothing.  *Patch-based*
(:func:`inpaint_patch`) copies patches of the image's own known part; *from a database of
images* (:func:`inpaint_database`, Hays & Efros 2007) copies from the most similar images of a
database.  Both are called "exemplar-based" in the literature.  The database method takes the
database as a third argument, so it is not in :data:`CLASSICAL_METHODS`;
:func:`make_database_method` binds one and returns a ``method(images, masks)``.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic as _skimage_inpaint_biharmonic

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


def _check_inputs(images, masks) -> tuple[np.ndarray, np.ndarray]:
    """Checked images float32 (N, H, W, 3) and known-pixel flags bool (N, H, W, 1)."""
    images = _check_images(images)
    return images, _check_masks(masks, images)


# --------------------------------------------------------------------------- shared pieces
def _library_hole_mask(known: np.ndarray) -> np.ndarray:
    """The course's mask of ONE image -> the libraries' hole mask.

    ``known``: bool (H, W, 1), True = valid pixel (course convention).
    Returns uint8 (H, W) with 1 = hole, 0 = known: what ``cv2.inpaint`` wants
    (8-bit, nonzero = inpaint here) and, as ``.astype(bool)``, what scikit-image wants.
    """
    return (~known[..., 0]).astype(np.uint8)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 [0, 255], rounded to the nearest level."""
    return np.round(image * 255).astype(np.uint8)


def _paste_known(images: np.ndarray, filled: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Known pixels from ``images``, hole pixels from ``filled``; float32."""
    return np.where(known, images, filled).astype(np.float32)


def _fill_each_image(
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
            filled[i] = fill_one(images[i], _library_hole_mask(known[i]))
    return _paste_known(images, filled, known)


# --------------------------------------------------------------------------- mean fill
def _known_mean_colour(images: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per-image, per-channel mean of the known pixels: float64 (N, 3); 0.5 where none is known."""
    n_known = known.sum(axis=(1, 2), dtype=np.float64)                   # (N, 1)
    colour_sums = (images * known).sum(axis=(1, 2), dtype=np.float64)   # (N, 3)
    return np.divide(
        colour_sums, n_known, out=np.full_like(colour_sums, ALL_HOLE_FILL), where=n_known > 0
    )


def inpaint_mean(images, masks) -> np.ndarray:
    """Mean fill: every hole pixel gets the mean colour of the image's known pixels.

    The baseline every other method must beat.  Per image and per channel, so a
    blue sky image gets a blue fill.  An image with no known pixel gets 0.5 gray.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged.
    """
    images, known = _check_inputs(images, masks)
    mean_colour = _known_mean_colour(images, known)[:, None, None, :]   # (N, 1, 1, 3)
    return _paste_known(images, np.broadcast_to(mean_colour, images.shape), known)


# --------------------------------------------------------------------------- diffusion
def _laplacian(u: np.ndarray) -> np.ndarray:
    """5-point discrete Laplacian of u (N, H, W, C), replicate (Neumann) borders.

    ``lap[y, x] = u[y-1, x] + u[y+1, x] + u[y, x-1] + u[y, x+1] - 4 u[y, x]``.
    Beyond the border the image is continued by its edge pixel (zero normal
    derivative): nothing flows in or out through the image's frame.
    """
    padded = np.pad(u, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    up, down = padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]
    left, right = padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]
    return up + down + left + right - 4 * u


def _check_dt(dt: float) -> None:
    if not 0 < dt <= 0.25:
        raise ValueError(
            f"dt={dt} makes the explicit diffusion step unstable or idle; "
            "choose 0 < dt <= 0.25 (0.25 is the fastest stable step)."
        )


def diffusion_step(u, known, dt: float = 0.25) -> np.ndarray:
    """One explicit heat-equation step, on the hole pixels only: ``u + dt * laplacian(u)``.

    Args:
        u: float (N, H, W, C), the current estimate.
        known: (N, H, W, 1), 1 = valid (known) pixel, 0 = hole: the course's mask.
            Known pixels are kept as they are (a Dirichlet boundary condition).
        dt: time step, 0 < dt <= 0.25.  With dt = 0.25 each hole pixel becomes
            the mean of its 4 neighbours.

    Returns:
        float (N, H, W, C), same dtype as ``u``.
    """
    _check_dt(dt)
    u = np.asarray(u)
    known = np.asarray(known).astype(bool)
    if known.shape != (*u.shape[:3], 1):
        raise ValueError(f"known has shape {known.shape}; expected {(*u.shape[:3], 1)} to match u.")
    return np.where(known, u, u + dt * _laplacian(u)).astype(u.dtype, copy=False)


def inpaint_diffusion(
    images, masks, *, n_iter: int = 2000, dt: float = 0.25, tol: float = 1e-5,
) -> np.ndarray:
    """Harmonic inpainting: let the known colours diffuse into the holes (heat equation).

    The model
        Treat each colour channel as a temperature u(x, y, t) and let it obey the
        heat equation ``du/dt = laplacian(u) = d2u/dx2 + d2u/dy2`` inside the holes,
        with the known pixels held fixed.  Heat flows from the known border into
        the hole until nothing changes any more: the steady state solves
        ``laplacian(u) = 0`` in the hole (u is *harmonic*), which makes every hole
        pixel the average of its neighbours: the smoothest surface that meets the
        known pixels.  Edges are blurred away, so large holes look washed out.

    The numerics
        Explicit Euler in time with the 5-point Laplacian (grid step 1):
        ``u <- u + dt * laplacian(u)`` on hole pixels.  Written out, the new value is
        ``(1 - 4 dt) * u + dt * (sum of the 4 neighbours)``: a weighted average
        as long as ``dt <= 1/4``.  Beyond that the centre gets a negative weight,
        a checkerboard pattern grows by ``|1 - 8 dt| > 1`` per step, and the
        iteration explodes.  At ``dt = 1/4`` a step is exactly "replace by the mean
        of the 4 neighbours" (the Jacobi iteration).  The image border is a Neumann
        boundary (replicated edge pixels); the known pixels a Dirichlet one.

    The cost
        Each step costs a few operations per pixel and channel, for the whole batch
        at once.  But information travels one pixel per step and the slowest error
        fades like ``exp(-c * steps / width**2)``: a hole ``w`` pixels wide needs on
        the order of ``w**2`` steps (a few hundred for a 16 x 16 box in a 32 x 32
        image, more where a hole touches the border).  Holes start at the mean
        known colour (:func:`inpaint_mean`), which is already close for small holes.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        n_iter: maximum number of steps.
        dt: time step, 0 < dt <= 0.25.
        tol: stop early once no pixel of the batch moves by more than ``tol`` in
            one step (with 0: only at an exact fixed point, where more steps would
            change nothing).  The default leaves the holes within about 1e-3 of
            the steady state, well under one 8-bit level (1/255).

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged.
    """
    _check_dt(dt)
    images, known = _check_inputs(images, masks)
    u = inpaint_mean(images, known.astype(np.float32))
    for _ in range(n_iter):
        next_u = diffusion_step(u, known, dt)
        largest_change = float(np.abs(next_u - u).max(initial=0.0))
        u = next_u
        if largest_change <= tol:
            break
    return u


# --------------------------------------------------------------------------- library methods
def _check_radius(radius: float) -> None:
    if not radius > 0:
        raise ValueError(f"radius={radius} must be > 0 (pixels around a hole pixel to look at; 3 is usual).")


def _opencv_inpaint(images, masks, radius: float, flag: int) -> np.ndarray:
    """``cv2.inpaint`` over a batch: 8-bit in and out, known pixels from the float input."""
    _check_radius(radius)
    images, known = _check_inputs(images, masks)

    def fill_one(image, hole):
        filled_uint8 = cv2.inpaint(_to_uint8(image), hole, radius, flag)
        return filled_uint8.astype(np.float32) / 255

    return _fill_each_image(fill_one, images, known)


def inpaint_telea(images, masks, *, radius: float = 3) -> np.ndarray:
    """OpenCV's fast-marching inpainting (Telea 2004), image by image.

    Fills the hole from its border inwards; each new pixel is a weighted average
    of the known pixels within ``radius``, favouring close pixels and the
    direction of the image's gradient.  OpenCV works on 8-bit images: the
    filled colours are rounded to 1/255 (the known pixels are not).

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        radius: neighbourhood radius in pixels (``inpaintRadius``).

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged.
    """
    return _opencv_inpaint(images, masks, radius, cv2.INPAINT_TELEA)


def inpaint_ns(images, masks, *, radius: float = 3) -> np.ndarray:
    """OpenCV's Navier-Stokes inpainting (Bertalmio, Bertozzi, Sapiro 2001), image by image.

    Continues the lines of equal brightness (isophotes) into the hole, like a
    fluid carrying the image's smoothness along.  Same arguments, 8-bit rounding
    and return value as :func:`inpaint_telea`.
    """
    return _opencv_inpaint(images, masks, radius, cv2.INPAINT_NS)


def inpaint_biharmonic(images, masks) -> np.ndarray:
    """scikit-image's biharmonic inpainting, image by image.

    Solves ``laplacian(laplacian(u)) = 0`` in the hole: smoother than diffusion
    (it also continues the slope, not only the value, across the hole border).
    scikit-image clips the result to the range of the image's known colours.
    The slowest method here: a sparse linear system per image.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged.
    """
    images, known = _check_inputs(images, masks)

    def fill_one(image, hole):
        return _skimage_inpaint_biharmonic(
            image.astype(np.float64), hole.astype(bool), channel_axis=-1
        )

    return _fill_each_image(fill_one, images, known)


# --------------------------------------------------------------------------- patch-based (Criminisi)
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
        fallback = inpaint_diffusion(image[None], known[None, ..., None].astype(np.float32))
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
        hole everywhere) the hole is filled by :func:`inpaint_diffusion` instead.

    Patch size: 5, by measurement (``benchmarks/bench_classical.py``, 200 CIFAR-10 test images
        with the course's evaluation masks).  Hole PSNR for 30-40 / 40-50 / 50-60 % holes:
        14.6 / 14.1 / 13.4 dB with 5 x 5 patches, 13.4 / 12.7 / 13.6 with 7 x 7, 13.0 / 14.4 / 17.1
        with 9 x 9.  The larger patches only look better on the largest holes because a 32 x 32
        image with 50-60 % holes often has no entirely known 9 x 9 patch (77 % of those masks; 27.5 %
        for 7 x 7; none for 5 x 5), and then the diffusion fallback fills it.  Smaller patches find
        better matches among the few a 32 x 32 image offers; 5 x 5 never needs the fallback on the
        evaluation masks and takes about 12 ms per image with a 40 % hole.  A texture whose
        repeating element is larger than the patch needs a larger one: on the benchmark's 4-pixel
        checkerboard and 8 x 4 bricks with irregular holes, 7 x 7 patches reach 20.9 / 24.5 dB
        against 19.3 / 17.2 with 5 x 5 (on 3-pixel stripes 40.0 against 59.2).  The cost grows
        with the image: each copy searches all its patches (1-3 s for a 256 x 256 image with 2 %
        of thin defects).

    On CIFAR-10 it loses to the smooth methods by PSNR (about 5.5 dB below biharmonic): a 32 x 32
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
    images, known = _check_inputs(images, masks)

    def fill_one(image, hole):
        return np.clip(_patch_fill_one(image, hole == 0, patch_size, bool(data_term))[0], 0, 1)

    return _fill_each_image(fill_one, images, known)


# --------------------------------------------------------------------------- database (Hays & Efros)
#: Database images converted to float per matrix product, and queries searched together:
#: they bound the memory of a search (a few tens of MB), whatever the sizes.
_DATABASE_CHUNK = 1024
_QUERY_BLOCK = 256

#: The ways :func:`inpaint_database` can fill a hole from the neighbours.
DATABASE_FILLS = ("mean", "matched", "poisson")


def _check_database(database) -> np.ndarray:
    """``database`` as uint8 or float32 (M, H, W, 3), or an error saying how to fix it."""
    try:
        return validation.check_images(database, name="database", uint8="keep")
    except ValueError as error:
        raise ValueError(
            f"{error} The database is a batch of complete images (M, H, W, 3): uint8 0..255 or "
            "float in [0, 1], e.g. CIFAR-10's training images."
        ) from None


def _check_same_size(database: np.ndarray, images: np.ndarray) -> None:
    if database.shape[1:3] != images.shape[1:3]:
        raise ValueError(
            f"database images are {database.shape[1]} x {database.shape[2]} but the images to inpaint are "
            f"{images.shape[1]} x {images.shape[2]}; the database must hold images of the same size."
        )


def _database_chunks(database: np.ndarray):
    """Yield (start, float32 (c, H*W*3) in [0, 1]) for consecutive chunks of the database.

    uint8 chunks are converted into one reused buffer: converting the whole 45,000-image
    database at once would take 550 MB and, because of the page faults, longer.
    """
    n = len(database)
    buffer = np.empty((min(n, _DATABASE_CHUNK), int(np.prod(database.shape[1:]))), np.float32)
    for start in range(0, n, _DATABASE_CHUNK):
        chunk = database[start:start + _DATABASE_CHUNK].reshape(-1, buffer.shape[1])
        out = buffer[:len(chunk)]
        if chunk.dtype == np.uint8:
            np.multiply(chunk, np.float32(1 / 255), out=out)
        else:
            out[...] = chunk
        yield start, out


def _masked_distances_exact(images, known, database, candidates) -> np.ndarray:
    """``sum known * (x - y)^2`` for each query and each of its candidates: float64 (N, L)."""
    images = images.astype(np.float64)
    distances = np.empty(candidates.shape)
    for j in range(candidates.shape[1]):
        difference = _as_float(database[candidates[:, j]]) - images              # (N, H, W, 3)
        distances[:, j] = (difference ** 2 * known).sum(axis=(1, 2, 3))
    return distances


def _as_float(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float64 [0, 1] (as ``x.astype(float32) / 255``); float -> float64."""
    if images.dtype == np.uint8:
        return (images.astype(np.float32) / np.float32(255)).astype(np.float64)
    return images.astype(np.float64)


def nearest_images(images, masks, database, *, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` database images closest to each image on its KNOWN pixels.

    Distance: ``||m * (x - y)||^2 = sum m x^2 - 2 sum (m x) y + sum m y^2`` over pixels and
    channels (m = the image's mask, 1 = valid): the hole is ignored.  For the whole batch the
    last two terms are two matrix products with the database, chunk by chunk; the first is
    the same for every candidate.  The few best candidates of that float32 search are then
    re-ranked by the distance computed directly in float64, so the order is exact (ties: the
    lower database index first).

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        database: (M, H, W, 3), uint8 0..255 or float in [0, 1].
        k: neighbours per image, 1 <= k <= M.

    Returns:
        ``(indices, distances)``: int64 (N, k) database indices, nearest first, and float64
        (N, k) masked squared distances.
    """
    images, known = _check_inputs(images, masks)
    database = _check_database(database)
    _check_same_size(database, images)
    return _nearest_images(images, known, database, _check_k(k, len(database)))


def _check_k(k, n_database: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_database:
        raise ValueError(f"k={k!r} must be an integer between 1 and the database size ({n_database}).")
    return int(k)


def _nearest_images(images, known, database, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_images` on checked inputs (``known`` bool (N, H, W, 1))."""
    blocks = [_nearest_images_block(images[start:start + _QUERY_BLOCK], known[start:start + _QUERY_BLOCK],
                                    database, k)
              for start in range(0, len(images), _QUERY_BLOCK)]
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def _nearest_images_block(images, known, database, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_nearest_images` for a block of queries, one pass over the database."""
    n = len(images)
    weights = np.broadcast_to(known, images.shape).reshape(n, -1).astype(np.float32)   # m, (N, H*W*3)
    weighted = weights * images.reshape(n, -1)                                          # m x
    n_keep = min(len(database), 2 * k + 8)                      # candidates re-ranked exactly below
    best_d = np.full((n, 0), np.inf, np.float32)
    best_i = np.zeros((n, 0), np.int64)
    squares = np.empty((min(len(database), _DATABASE_CHUNK), weights.shape[1]), np.float32)
    for start, chunk in _database_chunks(database):
        np.square(chunk, out=squares[:len(chunk)])
        # sum m x^2 is the same for every candidate of a query: left out of the ranking.
        d = weights @ squares[:len(chunk)].T                                   # sum m y^2, (N, c)
        d -= 2 * (weighted @ chunk.T)                                          # - 2 sum m x y
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(chunk)), d.shape)], axis=1)
        if all_d.shape[1] > n_keep:
            keep = np.argpartition(all_d, n_keep - 1, axis=1)[:, :n_keep]
            all_d, all_i = np.take_along_axis(all_d, keep, 1), np.take_along_axis(all_i, keep, 1)
        best_d, best_i = all_d, all_i
    exact = _masked_distances_exact(images, known, database, best_i)
    order = np.lexsort((best_i, exact), axis=1)[:, :k]
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(exact, order, 1)


def _fill_from_neighbours(images, known, base, fill: str) -> np.ndarray:
    """Fill each image's hole from its neighbours; float (N, H, W, 3), not yet clipped or pasted.

    ``base``: the mean of each image's neighbours, float (N, H, W, 3): all three fills (see
    :func:`inpaint_database`) start from it.
    """
    if fill == "mean":
        return base
    if fill == "matched":
        # Shifting each neighbour by its own per-channel offset and averaging = shifting the mean.
        offset = _known_mean_colour(images, known) - _known_mean_colour(base, known)   # (N, 3)
        return base + offset[:, None, None, :]
    # Poisson: the hole gets the neighbours' mean plus the harmonic interpolation of the
    # residual (image - mean) known around it, so the fill meets the known pixels without a
    # seam while keeping the neighbours' detail.  The residual lies in [-1, 1]; diffusion is
    # linear, so it runs on (residual + 1) / 2, which the method's [0, 1] check accepts.
    residual = np.where(known, images - base, 0.0)
    smooth = inpaint_diffusion((residual + 1) / 2, known.astype(np.float32)) * 2 - 1
    return base + smooth


def _inpaint_database_checked(images, known, database, k: int, fill: str) -> np.ndarray:
    """:func:`inpaint_database` on checked inputs (``known`` bool (N, H, W, 1))."""
    n_known = known.sum(axis=(1, 2, 3))
    to_fill = (n_known > 0) & (n_known < known[0].size)
    filled = images.copy()
    filled[n_known == 0] = ALL_HOLE_FILL
    if to_fill.any():
        queries, query_known = images[to_fill], known[to_fill]
        indices, _ = _nearest_images(queries, query_known, database, k)
        base = sum(_as_float(database[indices[:, j]]) for j in range(k)) / k   # neighbours' mean
        filled[to_fill] = np.clip(_fill_from_neighbours(queries, query_known, base, fill), 0, 1)
    return _paste_known(images, filled, known)


def _check_fill(fill) -> str:
    if fill not in DATABASE_FILLS:
        raise ValueError(f"fill={fill!r}: choose one of {list(DATABASE_FILLS)}.")
    return fill


def inpaint_database(images, masks, database, *, k: int = 5, fill: str = "poisson") -> np.ndarray:
    """Inpainting from a database of images (after Hays & Efros 2007, "Scene completion using
    millions of photographs"): look the image up instead of interpolating it.

    For each image, the ``k`` database images nearest on its KNOWN pixels
    (:func:`nearest_images`: masked squared distance, three matrix products for the whole
    batch, no loop over the database) fill the hole:

    * ``fill="mean"``: the hole gets the mean of the k neighbours;
    * ``fill="matched"``: the same after shifting each neighbour's colour, per channel, so that
      its mean over the known pixels equals the image's (brightness/colour matching);
    * ``fill="poisson"`` (default): the neighbours' mean plus the harmonic interpolation
      (:func:`inpaint_diffusion`) of the residual image - mean known around the hole: the fill
      joins the known pixels without a seam (Poisson blending, as Hays & Efros do).

    Measured (``benchmarks/bench_classical.py``: hole PSNR of 200 CIFAR-10 test images with the
    course's evaluation masks, against the 45,000 training images the networks learn from; the
    test images are never in that database).  For 30-40 / 40-50 / 50-60 % holes, k = 5:
    ``mean`` 16.0 / 15.8 / 16.0 dB, ``matched`` 16.1 / 15.9 / 16.1, ``poisson`` 19.4 / 19.0 / 18.7.
    Mean fill gets 13.8 / 13.7 / 13.8 and biharmonic 20.2 / 19.7 / 19.2.  Poisson blending is the
    default: 3 dB above the other two, 4.9-7.9 dB above mean fill in every group of the
    evaluation masks, 0.5-0.7 dB below biharmonic on 30-60 % holes and 1.0-1.7 dB below on
    smaller holes and strokes (paired); the neighbours' mean alone has the right layout
    but the wrong details and a visible seam.  k = 1 / 10 / 20 give 18.2 / 19.6 / 19.7 dB on
    30-40 % holes: more neighbours average out more of what is particular to each.  About 11 ms
    per image (a batch of 100, 2 CPU cores): 4 ms for the search, the rest for the blending.

    A database of 45,000 tiny images rarely holds the same scene, so the neighbours give the
    rough layout and colours, and the blending does most of the work at the seam; Hays & Efros
    used two million photographs (and a semantic descriptor to find them) to find scenes that
    truly match.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        database: (M, H, W, 3) complete images, uint8 0..255 or float in [0, 1].
        k: neighbours per image, 1 <= k <= M.
        fill: ``"mean"``, ``"matched"`` or ``"poisson"``.

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged; an image without a hole comes
        back unchanged, one without a known pixel flat 0.5 gray.
    """
    _check_fill(fill)
    images, known = _check_inputs(images, masks)
    database = _check_database(database)
    _check_same_size(database, images)
    return _inpaint_database_checked(images, known, database, _check_k(k, len(database)), fill)


def make_database_method(database, *, k: int = 5, fill: str = "poisson") -> Callable[..., np.ndarray]:
    """:func:`inpaint_database` with its database bound: a ``method(images, masks)`` like every
    other classical method (for :mod:`course_lib.evaluate`).

    The database is checked once, here, not at every call; a uint8 database is kept as it is,
    not copied (a float one is kept as float32).
    """
    _check_fill(fill)
    database = _check_database(database)
    k = _check_k(k, len(database))

    def database_method(images, masks) -> np.ndarray:
        images, known = _check_inputs(images, masks)
        _check_same_size(database, images)
        return _inpaint_database_checked(images, known, database, k, fill)

    database_method.__name__ = "inpaint_database"
    database_method.__doc__ = (f"inpaint_database(images, masks, <database of {len(database)} images>, "
                               f"k={k}, fill={fill!r})")
    return database_method


# --------------------------------------------------------------------------- the registry
#: Display name -> method, in the order of the course's tables.
CLASSICAL_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "mean fill": inpaint_mean,
    "diffusion": inpaint_diffusion,
    "telea": inpaint_telea,
    "navier-stokes": inpaint_ns,
    "biharmonic": inpaint_biharmonic,
    "patch": inpaint_patch,
}

#: The methods that smooth the hole from its border (mean fill and the diffusion/PDE family), without
#: ``patch``, which copies instead (notebook 01 teaches the first kind, notebook 02 the second).
SMOOTHING_METHODS: dict[str, Callable[..., np.ndarray]] = {
    name: method for name, method in CLASSICAL_METHODS.items() if method is not inpaint_patch
}
