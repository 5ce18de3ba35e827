"""The ``tf.data`` input pipeline: images + fresh masks -> (model inputs, targets), batched.

One training example is built from a clean image and a mask (float32, 1 = valid, 0 = hole)::

    inputs = models.prepare_inputs(model_name, image, mask)
             "vanilla": masked image (B,H,W,3);  "pconv": (masked image (B,H,W,3), mask (B,H,W,1))
    y_true = concat([image, mask], -1)           (B,H,W,4), so mask-aware losses see the mask

Training data (:func:`make_dataset`) gets **new masks every epoch**: a network that saw the same
hole on the same image twenty times could learn the pair by heart.  Everything random is drawn
from ``(seed, epoch)``, so a run is reproducible and epoch ``e`` always sees the same masks and
order, whether the run was interrupted before it or not.  Validation data
(:func:`make_validation_dataset`) has **fixed** masks, so validation losses of different epochs
(and of different runs with the same seed) are comparable.

Why the pipeline does not slow training down: masks are drawn a chunk of ``MASK_CHUNK`` at a
time, each chunk from its own seed ``(seed, epoch, chunk)``, and ``prefetch`` prepares the next
batches while the model trains on the current one.  On a CPU one thread draws them (tens of
thousands of masks a second, far more than a CPU trains on).  A fast GPU trains faster than that, so
with ``mask_workers > 0`` the chunks are drawn ahead by a pool of worker processes (the drawing
is Python and OpenCV calls that hold the GIL, so threads would not help); since each chunk has
its own seed, the masks are exactly those of the serial pipeline.
``benchmarks/bench_input.py`` measures masks/s and batches/s against training steps/s.
"""

from __future__ import annotations

import atexit
import collections
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import tensorflow as tf

import keras

from course_lib import masks as masks_lib
from course_lib import models, names, validation

#: How many masks are drawn per call to :func:`course_lib.masks.make_masks` (rounded up to
#: whole batches): big enough to vectorise, small enough to overlap with training.
MASK_CHUNK = 1024

# Tags mixed into np.random.SeedSequence so that the streams never coincide.
_SHUFFLE_STREAM, _MASK_STREAM, _VALIDATION_STREAM = 0, 1, 2


def derived_seed(seed, *keys):
    """A 32-bit seed that depends on ``seed`` and the integers ``keys`` (e.g. epoch, chunk).

    ``np.random.SeedSequence`` mixes its entropy so that nearby inputs (epoch 3 and epoch 4)
    give unrelated streams -- unlike ``seed + epoch``, which would let runs with seeds 0 and 1
    share masks one epoch apart.
    """
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


class EpochCounter:
    """Which epoch the next pass over a training dataset is.

    Each pass over the dataset (each new iterator) reads the counter and advances it, so both
    ``for epoch in range(3): for batch in dataset: ...`` and ``model.fit(dataset, epochs=3)``
    see epochs 0, 1, 2.  :meth:`callback` returns a Keras callback that sets the counter from
    ``fit``'s own epoch number at the start of every epoch: a run resumed at epoch 7 then draws
    the masks of epoch 7, not those of epoch 0.
    """

    def __init__(self, first_epoch=0):
        self.next_epoch = int(first_epoch)

    def start_pass(self):
        """The epoch of a pass that starts now (and move on to the next)."""
        epoch = self.next_epoch
        self.next_epoch += 1
        return epoch

    def callback(self):
        """A Keras callback keeping this counter equal to ``fit``'s epoch number."""
        return FollowFitEpochs(self)


class FollowFitEpochs(keras.callbacks.Callback):
    """Sets an :class:`EpochCounter` to ``fit``'s epoch number when each epoch begins.

    ``fit`` asks for the epoch's first batch only after ``on_epoch_begin``, so the pass that
    starts then reads the right epoch.
    """

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_epoch_begin(self, epoch, logs=None):
        self.counter.next_epoch = epoch


# ----------------------------------------------------------------------------- checks ----


def _check_images(images):
    """uint8 (N,H,H,3) or float (N,H,H,3) in [0, 1] -> the same array (float as float32)."""
    return validation.check_images(images, square=True, uint8="keep")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_settings(model_name, mask_family, batch_size, seed):
    names.check_model_name(model_name)
    masks_lib.check_family(mask_family)
    validation.check_positive_int("batch_size", batch_size, example=32)
    validation.check_seed(seed)


# ------------------------------------------------------------------------- one example ----


def to_model_io(model_name, images, masks):
    """Turn a batch of clean images and masks into ``(inputs, y_true)`` for ``model.fit``.

    Args:
        model_name: one of :data:`course_lib.names.MODEL_NAMES` (``"vanilla"``, ``"pconv"``, ``"improved"``).
        images: (B, H, W, 3) uint8 (0..255) or float32 in [0, 1] tensor.
        masks: (B, H, W, 1) float32 tensor, 1 = valid, 0 = hole.

    Returns:
        ``inputs``: what :func:`course_lib.models.prepare_inputs` gives (a tuple for "pconv");
        ``y_true``: (B, H, W, 4) float32 ``concat([image, mask], -1)``.
    """
    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    masks = tf.cast(masks, tf.float32)
    inputs = models.prepare_inputs(model_name, images, masks)
    if isinstance(inputs, list):
        inputs = tuple(inputs)  # tf.data would try to stack a list into one tensor
    return inputs, tf.concat([images, masks], axis=-1)


# --------------------------------------------------------------------------- training ----


def default_mask_workers(gpu_count):
    """How many mask worker processes :func:`course_lib.train.train` uses by default.

    0 on a CPU-only machine (the model, not the masks, is the bottleneck, and workers would
    take cores from it); with GPUs, all cores but two (one feeds the GPU, one runs ``tf.data``),
    at most 8 and at least 1.
    """
    if not gpu_count:
        return 0
    return max(1, min(8, (os.cpu_count() or 1) - 2))


_POOLS = {}


def _mask_pool(workers):
    """A process pool of ``workers`` processes, started once and shut down at exit.

    ``spawn``, not ``fork``: forking a process that runs TensorFlow's threads can deadlock; a
    spawned worker imports only :mod:`course_lib.masks` (NumPy and OpenCV, no TensorFlow).
    """
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_POOLS[workers].shutdown, cancel_futures=True)
    return _POOLS[workers]


def _check_mask_workers(mask_workers):
    if not _is_int(mask_workers) or mask_workers < 0:
        raise ValueError(f"mask_workers must be an int >= 0, got {mask_workers!r}; 0 draws masks "
                         "in tf.data's thread, e.g. 4 in four worker processes.")


def _mask_chunks(mask_family, sizes, size, seeds, workers):
    """Yield ``make_masks(mask_family, n, size, seed)`` for each ``(n, seed)``, in order.

    With ``workers > 0`` up to ``2 * workers`` chunks are drawn ahead in worker processes.
    """
    if workers == 0:
        for n, seed in zip(sizes, seeds):
            yield masks_lib.make_masks(mask_family, n, size=size, seed=seed)
        return
    pool, pending = _mask_pool(workers), collections.deque()
    jobs = iter(zip(sizes, seeds))
    try:
        while True:
            while len(pending) < 2 * workers:
                job = next(jobs, None)
                if job is None:
                    break
                pending.append(pool.submit(masks_lib.make_masks, mask_family, job[0], size, job[1]))
            if not pending:
                return
            yield pending.popleft().result()
    finally:  # a pass stopped early: drop what was drawn ahead for it
        for future in pending:
            future.cancel()


def epoch_batches(images, *, batch_size, mask_family, seed, epoch, shuffle=True,
                  drop_remainder=True, mask_workers=0):
    """Yield one epoch of ``(images, masks)`` NumPy batches (images as stored, masks float32).

    The order (a permutation if ``shuffle``) and the masks depend only on ``(seed, epoch)``.
    Masks are drawn ``MASK_CHUNK`` at a time, chunk ``k`` from ``derived_seed(seed, epoch, k)``,
    in ``mask_workers`` worker processes (0: here); the batches are the same either way.
    """
    _check_mask_workers(mask_workers)
    n, size = len(images), images.shape[1]
    if shuffle:
        order = np.random.default_rng(derived_seed(seed, _SHUFFLE_STREAM, epoch)).permutation(n)
    else:
        order = np.arange(n)
    n_used = (n // batch_size) * batch_size if drop_remainder else n
    chunk = max(1, -(-MASK_CHUNK // batch_size)) * batch_size  # whole batches per chunk
    starts = range(0, n_used, chunk)
    sizes = [min(start + chunk, n_used) - start for start in starts]
    seeds = [derived_seed(seed, _MASK_STREAM, epoch, k) for k in range(len(starts))]
    chunks = _mask_chunks(mask_family, sizes, size, seeds, mask_workers)
    for start, chunk_masks in zip(starts, chunks):
        indices = order[start:start + len(chunk_masks)]
        chunk_masks = chunk_masks.astype(np.float32, copy=False)
        for b in range(0, len(indices), batch_size):
            yield images[indices[b:b + batch_size]], chunk_masks[b:b + batch_size]


def make_dataset(
    model_name,
    images,
    *,
    batch_size,
    masks="strokes",
    seed=0,
    shuffle=True,
    drop_remainder=True,
    epoch_counter=None,
    mask_workers=0,
):
    """A training dataset with fresh masks every epoch, batched and prefetched.

    Args:
        model_name: one of :data:`course_lib.names.MODEL_NAMES` (decides the inputs, see module docstring).
        images: (N, H, H, 3) uint8 (0..255) or float in [0, 1].  Kept in memory as given;
            converted to float32 batch by batch.
        batch_size: images per batch.
        masks: a mask family of :data:`course_lib.masks.MASK_FAMILIES` (``"strokes"``,
            ``"irregular"``, ``"boxes"``).
        seed: non-negative int; the same seed gives the same batches, epoch by epoch.
        shuffle: draw a new order every epoch (from ``(seed, epoch)``).
        drop_remainder: skip the last incomplete batch, so every step has the same shape.
        epoch_counter: an :class:`EpochCounter`; by default a new one starting at epoch 0.
            Pass your own to start elsewhere or to keep it in step with ``fit`` (its
            ``callback()``), as :func:`course_lib.train.train` does.
        mask_workers: draw the masks in this many worker processes, ahead of training (0: in
            ``tf.data``'s thread).  The same batches either way; for a fast GPU.

    Returns:
        ``tf.data.Dataset`` of ``(inputs, y_true)`` with ``y_true`` (B, H, W, 4) float32, and
        known length (``len(dataset)`` = batches per epoch).
    """
    _check_settings(model_name, masks, batch_size, seed)
    _check_mask_workers(mask_workers)
    images = _check_images(images)
    n_batches = len(images) // batch_size if drop_remainder else -(-len(images) // batch_size)
    if n_batches == 0:
        raise ValueError(
            f"{len(images)} images make no full batch of {batch_size}; "
            "pass more images or a smaller batch_size."
        )
    counter = epoch_counter if epoch_counter is not None else EpochCounter()

    def one_epoch():
        # Runs when a pass starts (the first batch is requested), on tf.data's thread.
        yield from epoch_batches(
            images, batch_size=batch_size, mask_family=masks, seed=seed,
            epoch=counter.start_pass(), shuffle=shuffle, drop_remainder=drop_remainder,
            mask_workers=mask_workers,
        )

    size = images.shape[1]
    batch_dim = batch_size if drop_remainder else None
    dataset = tf.data.Dataset.from_generator(
        one_epoch,
        output_signature=(
            tf.TensorSpec((batch_dim, size, size, 3), tf.as_dtype(images.dtype)),
            tf.TensorSpec((batch_dim, size, size, 1), tf.float32),
        ),
    )
    dataset = dataset.map(
        lambda x, m: to_model_io(model_name, x, m), num_parallel_calls=tf.data.AUTOTUNE
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches))
    # A Python generator cannot be split by file across workers; say so, so that
    # tf.distribute (MirroredStrategy) keeps the batches whole and splits each across devices.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------- validation ----


def validation_masks(n, *, size=32, masks="strokes", seed=0):
    """The fixed validation masks: float32 (n, size, size, 1), the same for the same seed."""
    return masks_lib.make_masks(masks, n, size=size, seed=derived_seed(seed, _VALIDATION_STREAM))


def make_validation_dataset(model_name, images, *, batch_size, masks="strokes", seed=0):
    """A validation dataset: the same masks and order every pass, the last batch kept.

    Arguments as in :func:`make_dataset`.  The masks are :func:`validation_masks`, drawn once.

    Returns:
        ``tf.data.Dataset`` of ``(inputs, y_true)``, ``ceil(N / batch_size)`` batches.
    """
    _check_settings(model_name, masks, batch_size, seed)
    images = _check_images(images)
    fixed_masks = validation_masks(len(images), size=images.shape[1], masks=masks, seed=seed)
    dataset = tf.data.Dataset.from_tensor_slices((images, fixed_masks.astype(np.float32)))
    dataset = dataset.batch(batch_size).map(
        lambda x, m: to_model_io(model_name, x, m), num_parallel_calls=tf.data.AUTOTUNE
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
