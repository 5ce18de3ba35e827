"""Tests of course_lib.hybrid_layers against the classical NumPy diffusion and by hand."""

import numpy as np
import pytest

from course_lib import classical, masks
from course_lib.hybrid_layers import CorrectFill, DiffusionFill


def smooth_images(n, size=32, seed=0):
    """float32 (n, size, size, 3) in [0, 1]: random colours, bilinearly enlarged from 4x4."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 4, 4, 3)).astype(np.float32)
    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in coarse])


@pytest.fixture(scope="module")
def batch():
    images = smooth_images(24)
    holes = masks.irregular_masks(24, hole_range=(0.1, 0.6), seed=3)
    return images, holes


def test_fill_is_the_classical_diffusion_fill(batch):
    images, holes = batch
    fill = np.asarray(DiffusionFill()([images * holes, holes]))
    reference = classical.inpaint_diffusion(images, holes)
    in_hole = holes[..., 0] == 0
    assert np.abs(fill - reference)[in_hole].mean() < 0.005  # about one grey level
    assert np.abs(fill - reference).max() < 0.05
    np.testing.assert_array_equal(fill[~in_hole], images[~in_hole])


def test_fill_is_harmonic_inside_the_holes(batch):
    """At the steady state every hole pixel is the mean of its neighbours (those inside the image)."""
    images, holes = batch
    fill = np.asarray(DiffusionFill(steps_per_level=64)([images * holes, holes]), np.float64)
    padded = np.pad(fill, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")  # edge = no flux
    neighbours = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]) / 4
    residual = np.abs(neighbours - fill)[holes[..., 0] == 0]
    assert residual.max() < 2e-3


def test_hole_contents_are_never_read(batch):
    images, holes = batch
    poisoned = np.where(holes == 0, np.nan, images).astype(np.float32)
    poisoned[:4] = np.where(holes[:4] == 0, np.inf, images[:4])
    layer = DiffusionFill()
    np.testing.assert_array_equal(np.asarray(layer([poisoned, holes])), np.asarray(layer([images * holes, holes])))


def test_images_without_holes_or_without_known_pixels():
    images = smooth_images(2)
    full = np.ones((2, 32, 32, 1), np.float32)
    np.testing.assert_array_equal(np.asarray(DiffusionFill()([images, full])), images)
    empty = np.zeros_like(full)
    np.testing.assert_array_equal(np.asarray(DiffusionFill()([images, empty])), np.full_like(images, 0.5))


def test_correct_fill_by_hand():
    rng = np.random.default_rng(0)
    fill = rng.uniform(0.0, 1.0, (2, 8, 8, 3)).astype(np.float32)
    image = rng.uniform(0.0, 1.0, (2, 8, 8, 3)).astype(np.float32)
    correction = rng.normal(0.0, 2.0, (2, 8, 8, 3)).astype(np.float32)
    mask = (rng.random((2, 8, 8, 1)) > 0.5).astype(np.float32)
    out = np.asarray(CorrectFill()([fill, correction, image, mask]))
    f = np.clip(fill.astype(np.float64), 1e-3, 1 - 1e-3)
    painted = 1.0 / (1.0 + np.exp(-(np.log(f / (1 - f)) + correction)))
    np.testing.assert_allclose(out, np.where(mask == 1, image, painted), rtol=1e-5, atol=1e-6)
    unchanged = np.asarray(CorrectFill()([fill, np.zeros_like(fill), image, mask]))
    np.testing.assert_allclose(unchanged, np.where(mask == 1, image, np.clip(fill, 1e-3, 1 - 1e-3)), atol=1e-6)


def test_negative_steps_are_refused():
    with pytest.raises(ValueError, match="steps_per_level"):
        DiffusionFill(steps_per_level=-1)
