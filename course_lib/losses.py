"""Training losses for inpainting, written with ``keras.ops`` only (any Keras backend).

Every loss here has the Keras signature ``loss(y_true, y_pred) -> (N,)`` (one value per image;
Keras then averages over the batch) and expects the **mask inside the target**::

    y_true = concat([image, mask], axis=-1)   # (N, H, W, 4) float32
    y_pred = model output                     # (N, H, W, 3) float32 (or float16)

with ``image`` in [0, 1] and ``mask`` 1 = valid (known) pixel, 0 = hole, the course's convention.
:mod:`course_lib.pipeline` builds targets in this layout, so a mask-aware loss such as Liu et al.'s
can weigh hole and valid pixels differently while ``model.fit`` stays unchanged.

Losses (pick one by name with :func:`get_loss`):

``"l1"``
    The source notebook's loss: mean absolute error over the whole image.
``"liu"``
    Liu et al. 2018, "Image Inpainting for Irregular Holes Using Partial Convolutions", eq. 7
    without the VGG terms: ``L_valid + 6 L_hole + 0.1 L_tv``.
``"ssim"``
    ``1 - SSIM(I_out, I_gt)`` over the whole image (the source's own suggestion), SSIM as in
    Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), the same definition as
    ``tf.image.ssim`` and ``skimage.metrics.structural_similarity(gaussian_weights=True,
    use_sample_covariance=False)``.  We use it alone (not mixed with L1) so that the course can
    compare the two losses side by side.

Besides the losses, :func:`batch_hole_l1` and :func:`batch_psnr` are cheap Keras metrics with the same
``(y_true, y_pred)`` signature, logged during training (columns ``batch_hole_l1``, ``val_batch_psnr``, ...
of ``log.csv``).  They are not the evaluation's measures of :mod:`course_lib.metrics`: to keep a batch's mean
finite they give 0 for an image without a hole and cap the PSNR at 100 dB, where the evaluation gives NaN
and +inf and leaves such images out of its means.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from course_lib.metrics import SSIM_C1, SSIM_C2, SSIM_SIGMA, SSIM_WINDOW_SIZE, gaussian_window_1d

#: Weights of Liu et al.'s eq. 7 (the VGG perceptual/style terms are left out).
LIU_WEIGHTS = {"valid": 1.0, "hole": 6.0, "tv": 0.1}



def split_target(y_true, y_pred):
    """Split ``y_true`` into image and mask, and bring ``y_pred`` to the same float dtype.

    Args:
        y_true: (N, H, W, 4) ``concat([image, mask], -1)``; image in [0, 1],
            mask 1 = valid, 0 = hole.
        y_pred: (N, H, W, 3) the network's output.  Under mixed precision it may be float16;
            losses are always computed in float32 so small differences do not underflow.

    Returns:
        ``(image, mask, y_pred)``: float32 tensors of shapes (N,H,W,3), (N,H,W,1), (N,H,W,3).
    """
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    if y_true.shape[-1] != 4:
        raise ValueError(
            f"y_true must be concat([image, mask], -1) with 4 channels, got shape {y_true.shape}; "
            "build targets with course_lib.pipeline.make_dataset "
            "(or concatenate the mask yourself)."
        )
    return y_true[..., :3], y_true[..., 3:4], y_pred


def _mean_per_image(x):
    """Mean over every axis but the first: (N, ...) -> (N,)."""
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def _sum_per_image(x):
    """Sum over every axis but the first: (N, ...) -> (N,)."""
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


# --------------------------------------------------------------------------------------- L1 ----


@keras.saving.register_keras_serializable(package="course_lib")
def l1_loss(y_true, y_pred):
    """Mean absolute error over all pixels and channels (the ``"source"`` recipe's loss: the course's
    reading of the source project, whose slides do not name its loss).  Returns (N,)."""
    image, _, y_pred = split_target(y_true, y_pred)
    return _mean_per_image(ops.abs(y_pred - image))


# ------------------------------------------------------------------------------ Liu et al. ----


def dilate_holes(mask):
    """The hole region grown by one pixel (8-neighbourhood): Liu et al.'s region ``P``.

    Args:
        mask: (N, H, W, 1) float, 1 = valid, 0 = hole.

    Returns:
        (N, H, W, 1) float, 1 where a pixel is a hole or touches one (3x3 neighbourhood).
    """
    # A 3x3 max-pool of the hole indicator is a binary dilation with a 3x3 square.
    return ops.max_pool(1.0 - mask, pool_size=3, strides=1, padding="same")


def total_variation_in_region(image, region):
    """Liu et al.'s ``L_tv``: L1 differences between neighbours that both lie in ``region``.

    ``sum |I[i, j+1] - I[i, j]| + sum |I[i+1, j] - I[i, j]|`` over pairs whose two pixels are in
    ``region``, divided by the number of elements of ``image`` (N*H*W*C, "size-averaged").

    Args:
        image: (N, H, W, C) float.
        region: (N, H, W, 1) float in {0, 1}.

    Returns:
        (N,) float32, per image (summed over the image, divided by H*W*C).
    """
    horizontal_pairs = region[:, :, 1:, :] * region[:, :, :-1, :]
    vertical_pairs = region[:, 1:, :, :] * region[:, :-1, :, :]
    horizontal = horizontal_pairs * ops.abs(image[:, :, 1:, :] - image[:, :, :-1, :])
    vertical = vertical_pairs * ops.abs(image[:, 1:, :, :] - image[:, :-1, :, :])
    n_elements = ops.cast(ops.prod(ops.shape(image)[1:]), image.dtype)
    return (_sum_per_image(horizontal) + _sum_per_image(vertical)) / n_elements


def liu_terms(y_true, y_pred):
    """The three terms of Liu et al.'s eq. 7 used here, each (N,).

    * ``hole``  = mean over all N*H*W*C elements of ``|(1 - M) * (I_out - I_gt)|``
    * ``valid`` = mean over all elements of ``|M * (I_out - I_gt)|``
    * ``tv``    = :func:`total_variation_in_region` of the composite
      ``I_comp = M * I_gt + (1 - M) * I_out`` over ``P`` = the hole dilated by one pixel.

    "Mean over all elements" follows the paper's normalisation by ``N_{I_gt}`` (the number of
    elements of the image), not by the number of hole or valid pixels.

    Returns:
        dict with keys ``"valid"``, ``"hole"``, ``"tv"`` -> float32 tensors of shape (N,).
    """
    image, mask, y_pred = split_target(y_true, y_pred)
    error = ops.abs(y_pred - image)
    composite = mask * image + (1.0 - mask) * y_pred
    return {
        "valid": _mean_per_image(mask * error),
        "hole": _mean_per_image((1.0 - mask) * error),
        "tv": total_variation_in_region(composite, dilate_holes(mask)),
    }


@keras.saving.register_keras_serializable(package="course_lib")
def liu_loss(y_true, y_pred):
    """``L_valid + 6 L_hole + 0.1 L_tv`` (Liu et al. eq. 7 without VGG terms).  Returns (N,)."""
    terms = liu_terms(y_true, y_pred)
    return sum(LIU_WEIGHTS[name] * value for name, value in terms.items())


# ------------------------------------------------------------------------------------ SSIM ----


def ssim_per_image(image, prediction, *, window_size=SSIM_WINDOW_SIZE, sigma=SSIM_SIGMA):
    """Mean SSIM of each image pair (data range 1.0), as ``tf.image.ssim``.

    Local means, variances and covariance come from an 11x11 Gaussian window (sigma 1.5) applied
    to each channel with "valid" padding (so a 32x32 image gives a 22x22 SSIM map); the map is
    averaged over positions and channels.

    Args:
        image, prediction: (N, H, W, C) float in [0, 1], H and W at least ``window_size``.

    Returns:
        (N,) float32, SSIM in [-1, 1] (1 = identical).
    """
    height, width, channels = image.shape[1], image.shape[2], image.shape[3]
    if height is not None and width is not None and min(height, width) < window_size:
        raise ValueError(
            f"SSIM needs images of at least {window_size}x{window_size} pixels, "
            f"got {height}x{width}; "
            "use larger images or another loss (\"l1\", \"liu\")."
        )
    # depthwise kernel: (kh, kw, in_channels, multiplier=1), the same window for every channel.
    window_1d = gaussian_window_1d(window_size, sigma)
    kernel = np.tile(np.outer(window_1d, window_1d)[:, :, None, None], (1, 1, channels, 1))
    kernel = ops.convert_to_tensor(kernel, dtype=image.dtype)

    def local_mean(x):
        return ops.depthwise_conv(x, kernel, strides=1, padding="valid")

    c1, c2 = SSIM_C1, SSIM_C2
    mu_x, mu_y = local_mean(image), local_mean(prediction)
    var_x = local_mean(image * image) - mu_x * mu_x
    var_y = local_mean(prediction * prediction) - mu_y * mu_y
    cov_xy = local_mean(image * prediction) - mu_x * mu_y
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2.0 * cov_xy + c2) / (var_x + var_y + c2)
    return _mean_per_image(luminance * contrast_structure)


@keras.saving.register_keras_serializable(package="course_lib")
def ssim_loss(y_true, y_pred):
    """``1 - SSIM(I_out, I_gt)`` over the whole image.  Returns (N,), in [0, 2]."""
    image, _, y_pred = split_target(y_true, y_pred)
    return 1.0 - ssim_per_image(image, y_pred)


# --------------------------------------------------------------------------------- metrics ----


@keras.saving.register_keras_serializable(package="course_lib")
def batch_hole_l1(y_true, y_pred):
    """Training metric: mean absolute error over the hole pixels only, per image, 0 for an image without
    a hole (so that the batch mean stays finite).  (N,).  Evaluation: ``metrics.l1(..., hole_mask=...)``."""
    image, mask, y_pred = split_target(y_true, y_pred)
    hole = 1.0 - mask
    error = _sum_per_image(hole * ops.abs(y_pred - image))
    n_hole_values = 3.0 * _sum_per_image(hole)
    return error / ops.maximum(n_hole_values, 1.0)


@keras.saving.register_keras_serializable(package="course_lib")
def batch_psnr(y_true, y_pred):
    """Training metric: PSNR in dB of the whole image, data range 1.0, per image, capped at 100 dB (so that
    the batch mean stays finite).  (N,).  Evaluation: ``metrics.psnr``."""
    image, _, y_pred = split_target(y_true, y_pred)
    mse = _mean_per_image(ops.square(y_pred - image))
    return ops.minimum(-10.0 / math.log(10.0) * ops.log(ops.maximum(mse, 1e-10)), 100.0)


# ---------------------------------------------------------------------------------- lookup ----

LOSSES = {"l1": l1_loss, "liu": liu_loss, "ssim": ssim_loss}

#: Extra metrics logged by :func:`course_lib.train.train`.
METRICS = (batch_hole_l1, batch_psnr)


def get_loss(name):
    """The loss function called ``name`` (one of :data:`LOSSES`: ``"l1"``, ``"liu"``, ``"ssim"``).

    Returns a function ``loss(y_true (N,H,W,4), y_pred (N,H,W,3)) -> (N,)``.
    """
    key = str(name).strip().lower()
    if key not in LOSSES:
        raise ValueError(
            f"Unknown loss {name!r}: choose one of {sorted(LOSSES)} "
            "(\"liu_vgg\" is not provided: it needs ImageNet VGG-16 weights, which this course "
            "cannot download offline)."
        )
    return LOSSES[key]
