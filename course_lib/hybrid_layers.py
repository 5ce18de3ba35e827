"""The two layers that make the ``"improved"`` network a *hybrid* of diffusion and learning.

* :class:`DiffusionFill` -- the course's diffusion inpainting (notebook 01,
  :func:`course_lib.classical.inpaint_diffusion`) as a Keras layer without weights: it fills
  each hole with the smooth (harmonic) surface that meets the known pixels.
* :class:`CorrectFill` -- adds the network's learned correction to that fill and pastes the
  known pixels back.

So the network does not have to learn to copy colours across a hole, which a small CNN does
poorly (its receptive field is small and its training short); it only learns what diffusion gets
wrong -- edges, texture, the colour of an object that the border hints at.

Both are written with ``keras.ops`` only (any Keras backend).  Mask convention: float,
**1 = valid pixel, 0 = hole**.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

from course_lib.fill_common import ALL_HOLE_FILL  # an image with no known pixel becomes this grey

__all__ = ["CorrectFill", "DiffusionFill"]

# The 4-neighbour stencil: each pixel's new value is the mean of its up, down, left and right
# neighbours (a Jacobi step of Laplace's equation, the heat equation's step at dt = 1/4).
_NEIGHBOURS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype="float32")


def _neighbour_mean(u, kernel, neighbour_count):
    """Mean of each pixel's 4 neighbours inside the image.  ``u``: (N, H, W, C) float32,
    ``kernel``: :data:`_NEIGHBOURS` as a depthwise kernel (3, 3, C, 1).

    Beyond the frame there is no neighbour: a border pixel averages its 3 (a corner its 2).
    That has the same steady state as the replicated-edge (Neumann) border of
    :func:`course_lib.classical.diffusion_step`: ``u = (u + a + b + c) / 4`` <=> ``u = (a + b + c) / 3``.
    """
    return ops.depthwise_conv(u, kernel, strides=1, padding="same") / neighbour_count


def _neighbour_count(height, width):
    """(1, H, W, 1) float32: how many of the 4 neighbours of each pixel lie inside the image."""
    count = np.full((height, width), 4.0, dtype="float32")
    count[0, :] -= 1
    count[-1, :] -= 1
    count[:, 0] -= 1
    count[:, -1] -= 1
    return count[None, :, :, None]


@keras.saving.register_keras_serializable(package="course_lib")
class DiffusionFill(keras.layers.Layer):
    """Harmonic (diffusion) inpainting, coarse to fine, as a layer without weights.

    Called on ``[image, mask]``: ``image`` (N, H, W, C) float, its hole values are never read
    (they may be anything, NaN included); ``mask`` (N, H, W, 1), 1 = valid, 0 = hole.
    Returns (N, H, W, C) float32: the known pixels unchanged, each hole pixel close to the
    steady state of the heat equation (the mean of its 4 neighbours).  An image without any
    known pixel becomes 0.5 grey.  No gradient flows through it (it has nothing to learn).

    Why coarse to fine: plain Jacobi steps move colour one pixel per step, so a hole w pixels
    wide needs on the order of w**2 steps (notebook 01 runs up to 2,000).  Here the image is
    first averaged down a pyramid -- each coarser pixel is the mean of the *known* pixels
    below it -- to 1x1; then, from the coarsest level up, the holes start from the enlarged
    coarser solution and ``steps_per_level`` Jacobi steps smooth it at that level.  Each level
    only has to fix errors a few of its pixels wide, so about 100 steps in all replace
    thousands (a multigrid idea).

    Args:
        steps_per_level: Jacobi steps at each pyramid level.
    """

    def __init__(self, steps_per_level=16, **kwargs):
        super().__init__(**kwargs)
        self.steps_per_level = int(steps_per_level)
        if self.steps_per_level < 0:
            raise ValueError(f"steps_per_level must be >= 0, got {steps_per_level!r}.")

    def call(self, inputs):
        image, mask = inputs
        mask = ops.cast(ops.stop_gradient(mask), "float32")
        known = ops.where(mask > 0.5, ops.cast(ops.stop_gradient(image), "float32"), 0.0)

        # Pull: per level, the mean known colour of each cell and the share of known pixels.
        values, weights = [known], [mask]
        while values[-1].shape[1] % 2 == 0 and values[-1].shape[2] % 2 == 0 \
                and min(values[-1].shape[1:3]) > 1:
            values.append(ops.average_pool(values[-1], 2, strides=2, padding="valid"))
            weights.append(ops.average_pool(weights[-1], 2, strides=2, padding="valid"))

        # Push: from the coarsest level to the finest, start the holes from the coarser
        # solution, keep the cells that hold known pixels fixed, and smooth the rest.
        kernel = np.tile(_NEIGHBOURS[:, :, None, None], (1, 1, known.shape[-1], 1))
        filled = None
        for value, weight in zip(reversed(values), reversed(weights)):
            has_known = weight > 0
            colour = ops.divide_no_nan(value, weight)
            if filled is None:
                start = ops.full_like(colour, ALL_HOLE_FILL)
            else:
                start = ops.repeat(ops.repeat(filled, 2, axis=1), 2, axis=2)
            filled = ops.where(has_known, colour, start)
            if value.shape[1] * value.shape[2] == 1:
                continue  # a single pixel has no neighbours to average
            count = _neighbour_count(value.shape[1], value.shape[2])
            for _ in range(self.steps_per_level):
                filled = ops.where(has_known, colour, _neighbour_mean(filled, kernel, count))
        return ops.stop_gradient(filled)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "steps_per_level": self.steps_per_level}


@keras.saving.register_keras_serializable(package="course_lib")
class CorrectFill(keras.layers.Layer):
    """The hybrid's output: the diffusion fill plus a learned correction, known pixels pasted back.

    Called on ``[fill, correction, image, mask]``, all (N, H, W, ·) with ``fill`` and ``image``
    in [0, 1], ``correction`` any real numbers (the network's last layer), ``mask`` 1 = valid.
    Returns (N, H, W, 3) float32 in [0, 1]::

        hole pixels:  sigmoid(logit(fill) + correction)
        known pixels: image

    The correction acts on the logit so that the result stays inside [0, 1] with a gradient
    everywhere; a correction of 0 returns the fill itself, so a network whose last layer starts
    at zero starts as plain diffusion inpainting and can only learn from there.
    """

    #: fills are kept this far from 0 and 1 so that their logit stays finite.
    EPSILON = 1e-3

    def call(self, inputs):
        fill, correction, image, mask = inputs
        fill = ops.clip(ops.cast(fill, "float32"), self.EPSILON, 1.0 - self.EPSILON)
        logit = ops.log(fill) - ops.log1p(-fill)
        painted = ops.sigmoid(logit + ops.cast(correction, "float32"))
        mask = ops.cast(mask, "float32")
        return ops.where(mask > 0.5, ops.cast(image, "float32"), painted)

    def compute_output_shape(self, input_shape):
        return input_shape[0]
