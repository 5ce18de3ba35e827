"""course_lib.validation: one set of rules, and every entry point applies it."""

import numpy as np
import pytest

from course_lib import classical, data, evaluate, masks, metrics, models, photographs, pipeline, seed_study, validation

IMAGES = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
MASKS = np.ones((2, 8, 8, 1), np.float32)
MASKS[:, 2:5, 2:5] = 0


def with_nan(images):
    broken = images.copy()
    broken[0, 3, 3, 1] = np.nan  # inside the hole: still refused, a NaN image is a data error
    return broken


# Every public function that takes images: it must refuse what validation refuses, with its message.
ENTRY_POINTS = {
    "models.prepare_inputs": lambda x: models.prepare_inputs("pconv", x, MASKS),
    "pipeline.make_dataset": lambda x: pipeline.make_dataset("pconv", x, batch_size=2),
    "metrics.psnr": lambda x: metrics.psnr(x, IMAGES),
    "classical.inpaint_mean": lambda x: classical.inpaint_mean(x, MASKS),
    "evaluate.run_method": lambda x: evaluate.run_method("mean fill", x, MASKS),
    "data.images_to_float": data.images_to_float,
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_refuses_nan_images_with_the_same_message(entry):
    with pytest.raises(ValueError, match="1 NaN or infinite values; fix the data first"):
        ENTRY_POINTS[entry](with_nan(IMAGES))


@pytest.mark.parametrize("entry", sorted(set(ENTRY_POINTS) - {"data.images_to_float"}))
def test_every_batch_entry_point_refuses_an_empty_batch(entry):
    with pytest.raises(ValueError, match="empty"):
        ENTRY_POINTS[entry](IMAGES[:0])


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_entry_point_refuses_0_255_floats(entry):
    with pytest.raises(ValueError, match=r"outside \[0, 1\]. Images on a 0..255 scale: use \w+ / 255"):
        ENTRY_POINTS[entry](IMAGES * 255)


def test_uint8_is_refused_scaled_or_kept_as_the_caller_says():
    as_uint8 = (IMAGES * 255).round().astype(np.uint8)
    with pytest.raises(TypeError, match="dtype uint8; expected float in"):
        validation.check_images(as_uint8)
    with pytest.raises(ValueError):  # the same error is a ValueError too: the CLI reports it in one line
        validation.check_images(as_uint8)
    np.testing.assert_allclose(validation.check_images(as_uint8, uint8="scale"), as_uint8 / 255.0, rtol=1e-6)
    assert validation.check_images(as_uint8, uint8="keep").dtype == np.uint8  # the pipeline keeps memory small


def test_shapes_and_the_single_image_hint():
    with pytest.raises(ValueError, match=r"images\[None\]"):
        validation.check_images(IMAGES[0])
    with pytest.raises(ValueError, match=r"expected a batch \(N, H, W, 3\)"):
        validation.check_images(IMAGES[..., :1])
    assert validation.check_images(IMAGES[..., :1], channels=None).shape == (2, 8, 8, 1)
    with pytest.raises(ValueError, match=r"\(N, H, H, 3\)"):
        validation.check_images(IMAGES[:, :, :6], square=True)
    assert validation.check_values(1.0000001, tolerance=validation.RANGE_TOLERANCE) == np.float32(1.0000001)


def test_masks_one_rule_everywhere():
    assert validation.check_masks(MASKS[..., 0]).shape == (2, 8, 8, 1)  # (N, H, W) gets its channel axis
    for bad, message in [(MASKS * 255, "0/255"), (MASKS[:0], "empty"), (MASKS[0, ..., 0], r"mask\[None\]")]:
        with pytest.raises(ValueError, match=message):
            validation.check_masks(bad)
        with pytest.raises(ValueError, match=message):
            masks.validate_masks(bad)
    with pytest.raises(ValueError, match="do not match images"):
        validation.check_masks(MASKS, images=IMAGES[:1])
    with pytest.raises(ValueError, match="0/255"):  # the models' inputs use the same check
        models.prepare_inputs("pconv", IMAGES, MASKS * 255)
    with pytest.raises(ValueError, match="0/255"):
        evaluate.composite(IMAGES, IMAGES, MASKS * 255)


def test_check_number_is_the_one_rule_of_numeric_settings():
    from course_lib import validation

    assert validation.check_number("lr", 3, zero_ok=False) == 3.0
    assert validation.check_number("clipnorm", 0, zero_ok=True) == 0.0
    for bad in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="lr must be a finite positive number"):
            validation.check_number("lr", bad, zero_ok=False, example=1e-3)
    with pytest.raises(ValueError, match=r"e\.g\. lr=0\.001"):
        validation.check_number("lr", -1, zero_ok=False, example=0.001)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(200)])
def test_a_positive_int_is_any_whole_number_from_one(value):
    got = validation.check_positive_int("epochs", value)
    assert got == int(value) and type(got) is int


@pytest.mark.parametrize("value", [0, -2, 2.0, True, None, "3", np.float32(4), float("nan")])
def test_anything_else_is_not_a_count(value):
    with pytest.raises(ValueError, match=r"^epochs must be a positive int, got .*; e\.g\. epochs=20\.$"):
        validation.check_positive_int("epochs", value, example=20)


def test_seeds_start_at_zero():
    assert validation.check_seed(0) == 0 and validation.check_seed(np.int32(5)) == 5
    for bad in (-1, 1.5, False, "0", None):
        with pytest.raises(ValueError, match=r"^seed must be a non-negative int, got .*; e\.g\. seed=0\.$"):
            validation.check_seed(bad)
    with pytest.raises(ValueError, match=r"seeds\[2\] must be a non-negative int, got -3"):
        validation.check_seed(-3, name="seeds[2]")


# Every entry point that takes a count or a seed: the same rule, the same message.
COUNT_AND_SEED_ENTRY_POINTS = {
    "pipeline.make_dataset batch_size": (lambda v: pipeline.make_dataset("pconv", IMAGES, batch_size=v), "batch_size"),
    "pipeline.make_dataset seed": (lambda v: pipeline.make_dataset("pconv", IMAGES, batch_size=2, seed=v), "seed"),
    "photographs.sample_photographs n": (lambda v: photographs.sample_photographs(v), "n"),
    "photographs.shrink size": (lambda v: photographs.shrink(np.zeros((8, 8, 3), np.uint8), v), "size"),
    "seed_study.summarize seeds": (lambda v: seed_study.summarize({}, seeds=(0, v)), r"seeds\[1\]"),
}


@pytest.mark.parametrize("entry", sorted(COUNT_AND_SEED_ENTRY_POINTS))
def test_every_entry_point_checks_counts_and_seeds_with_the_one_rule(entry):
    call, name = COUNT_AND_SEED_ENTRY_POINTS[entry]
    kind = "non-negative" if "seed" in entry else "positive"
    with pytest.raises(ValueError, match=rf"^{name} must be a {kind} int, got -1; e\.g\. "):
        call(-1)
