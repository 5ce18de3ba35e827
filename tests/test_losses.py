"""Losses against hand computation, plain NumPy loops and scikit-image's SSIM."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from course_lib import losses

RNG = np.random.default_rng(0)


def _target(image, mask):
    return np.concatenate([image, mask], axis=-1).astype("float32")


def _numpy(x):
    return np.asarray(x, dtype="float64")


# ------------------------------------------------------------------ a 4x4 example by hand ----

# One 4x4 grey image (all channels equal), the ground truth all zeros, a 2x2 hole in the middle.
#   mask (1 = valid)      prediction (every channel)
#   1 1 1 1               0   0   0   0
#   1 0 0 1               0  .4  .8   0
#   1 0 0 1               0  .2   0  .1   <- .1 is a valid pixel: its error counts in L_valid
#   1 1 1 1               0   0   0   0
HAND_MASK = np.array([[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]], "float32")
HAND_PRED = np.array([[0, 0, 0, 0], [0, .4, .8, 0], [0, .2, 0, .1], [0, 0, 0, 0]], "float32")


def _hand_example():
    image = np.zeros((1, 4, 4, 3), "float32")
    mask = HAND_MASK[None, :, :, None]
    pred = np.repeat(HAND_PRED[None, :, :, None], 3, axis=-1)
    return _target(image, mask), pred


def test_liu_terms_on_a_hand_computed_4x4_example():
    y_true, y_pred = _hand_example()
    terms = {k: _numpy(v)[0] for k, v in losses.liu_terms(y_true, y_pred).items()}
    # Per channel: hole errors .4 + .8 + .2 + 0 = 1.4, valid error .1; 16 pixels.
    assert terms["hole"] == pytest.approx(1.4 / 16)
    assert terms["valid"] == pytest.approx(0.1 / 16)
    # The dilated hole P covers the whole 4x4 image.  The composite keeps the hole predictions
    # and the (zero) ground truth elsewhere, so the .1 disappears:
    #   0 0 0 0 / 0 .4 .8 0 / 0 .2 0 0 / 0 0 0 0
    # horizontal |differences|: row 1: .4 + .4 + .8 = 1.6, row 2: .2 + .2 + 0 = .4 -> 2.0
    # vertical: column 1: .4 + .2 + .2 = .8, column 2: .8 + .8 + 0 = 1.6 -> 2.4
    assert terms["tv"] == pytest.approx((2.0 + 2.4) / 16)
    total = _numpy(losses.liu_loss(y_true, y_pred))[0]
    assert total == pytest.approx(0.1 / 16 + 6 * 1.4 / 16 + 0.1 * 4.4 / 16)


def test_l1_on_the_hand_example():
    y_true, y_pred = _hand_example()
    assert _numpy(losses.l1_loss(y_true, y_pred))[0] == pytest.approx(1.5 / 16)


# ------------------------------------------------------------------ NumPy loop references ----


def _dilate_by_loops(hole):
    """hole (H, W) in {0,1} -> 1 where any pixel of the 3x3 neighbourhood is a hole."""
    h, w = hole.shape
    out = np.zeros_like(hole)
    for i in range(h):
        for j in range(w):
            out[i, j] = hole[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].max()
    return out


def _liu_by_loops(image, mask, pred):
    """Liu et al. eq. 7 (no VGG terms) for one image, with explicit loops."""
    h, w, c = image.shape
    n = h * w * c
    hole_sum = valid_sum = tv_sum = 0.0
    comp = np.empty_like(image)
    for i in range(h):
        for j in range(w):
            for k in range(c):
                err = abs(pred[i, j, k] - image[i, j, k])
                if mask[i, j] == 1:
                    valid_sum += err
                    comp[i, j, k] = image[i, j, k]
                else:
                    hole_sum += err
                    comp[i, j, k] = pred[i, j, k]
    region = _dilate_by_loops(1 - mask)
    for i in range(h):
        for j in range(w):
            for k in range(c):
                if j + 1 < w and region[i, j] and region[i, j + 1]:
                    tv_sum += abs(comp[i, j + 1, k] - comp[i, j, k])
                if i + 1 < h and region[i, j] and region[i + 1, j]:
                    tv_sum += abs(comp[i + 1, j, k] - comp[i, j, k])
    return valid_sum / n + 6 * hole_sum / n + 0.1 * tv_sum / n


def test_liu_loss_matches_numpy_loops_on_random_images():
    image = RNG.random((3, 8, 8, 3)).astype("float32")
    pred = RNG.random((3, 8, 8, 3)).astype("float32")
    mask = (RNG.random((3, 8, 8, 1)) > 0.6).astype("float32")
    mask[0] = 1.0  # no hole at all: only L_valid remains
    got = _numpy(losses.liu_loss(_target(image, mask), pred))
    expected = [_liu_by_loops(image[i], mask[i, :, :, 0], pred[i]) for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_dilation_is_a_3x3_max_filter_of_the_holes():
    mask = (RNG.random((2, 7, 9, 1)) > 0.8).astype("float32")
    got = _numpy(losses.dilate_holes(mask))[..., 0]
    for i in range(2):
        np.testing.assert_array_equal(got[i], _dilate_by_loops(1 - mask[i, :, :, 0]))


# -------------------------------------------------------------------------------- SSIM ----


def test_ssim_loss_matches_scikit_image():
    image = RNG.random((2, 32, 32, 3)).astype("float32")
    pred = np.clip(image + 0.2 * RNG.standard_normal(image.shape), 0, 1).astype("float32")
    mask = np.ones((2, 32, 32, 1), "float32")
    got = _numpy(losses.ssim_loss(_target(image, mask), pred))
    expected = [
        1 - structural_similarity(image[i], pred[i], channel_axis=-1, data_range=1.0,
                                  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for i in range(2)
    ]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_ssim_needs_images_at_least_as_large_as_its_window():
    small = np.zeros((1, 8, 8, 4), "float32")
    with pytest.raises(ValueError, match="at least 11x11"):
        losses.ssim_loss(small, small[..., :3])


# ------------------------------------------------------------------------- all losses ----


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_errors_cost_more_than_a_perfect_prediction(name):
    image = RNG.random((2, 16, 16, 3)).astype("float32")
    mask = (RNG.random((2, 16, 16, 1)) > 0.3).astype("float32")
    loss = losses.get_loss(name)
    perfect = _numpy(loss(_target(image, mask), image))
    noisy = _numpy(loss(_target(image, mask), np.clip(image + 0.3, 0, 1)))
    assert (noisy > perfect + 0.01).all()
    if name == "liu":
        # L_tv penalises the texture of the ground truth itself: a perfect prediction still
        # pays 0.1 * L_tv(I_gt), by design of the paper.
        expected = 0.1 * _numpy(losses.total_variation_in_region(image, losses.dilate_holes(mask)))
        np.testing.assert_allclose(perfect, expected, rtol=1e-5)
    else:
        np.testing.assert_allclose(perfect, 0.0, atol=1e-5)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_losses_accept_float16_predictions(name):
    image = RNG.random((2, 16, 16, 3)).astype("float32")
    mask = np.ones((2, 16, 16, 1), "float32")
    loss = losses.get_loss(name)
    got = _numpy(loss(_target(image, mask), image.astype("float16") * 0.5))
    expected = _numpy(loss(_target(image, mask), (image.astype("float16") * 0.5).astype("float32")))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_training_metrics_batch_hole_l1_and_batch_psnr():
    image = np.zeros((1, 4, 4, 3), "float32")
    mask = HAND_MASK[None, :, :, None]
    pred = np.full((1, 4, 4, 3), 0.1, "float32")
    assert _numpy(losses.batch_hole_l1(_target(image, mask), pred))[0] == pytest.approx(0.1)
    assert _numpy(losses.batch_psnr(_target(image, mask), pred))[0] == pytest.approx(20.0, abs=1e-4)


def test_training_metrics_agree_with_the_evaluation_and_stay_finite_where_it_does_not():
    """Where the evaluation's measures are defined, the training metrics give the same numbers; an image
    without a hole and an exact reconstruction give 0 and the 100 dB cap (the evaluation: NaN and +inf)."""
    from course_lib import metrics

    image = RNG.random((3, 8, 8, 3)).astype("float32")
    pred = np.clip(image + RNG.normal(0, 0.05, image.shape), 0, 1).astype("float32")
    mask = (RNG.random((3, 8, 8, 1)) > 0.4).astype("float32")
    mask[2] = 1.0  # no hole
    pred[1] = image[1]  # exact
    target = _target(image, mask)
    hole_l1 = _numpy(losses.batch_hole_l1(target, pred))
    expected_l1 = metrics.l1(image, pred, hole_mask=1 - mask)
    np.testing.assert_allclose(hole_l1[:2], expected_l1[:2], rtol=1e-5)
    assert np.isnan(expected_l1[2]) and hole_l1[2] == 0.0
    psnr = _numpy(losses.batch_psnr(target, pred))
    expected_psnr = metrics.psnr(image, pred)
    np.testing.assert_allclose(psnr[[0, 2]], expected_psnr[[0, 2]], rtol=1e-4)
    assert np.isinf(expected_psnr[1]) and psnr[1] == pytest.approx(100.0)


def test_targets_without_the_mask_channel_are_refused():
    image = np.zeros((1, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match="4 channels"):
        losses.l1_loss(image, image)


def test_unknown_loss_names_the_choices():
    with pytest.raises(ValueError, match="l1.*liu.*ssim"):
        losses.get_loss("vgg")
    assert losses.get_loss(" L1 ") is losses.l1_loss
