"""Image-quality metrics: one number per image, written in NumPy so they can be read.

Conventions
-----------
* Inputs are batches of images, float, NHWC ``(N, H, W, C)``, values in ``[0, 1]``
  (data range 1.0).  A single image ``(H, W, C)`` is refused: add the batch axis
  with ``x[None]``.  TensorFlow tensors are accepted (they are converted with
  ``np.asarray``).
* Every metric returns a float64 NumPy array of shape ``(N,)``: one value per
  image.  Average it yourself (``np.nanmean``, see "empty hole" below).
* Bad input raises ``ValueError`` naming the problem and the fix: integer images
  (``uint8``: divide by 255 first), values outside ``[0, 1]``, NaN or infinity,
  shapes that differ.

``hole_mask``: 1 = HOLE (the opposite of the course's masks!)
-------------------------------------------------------------
``mse``, ``l1`` and ``psnr`` take an optional ``hole_mask`` of shape ``(N, H, W, 1)``
or ``(N, H, W)`` in which **1 marks a hole pixel** and 0 a known pixel.  The
course's masks say the opposite (1 = valid, 0 = hole), so pass ``1 - masks``::

    metrics.psnr(images, outputs, hole_mask=1 - masks)   # PSNR inside the holes

With a hole mask the mean runs over the hole pixels only (all channels of those
pixels).  An image whose hole mask holds no hole pixel has nothing to measure:
its value is ``NaN`` (never a made-up number), so average with ``np.nanmean``.

Edge cases, by design
---------------------
* identical images: ``mse = l1 = 0``, ``psnr = +inf`` (the log of 1/0; no cap
  such as "100 dB" is invented), ``ssim = 1``;
* an empty hole with ``hole_mask``: ``NaN`` for that image (see above).
"""

from __future__ import annotations

import numpy as np

from course_lib import validation


# --------------------------------------------------------------------------- checks
def _as_image_batch(x, name: str) -> np.ndarray:
    """``x`` as a float64 array (N, H, W, C) in [0, 1], or an error saying how to fix it."""
    checked = validation.check_images(x, name=name, channels=None, tolerance=validation.RANGE_TOLERANCE)
    return checked.astype(np.float64)


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both batches checked, same shape, float64."""
    y_true = _as_image_batch(y_true, "y_true")
    y_pred = _as_image_batch(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
            "compare images of the same batch size, size and channels."
        )
    return y_true, y_pred


def _as_hole_weights(hole_mask, image_shape: tuple[int, ...]) -> np.ndarray:
    """``hole_mask`` (1 = hole) as float64 (N, H, W, 1), checked against the images' shape."""
    holes = np.asarray(hole_mask)
    if holes.ndim == 3:
        holes = holes[..., None]
    n, h, w, _ = image_shape
    if holes.shape != (n, h, w, 1):
        raise ValueError(
            f"hole_mask has shape {np.shape(hole_mask)}; expected ({n}, {h}, {w}, 1) or "
            f"({n}, {h}, {w}) to match images of shape {image_shape}."
        )
    holes = holes.astype(np.float64)
    if not np.all((holes == 0) | (holes == 1)):
        raise ValueError(
            "hole_mask must hold only 0 (known pixel) and 1 (hole pixel). "
            "Binarise it first, e.g. (hole_mask > 0.5)."
        )
    return holes


# --------------------------------------------------------------------------- pixel errors
def _mean_per_image(per_value: np.ndarray, hole_mask) -> np.ndarray:
    """Mean of ``per_value`` (N, H, W, C) per image, over all pixels or the hole pixels only.

    An image with no hole pixel gets NaN (0 / 0, computed without a warning).
    """
    if hole_mask is None:
        return per_value.mean(axis=(1, 2, 3))
    holes = _as_hole_weights(hole_mask, per_value.shape)
    n_channels = per_value.shape[-1]
    total = (per_value * holes).sum(axis=(1, 2, 3))
    count = holes.sum(axis=(1, 2, 3)) * n_channels
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


def mse(y_true, y_pred, hole_mask=None) -> np.ndarray:
    """Mean squared error per image.

    Args:
        y_true, y_pred: float (N, H, W, C) in [0, 1].
        hole_mask: optional (N, H, W, 1) or (N, H, W), **1 = hole** (pass ``1 - masks``).
            When given, the mean runs over the hole pixels only; an image with no
            hole pixel gets NaN.

    Returns:
        float64 (N,).
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    return _mean_per_image((y_pred - y_true) ** 2, hole_mask)


def l1(y_true, y_pred, hole_mask=None) -> np.ndarray:
    """Mean absolute error per image (same arguments and edge cases as :func:`mse`)."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    return _mean_per_image(np.abs(y_pred - y_true), hole_mask)


def psnr(y_true, y_pred, hole_mask=None) -> np.ndarray:
    """Peak signal-to-noise ratio per image, in dB: ``10 * log10(1 / MSE)`` (peak 1.0).

    Same arguments as :func:`mse`.  Identical images (MSE = 0) give ``+inf``;
    an empty hole gives NaN.  Matches ``tf.image.psnr(..., max_val=1.0)`` and
    ``skimage.metrics.peak_signal_noise_ratio(..., data_range=1)`` image by image.

    Returns:
        float64 (N,).
    """
    errors = mse(y_true, y_pred, hole_mask)
    with np.errstate(divide="ignore"):  # MSE = 0 -> +inf, on purpose
        return 10.0 * np.log10(1.0 / errors)


# --------------------------------------------------------------------------- SSIM
#: SSIM's window and constants (Wang et al. 2004; the defaults of ``tf.image.ssim`` and of
#: ``skimage.metrics.structural_similarity(gaussian_weights=True, use_sample_covariance=False)``),
#: for a data range of 1.0.  The NumPy metric here, the Keras loss (:mod:`course_lib.losses`) and
#: the exercise checks all read them from here.
SSIM_WINDOW_SIZE = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
#: The stabilising constants: c1 = (k1 * data range)^2, c2 = (k2 * data range)^2.
SSIM_C1, SSIM_C2 = SSIM_K1 ** 2, SSIM_K2 ** 2


def gaussian_window_1d(filter_size: int = SSIM_WINDOW_SIZE, filter_sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian (filter_size,) whose outer product is SSIM's 2-D window.

    Same window as ``tf.image.ssim`` (MATLAB's ``fspecial('gaussian')``): centred
    on ``(filter_size - 1) / 2``, summing to 1.
    """
    offsets = np.arange(filter_size, dtype=np.float64) - (filter_size - 1) / 2.0
    window = np.exp(-0.5 * (offsets / filter_sigma) ** 2)
    return window / window.sum()


def _valid_blur(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Weighted local means of x (N, H, W, C) with a separable window, 'valid' borders.

    The 2-D Gaussian is the outer product of a 1-D one, so blurring rows then
    columns (2k multiplications per pixel) equals the k x k window (k**2).
    'valid' = only windows lying fully inside the image: the output is
    (N, H - k + 1, W - k + 1, C).
    """
    k = len(window)
    out_h, out_w = x.shape[1] - k + 1, x.shape[2] - k + 1
    rows = sum(weight * x[:, i:i + out_h] for i, weight in enumerate(window))
    return sum(weight * rows[:, :, j:j + out_w] for j, weight in enumerate(window))


def ssim_map(
    y_true, y_pred, filter_size: int = SSIM_WINDOW_SIZE, *, filter_sigma: float = SSIM_SIGMA,
    k1: float = SSIM_K1, k2: float = SSIM_K2,
) -> np.ndarray:
    """Local SSIM at every position where the window fits, averaged over channels.

    For each ``filter_size`` x ``filter_size`` Gaussian-weighted window, with local
    means mu, variances sigma^2 and covariance sigma_xy (population, not sample)::

        SSIM = (2 mu_x mu_y + c1) / (mu_x^2 + mu_y^2 + c1)            luminance
             * (2 sigma_xy + c2) / (sigma_x^2 + sigma_y^2 + c2)        contrast-structure

    with ``c1 = (k1 * 1.0)^2``, ``c2 = (k2 * 1.0)^2`` (data range 1.0).  Only
    windows lying fully inside the image count ('valid'), so a 32 x 32 image gives
    a 22 x 22 map with the default 11 x 11 window: the outer 5 pixels of each border
    are never a window's centre and weigh less in the score.

    Args:
        y_true, y_pred: float (N, H, W, C) in [0, 1], H and W >= filter_size.
        filter_size: side of the Gaussian window (default 11, as ``tf.image.ssim``).
        filter_sigma, k1, k2: ``tf.image.ssim``'s defaults.

    Returns:
        float64 (N, H - filter_size + 1, W - filter_size + 1), values in [-1, 1].
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    height, width = y_true.shape[1:3]
    if not 1 <= filter_size <= min(height, width):
        raise ValueError(
            f"filter_size={filter_size} does not fit images of {height} x {width}; "
            f"choose 1 <= filter_size <= {min(height, width)}."
        )
    window = gaussian_window_1d(filter_size, filter_sigma)
    c1, c2 = k1 ** 2, k2 ** 2

    mu_x, mu_y = _valid_blur(y_true, window), _valid_blur(y_pred, window)
    var_x = _valid_blur(y_true ** 2, window) - mu_x ** 2
    var_y = _valid_blur(y_pred ** 2, window) - mu_y ** 2
    cov_xy = _valid_blur(y_true * y_pred, window) - mu_x * mu_y

    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    contrast_structure = (2 * cov_xy + c2) / (var_x + var_y + c2)
    return (luminance * contrast_structure).mean(axis=-1)


def ssim(
    y_true, y_pred, filter_size: int = SSIM_WINDOW_SIZE, *, filter_sigma: float = SSIM_SIGMA,
    k1: float = SSIM_K1, k2: float = SSIM_K2,
) -> np.ndarray:
    """Structural similarity per image: the mean of :func:`ssim_map`.

    Same definition and defaults as ``tf.image.ssim(..., max_val=1.0)`` (11 x 11
    Gaussian window, sigma 1.5, k1 = 0.01, k2 = 0.03, 'valid' windows, mean over
    the map and the channels).  1 for identical images.

    Returns:
        float64 (N,), values in [-1, 1].
    """
    local = ssim_map(y_true, y_pred, filter_size, filter_sigma=filter_sigma, k1=k1, k2=k2)
    return local.mean(axis=(1, 2))


# --------------------------------------------------------------------------- a pitfall
def pixelwise_psnr(y_true, y_pred, *, max_val: float = 1.0, eps: float = 1e-10) -> np.ndarray:
    """PITFALL, kept for teaching: PSNR computed pixel by pixel, then averaged.  Do not report it.

    What it computes, per image::

        err2[p]  = mean over channels of (y_pred - y_true)^2 at pixel p
        result   = mean over pixels p of 10 * log10(max_val^2 / max(err2[p], eps))

    This is what you get from a Keras metric written as
    ``10 * log10(max_val**2 / keras.losses.mean_squared_error(y_true, y_pred))``:
    ``mean_squared_error`` only averages the last (channel) axis, so the log is
    taken pixel by pixel and Keras averages the logs afterwards.

    Why it is wrong
        PSNR is the log of a *mean*: ``10 log10(1 / mean(err2))``.  This is the
        mean of the *logs*.  The log is concave, so by Jensen's inequality
        ``mean(log(1/err2)) >= log(1/mean(err2))``: the per-pixel average is never
        below the true PSNR (short of the ``eps`` clip), and is far above it as
        soon as errors are uneven.  The log rewards near-zero errors without
        bound: a pixel with error 1e-5 counts as 100 dB, while a pixel off by 0.5
        still counts as +6 dB.  The average is carried by the best pixels, where
        the true PSNR (a mean of squares) is carried by the worst ones.  An
        inpainting output whose known pixels are copied from the input has
        error exactly 0 on most pixels, where 1 / 0 is infinite: ``eps`` clips each
        such term to ``10 log10(max_val^2 / eps)`` (100 dB with the defaults), so
        the result is mostly the choice of ``eps``, not the quality of the
        reconstruction.  A number that moves with an arbitrary constant measures
        nothing.

    Notebook 03 measures what it gives, and how a peak of 255 on data in [0, 1] (``max_val=255``,
    which adds ``20 log10(255) = 48.13`` dB to any PSNR) can produce a figure like the source's
    "78 dB".

    Args:
        y_true, y_pred: float (N, H, W, C) in [0, 1].
        max_val: the peak value used in the formula (the right one is 1.0).
        eps: lower clip on each pixel's squared error, so that exact pixels give
            a finite ``10 log10(max_val^2 / eps)`` instead of infinity.

    Returns:
        float64 (N,), in dB.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    if eps <= 0:
        raise ValueError(f"eps={eps} must be > 0: pixels with zero error would give +inf.")
    squared_error_per_pixel = ((y_pred - y_true) ** 2).mean(axis=-1)
    per_pixel_db = 10.0 * np.log10(max_val ** 2 / np.maximum(squared_error_per_pixel, eps))
    return per_pixel_db.mean(axis=(1, 2))
