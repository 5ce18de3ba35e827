"""Measures beyond PSNR: is a fill as sharp as the truth, does it keep what the picture shows,
and do the fills, as a set, look like real pictures?

PSNR, SSIM and L1 compare a fill with the truth pixel by pixel; a pixel loss is minimised by the
*average* of the fills that could be right, and an average is blurry.  Three other measures:

``sharpness`` (:func:`sharpness`), per image
    The gradient energy of the composite in the hole (dilated by one pixel, so that the seam
    counts), divided by the truth's in the same pixels.  1 = as much detail as the truth,
    below 1 = blurrier, above 1 = more edges than the truth (noise, seams).  The gradient energy
    of a pixel is ``(x[i, j+1] - x[i, j])**2 + (x[i+1, j] - x[i, j])**2`` summed over the colour
    channels (0 where the neighbour is outside the image).
``class kept`` (:func:`course_lib.classifier.accuracy`)
    The course's CIFAR-10 classifier (:mod:`course_lib.classifier`) on the inpainted images:
    its accuracy next to its accuracy on the clean ones.
``feature distance`` (:func:`frechet_distance`), per set of images
    The Fréchet distance between Gaussians fitted to the classifier's penultimate-layer
    features of the inpainted and of real images.  This is the idea of FID (Heusel et al.
    2017), computed with the course's own small feature network instead of Inception v3
    (whose weights cannot be downloaded in every classroom): its values are **not FID** and
    cannot be compared with published FIDs.  It is biased upwards for small sets, so it is only
    compared between methods on the same images, next to the distance between two sets of real
    test images (the value a perfect method would get).

:mod:`course_lib.perception_study` scores every method of the course with them.

Images: float32 in [0, 1], (N, H, W, 3); masks (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

import numpy as np

from course_lib import validation

#: Bootstrap resamples for the interval of a difference of feature distances.
BOOTSTRAP = 200


def gradient_energy(images):
    """Per-pixel gradient energy, (N, H, W): squared forward differences in x and y, summed
    over channels; a difference across the image border is 0."""
    images = np.asarray(images, dtype=np.float64)
    energy = np.zeros(images.shape[:3])
    energy[:, :, :-1] += np.sum((images[:, :, 1:] - images[:, :, :-1]) ** 2, axis=-1)
    energy[:, :-1, :] += np.sum((images[:, 1:, :] - images[:, :-1, :]) ** 2, axis=-1)
    return energy


def hole_region(masks):
    """The hole dilated by one pixel (3 x 3 square), (N, H, W) bool; masks 1 = valid, 0 = hole."""
    holes = np.asarray(masks)[..., 0] < 0.5
    padded = np.pad(holes, ((0, 0), (1, 1), (1, 1)))
    height, width = holes.shape[1:]
    region = np.zeros_like(holes)
    for dy in range(3):
        for dx in range(3):
            region |= padded[:, dy:dy + height, dx:dx + width]
    return region


def sharpness(images, outputs, masks):
    """Gradient energy of the composite over the truth's, in the dilated hole: (N,) float64.

    Args:
        images: the truth, (N, H, W, 3) float in [0, 1].
        outputs: a method's output, (N, H, W, 3) float in [0, 1] (the known pixels are pasted
            back from ``images`` first).
        masks: (N, H, W, 1), 1 = valid, 0 = hole.

    Returns:
        One ratio per image; NaN where the image has no hole or the truth is flat there.
    """
    images = validation.check_images(images)
    outputs = validation.check_images(outputs)
    masks = validation.check_masks(masks, images=images)
    if outputs.shape != images.shape:
        raise ValueError(f"outputs {outputs.shape} and images {images.shape} differ in shape; "
                         "pass a method's outputs for these images.")
    composite = images * masks + outputs * (1.0 - masks)
    region = hole_region(masks)
    fill = np.sum(gradient_energy(composite) * region, axis=(1, 2))
    truth = np.sum(gradient_energy(images) * region, axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(truth > 0, fill / np.where(truth > 0, truth, 1.0), np.nan)


def gaussian_fit(features):
    """Mean (D,) and covariance (D, D) (ddof=1) of (N, D) features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {features.shape}.")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_root(matrix):
    """The square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to two sets of features, a float >= 0.

    ``|mu_a - mu_b|**2 + trace(S_a + S_b - 2 (S_a S_b)**(1/2))`` (Dowson & Landau 1982), the
    squared 2-Wasserstein distance between the two Gaussians.  The trace of ``(S_a S_b)**(1/2)``
    is computed as that of the symmetric ``(S_a**(1/2) S_b S_a**(1/2))**(1/2)`` (the two matrices
    have the same eigenvalues): two symmetric eigendecompositions, stable even when a covariance
    is singular (fewer images than features).

    Args:
        features_a, features_b: (N_a, D) and (N_b, D) feature vectors (one row per image).
    """
    mean_a, cov_a = gaussian_fit(features_a)
    mean_b, cov_b = gaussian_fit(features_b)
    if mean_a.shape != mean_b.shape:
        raise ValueError(f"features of different lengths: {mean_a.shape[0]} and {mean_b.shape[0]}.")
    root_a = _symmetric_root(cov_a)
    cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
    value = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross
    return float(max(value, 0.0))


def frechet_difference(features_a, features_b, real_features, *, resamples=BOOTSTRAP, seed=0):
    """How much closer to ``real_features`` set A is than set B, with a paired bootstrap interval.

    A and B are features of two methods' fills of the *same* images (row i = image i);
    ``real_features`` are those of other real images.  Each resample draws the image indices
    with replacement, the same for A and B.

    Returns:
        ``{"difference": FD(A) - FD(B), "low": ..., "high": ...}`` (2.5th and 97.5th
        percentiles of the resampled differences).
    """
    features_a, features_b = np.asarray(features_a), np.asarray(features_b)
    if features_a.shape != features_b.shape:
        raise ValueError("features_a and features_b must describe the same images (same shape).")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        rows = rng.integers(0, len(features_a), len(features_a))
        draws.append(frechet_distance(features_a[rows], real_features)
                     - frechet_distance(features_b[rows], real_features))
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"difference": frechet_distance(features_a, real_features)
            - frechet_distance(features_b, real_features), "low": float(low), "high": float(high)}
