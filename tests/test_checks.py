"""Tests of the NumPy exercise checks of course_lib.checks: every check accepts a correct solution and rejects a
wrong one.

The "correct solutions" below are written independently of the references inside the check modules
(vectorised where the reference loops, and the other way round).
"""

import numpy as np
import pytest

from course_lib.checks import (better_losses, beyond_cifar, classical_inpainting, comparison, copying, feedback,
                               measuring, partial_convolution, pconv_unet, setup_and_data, vanilla_unet)


# --- rel_error and the shared machinery ------------------------------------------------

def test_rel_error_hand_computed():
    assert feedback.rel_error(1.0, 1.0) == 0.0
    assert feedback.rel_error(3.0, 1.0) == pytest.approx(0.5)          # |3-1| / (3+1)
    assert feedback.rel_error([1.0, 2.0], [1.0, 4.0]) == pytest.approx(2.0 / 6.0)
    assert feedback.rel_error(0.0, 0.0) == 0.0                          # no division by zero


def test_unattempted_exercise_does_not_raise(capsys):
    assert measuring.check_psnr(lambda a, b: None) is None
    assert "not attempted" in capsys.readouterr().out


def test_student_exception_is_reported_not_raised(capsys):
    def broken(a, b):
        raise ZeroDivisionError("oops")

    assert measuring.check_psnr(broken) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_passing_the_result_instead_of_the_function(capsys):
    assert setup_and_data.check_hole_ratio(np.zeros(3)) is False
    assert "pass the function itself" in capsys.readouterr().out


def test_a_check_switches_the_library_function_off_only_while_it_runs(capsys):
    from course_lib import metrics
    from course_lib.metrics import psnr as imported_early  # a reference taken before the check is caught too

    code = metrics.psnr.__code__
    assert measuring.check_psnr(lambda a, b: imported_early(a, b)) is False
    assert "calls course_lib's metrics.psnr" in capsys.readouterr().out
    assert metrics.psnr.__code__ is code
    assert metrics.psnr(np.ones((1, 2, 2, 3)), np.full((1, 2, 2, 3), 0.5))[0] == pytest.approx(10 * np.log10(4))


def test_an_error_of_the_students_own_is_not_taken_for_delegation(capsys):
    def raises(a, b):
        raise RuntimeError("my own bug")

    assert measuring.check_psnr(raises) is False
    assert "RuntimeError: my own bug" in capsys.readouterr().out


# --- notebook 00 --------------------------------------------------------------------------

def test_check_hole_ratio(capsys):
    assert setup_and_data.check_hole_ratio(lambda m: 1.0 - m.mean(axis=(1, 2, 3))) is True
    assert setup_and_data.check_hole_ratio(lambda m: m.mean(axis=(1, 2, 3))) is False
    assert "VALID" in capsys.readouterr().out
    assert setup_and_data.check_hole_ratio(lambda m: 1.0 - m.mean()) is False
    assert "per mask" in capsys.readouterr().out
    from course_lib import masks

    assert setup_and_data.check_hole_ratio(masks.hole_ratio) is False                      # shown in notebook 00
    assert "calls course_lib's masks.hole_ratio" in capsys.readouterr().out


def test_check_grow_holes(capsys):
    from scipy import ndimage

    def with_scipy(masks):  # binary dilation of the holes with a 3 x 3 square; outside the frame is not a hole
        holes = masks[..., 0] == 0
        grown = np.stack([ndimage.binary_dilation(h, structure=np.ones((3, 3))) for h in holes])
        return (~grown).astype(np.float32)[..., None]

    def with_windows(masks):  # the minimum of each 3 x 3 window of the mask, padded with 1 (valid)
        padded = np.pad(masks[..., 0], ((0, 0), (1, 1), (1, 1)), constant_values=1.0)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
        return windows.min(axis=(-1, -2))[..., None]

    assert setup_and_data.check_grow_holes(with_scipy) is True
    assert setup_and_data.check_grow_holes(with_windows) is True
    assert setup_and_data.check_grow_holes(lambda m: None) is None
    cross = lambda m: np.stack([ndimage.binary_erosion(x[..., 0] > 0, border_value=1)  # noqa: E731
                                for x in m]).astype(np.float32)[..., None]
    assert setup_and_data.check_grow_holes(cross) is False
    assert "3 × 3 square" in capsys.readouterr().out
    framed = lambda m: np.pad(m[..., 0], ((0, 0), (1, 1), (1, 1)))  # noqa: E731 -- the frame padded as hole
    assert setup_and_data.check_grow_holes(
        lambda m: np.lib.stride_tricks.sliding_window_view(framed(m), (3, 3), axis=(1, 2)).min(axis=(-1, -2))[..., None]
    ) is False
    assert "frame" in capsys.readouterr().out
    assert setup_and_data.check_grow_holes(lambda m: 1.0 - with_scipy(m)) is False
    assert "1 = valid" in capsys.readouterr().out


def test_check_grow_holes_detects_the_library(capsys):
    from course_lib import losses

    assert setup_and_data.check_grow_holes(lambda m: 1.0 - np.asarray(losses.dilate_holes(m))) is False
    assert "calls course_lib's losses.dilate_holes" in capsys.readouterr().out


def test_check_opencv_mask_to_course(capsys):
    assert setup_and_data.check_opencv_mask_to_course(lambda c: 1.0 - c[:, :, np.newaxis] / 255.0) is True
    assert setup_and_data.check_opencv_mask_to_course(lambda c: c[..., None] / 255.0) is False
    assert "convention" in capsys.readouterr().out
    assert setup_and_data.check_opencv_mask_to_course(lambda c: 1.0 - c / 255.0) is False
    assert "channel axis" in capsys.readouterr().out


# --- notebook 01 --------------------------------------------------------------------------

def _laplacian(u):
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
    p = np.pad(u, pad, mode="edge")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u


def test_check_laplacian(capsys):
    assert classical_inpainting.check_laplacian(_laplacian) is True
    assert classical_inpainting.check_laplacian(lambda u: -_laplacian(u)) is False
    assert "sign" in capsys.readouterr().out
    zero = lambda u: _laplacian(u) + 0.0 * u  # noqa: E731
    assert classical_inpainting.check_laplacian(zero) is True

    def zero_padded(u):
        pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
        p = np.pad(u, pad)
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u

    assert classical_inpainting.check_laplacian(zero_padded) is False
    assert "zeros" in capsys.readouterr().out


def test_check_diffusion_step(capsys):
    assert classical_inpainting.check_diffusion_step(
        lambda u, m, dt: np.where(m > 0, u, u + dt * _laplacian(u))) is True
    assert classical_inpainting.check_diffusion_step(lambda u, m, dt: u + dt * _laplacian(u)) is False
    assert "known pixels" in capsys.readouterr().out
    assert classical_inpainting.check_diffusion_step(lambda u, m, dt: u - dt * (1 - m) * _laplacian(u)) is False
    assert classical_inpainting.check_diffusion_step(lambda u, m, dt: None) is None
    assert classical_inpainting.check_diffusion_step(lambda u, m, dt: 0.5) is False                 # a constant


def test_delegating_to_the_library_step_or_laplacian_fails(capsys):
    from course_lib import classical

    assert classical_inpainting.check_diffusion_step(
        lambda u, m, dt: classical.diffusion_step(u[None], m[None], dt)[0]) is False
    assert "calls course_lib's classical.diffusion_step" in capsys.readouterr().out
    assert classical_inpainting.check_diffusion_step(classical.diffusion_step) is False  # the library function itself
    assert "calls course_lib's classical.diffusion_step" in capsys.readouterr().out
    assert classical_inpainting.check_diffusion_step(
        lambda u, m, dt: u + dt * (1 - m) * classical._laplacian(u[None])[0]) is False
    assert "classical._laplacian" in capsys.readouterr().out
    assert classical_inpainting.check_laplacian(
        lambda u: classical._laplacian(np.atleast_3d(u)[None])[0].reshape(u.shape)) is False
    assert "classical._laplacian" in capsys.readouterr().out
    assert classical_inpainting.check_laplacian(_laplacian) is True  # and the library works again


# --- notebook 03 --------------------------------------------------------------------------

def _psnr(a, b):
    return np.array([20 * np.log10(1.0 / np.sqrt(np.mean((x - y) ** 2))) for x, y in zip(a, b)])


def test_check_psnr(capsys):
    assert measuring.check_psnr(_psnr) is True
    assert measuring.check_psnr(lambda a, b: _psnr(a, b) * 2) is False
    assert measuring.check_psnr(lambda a, b: _psnr(a, b) + 20 * np.log10(255.0)) is False
    assert "255" in capsys.readouterr().out
    assert measuring.check_psnr(lambda a, b: _psnr(a, b).mean()) is False
    assert "per image" in capsys.readouterr().out


def test_check_hole_psnr(capsys):
    def hole_psnr(a, b, m):
        out = []
        for x, y, mm in zip(a, b, m):
            hole = mm[..., 0] == 0
            out.append(10 * np.log10(1.0 / np.mean((x[hole] - y[hole]) ** 2)))
        return np.array(out)

    assert measuring.check_hole_psnr(hole_psnr) is True
    assert measuring.check_hole_psnr(lambda a, b, m: _psnr(a, b)) is False
    assert "whole-image" in capsys.readouterr().out
    with np.errstate(divide="ignore"):  # the valid pixels were copied: their error is 0, their PSNR inf
        assert measuring.check_hole_psnr(lambda a, b, m: hole_psnr(a, b, 1 - m)) is False
    assert "VALID" in capsys.readouterr().out
    assert measuring.check_hole_psnr(lambda a, b, m: None) is None
    assert measuring.check_hole_psnr(lambda a, b, m: np.full(len(a), 20.57)) is False   # a printed number


def test_check_hole_psnr_detects_the_library(capsys):
    from course_lib import metrics

    assert measuring.check_hole_psnr(lambda a, b, m: metrics.psnr(a, b, hole_mask=1 - m)) is False
    assert "calls course_lib's metrics.psnr" in capsys.readouterr().out
    assert measuring.check_hole_psnr(lambda a, b, m: 10 * np.log10(1 / metrics.mse(a, b, hole_mask=1 - m))) is False
    assert "calls course_lib's metrics.mse" in capsys.readouterr().out


def test_check_global_ssim(capsys):
    def ssim(x, y):
        c1, c2 = 1e-4, 9e-4
        mx, my = x.mean(), y.mean()
        sxy = np.mean(x * y) - mx * my
        lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
        cs = (2 * sxy + c2) / (x.var() + y.var() + c2)
        return lum * cs

    assert measuring.check_global_ssim(ssim) is True
    assert measuring.check_global_ssim(lambda x, y: (2 * x.mean() * y.mean() + 1e-4)
                                       / (x.mean() ** 2 + y.mean() ** 2 + 1e-4)) is False
    assert "luminance" in capsys.readouterr().out


# --- notebook 04 --------------------------------------------------------------------------

def test_check_mask_update(capsys):
    assert partial_convolution.check_mask_update(lambda m: 1.0 if m.max() > 0 else 0.0) is True
    assert partial_convolution.check_mask_update(lambda m: float(m.min() > 0)) is False
    assert "AT LEAST ONE" in capsys.readouterr().out


def test_check_scaling_ratio(capsys):
    assert partial_convolution.check_scaling_ratio(lambda m: m.size / m.sum() if m.sum() else 0.0) is True
    assert partial_convolution.check_scaling_ratio(
        lambda m: m.shape[0] * m.shape[1] / m.sum() if m.sum() else 0.0) is False
    assert "bug 1" in capsys.readouterr().out
    assert partial_convolution.check_scaling_ratio(lambda m: m.size / m.sum()) is False  # no guard: inf, empty window


def test_check_pconv_window(capsys):
    def pconv(x, m, w, b):
        valid = m.sum()
        if valid == 0:
            return np.zeros_like(b)
        return np.tensordot(x * m, w, axes=3) * (m.size / valid) + b

    assert partial_convolution.check_pconv_window(pconv) is True
    assert partial_convolution.check_pconv_window(
        lambda x, m, w, b: np.tensordot(x * m, w, axes=3) * m.size / max(m.sum(), 1) + b) is False
    assert "bias" in capsys.readouterr().out
    assert partial_convolution.check_pconv_window(
        lambda x, m, w, b: np.tensordot(x * m, w, axes=3) + b * (m.sum() > 0)) is False
    assert "rescaled" in capsys.readouterr().out


# --- notebooks 05-08 ---

def _unet_layer_params(widths):
    """Written from the layers Keras builds: convolutions as (k, C_in, C_out), walked level by level."""
    layers = []
    channels = [3] + list(widths)
    for level in range(len(widths)):
        layers += [(3, channels[level], channels[level + 1]), (3, channels[level + 1], channels[level + 1])]
    for level in range(len(widths) - 2, -1, -1):
        layers += [(2, widths[level + 1], widths[level]), (3, 2 * widths[level], widths[level]),
                   (3, widths[level], widths[level])]
    layers.append((3, widths[0], 3))
    return [k * k * i * o + o for k, i, o in layers]


def test_check_unet_layer_params(capsys):
    assert vanilla_unet.check_unet_layer_params(_unet_layer_params) is True
    assert sum(_unet_layer_params([32, 64, 128, 256, 512])) == 7_760_931            # the source's printed total
    assert vanilla_unet.check_unet_layer_params(lambda widths: None) is None
    assert "not attempted" in capsys.readouterr().out
    # the printed total, or the list printed by model.summary(), typed in: wrong for the other widths
    assert vanilla_unet.check_unet_layer_params(lambda widths: 7_760_931) is False
    assert vanilla_unet.check_unet_layer_params(lambda widths: [7_760_931]) is False
    printed = _unet_layer_params([32, 64, 128, 256, 512])
    assert vanilla_unet.check_unet_layer_params(lambda widths: printed) is False
    assert "compute each count from widths" in capsys.readouterr().out

    def transposed_from_twice(widths):
        counts = _unet_layer_params(widths)
        for level in range(len(widths) - 1):                 # the transposed conv read 2 * width channels
            index = 2 * len(widths) + 3 * (len(widths) - 2 - level)
            counts[index] = 2 * 2 * (2 * widths[level]) * widths[level] + widths[level]
        return counts

    assert vanilla_unet.check_unet_layer_params(transposed_from_twice) is False
    assert "the level below" in capsys.readouterr().out
    assert vanilla_unet.check_unet_layer_params(lambda widths: [c - 3 for c in _unet_layer_params(widths)]) is False


def test_check_unet_layer_params_compares_with_the_model(capsys):
    from course_lib import models

    model = models.build_vanilla_unet()
    assert vanilla_unet.check_unet_layer_params(_unet_layer_params, model) is True
    no_bias_last = lambda widths: _unet_layer_params(widths)[:-1] + [_unet_layer_params(widths)[-1] - 3]  # noqa: E731
    assert vanilla_unet.check_unet_layer_params(no_bias_last, model) is False
    out = capsys.readouterr().out
    assert "the model's" in out and "bias is missing" in out


def _dilate(mask, k):
    r = k // 2
    padded = np.pad(mask, r)
    h, w = mask.shape
    windows = [padded[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)]
    return np.max(windows, axis=0)


def test_check_update_mask(capsys):
    assert pconv_unet.check_update_mask(_dilate) is True
    assert pconv_unet.check_update_mask(lambda m, k: 1.0 - _dilate(1.0 - m, k)) is False
    assert "VALID region" in capsys.readouterr().out
    assert pconv_unet.check_update_mask(lambda m, k: m) is False


def test_check_layers_to_close(capsys):
    def simulate(height):  # apply 3x3 mask updates to a stripe until no hole is left
        mask = np.ones((height + 8, 12))
        mask[4:4 + height] = 0
        n = 0
        while (mask == 0).any():
            mask, n = _dilate(mask, 3), n + 1
        return n

    assert pconv_unet.check_layers_to_close(simulate) is True
    assert pconv_unet.check_layers_to_close(lambda h: h) is False
    assert "BOTH sides" in capsys.readouterr().out
    assert pconv_unet.check_layers_to_close(lambda h: h // 2) is False


def test_check_total_variation(capsys):
    def tv(image, region):
        r = region[..., 0].astype(bool)
        dh = np.abs(np.diff(image, axis=1))[r[:, 1:] & r[:, :-1]].sum()
        dv = np.abs(np.diff(image, axis=0))[r[1:] & r[:-1]].sum()
        return (dh + dv) / image.size

    assert better_losses.check_total_variation(tv) is True
    assert better_losses.check_total_variation(lambda i, r: tv(i, np.ones_like(r))) is False
    assert "whole image" in capsys.readouterr().out
    assert better_losses.check_total_variation(lambda i, r: tv(i, r) * i.size) is False
    assert "H·W·C" in capsys.readouterr().out


def test_check_liu_pixel_loss(capsys):
    def liu(image, output, mask):
        error = np.abs(output - image)
        return (np.sum(error * mask) + 6 * np.sum(error * (1 - mask))) / image.size

    assert better_losses.check_liu_pixel_loss(liu) is True
    assert better_losses.check_liu_pixel_loss(lambda x, y, m: liu(x, y, 1 - m)) is False
    assert "swapped" in capsys.readouterr().out
    assert better_losses.check_liu_pixel_loss(lambda x, y, m: np.abs(y - x).mean()) is False


# --- notebook 07 ---------------------------------------------------------------------------

def _finite_pairs(a, b):
    keep = np.isfinite(a) & np.isfinite(b)
    return np.asarray(a, float)[keep], np.asarray(b, float)[keep]


def test_check_paired_difference(capsys):
    from scipy import stats

    def with_numpy(a, b):
        a, b = _finite_pairs(a, b)
        d = a - b
        return d.mean(), 1.96 * d.std(ddof=1) / np.sqrt(d.size)

    def with_scipy(a, b):
        a, b = _finite_pairs(a, b)
        return float(np.mean(a - b)), 1.96 * float(stats.sem(a - b))

    assert comparison.check_paired_difference(with_numpy) is True
    assert comparison.check_paired_difference(with_scipy) is True
    assert comparison.check_paired_difference(lambda a, b: None) is None

    def unpaired(a, b):
        a, b = _finite_pairs(a, b)
        return a.mean() - b.mean(), 1.96 * np.hypot(stats.sem(a), stats.sem(b))

    assert comparison.check_paired_difference(unpaired) is False
    assert "two separate means" in capsys.readouterr().out
    assert comparison.check_paired_difference(lambda a, b: (with_numpy(a, b)[0], with_numpy(a, b)[1] * np.sqrt(
        np.isfinite(np.asarray(a) - b).sum()))) is False
    assert "√n" in capsys.readouterr().out
    assert comparison.check_paired_difference(lambda a, b: with_numpy(b, a)) is False
    assert "not b − a" in capsys.readouterr().out

    def misaligned(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        n = min(a.size, b.size)
        return with_numpy(a[:n], b[:n])

    assert comparison.check_paired_difference(misaligned) is False
    assert "aligned" in capsys.readouterr().out


def test_check_paired_difference_detects_the_library(capsys):
    from course_lib import reporting

    def via_library(a, b):
        summary = reporting.paired_difference(a, b)
        return summary["mean"], summary["ci95"]

    assert comparison.check_paired_difference(via_library) is False
    assert "calls course_lib's reporting.paired_difference" in capsys.readouterr().out


def test_check_win_rate(capsys):
    def vectorised(a, b):
        a, b = _finite_pairs(a, b)
        return float(np.mean(np.sign(a - b) / 2 + 0.5))      # win 1, tie 1/2, loss 0

    def by_ranks(a, b):
        a, b = _finite_pairs(a, b)
        return ((a > b).sum() + 0.5 * (a == b).sum()) / a.size

    assert comparison.check_win_rate(vectorised) is True
    assert comparison.check_win_rate(by_ranks) is True
    assert comparison.check_win_rate(lambda a, b: None) is None
    assert comparison.check_win_rate(lambda a, b: float(np.mean(np.greater_equal(*_finite_pairs(a, b))))) is False
    assert "tie is not a win" in capsys.readouterr().out
    assert comparison.check_win_rate(lambda a, b: float(np.mean(np.greater(*_finite_pairs(a, b))))) is False
    assert "not a loss either" in capsys.readouterr().out
    assert comparison.check_win_rate(lambda a, b: vectorised(a, b) * _finite_pairs(a, b)[0].size) is False
    assert "not a count" in capsys.readouterr().out
    assert comparison.check_win_rate(lambda a, b: vectorised(b, a)) is False
    assert "FIRST" in capsys.readouterr().out


# --- notebook 02: patches and a database -------------------------------------------------------

def test_check_patch_ssd(capsys):
    def broadcast(target, known, candidates):
        return (known * (candidates - target) ** 2).sum(axis=(1, 2, 3))

    def expanded(target, known, candidates):  # Σ k·c² − 2 Σ k·c·t + Σ k·t², as products
        k = np.broadcast_to(known, target.shape).reshape(-1)
        flat = candidates.reshape(len(candidates), -1)
        t = target.reshape(-1)
        return flat ** 2 @ k - 2 * flat @ (k * t) + np.sum(k * t ** 2)

    assert copying.check_patch_ssd(broadcast) is True
    assert copying.check_patch_ssd(expanded) is True
    assert copying.check_patch_ssd(lambda t, k, c: None) is None
    assert copying.check_patch_ssd(lambda t, k, c: ((c - t) ** 2).sum(axis=(1, 2, 3))) is False
    assert "known pixels" in capsys.readouterr().out
    assert copying.check_patch_ssd(lambda t, k, c: (k * np.abs(c - t)).sum(axis=(1, 2, 3))) is False
    assert "SQUARED" in capsys.readouterr().out


def test_check_masked_distances(capsys):
    def three_products(queries, masks, database):
        n, m = len(queries), len(database)
        w = np.broadcast_to(masks, queries.shape).reshape(n, -1)
        x, y = queries.reshape(n, -1), database.reshape(m, -1)
        return (w * x ** 2).sum(axis=1)[:, None] - 2 * (w * x) @ y.T + w @ (y ** 2).T

    def broadcast(queries, masks, database):
        return (masks[:, None] * (queries[:, None] - database[None]) ** 2).sum(axis=(2, 3, 4))

    assert copying.check_masked_distances(three_products) is True
    assert copying.check_masked_distances(broadcast) is True
    assert copying.check_masked_distances(lambda q, m, d: None) is None
    assert copying.check_masked_distances(lambda q, m, d: broadcast(q, np.ones_like(m), d)) is False
    assert "multiply by the query's mask" in capsys.readouterr().out

    def unmasked_database_term(queries, masks, database):
        n, m = len(queries), len(database)
        w = np.broadcast_to(masks, queries.shape).reshape(n, -1)
        x, y = queries.reshape(n, -1), database.reshape(m, -1)
        return (w * x ** 2).sum(axis=1)[:, None] - 2 * (w * x) @ y.T + (y ** 2).sum(axis=1)[None, :]

    assert copying.check_masked_distances(unmasked_database_term) is False
    assert "database term needs the query's mask" in capsys.readouterr().out
    assert copying.check_masked_distances(lambda q, m, d: broadcast(q, m, d).T) is False
    assert "one row per query" in capsys.readouterr().out


# --- notebook 10 ---------------------------------------------------------------------------

def test_check_block_mean(capsys):
    def with_reshape(image, k):
        h, w, c = image.shape
        return image.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))

    def with_strides(image, k):  # another way: the mean of the k * k shifted subsamplings
        return np.mean([image[a::k, b::k] for a in range(k) for b in range(k)], axis=0)

    assert beyond_cifar.check_block_mean(with_reshape) is True
    assert beyond_cifar.check_block_mean(with_strides) is True
    assert beyond_cifar.check_block_mean(lambda image, k: None) is None
    assert beyond_cifar.check_block_mean(lambda image, k: image[::k, ::k]) is False
    assert "subsampling" in capsys.readouterr().out
    assert beyond_cifar.check_block_mean(lambda image, k: with_reshape(image, k) * k * k) is False
    assert "SUM" in capsys.readouterr().out

    def mixed(image, k):
        h, w, c = image.shape
        return image.reshape(h // k, w // k, k, k, c).mean(axis=(2, 3))

    assert beyond_cifar.check_block_mean(mixed) is False
    assert "mix pixels" in capsys.readouterr().out

    def with_the_library(image, k):
        from course_lib import photographs
        return photographs.shrink(np.round(image * 255).astype(np.uint8), image.shape[0] // k) / 255

    assert beyond_cifar.check_block_mean(with_the_library) is False
    assert "photographs.shrink" in capsys.readouterr().out
