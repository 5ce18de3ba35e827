"""A training step and an epoch loop written by hand: what ``model.fit`` does for one batch, opened up.

The library's reference of what the student writes in the notebooks (TensorFlow backend)::

    loss = train_step(model, optimizer, loss_fn, inputs, targets)   # one batch: forward, backward, update
    history = train_epochs(model, optimizer, loss_fn, dataset, epochs)  # [mean loss of epoch 1, ...]

Shapes follow :mod:`course_lib.pipeline` and :mod:`course_lib.losses`: ``inputs`` is the network's input,
(N, H, W, 3) float32 in [0, 1] (or a tuple ``(image, mask)`` for a two-input network, mask (N, H, W, 1),
1 = valid, 0 = hole), ``targets`` is ``concat([image, mask], -1)`` (N, H, W, 4) and ``loss_fn(targets,
outputs)`` returns one loss per image, (N,).

:func:`train_step` clips the gradients to a global norm of :data:`CLIP_NORM`, like
``keras.optimizers.SGD(..., global_clipnorm=1.0)``: one step of an unclipped optimizer with a large
gradient can throw a freshly initialised network far away.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np
import tensorflow as tf
from keras import ops

#: The largest global norm of all gradients together that :func:`train_step` lets through.
CLIP_NORM = 1.0


def train_step(model, optimizer, loss_fn, inputs, targets, *, clip_norm=CLIP_NORM):
    """One step of gradient descent on one batch; returns the batch's mean loss before the update.

    Args:
        model: a Keras model; ``model(inputs, training=True)`` -> (N, H, W, 3).
        optimizer: a Keras optimizer (``keras.optimizers.Adam(...)``, ``SGD(...)``), applied with
            ``optimizer.apply(gradients, model.trainable_variables)``.
        loss_fn: ``loss_fn(targets, outputs) -> (N,)``, one loss per image.
        inputs: (N, H, W, 3) float32 in [0, 1], or a tuple ``(image, mask)`` for a two-input model.
        targets: (N, H, W, 4) float32, ``concat([image, mask], -1)``, mask 1 = valid, 0 = hole.
        clip_norm: the gradients of all trainable variables are scaled down together so that their
            global norm sqrt(sum of all squared gradient values) is at most ``clip_norm``.

    Returns:
        float32 scalar tensor: the mean over the batch of ``loss_fn`` (what ``model.fit`` logs), computed
        by the forward pass, that is before the weights change.
    """
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        loss = ops.mean(ops.cast(loss_fn(targets, outputs), "float32"))
    gradients = tape.gradient(loss, model.trainable_variables)
    gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
    optimizer.apply(gradients, model.trainable_variables)
    return loss


def train_epochs(model, optimizer, loss_fn, dataset: Iterable, epochs: int, *,
                 step: Callable = train_step) -> list[float]:
    """Train for ``epochs`` passes over ``dataset``, one ``step`` per batch; returns the mean loss of each epoch.

    Args:
        model, optimizer, loss_fn: as for :func:`train_step`.
        dataset: an iterable of ``(inputs, targets)`` batches that can be iterated once per epoch, e.g. a
            ``tf.data.Dataset`` (inputs (N, H, W, 3) or ``(image, mask)``, targets (N, H, W, 4)).
        epochs: the number of passes over ``dataset``.
        step: ``step(model, optimizer, loss_fn, inputs, targets) -> loss``, :func:`train_step` by default
            (a notebook passes the student's own step).

    Returns:
        A list of ``epochs`` floats: each epoch's mean of the batch losses that ``step`` returned.
        Prints one line per epoch, e.g. ``epoch 1/3: loss 0.1234 (12.3 s)``.
    """
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        batch_losses = [float(step(model, optimizer, loss_fn, inputs, targets)) for inputs, targets in dataset]
        if not batch_losses:
            raise ValueError("the dataset yielded no batches: a generator is used up after one pass, "
                             "pass something that can be iterated once per epoch (a tf.data.Dataset, a list)")
        history.append(float(np.mean(batch_losses)))
        print(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f} ({time.perf_counter() - start:.1f} s)")
    return history
