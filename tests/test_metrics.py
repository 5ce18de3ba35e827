"""course_lib.metrics against hand computations, brute-force loops, TensorFlow and scikit-image.

Masks are built by hand here (hole_mask: 1 = hole), so these tests do not depend on course_lib.masks.
TensorFlow is imported only inside the two cross-check tests that need it.
"""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from course_lib import metrics


def _random_pair(n=3, size=32, channels=3, noise=0.1, seed=0):
    """Smooth-ish images in [0, 1] and a noisy version of them, float32 (n, size, size, channels)."""
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, size, size, channels)).astype(np.float32)
    y_pred = np.clip(y_true + rng.normal(0, noise, y_true.shape), 0, 1).astype(np.float32)
    return y_true, y_pred


# ----------------------------------------------------------------------- mse, l1, psnr
def test_mse_l1_psnr_by_hand_on_a_tiny_image():
    y_true = np.zeros((1, 2, 2, 1))
    y_pred = np.array([0.1, 0.2, 0.0, 0.3]).reshape(1, 2, 2, 1)
    expected_mse = (0.01 + 0.04 + 0.0 + 0.09) / 4
    assert metrics.mse(y_true, y_pred) == pytest.approx([expected_mse])
    assert metrics.l1(y_true, y_pred) == pytest.approx([(0.1 + 0.2 + 0.3) / 4])
    assert metrics.psnr(y_true, y_pred) == pytest.approx([10 * math.log10(1 / expected_mse)])


def test_one_value_per_image_float64():
    y_true, y_pred = _random_pair(n=4)
    for metric in (metrics.mse, metrics.l1, metrics.psnr, metrics.ssim, metrics.pixelwise_psnr):
        values = metric(y_true, y_pred)
        assert values.shape == (4,) and values.dtype == np.float64


def test_psnr_matches_scikit_image_image_by_image():
    y_true, y_pred = _random_pair(n=3)
    expected = [peak_signal_noise_ratio(t, p, data_range=1) for t, p in zip(y_true, y_pred)]
    np.testing.assert_allclose(metrics.psnr(y_true, y_pred), expected, rtol=1e-6)


def test_psnr_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    y_true, y_pred = _random_pair(n=3)
    expected = tf.image.psnr(y_true, y_pred, max_val=1.0).numpy()
    np.testing.assert_allclose(metrics.psnr(y_true, y_pred), expected, rtol=1e-4)


def test_hole_psnr_by_hand_on_a_tiny_image():
    # 2 x 2 RGB image; the two right-hand pixels are holes.
    y_true = np.full((1, 2, 2, 3), 0.5)
    y_pred = y_true.copy()
    y_pred[0, 0, 0] = [0.9, 0.9, 0.9]          # a known pixel, badly wrong: must be ignored
    y_pred[0, 0, 1] = [0.6, 0.5, 0.5]          # hole pixel, errors 0.1, 0, 0
    y_pred[0, 1, 1] = [0.5, 0.3, 0.5]          # hole pixel, errors 0, 0.2, 0
    hole = np.array([[0, 1], [0, 1]], dtype=np.float32).reshape(1, 2, 2, 1)
    hole_mse = (0.1 ** 2 + 0.2 ** 2) / 6       # 2 hole pixels x 3 channels
    assert metrics.mse(y_true, y_pred, hole_mask=hole) == pytest.approx([hole_mse])
    assert metrics.l1(y_true, y_pred, hole_mask=hole) == pytest.approx([0.3 / 6])
    assert metrics.psnr(y_true, y_pred, hole_mask=hole) == pytest.approx([10 * math.log10(1 / hole_mse)])


def test_hole_mask_with_or_without_channel_axis_agree():
    y_true, y_pred = _random_pair(n=2)
    hole = np.zeros((2, 32, 32), dtype=np.float32)
    hole[:, 10:20, 5:25] = 1
    np.testing.assert_array_equal(
        metrics.mse(y_true, y_pred, hole_mask=hole), metrics.mse(y_true, y_pred, hole_mask=hole[..., None])
    )


def test_hole_mask_of_ones_equals_whole_image():
    y_true, y_pred = _random_pair(n=2)
    everywhere = np.ones((2, 32, 32, 1))
    np.testing.assert_allclose(metrics.l1(y_true, y_pred, hole_mask=everywhere), metrics.l1(y_true, y_pred))


def test_identical_images_give_infinite_psnr_and_zero_error():
    y_true, _ = _random_pair(n=2)
    assert np.all(metrics.psnr(y_true, y_true) == np.inf)
    assert np.all(metrics.mse(y_true, y_true) == 0)
    np.testing.assert_allclose(metrics.ssim(y_true, y_true), 1.0)


def test_empty_hole_gives_nan_for_that_image_only():
    y_true, y_pred = _random_pair(n=2)
    hole = np.zeros((2, 32, 32, 1))
    hole[1, :4, :4] = 1                        # image 0 has no hole pixel
    for metric in (metrics.mse, metrics.l1, metrics.psnr):
        values = metric(y_true, y_pred, hole_mask=hole)
        assert np.isnan(values[0]) and np.isfinite(values[1])


# ----------------------------------------------------------------------- input checks
@pytest.mark.parametrize("metric", [metrics.mse, metrics.l1, metrics.psnr, metrics.ssim, metrics.pixelwise_psnr])
def test_nan_input_is_refused(metric):
    y_true, y_pred = _random_pair(n=1)
    y_pred[0, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metric(y_true, y_pred)


def test_shape_mismatch_is_refused():
    y_true, _ = _random_pair(n=2)
    with pytest.raises(ValueError, match="same"):
        metrics.mse(y_true, y_true[:1])


def test_uint8_images_are_refused_with_the_fix():
    y_true, _ = _random_pair(n=1)
    as_uint8 = (y_true * 255).astype(np.uint8)
    with pytest.raises(ValueError, match="/ 255"):
        metrics.psnr(as_uint8, as_uint8)


def test_values_outside_unit_range_are_refused_with_the_fix():
    y_true, _ = _random_pair(n=1)
    with pytest.raises(ValueError, match="/ 255"):
        metrics.mse(y_true * 255, y_true)
    with pytest.raises(ValueError, match="clip"):
        metrics.mse(y_true, y_true - 0.2)


def test_single_image_needs_a_batch_axis():
    y_true, _ = _random_pair(n=1)
    with pytest.raises(ValueError, match=r"\[None\]"):
        metrics.mse(y_true[0], y_true[0])


def test_bad_hole_masks_are_refused():
    y_true, y_pred = _random_pair(n=2)
    with pytest.raises(ValueError, match="shape"):
        metrics.mse(y_true, y_pred, hole_mask=np.ones((2, 16, 16, 1)))
    with pytest.raises(ValueError, match="0 .* 1"):
        metrics.mse(y_true, y_pred, hole_mask=np.full((2, 32, 32, 1), 0.5))


# ----------------------------------------------------------------------- SSIM
def _ssim_map_brute_force(x, y, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """One image (H, W, C), float64: loop over every window position and channel, direct sums."""
    offsets = np.arange(size) - (size - 1) / 2
    g = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma ** 2))
    w = g / g.sum()
    c1, c2 = k1 ** 2, k2 ** 2
    out_h, out_w = x.shape[0] - size + 1, x.shape[1] - size + 1
    result = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            values = []
            for c in range(x.shape[2]):
                a, b = x[i:i + size, j:j + size, c], y[i:i + size, j:j + size, c]
                mu_a, mu_b = (w * a).sum(), (w * b).sum()
                var_a = (w * (a - mu_a) ** 2).sum()
                var_b = (w * (b - mu_b) ** 2).sum()
                cov = (w * (a - mu_a) * (b - mu_b)).sum()
                values.append(
                    (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
                    * (2 * cov + c2) / (var_a + var_b + c2)
                )
            result[i, j] = np.mean(values)
    return result


def test_ssim_map_matches_a_brute_force_loop():
    y_true, y_pred = _random_pair(n=2, size=15, noise=0.2, seed=1)
    y_true, y_pred = y_true[:, :, :14], y_pred[:, :, :14]      # 15 x 14: rows and columns not mixed up
    local = metrics.ssim_map(y_true, y_pred)
    assert local.shape == (2, 5, 4)
    for k in range(2):
        expected = _ssim_map_brute_force(y_true[k].astype(np.float64), y_pred[k].astype(np.float64))
        np.testing.assert_allclose(local[k], expected, rtol=1e-9, atol=1e-12)


def test_ssim_map_of_a_32x32_image_is_22x22():
    y_true, y_pred = _random_pair(n=1)
    assert metrics.ssim_map(y_true, y_pred).shape == (1, 22, 22)
    assert metrics.ssim_map(y_true, y_pred, filter_size=7).shape == (1, 26, 26)


def test_ssim_matches_scikit_image():
    # With gaussian_weights, sigma 1.5 and population covariance, scikit-image blurs with the same
    # 11-tap window and then crops 5 pixels per border: the mean runs over the same 22 x 22 windows.
    y_true, y_pred = _random_pair(n=3, noise=0.15)
    expected = [
        structural_similarity(
            t.astype(np.float64), p.astype(np.float64), gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1.0, channel_axis=-1,
        )
        for t, p in zip(y_true, y_pred)
    ]
    np.testing.assert_allclose(metrics.ssim(y_true, y_pred), expected, rtol=1e-7)


def test_ssim_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    y_true, y_pred = _random_pair(n=3, noise=0.15)
    expected = tf.image.ssim(y_true, y_pred, max_val=1.0).numpy()
    np.testing.assert_allclose(metrics.ssim(y_true, y_pred), expected, atol=2e-5)


def test_ssim_refuses_a_window_larger_than_the_image():
    y_true, y_pred = _random_pair(n=1, size=8)
    with pytest.raises(ValueError, match="filter_size"):
        metrics.ssim(y_true, y_pred)


# ----------------------------------------------------------------------- the pitfall
def test_pixelwise_psnr_matches_a_per_pixel_loop():
    y_true, y_pred = _random_pair(n=1, size=4, noise=0.05, seed=2)
    y_pred[0, 0, 0] = y_true[0, 0, 0]                       # an exact pixel: clipped by eps
    eps = 1e-10
    terms = []
    for i in range(4):
        for j in range(4):
            err2 = np.mean((y_pred[0, i, j].astype(np.float64) - y_true[0, i, j]) ** 2)
            terms.append(10 * math.log10(1 / max(err2, eps)))
    assert metrics.pixelwise_psnr(y_true, y_pred, eps=eps) == pytest.approx([np.mean(terms)])
    assert max(terms) == pytest.approx(100.0)


def test_pixelwise_psnr_overstates_psnr_and_moves_with_eps():
    # Known pixels copied (error 0), a hole with real errors: the per-pixel average is carried by eps.
    y_true, y_pred = _random_pair(n=2, noise=0.1)
    y_pred[:, 8:] = y_true[:, 8:]
    honest = metrics.psnr(y_true, y_pred)
    assert np.all(metrics.pixelwise_psnr(y_true, y_pred) > honest + 20)
    moved = metrics.pixelwise_psnr(y_true, y_pred, eps=1e-12) - metrics.pixelwise_psnr(y_true, y_pred, eps=1e-10)
    np.testing.assert_allclose(moved, 20 * 0.75, rtol=1e-6)  # 3/4 of the pixels gain 20 dB each


def test_pixelwise_psnr_with_peak_255_adds_48_db():
    y_true, y_pred = _random_pair(n=2)
    np.testing.assert_allclose(
        metrics.pixelwise_psnr(y_true, y_pred, max_val=255) - metrics.pixelwise_psnr(y_true, y_pred),
        20 * math.log10(255),
    )


def test_an_empty_batch_is_refused_with_a_message():
    from course_lib import classical

    empty = np.zeros((0, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="empty"):
        metrics.psnr(empty, empty)
    with pytest.raises(ValueError, match="empty"):
        classical.inpaint_mean(empty, np.zeros((0, 8, 8, 1), np.float32))
