"""course_lib.classifier: shapes, the schedule against its float reference, a resumable tiny run, the shipped weights."""

import json

import numpy as np
import pytest

from course_lib import classifier


def test_logits_and_features_have_the_documented_shapes():
    model = classifier.build_classifier()
    images = np.random.default_rng(0).random((5, 32, 32, 3)).astype(np.float32)
    logits, features = classifier.logits_and_features(model, images, batch_size=2)
    assert logits.shape == (5, 10) and features.shape == (5, classifier.FEATURES)
    assert np.all(features >= 0)  # after ReLU and average pooling
    mirrored = (np.asarray(model(images)) + np.asarray(model(images[:, :, ::-1]))) / 2  # the image and its mirror
    np.testing.assert_allclose(logits, mirrored, rtol=1e-4, atol=1e-5)
    expected = np.mean(np.argmax(logits, 1) == np.arange(5) % 10)
    assert classifier.accuracy(model, images, np.arange(5) % 10) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        classifier.logits_and_features(model, images[..., :1])


def test_the_keras_schedule_follows_the_float_reference():
    schedule = classifier.OneCycle(0.1, 1000)
    for step in (0, 1, 150, 299, 300, 301, 650, 999, 1000, 1200):
        assert float(schedule(step)) == pytest.approx(
            classifier.one_cycle(step, peak=0.1, total_steps=1000), rel=1e-5, abs=1e-9)
    assert classifier.one_cycle(300, peak=0.1, total_steps=1000) == pytest.approx(0.1)
    assert classifier.one_cycle(1000, peak=0.1, total_steps=1000) == pytest.approx(1e-4)


def _fake_data(n_train=120, n_test=40):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_train + n_test)
    # a learnable signal: the class sets the mean colour of the image
    images = np.clip(rng.normal(labels[:, None, None, None] * 20 + 30, 10, (n_train + n_test, 32, 32, 3)), 0, 255)
    images = images.astype(np.uint8)
    return (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])


@pytest.mark.long
def test_a_tiny_run_resumes_and_records_its_test_accuracy(tmp_path):
    data = _fake_data()
    out = tmp_path / "run"
    model, record = classifier.train_classifier(out, epochs=1, batch_size=16, images=data, verbose=0)
    assert record["status"] == "finished" and 0.0 <= record["test_accuracy"] <= 1.0
    model, record = classifier.train_classifier(out, epochs=2, batch_size=16, images=data, verbose=0)
    log = (out / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["0", "1"]  # the first epoch was not trained again
    stored = json.loads((out / "run.json").read_text())
    assert stored["settings"]["epochs"] == 2 and stored["test_accuracy"] == record["test_accuracy"]
    other = _fake_data(n_train=100)
    with pytest.raises(ValueError, match="other settings"):
        classifier.train_classifier(out, epochs=3, batch_size=16, images=other, verbose=0)


@pytest.mark.parametrize("setting, value, message", [
    ("epochs", 0, "epochs must be a positive int, got 0; e.g. epochs=25"),
    ("batch_size", 16.0, "batch_size must be a positive int, got 16.0; e.g. batch_size=128"),
    ("n_train", True, "n_train must be a positive int, got True"),
    ("seed", -1, "seed must be a non-negative int, got -1; e.g. seed=0"),
])
def test_bad_settings_are_refused_before_any_work(tmp_path, setting, value, message):
    with pytest.raises(ValueError, match=message):
        classifier.train_classifier(tmp_path / "run", images=_fake_data(), verbose=0, **{setting: value})
    assert not (tmp_path / "run").exists()


@pytest.mark.long
def test_the_shipped_classifier_reaches_85_percent_on_the_test_split():
    from course_lib import data, pretrained

    record = pretrained.pretrained_record(pretrained.CLASSIFIER)
    _, (images, labels) = data.load_cifar10()
    measured = classifier.accuracy(pretrained.load_pretrained(pretrained.CLASSIFIER), data.images_to_float(images),
                                   labels)
    assert measured >= 0.85
    assert measured == pytest.approx(record["test_accuracy"], abs=0.003)  # float16 weights: the same answers
    assert record["settings"]["n_train"] == 45_000
