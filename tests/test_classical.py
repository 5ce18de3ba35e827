"""course_lib.classical against OpenCV and scikit-image called directly, brute-force loops and exact solutions.

Masks are built by hand here (course convention: 1 = valid, 0 = hole), so these tests do not
depend on course_lib.masks.
"""

import cv2
import numpy as np
import pytest
from skimage.restoration import inpaint_biharmonic as skimage_inpaint_biharmonic

from course_lib import classical


def _images(n=3, size=32, seed=0):
    """Smooth random colour images, float32 (n, size, size, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, size // 4, size // 4, 3))
    smooth = coarse.repeat(4, axis=1).repeat(4, axis=2)
    return np.clip(smooth + rng.normal(0, 0.03, smooth.shape), 0, 1).astype(np.float32)


def _masks(n=3, size=32, seed=0):
    """Random boxes and a stroke-like band as holes, float32 (n, size, size, 1), 1 = valid."""
    rng = np.random.default_rng(seed)
    masks = np.ones((n, size, size, 1), np.float32)
    for i in range(n):
        top, left = rng.integers(0, size - 10, 2)
        masks[i, top:top + 10, left:left + 8] = 0
        masks[i, :, (3 * i) % size] = 0            # a one-pixel-wide vertical line
    return masks


# ----------------------------------------------------------------------- shared contract
@pytest.mark.parametrize("name", list(classical.CLASSICAL_METHODS))
def test_every_method_keeps_known_pixels_and_returns_float32_in_range(name):
    images, masks = _images(), _masks()
    filled = classical.CLASSICAL_METHODS[name](images, masks)
    assert filled.shape == images.shape and filled.dtype == np.float32
    assert filled.min() >= 0 and filled.max() <= 1
    known = masks[..., 0] == 1
    np.testing.assert_array_equal(filled[known], images[known])
    assert np.any(filled[~known] != images[~known])          # the holes were actually filled


@pytest.mark.parametrize("name", list(classical.CLASSICAL_METHODS))
def test_no_hole_gives_the_image_back_and_all_hole_gives_gray(name):
    images = _images(n=2)
    masks = np.ones((2, 32, 32, 1), np.float32)
    masks[1] = 0
    filled = classical.CLASSICAL_METHODS[name](images, masks)
    np.testing.assert_array_equal(filled[0], images[0])
    np.testing.assert_allclose(filled[1], 0.5)


@pytest.mark.parametrize("name", ["mean fill", "diffusion", "telea"])
def test_masks_without_channel_axis_are_accepted(name):
    images, masks = _images(n=2), _masks(n=2)
    method = classical.CLASSICAL_METHODS[name]
    np.testing.assert_array_equal(method(images, masks[..., 0]), method(images, masks))


def test_method_names():
    assert list(classical.CLASSICAL_METHODS) == ["mean fill", "diffusion", "telea", "navier-stokes", "biharmonic"]


# ----------------------------------------------------------------------- mean fill
def test_mean_fill_by_hand():
    image = np.array(
        [[[0.0, 0.2, 1.0], [0.4, 0.2, 0.0]],
         [[0.8, 0.2, 0.5], [0.9, 0.9, 0.9]]], dtype=np.float32)[None]
    mask = np.array([[1, 1], [1, 0]], dtype=np.float32).reshape(1, 2, 2, 1)
    filled = classical.inpaint_mean(image, mask)
    np.testing.assert_allclose(filled[0, 1, 1], [(0.0 + 0.4 + 0.8) / 3, 0.2, (1.0 + 0.0 + 0.5) / 3], rtol=1e-6)


# ----------------------------------------------------------------------- diffusion
def _diffusion_step_brute_force(u, known, dt):
    """One step, pixel by pixel: neighbours outside the image are replaced by the pixel itself."""
    n, h, w, c = u.shape
    out = u.copy()
    for b in range(n):
        for y in range(h):
            for x in range(w):
                if known[b, y, x, 0]:
                    continue
                for ch in range(c):
                    centre = u[b, y, x, ch]
                    neighbours = [
                        u[b, y - 1, x, ch] if y > 0 else centre,
                        u[b, y + 1, x, ch] if y < h - 1 else centre,
                        u[b, y, x - 1, ch] if x > 0 else centre,
                        u[b, y, x + 1, ch] if x < w - 1 else centre,
                    ]
                    out[b, y, x, ch] = centre + dt * (sum(neighbours) - 4 * centre)
    return out


@pytest.mark.parametrize("dt", [0.25, 0.1])
def test_diffusion_step_matches_a_per_pixel_loop(dt):
    rng = np.random.default_rng(3)
    u = rng.random((2, 7, 9, 3))
    known = (rng.random((2, 7, 9, 1)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(classical.diffusion_step(u, known, dt), _diffusion_step_brute_force(u, known, dt))


def test_diffusion_between_two_colours_is_linear_interpolation():
    # Rows 0-1 are colour a, rows 8-9 colour b, rows 2-7 a hole spanning the whole width.
    # No flow through the left/right borders, so the steady state depends on the row only:
    # u'' = 0 between row 1 (= a) and row 8 (= b), a straight line.
    a, b = np.array([0.1, 0.5, 0.9]), np.array([0.7, 0.2, 0.3])
    image = np.zeros((1, 10, 6, 3), np.float32)
    image[0, :2], image[0, 8:] = a, b
    mask = np.ones((1, 10, 6, 1), np.float32)
    mask[0, 2:8] = 0
    filled = classical.inpaint_diffusion(image, mask, n_iter=5000, tol=1e-9)
    rows = np.arange(10)[:, None]
    expected = a + (b - a) * np.clip((rows - 1) / 7, 0, 1)            # (10, 3)
    np.testing.assert_allclose(filled[0], np.broadcast_to(expected[:, None, :], (10, 6, 3)), atol=1e-5)


def test_converged_diffusion_is_harmonic_in_the_hole():
    images, masks = _images(n=2, seed=4), _masks(n=2, seed=4)
    filled = classical.inpaint_diffusion(images, masks, n_iter=20000, tol=1e-8).astype(np.float64)
    padded = np.pad(filled, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    laplacian = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
                 - 4 * filled)
    hole = masks[..., 0] == 0
    assert np.abs(laplacian[hole]).max() < 1e-4
    assert np.abs(laplacian[~hole]).max() > 1e-2          # the known pixels are not harmonic


def test_diffusion_refuses_an_unstable_time_step():
    with pytest.raises(ValueError, match="0.25"):
        classical.inpaint_diffusion(_images(n=1), _masks(n=1), dt=0.3)


# ----------------------------------------------------------------------- library wrappers
def _to_uint8(images):
    return np.round(images * 255).astype(np.uint8)


@pytest.mark.parametrize("method, flag", [(classical.inpaint_telea, cv2.INPAINT_TELEA),
                                          (classical.inpaint_ns, cv2.INPAINT_NS)])
@pytest.mark.parametrize("radius", [3, 5])
def test_opencv_wrappers_match_opencv(method, flag, radius):
    images, masks = _images(), _masks()
    filled = method(images, masks, radius=radius)
    for i in range(len(images)):
        hole = (masks[i, ..., 0] == 0).astype(np.uint8)          # OpenCV: nonzero = hole
        reference = cv2.inpaint(_to_uint8(images[i]), hole, radius, flag).astype(np.float32) / 255
        reference = np.where(masks[i] == 1, images[i], reference)
        np.testing.assert_array_equal(filled[i], reference)


def test_biharmonic_matches_scikit_image():
    images, masks = _images(), _masks()
    filled = classical.inpaint_biharmonic(images, masks)
    for i in range(len(images)):
        hole = masks[i, ..., 0] == 0                              # scikit-image: True = hole
        reference = skimage_inpaint_biharmonic(images[i].astype(np.float64), hole, channel_axis=-1)
        reference = np.where(masks[i] == 1, images[i], reference).astype(np.float32)
        np.testing.assert_array_equal(filled[i], reference)


# ----------------------------------------------------------------------- input checks
@pytest.mark.parametrize("name", list(classical.CLASSICAL_METHODS))
def test_bad_inputs_are_refused_with_a_fix(name):
    method = classical.CLASSICAL_METHODS[name]
    images, masks = _images(n=1), _masks(n=1)
    with pytest.raises(ValueError, match=r"\[None\]"):
        method(images[0], masks)
    with pytest.raises(ValueError, match="match"):
        method(images, masks[:, :16])
    with pytest.raises(ValueError, match="only 0 and 1"):
        method(images, masks * 0.5)
    with pytest.raises(ValueError, match="/ 255"):
        method(_to_uint8(images), masks)
    with pytest.raises(ValueError, match="255"):
        method(images * 255, masks)
    with_nan = images.copy()
    with_nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        method(with_nan, masks)
