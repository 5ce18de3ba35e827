"""Classical inpainting: methods without learning, behind one signature.

Every method is called the same way::

    filled = method(images, masks)

* ``images``: float (N, H, W, 3), values in [0, 1];
* ``masks``: (N, H, W, 1) (or (N, H, W)), **1 = valid (known) pixel, 0 = hole** --
  the course's convention.  OpenCV and scikit-image use the opposite (nonzero = hole); the
  conversion happens once, in :func:`course_lib.fill_common.library_hole_mask`;
* returns float32 (N, H, W, 3) in [0, 1] in which **every known pixel is exactly
  the input's** (``images.astype('float32')``): the methods only fill the holes.

Shared behaviour: an image without a hole comes back unchanged; an image with no
known pixel carries no information and comes back flat 0.5 gray.  Bad input
raises ``ValueError`` naming the problem and the fix.

The methods here smooth the hole from its border, from crude to clever (the keys of
:data:`SMOOTHING_METHODS`):

=================  =========================================================
``mean fill``      each hole pixel = the image's mean known colour
``diffusion``      heat equation, written here in NumPy (harmonic inpainting)
``telea``          OpenCV, fast marching (Telea 2004)
``navier-stokes``  OpenCV, fluid-dynamics transport (Bertalmio et al. 2001)
``biharmonic``     scikit-image, smooth (biharmonic) interpolation
=================  =========================================================

The methods that copy instead live in :mod:`course_lib.patch_inpainting` and
:mod:`course_lib.database_inpainting`; :data:`course_lib.evaluate.CLASSICAL_METHODS` names them all.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic as _skimage_inpaint_biharmonic

from course_lib import fill_common


# --------------------------------------------------------------------------- mean fill
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
    images, known = fill_common.check_inputs(images, masks)
    mean_colour = fill_common.known_mean_colour(images, known)[:, None, None, :]   # (N, 1, 1, 3)
    return fill_common.paste_known(images, np.broadcast_to(mean_colour, images.shape), known)


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
    images, known = fill_common.check_inputs(images, masks)
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


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 [0, 255], rounded to the nearest level."""
    return np.round(image * 255).astype(np.uint8)


def _opencv_inpaint(images, masks, radius: float, flag: int) -> np.ndarray:
    """``cv2.inpaint`` over a batch: 8-bit in and out, known pixels from the float input."""
    _check_radius(radius)
    images, known = fill_common.check_inputs(images, masks)

    def fill_one(image, hole):
        filled_uint8 = cv2.inpaint(_to_uint8(image), hole, radius, flag)
        return filled_uint8.astype(np.float32) / 255

    return fill_common.fill_each_image(fill_one, images, known)


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
    images, known = fill_common.check_inputs(images, masks)

    def fill_one(image, hole):
        return _skimage_inpaint_biharmonic(
            image.astype(np.float64), hole.astype(bool), channel_axis=-1
        )

    return fill_common.fill_each_image(fill_one, images, known)


# --------------------------------------------------------------------------- the registry
#: Display name -> method, in the order of the course's tables: the methods that smooth the hole from its
#: border (mean fill and the diffusion/PDE family).  ``patch``, which copies instead, is in
#: :mod:`course_lib.patch_inpainting` (notebook 01 teaches the first kind, notebook 02 the second).
SMOOTHING_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "mean fill": inpaint_mean,
    "diffusion": inpaint_diffusion,
    "telea": inpaint_telea,
    "navier-stokes": inpaint_ns,
    "biharmonic": inpaint_biharmonic,
}
