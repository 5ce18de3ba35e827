"""Tests of course_lib.recipes and of the recipe's pieces in a real (tiny) training run."""

import math

import numpy as np
import pytest

import keras

from course_lib import models, recipes
from course_lib.train import resolve_settings, train

SCHEDULE = dict(learning_rate=1e-3, schedule="warmup_cosine", warmup_epochs=1.0,
                steps_per_epoch=10, epochs=5)


def test_the_schedule_by_hand():
    at = [recipes.learning_rate_at(step, **SCHEDULE) for step in (0, 5, 10, 30, 50, 80)]
    assert at[0] == pytest.approx(1e-5)                      # the warm-up starts at 1 % ...
    assert at[1] == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)  # ... and climbs in a straight line
    assert at[2] == pytest.approx(1e-3)                      # the peak after one epoch
    assert at[3] == pytest.approx((1e-3 + 1e-5) / 2)         # half-way down the cosine
    assert at[4] == pytest.approx(1e-5)                      # the floor at the last step
    assert at[5] == pytest.approx(1e-5)                      # and after it
    assert recipes.learning_rate_at(33, **{**SCHEDULE, "schedule": "constant"}) == 1e-3


def test_keras_schedule_follows_the_formula_at_every_step():
    schedule = recipes.make_learning_rate(**SCHEDULE)
    for step in range(0, 60):
        expected = recipes.learning_rate_at(step, **SCHEDULE)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9)
    assert recipes.make_learning_rate(**{**SCHEDULE, "schedule": "constant"}) == 1e-3


def test_cosine_is_monotone_after_the_warm_up():
    values = [recipes.learning_rate_at(s, **SCHEDULE) for s in range(10, 51)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert math.isclose(max(values), 1e-3)


def test_recipes_by_name_and_their_settings():
    assert recipes.get_recipe().name == recipes.DEFAULT_RECIPE == "course"
    source = recipes.get_recipe("Source")
    assert (source.loss, source.masks, source.learning_rate, source.schedule) == (
        "l1", "strokes", 1e-3, "constant")
    with pytest.raises(ValueError, match="course"):
        recipes.get_recipe("gan")
    with pytest.raises(ValueError, match="warmup_cosine"):
        recipes.learning_rate_at(0, **{**SCHEDULE, "schedule": "step"})


def settings(**overrides):
    arguments = dict(profile="ci", epochs=None, n_train=None, n_val=None, batch_size=None,
                     loss=None, masks=None, seed=0, mixed_precision=False, learning_rate=None)
    return resolve_settings("pconv", **{**arguments, **overrides})


def test_explicit_settings_override_the_recipe():
    course = settings()
    assert (course["recipe"], course["loss"], course["masks"], course["schedule"]) == (
        "course", "liu", "mixed", "warmup_cosine")
    assert course["clipnorm"] == 1.0
    mixed = settings(recipe="source", loss="liu", clipnorm=0)
    assert (mixed["recipe"], mixed["loss"], mixed["masks"], mixed["learning_rate"]) == (
        "source", "liu", "strokes", 1e-3)
    assert mixed["clipnorm"] is None  # 0 switches clipping off
    for bad in (dict(learning_rate=float("nan")), dict(learning_rate=0.0),
                dict(warmup_epochs=-1.0), dict(clipnorm=float("inf")), dict(schedule="step")):
        with pytest.raises(ValueError):
            settings(**bad)


@pytest.fixture(scope="module")
def cifar_images():
    from course_lib import data

    try:
        (x_train, _), _ = data.load_cifar10(n_train=320, n_test=10, seed=3)
    except data.DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not available here (set COURSE_DATA_DIR)")
    return x_train


@pytest.mark.long
@pytest.mark.parametrize("name, layer", [("pconv", "decoder_output"), ("improved", "correction")])
def test_no_output_channel_dies_in_a_short_real_run(tmp_path, cifar_images, name, layer):
    """The source PConv U-Net's 3-channel ReLU decoder_output died (constant output) after one
    epoch of the hole-weighted loss at a constant 1e-3.  The recipe at that peak step size,
    with its warm-up and clipping, keeps every channel alive."""
    result = train(name, out_dir=tmp_path, images=cifar_images, profile="ci", epochs=3,
                   n_train=256, n_val=64, batch_size=16, learning_rate=1e-3, verbose=0)
    images = cifar_images[-64:].astype("float32") / 255.0
    from course_lib import masks

    holes = masks.mixed_masks(64, seed=5)
    inputs = models.prepare_inputs(name, images, holes)
    assert models.constant_channels(result.model, inputs) == []
    assert models.constant_channels(result.model, inputs, layer=layer, relu=(name == "pconv")) == []


def test_constant_channels_finds_a_dead_relu_channel():
    inputs = keras.Input((4, 4, 2))
    conv = keras.layers.Conv2D(3, 1, name="conv")
    model = keras.Model(inputs, conv(inputs))
    rng = np.random.default_rng(0)
    kernel = rng.normal(0.0, 1.0, (1, 1, 2, 3)).astype("float32")
    kernel[..., 1] = 0.0
    bias = np.array([0.0, -1.0, 0.0], "float32")  # channel 1 is -1 everywhere: 0 after a ReLU
    conv.set_weights([kernel, bias])
    x = rng.random((2, 4, 4, 2)).astype("float32")
    assert models.constant_channels(model, x) == [1]
    assert models.constant_channels(model, x, layer="conv", relu=True) == [1]
