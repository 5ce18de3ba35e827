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


@pytest.mark.long
def test_run_scores_every_method_and_lambda_run_and_writes_the_study(tmp_path, monkeypatch):
    """The whole of ``run`` on 10 test images, with two stand-in lambda runs (no training here)."""
    import json

    from course_lib import data, pretrained

    try:
        data.load_cifar10(n_train=10, n_test=10)
    except data.DatasetNotFoundError:
        pytest.skip("CIFAR-10 is not available here (set COURSE_DATA_DIR)")
    for value in (0.0, 0.1):
        folder = perception_study.run_dir(tmp_path, value)
        folder.mkdir(parents=True)
        pretrained.load_pretrained("improved").save(folder / "final.keras")
        (folder / "run.json").write_text(json.dumps({"wall_time_s": 1.0}))
    trained = []
    monkeypatch.setattr(perception_study, "train_runs", lambda out_dir, **kw: trained.append(kw["lambdas"]))
    results = perception_study.run(tmp_path, n_test=10, lambdas=(0.0, 0.1), verbose=False)
    assert trained == [(0.0, 0.1)]
    assert set(results["groups"]) == {"0.01-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6", "strokes"}
    methods = set(results["groups"]["strokes"])
    assert {"vanilla", "pconv", "improved", "λ=0", "λ=0.1", "biharmonic", "database"} <= methods
    # both stand-ins are the improved network: the paired differences are zero
    paired = results["paired"]["λ=0.1 - λ=0"]["0.5-0.6"]
    assert paired["sharpness"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert paired["feature_distance"]["difference"] == pytest.approx(0.0, abs=1e-9)
    stored = perception_study.load(tmp_path)
    assert stored["metadata"]["lambdas"] == [0.0, 0.1] and "classifier" in stored["metadata"]
    assert "## Paired: λ=0.1 - λ=0" in (tmp_path / "perception.md").read_text()
