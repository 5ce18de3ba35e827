"""course_lib.perception_study.study on a handful of images: a perfect fill scores like the clean images."""

import numpy as np
import pytest

from course_lib import classifier, perception, perception_study


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(0)
    images = rng.random((24, 32, 32, 3)).astype(np.float32)
    labels = np.arange(24) % 10
    real = rng.random((30, 32, 32, 3)).astype(np.float32)
    groups = {"small": (rng.random((5, 32, 32, 1)) > 0.1).astype(np.float32),
              "large": (rng.random((3, 32, 32, 1)) > 0.5).astype(np.float32)}
    runners = {"perfect": lambda x, m: x, "grey": lambda x, m: np.full_like(x, 0.5)}
    model = classifier.build_classifier()
    return perception_study.study(runners, images, labels, real, groups, model,
                                  pairs=[("grey", "perfect")], resamples=20, verbose=False), (images, real, model)


def test_a_perfect_fill_scores_like_the_clean_images(results):
    results, _ = results
    for group in ("small", "large"):
        perfect = results["groups"][group]["perfect"]
        assert perfect["sharpness"]["median"] == pytest.approx(1.0)
        assert perfect["accuracy"] == pytest.approx(results["clean"]["accuracy"])
        assert perfect["feature_distance"] == pytest.approx(results["clean"]["feature_distance"])
        assert perfect["hole_psnr"]["n_undefined"] == 24  # an exact fill: PSNR +inf, left out


def test_a_flat_fill_is_blurrier_and_the_paired_numbers_agree(results):
    results, (images, real, model) = results
    grey = results["groups"]["large"]["grey"]
    assert grey["sharpness"]["median"] < 0.5
    paired = results["paired"]["grey - perfect"]["large"]
    assert paired["sharpness"]["mean"] == pytest.approx(grey["sharpness"]["mean"] - 1.0)
    fd = paired["feature_distance"]
    assert fd["difference"] == pytest.approx(grey["feature_distance"] - results["groups"]["large"]["perfect"]["feature_distance"])
    # the feature distance of the clean images, computed here from the classifier's features
    _, clean = classifier.logits_and_features(model, images)
    _, reference = classifier.logits_and_features(model, real)
    assert results["clean"]["feature_distance"] == pytest.approx(perception.frechet_distance(clean, reference))


def test_markdown_and_plane(results, tmp_path):
    results, _ = results
    results["metadata"] = {"lambdas": []}
    text = perception_study.markdown(results)
    assert "| perfect | – ± – | 1.000 |" in text and "## Paired: grey - perfect" in text
    path = perception_study.save_plane(results, tmp_path, group="large")
    assert path.stat().st_size > 10_000
