"""The PConv U-Net's partial-convolution layer shapes, their masks and the *floor* layer: shared by
``bench_pconv.py`` (TensorFlow) and ``bench_jax.py --layers`` (JAX).  Backend-agnostic: Keras and
NumPy only."""

from __future__ import annotations

import statistics

import numpy as np

import keras
from course_lib.layers import PConv2D
from course_lib.models import build_pconv_unet


def pconv_layer_specs():
    """(name, (H, W, C_in), mask channels, filters, strides, input_holes_are_zero) of every
    PConv2D in the U-Net."""
    model = build_pconv_unet()
    specs = []
    for layer in model.layers:
        if isinstance(layer, PConv2D):
            features, mask = layer.input
            specs.append((layer.name, tuple(features.shape[1:]), mask.shape[-1],
                          layer.filters, layer.strides, layer.input_holes_are_zero))
    return specs


def random_mask(rng, batch, height, width, channels):
    """Binary float32 mask (batch, H, W, channels) with ~30% holes in blobs, plus one
    all-hole image so that some windows see no valid pixel."""
    coarse = rng.random((batch, max(height // 4, 1), max(width // 4, 1), 1)) > 0.3
    mask = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)[:, :height, :width]
    mask = np.pad(mask, ((0, 0), (0, height - mask.shape[1]), (0, width - mask.shape[2]), (0, 0)))
    mask[0] = False
    return np.repeat(mask, channels, axis=-1).astype("float32")


class ConvTimesRatio(keras.layers.Layer):
    """The floor: ``Conv2D(use_bias=False)(x) * ratio`` with ``ratio`` (N, H', W', 1) float32 fixed.

    The least any exact partial convolution made of separate ops adds to a plain
    convolution: the multiplication by sum(1)/sum(M) (one pass over the output forward, one
    over its gradient backward), with the mask path, the bias and the zeroed holes free.
    """

    def __init__(self, ratio, **conv_kwargs):
        super().__init__()
        self.conv = keras.layers.Conv2D(use_bias=False, **conv_kwargs)
        self.ratio = ratio

    @property
    def kernel(self):
        return self.conv.kernel

    def call(self, x):
        return self.conv(x) * self.ratio


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values))))


def spread_over_rounds(samples_per_layer, key):
    """The geometric mean over the layers of ``key`` / conv, computed round by round (each
    round times every kind of layer close together in time): (median, lower quartile, upper
    quartile) of those per-round means, which says how far run-to-run noise moves the figure."""
    rounds = len(samples_per_layer[0]["conv"])
    means = sorted(geometric_mean([s[key][r] / s["conv"][r] for s in samples_per_layer]) for r in range(rounds))
    lower, _, upper = statistics.quantiles(means, n=4) if rounds > 1 else (means[0],) * 3
    return statistics.median(means), lower, upper
