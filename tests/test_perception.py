"""course_lib.perception: sharpness against a loop over pixels, the Fréchet distance against closed forms."""

import numpy as np
import pytest

from course_lib import perception


def _brute_sharpness(image, output, mask):
    """The definition, one pixel at a time: energy of the composite over the truth's in the dilated hole."""
    height, width = mask.shape[:2]
    composite = image * mask + output * (1 - mask)

    def energy(x, i, j):
        total = 0.0
        if j + 1 < width:
            total += float(np.sum((x[i, j + 1] - x[i, j]) ** 2))
        if i + 1 < height:
            total += float(np.sum((x[i + 1, j] - x[i, j]) ** 2))
        return total

    fill = truth = 0.0
    for i in range(height):
        for j in range(width):
            near_hole = any(
                mask[a, b, 0] == 0
                for a in range(max(0, i - 1), min(height, i + 2))
                for b in range(max(0, j - 1), min(width, j + 2))
            )
            if near_hole:
                fill += energy(composite.astype(np.float64), i, j)
                truth += energy(image.astype(np.float64), i, j)
    return fill / truth if truth > 0 else np.nan


def test_sharpness_matches_a_loop_over_pixels():
    rng = np.random.default_rng(0)
    images = rng.random((3, 9, 11, 3)).astype(np.float32)
    outputs = rng.random((3, 9, 11, 3)).astype(np.float32)
    masks = (rng.random((3, 9, 11, 1)) > 0.3).astype(np.float32)
    masks[:, 0, 0] = 0  # a hole at the border: its dilation is clipped to the image
    expected = [_brute_sharpness(i, o, m) for i, o, m in zip(images, outputs, masks)]
    np.testing.assert_allclose(perception.sharpness(images, outputs, masks), expected, rtol=1e-10)


def test_sharpness_is_one_for_the_truth_and_below_one_for_a_blurred_fill():
    rng = np.random.default_rng(1)
    images = rng.random((2, 16, 16, 3)).astype(np.float32)
    masks = np.ones((2, 16, 16, 1), np.float32)
    masks[:, 4:12, 4:12] = 0
    np.testing.assert_allclose(perception.sharpness(images, images, masks), 1.0)
    blurred = images.copy()
    blurred[:, 1:-1, 1:-1] = sum(images[:, 1 + dy:15 + dy, 1 + dx:15 + dx]
                                 for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    assert np.all(perception.sharpness(images, blurred, masks) < 0.5)
    flat = np.full_like(images, 0.5)
    assert np.all(np.isnan(perception.sharpness(flat, images, masks)))  # the truth has no detail


def test_sharpness_refuses_mismatched_outputs():
    images = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="differ in shape"):
        perception.sharpness(images, images[:1], np.ones((2, 8, 8, 1), np.float32))


def test_frechet_distance_of_diagonal_gaussians_has_a_closed_form():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4000, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, 0.0]
    b = rng.normal(size=(4000, 3)) * [3.0, 1.0, 0.5] + [1.0, 1.0, 2.0]
    mean_a, cov_a = a.mean(0), np.cov(a, rowvar=False)
    mean_b, cov_b = b.mean(0), np.cov(b, rowvar=False)
    # the closed form for diagonal covariances: sum (mu_a - mu_b)^2 + sum (sd_a - sd_b)^2
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(np.diag(cov_a)) - np.sqrt(np.diag(cov_b))) ** 2)
    assert perception.frechet_distance(a, b) == pytest.approx(expected, abs=0.05)
    assert perception.frechet_distance(a, b) == pytest.approx(1 + 4 + 4 + 1 + 0, abs=0.3)


def test_frechet_distance_against_scipy_sqrtm():
    import scipy.linalg

    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2)
                + np.trace(cov_a + cov_b - 2 * np.real(scipy.linalg.sqrtm(cov_a @ cov_b))))
    assert perception.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    # fewer images than features: singular covariances, still finite and the same as scipy's
    small_a, small_b = a[:4], b[:5]
    cov_a, cov_b = np.cov(small_a, rowvar=False), np.cov(small_b, rowvar=False)
    expected = (np.sum((small_a.mean(0) - small_b.mean(0)) ** 2)
                + np.trace(cov_a + cov_b - 2 * np.real(scipy.linalg.sqrtm(cov_a @ cov_b))))
    assert perception.frechet_distance(small_a, small_b) == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_a_shift_adds_its_square():
    features = np.random.default_rng(4).normal(size=(200, 5))
    assert perception.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    assert perception.frechet_distance(features, features + 2.0) == pytest.approx(5 * 4.0, rel=1e-6)
    with pytest.raises(ValueError, match="N >= 2"):
        perception.frechet_distance(features[:1], features)


def test_frechet_difference_interval_excludes_zero_only_for_a_real_difference():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(400, 3))
    close = rng.normal(size=(300, 3))
    far = close * 2.0 + 1.0
    result = perception.frechet_difference(close, far, real, resamples=100)
    assert result["low"] <= result["difference"] <= result["high"] < 0  # far is clearly worse
    same = perception.frechet_difference(close, close.copy(), real, resamples=50)
    assert same["difference"] == pytest.approx(0.0, abs=1e-9) and same["low"] <= 0 <= same["high"]
