"""course_lib.pretrained: the float16 weight format, loading the shipped networks and the classifier."""

import keras
import numpy as np
import pytest

from course_lib import classical, classifier, data, logs, masks, models, names, pretrained


def test_save_then_load_pretrained_round_trips_within_float16(tmp_path):
    keras.utils.set_random_seed(3)
    model = models.build_model("pconv")
    path = pretrained.save_pretrained(model, "pconv", tmp_path / "pconv.npz")
    with np.load(path) as stored:  # the format: float16 arrays w000, w001, ... in model.weights order
        assert sorted(stored.files) == [f"w{i:03d}" for i in range(len(model.weights))]
        assert {stored[key].dtype for key in stored.files} == {np.dtype(np.float16)}
    loaded = pretrained.load_pretrained("pconv", path)
    for original, restored in zip(model.get_weights(), loaded.get_weights()):
        assert restored.dtype == np.float32
        # float16 keeps 11 significant bits: relative error at most 2**-11
        np.testing.assert_allclose(restored, original, rtol=2**-11, atol=1e-7)


def test_the_classifier_uses_the_same_format(tmp_path):
    model = classifier.build_classifier()
    path = pretrained.save_pretrained(model, pretrained.CLASSIFIER, tmp_path / "w.npz")
    loaded = pretrained.load_pretrained(pretrained.CLASSIFIER, path)
    assert loaded.name == "classifier"
    for original, restored in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(restored, original, rtol=2**-11, atol=1e-7)
    with pytest.raises(FileNotFoundError, match="train-classifier"):
        pretrained.load_pretrained(pretrained.CLASSIFIER, tmp_path / "missing.npz")


def test_load_pretrained_names_the_missing_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="train --model vanilla"):
        pretrained.load_pretrained("vanilla", tmp_path / "nothing.npz")


def test_unknown_names_are_refused_with_the_list():
    with pytest.raises(ValueError, match="pconv"):
        pretrained.pretrained_path("unet")


def test_load_pretrained_refuses_weights_of_another_architecture(tmp_path):
    path = pretrained.save_pretrained(models.build_model("pconv"), "pconv", tmp_path / "pconv.npz")
    with pytest.raises(ValueError, match="do not match"):
        pretrained.load_pretrained("vanilla", path)


def test_load_pretrained_says_what_it_expected_from_a_foreign_file(tmp_path):
    foreign = tmp_path / "other.npz"
    np.savez(foreign, weights=np.zeros(3), bias=np.ones(2))
    with pytest.raises(ValueError, match=r"expected the arrays w000 \.\.\. w\d{3}"):
        pretrained.load_pretrained("pconv", foreign)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        pretrained.load_pretrained("pconv", broken)


@pytest.mark.parametrize("name", pretrained.PRETRAINED_NAMES)
def test_every_shipped_network_has_the_record_and_log_of_its_own_run(name):
    record = pretrained.pretrained_record(name)
    assert record["settings"]["model"] == name and record["status"] == "finished"
    log = logs.read_log(pretrained.pretrained_log(name))
    assert log["epoch"] == list(range(record["settings"]["epochs"]))


@pytest.mark.parametrize("name", names.MODEL_NAMES)
def test_committed_pretrained_networks_fill_holes_better_than_the_mean(name):
    """The shipped weights are trained: on unseen test images their hole L1 beats mean fill's."""
    try:
        (_, _), (x_test, _) = data.load_cifar10(n_train=10, n_test=100, seed=7)
    except data.DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not available here (set COURSE_DATA_DIR)")
    images = data.images_to_float(x_test)
    holes = masks.irregular_masks(100, hole_range=(0.2, 0.4), seed=123)
    model = pretrained.load_pretrained(name)
    outputs = np.clip(model.predict(models.prepare_inputs(name, images, holes), verbose=0), 0, 1)
    hole = 1.0 - holes

    def hole_error(filled):
        return np.sum(np.abs(filled - images) * hole) / np.sum(hole * np.ones_like(images))

    assert hole_error(outputs) < 0.8 * hole_error(classical.inpaint_mean(images, holes))
    if name == "improved":  # it starts as diffusion inpainting; training must have improved on it
        assert hole_error(outputs) < hole_error(classical.inpaint_diffusion(images, holes))
