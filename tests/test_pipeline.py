"""The tf.data pipeline: shapes, dtypes, target layout, fresh masks each epoch, reproducibility."""

import numpy as np
import pytest
import tensorflow as tf

from course_lib import masks, models, names, pipeline

N, SIZE, BATCH = 40, 32, 8


@pytest.fixture(scope="module")
def images():
    """uint8 (N, 32, 32, 3) with every image distinct (its index is in pixel (0, 0))."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (N, SIZE, SIZE, 3), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(N)
    return x


def _epoch(dataset):
    """One pass as NumPy: (inputs, y_true) stacked over batches."""
    inputs, targets = [], []
    for x, y in dataset:
        inputs.append([np.asarray(t) for t in x] if isinstance(x, tuple) else [np.asarray(x)])
        targets.append(np.asarray(y))
    stacked = [np.concatenate(parts) for parts in zip(*inputs)]
    return stacked, np.concatenate(targets)


@pytest.mark.parametrize("model_name", names.MODEL_NAMES)
def test_batches_have_the_model_inputs_and_image_plus_mask_targets(images, model_name):
    dataset = pipeline.make_dataset(model_name, images, batch_size=BATCH, seed=1)
    assert len(dataset) == N // BATCH
    inputs, y_true = _epoch(dataset)
    assert y_true.shape == (N, SIZE, SIZE, 4) and y_true.dtype == np.float32
    clean, mask = y_true[..., :3], y_true[..., 3:]
    # the targets' images are the input images (shuffled), as floats in [0, 1]
    order = np.round(clean[:, 0, 0, 0] * 255).astype(int)
    assert sorted(order) == list(range(N))
    np.testing.assert_allclose(clean, images[order] / 255.0, atol=1e-6)
    assert set(np.unique(mask)) == {0.0, 1.0}
    # inputs are what models.prepare_inputs makes of these images and masks
    expected = models.prepare_inputs(model_name, clean, mask)
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    assert len(inputs) == len(expected)
    for got, want in zip(inputs, expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_every_epoch_gets_fresh_masks_and_order(images):
    dataset = pipeline.make_dataset("vanilla", images, batch_size=BATCH, seed=0)
    (_, first), (_, second) = _epoch(dataset), _epoch(dataset)
    assert not np.array_equal(first[..., 3], second[..., 3])
    assert not np.array_equal(first[:, 0, 0, 0], second[:, 0, 0, 0])


def test_the_same_seed_gives_the_same_batches_epoch_by_epoch(images):
    a = pipeline.make_dataset("pconv", images, batch_size=BATCH, seed=3)
    b = pipeline.make_dataset("pconv", images, batch_size=BATCH, seed=3)
    c = pipeline.make_dataset("pconv", images, batch_size=BATCH, seed=4)
    for _ in range(2):
        (_, ya), (_, yb), (_, yc) = _epoch(a), _epoch(b), _epoch(c)
        np.testing.assert_array_equal(ya, yb)
        assert not np.array_equal(ya, yc)


def test_an_epoch_counter_starting_later_replays_that_epoch(images):
    from_start = pipeline.make_dataset("pconv", images, batch_size=BATCH, seed=5)
    _epoch(from_start)
    _, epoch_1 = _epoch(from_start)
    resumed = pipeline.make_dataset(
        "pconv", images, batch_size=BATCH, seed=5, epoch_counter=pipeline.EpochCounter(1)
    )
    np.testing.assert_array_equal(_epoch(resumed)[1], epoch_1)


def test_epoch_counter_callback_follows_fit():
    counter = pipeline.EpochCounter()
    callback = counter.callback()
    callback.on_epoch_begin(7)
    assert counter.start_pass() == 7 and counter.next_epoch == 8


@pytest.mark.parametrize("family", sorted(masks.MASK_FAMILIES))
def test_masks_come_from_the_named_family(images, family):
    dataset = pipeline.make_dataset("vanilla", images, batch_size=BATCH, masks=family, seed=2)
    _, y_true = _epoch(dataset)
    hole_ratio = 1.0 - y_true[..., 3].mean()
    reference = masks.hole_ratio(masks.make_masks(family, 400, seed=9)).mean()
    assert abs(hole_ratio - reference) < 0.1  # same family, same typical hole size


def test_validation_masks_are_fixed_and_all_images_kept(images):
    val = pipeline.make_validation_dataset("pconv", images[:13], batch_size=BATCH, seed=0)
    (_, y_1), (_, y_2) = _epoch(val), _epoch(val)
    assert y_1.shape == (13, SIZE, SIZE, 4)
    np.testing.assert_array_equal(y_1, y_2)
    np.testing.assert_allclose(y_1[..., :3], images[:13] / 255.0, atol=1e-6)  # no shuffling
    again = pipeline.make_validation_dataset("pconv", images[:13], batch_size=BATCH, seed=0)
    np.testing.assert_array_equal(_epoch(again)[1], y_1)


def test_float_images_and_a_partial_last_batch(images):
    floats = images[:10].astype("float32") / 255.0
    dataset = pipeline.make_dataset("vanilla", floats, batch_size=4, drop_remainder=False, shuffle=False)
    (x,), y_true = _epoch(dataset)
    assert len(dataset) == 3 and y_true.shape[0] == 10
    np.testing.assert_allclose(y_true[..., :3], floats, atol=1e-7)


def test_bad_arguments_name_the_fix(images):
    with pytest.raises(ValueError, match="choose one of"):
        pipeline.make_dataset("unet", images, batch_size=8)
    with pytest.raises(ValueError, match="strokes"):
        pipeline.make_dataset("pconv", images, batch_size=8, masks="circles")
    with pytest.raises(ValueError, match="no full batch"):
        pipeline.make_dataset("pconv", images[:4], batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline.make_dataset("pconv", images, batch_size=0)
    with pytest.raises(ValueError, match=r"\(N, H, H, 3\)"):
        pipeline.make_dataset("pconv", images[..., 0], batch_size=8)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pipeline.make_dataset("pconv", images.astype("float32"), batch_size=8)
    with pytest.raises(ValueError, match="seed"):
        pipeline.make_dataset("pconv", images, batch_size=8, seed=-1)
    with_nan = images.astype("float32") / 255.0
    with_nan[0, 0, 0, 0] = np.nan  # NaN slips past min() < 0 or max() > 1
    with pytest.raises(ValueError, match="NaN"):
        pipeline.make_dataset("pconv", with_nan, batch_size=8)


def test_derived_seeds_differ_between_epochs_and_seeds():
    seeds = {pipeline.derived_seed(s, e) for s in range(5) for e in range(5)}
    assert len(seeds) == 25
    assert pipeline.derived_seed(1, 2) == pipeline.derived_seed(1, 2)


def test_dataset_elements_are_float32_tensors(images):
    spec_inputs, spec_y = pipeline.make_dataset("pconv", images, batch_size=BATCH).element_spec
    assert spec_y == tf.TensorSpec((BATCH, SIZE, SIZE, 4), tf.float32)
    assert [s.shape for s in spec_inputs] == [(BATCH, SIZE, SIZE, 3), (BATCH, SIZE, SIZE, 1)]


def _reference_epoch(images, *, batch_size, family, seed, epoch, chunk):
    """The documented recipe, written out: order from (seed, epoch), chunk k's masks from its own seed."""
    order = np.random.default_rng(pipeline.derived_seed(seed, 0, epoch)).permutation(len(images))
    n_used = len(images) // batch_size * batch_size
    picked, drawn = [], []
    for k, start in enumerate(range(0, n_used, chunk)):
        indices = order[start:min(start + chunk, n_used)]
        picked.append(images[indices])
        drawn.append(masks.make_masks(family, len(indices), size=images.shape[1],
                                      seed=pipeline.derived_seed(seed, 1, epoch, k)))
    return np.concatenate(picked), np.concatenate(drawn)


@pytest.mark.parametrize("workers", [0, 2])
def test_mask_workers_draw_exactly_the_serial_masks(images, monkeypatch, workers):
    monkeypatch.setattr(pipeline, "MASK_CHUNK", 16)  # 40 images, batch 8: chunks of 16, 16, 8
    batches = list(pipeline.epoch_batches(images, batch_size=BATCH, mask_family="irregular", seed=5,
                                          epoch=3, mask_workers=workers))
    got_images = np.concatenate([b[0] for b in batches])
    got_masks = np.concatenate([b[1] for b in batches])
    want_images, want_masks = _reference_epoch(images, batch_size=BATCH, family="irregular", seed=5,
                                               epoch=3, chunk=16)
    np.testing.assert_array_equal(got_images, want_images)
    np.testing.assert_array_equal(got_masks, want_masks)
    assert got_masks.dtype == np.float32


def test_a_dataset_with_mask_workers_gives_the_same_batches(images):
    serial = pipeline.make_dataset("pconv", images, batch_size=BATCH, masks="mixed", seed=2)
    parallel = pipeline.make_dataset("pconv", images, batch_size=BATCH, masks="mixed", seed=2,
                                     mask_workers=2)
    for _ in range(2):  # two epochs: fresh masks each, the same in both
        (x_s, y_s), (x_p, y_p) = _epoch(serial), _epoch(parallel)
        np.testing.assert_array_equal(y_s, y_p)
        for a, b in zip(x_s, x_p):
            np.testing.assert_array_equal(a, b)


def test_mask_workers_must_be_a_count(images):
    with pytest.raises(ValueError, match="mask_workers must be an int >= 0"):
        pipeline.make_dataset("pconv", images, batch_size=BATCH, mask_workers=-1)
    with pytest.raises(ValueError, match="mask_workers"):
        pipeline.make_dataset("pconv", images, batch_size=BATCH, mask_workers=1.5)


def test_default_mask_workers_only_with_a_gpu(monkeypatch):
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 16)
    assert pipeline.default_mask_workers(0) == 0
    assert pipeline.default_mask_workers(1) == 8
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    assert pipeline.default_mask_workers(1) == 1
