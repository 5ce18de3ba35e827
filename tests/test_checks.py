"""Tests of course_lib.checks: every check accepts a correct solution and rejects a wrong one.

The "correct solutions" below are written independently of the references inside checks.py
(vectorised where the reference loops, and the other way round).
"""

import numpy as np
import pytest

from course_lib import checks


# --- rel_error and the shared machinery ------------------------------------------------

def test_rel_error_hand_computed():
    assert checks.rel_error(1.0, 1.0) == 0.0
    assert checks.rel_error(3.0, 1.0) == pytest.approx(0.5)          # |3-1| / (3+1)
    assert checks.rel_error([1.0, 2.0], [1.0, 4.0]) == pytest.approx(2.0 / 6.0)
    assert checks.rel_error(0.0, 0.0) == 0.0                          # no division by zero


def test_unattempted_exercise_does_not_raise(capsys):
    assert checks.check_psnr(lambda a, b: None) is None
    assert "not attempted" in capsys.readouterr().out


def test_student_exception_is_reported_not_raised(capsys):
    def broken(a, b):
        raise ZeroDivisionError("oops")

    assert checks.check_psnr(broken) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_passing_the_result_instead_of_the_function(capsys):
    assert checks.check_hole_ratio(np.zeros(3)) is False
    assert "pass the function itself" in capsys.readouterr().out


# --- notebook 00 --------------------------------------------------------------------------

def test_check_hole_ratio(capsys):
    assert checks.check_hole_ratio(lambda m: 1.0 - m.mean(axis=(1, 2, 3))) is True
    assert checks.check_hole_ratio(lambda m: m.mean(axis=(1, 2, 3))) is False
    assert "VALID" in capsys.readouterr().out
    assert checks.check_hole_ratio(lambda m: 1.0 - m.mean()) is False
    assert "per mask" in capsys.readouterr().out


def test_check_masked_images(capsys):
    assert checks.check_masked_images(lambda x, m: np.where(m > 0.5, x, 0.0)) is True
    assert checks.check_masked_images(lambda x, m: x * (1 - m)) is False
    assert checks.check_masked_images(lambda x, m: x) is False


def test_check_opencv_mask_to_course(capsys):
    assert checks.check_opencv_mask_to_course(lambda c: 1.0 - c[:, :, np.newaxis] / 255.0) is True
    assert checks.check_opencv_mask_to_course(lambda c: c[..., None] / 255.0) is False
    assert "convention" in capsys.readouterr().out
    assert checks.check_opencv_mask_to_course(lambda c: 1.0 - c / 255.0) is False
    assert "channel axis" in capsys.readouterr().out


# --- notebook 01 --------------------------------------------------------------------------

def _laplacian(u):
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
    p = np.pad(u, pad, mode="edge")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u


def test_check_laplacian(capsys):
    assert checks.check_laplacian(_laplacian) is True
    assert checks.check_laplacian(lambda u: -_laplacian(u)) is False
    assert "sign" in capsys.readouterr().out
    zero = lambda u: _laplacian(u) + 0.0 * u  # noqa: E731
    assert checks.check_laplacian(zero) is True

    def zero_padded(u):
        pad = [(1, 1), (1, 1)] + [(0, 0)] * (u.ndim - 2)
        p = np.pad(u, pad)
        return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * u

    assert checks.check_laplacian(zero_padded) is False
    assert "zeros" in capsys.readouterr().out


def test_check_diffusion_step(capsys):
    assert checks.check_diffusion_step(lambda u, m, dt: np.where(m > 0, u, u + dt * _laplacian(u))) is True
    assert checks.check_diffusion_step(lambda u, m, dt: u + dt * _laplacian(u)) is False
    assert "known pixels" in capsys.readouterr().out
    assert checks.check_diffusion_step(lambda u, m, dt: u - dt * (1 - m) * _laplacian(u)) is False


# --- notebook 02 --------------------------------------------------------------------------

def _psnr(a, b):
    return np.array([20 * np.log10(1.0 / np.sqrt(np.mean((x - y) ** 2))) for x, y in zip(a, b)])


def test_check_psnr(capsys):
    assert checks.check_psnr(_psnr) is True
    assert checks.check_psnr(lambda a, b: _psnr(a, b) * 2) is False
    assert checks.check_psnr(lambda a, b: _psnr(a, b) + 20 * np.log10(255.0)) is False
    assert "255" in capsys.readouterr().out
    assert checks.check_psnr(lambda a, b: _psnr(a, b).mean()) is False
    assert "per image" in capsys.readouterr().out


def test_check_hole_psnr(capsys):
    def hole_psnr(a, b, m):
        out = []
        for x, y, mm in zip(a, b, m):
            hole = mm[..., 0] == 0
            out.append(10 * np.log10(1.0 / np.mean((x[hole] - y[hole]) ** 2)))
        return np.array(out)

    assert checks.check_hole_psnr(hole_psnr) is True
    assert checks.check_hole_psnr(lambda a, b, m: _psnr(a, b)) is False
    assert "whole-image" in capsys.readouterr().out
    with np.errstate(divide="ignore"):  # the valid pixels were copied: their error is 0, their PSNR inf
        assert checks.check_hole_psnr(lambda a, b, m: hole_psnr(a, b, 1 - m)) is False
    assert "VALID" in capsys.readouterr().out


def test_check_global_ssim(capsys):
    def ssim(x, y):
        c1, c2 = 1e-4, 9e-4
        mx, my = x.mean(), y.mean()
        sxy = np.mean(x * y) - mx * my
        lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
        cs = (2 * sxy + c2) / (x.var() + y.var() + c2)
        return lum * cs

    assert checks.check_global_ssim(ssim) is True
    assert checks.check_global_ssim(lambda x, y: (2 * x.mean() * y.mean() + 1e-4)
                                    / (x.mean() ** 2 + y.mean() ** 2 + 1e-4)) is False
    assert "luminance" in capsys.readouterr().out


# --- notebook 03 --------------------------------------------------------------------------

def test_check_mask_update(capsys):
    assert checks.check_mask_update(lambda m: 1.0 if m.max() > 0 else 0.0) is True
    assert checks.check_mask_update(lambda m: float(m.min() > 0)) is False
    assert "AT LEAST ONE" in capsys.readouterr().out


def test_check_scaling_ratio(capsys):
    assert checks.check_scaling_ratio(lambda m: m.size / m.sum() if m.sum() else 0.0) is True
    assert checks.check_scaling_ratio(lambda m: m.shape[0] * m.shape[1] / m.sum() if m.sum() else 0.0) is False
    assert "bug 1" in capsys.readouterr().out
    assert checks.check_scaling_ratio(lambda m: m.size / m.sum()) is False  # no guard: inf for an empty window


def test_check_pconv_window(capsys):
    def pconv(x, m, w, b):
        valid = m.sum()
        if valid == 0:
            return np.zeros_like(b)
        return np.tensordot(x * m, w, axes=3) * (m.size / valid) + b

    assert checks.check_pconv_window(pconv) is True
    assert checks.check_pconv_window(lambda x, m, w, b: np.tensordot(x * m, w, axes=3) * m.size / max(m.sum(), 1)
                                     + b) is False
    assert "bias" in capsys.readouterr().out
    assert checks.check_pconv_window(lambda x, m, w, b: np.tensordot(x * m, w, axes=3) + b * (m.sum() > 0)) is False
    assert "rescaled" in capsys.readouterr().out


# --- notebooks 04-07 ---

def test_check_conv_params(capsys):
    import keras

    def conv_params(kernel_size, c_in, c_out, use_bias=True):
        layer = keras.layers.Conv2D(c_out, kernel_size, use_bias=use_bias)
        layer.build((None, 8, 8, c_in))
        return layer.count_params()

    assert checks.check_conv_params(conv_params) is True
    assert checks.check_conv_params(lambda k, i, o, use_bias=True: k * k * i * o) is False
    assert "biases are missing" in capsys.readouterr().out
    assert checks.check_conv_params(lambda k, i, o, use_bias=True: k * i * o + o * use_bias) is False
    assert "square" in capsys.readouterr().out
    assert checks.check_conv_params(lambda k, i, o, use_bias=True: None) is None


def test_check_vanilla_total(capsys):
    assert checks.check_vanilla_total(7_760_931) is True            # the source's printed count
    assert checks.check_vanilla_total(7_760_931.0) is True
    assert checks.check_vanilla_total(None) is None
    # the 2x2 transposed convolutions counted as 3x3: 5*(512*256 + 256*128 + 128*64 + 64*32) more weights
    assert checks.check_vanilla_total(7_760_931 + 5 * (512 * 256 + 256 * 128 + 128 * 64 + 64 * 32)) is False
    assert "2×2" in capsys.readouterr().out
    assert checks.check_vanilla_total(7_760_930) is False
    assert checks.check_vanilla_total("7,760,931") is False


def test_check_fill_holes_white(capsys):
    assert checks.check_fill_holes_white(lambda x, m: np.where(m == 1, x, 1.0)) is True
    assert checks.check_fill_holes_white(lambda x, m: x * m) is False
    assert "white" in capsys.readouterr().out
    assert checks.check_fill_holes_white(lambda x, m: np.where(m == 0, x, 1.0)) is False


def test_check_pconv_params(capsys):
    from course_lib import layers

    def pconv_params(k, c_in, c_out):
        x, m = np.zeros((1, 8, 8, c_in), np.float32), np.ones((1, 8, 8, c_in), np.float32)
        correct, source = layers.PConv2D(c_out, k), layers.SourcePConv2D(c_out, k)
        correct([x, m])
        source([x, m])
        return correct.count_params(), source.count_params() - correct.count_params()

    assert checks.check_pconv_params(pconv_params) is True
    assert checks.check_pconv_params(lambda k, i, o: (None, None)) is None
    assert checks.check_pconv_params(lambda k, i, o: (k * k * i * o + o, k * k)) is False
    assert "as big as the image kernel" in capsys.readouterr().out
    assert checks.check_pconv_params(lambda k, i, o: (k * k * i * o, k * k * i * o)) is False


def _dilate(mask, k):
    r = k // 2
    padded = np.pad(mask, r)
    h, w = mask.shape
    windows = [padded[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)]
    return np.max(windows, axis=0)


def test_check_update_mask(capsys):
    assert checks.check_update_mask(_dilate) is True
    assert checks.check_update_mask(lambda m, k: 1.0 - _dilate(1.0 - m, k)) is False
    assert "VALID region" in capsys.readouterr().out
    assert checks.check_update_mask(lambda m, k: m) is False


def test_check_layers_to_close(capsys):
    def simulate(height):  # apply 3x3 mask updates to a stripe until no hole is left
        mask = np.ones((height + 8, 12))
        mask[4:4 + height] = 0
        n = 0
        while (mask == 0).any():
            mask, n = _dilate(mask, 3), n + 1
        return n

    assert checks.check_layers_to_close(simulate) is True
    assert checks.check_layers_to_close(lambda h: h) is False
    assert "BOTH sides" in capsys.readouterr().out
    assert checks.check_layers_to_close(lambda h: h // 2) is False


def test_check_composite(capsys):
    assert checks.check_composite(lambda x, y, m: np.where(m == 1, x, y)) is True
    assert checks.check_composite(lambda x, y, m: np.where(m == 1, y, x)) is False
    assert "other way round" in capsys.readouterr().out


def test_check_whole_psnr_from_hole(capsys):
    def from_mse(p, r):  # through the MSE: whole MSE = r * hole MSE
        hole_mse = 10.0 ** (-np.asarray(p) / 10.0)
        return 10.0 * np.log10(1.0 / (np.asarray(r) * hole_mse))

    assert checks.check_whole_psnr_from_hole(from_mse) is True
    assert checks.check_whole_psnr_from_hole(lambda p, r: p + 10 * np.log10(r)) is False
    assert "sign" in capsys.readouterr().out


def test_check_total_variation(capsys):
    def tv(image, region):
        r = region[..., 0].astype(bool)
        dh = np.abs(np.diff(image, axis=1))[r[:, 1:] & r[:, :-1]].sum()
        dv = np.abs(np.diff(image, axis=0))[r[1:] & r[:-1]].sum()
        return (dh + dv) / image.size

    assert checks.check_total_variation(tv) is True
    assert checks.check_total_variation(lambda i, r: tv(i, np.ones_like(r))) is False
    assert "whole image" in capsys.readouterr().out
    assert checks.check_total_variation(lambda i, r: tv(i, r) * i.size) is False
    assert "H·W·C" in capsys.readouterr().out


def test_check_liu_pixel_loss(capsys):
    def liu(image, output, mask):
        error = np.abs(output - image)
        return (np.sum(error * mask) + 6 * np.sum(error * (1 - mask))) / image.size

    assert checks.check_liu_pixel_loss(liu) is True
    assert checks.check_liu_pixel_loss(lambda x, y, m: liu(x, y, 1 - m)) is False
    assert "swapped" in capsys.readouterr().out
    assert checks.check_liu_pixel_loss(lambda x, y, m: np.abs(y - x).mean()) is False
