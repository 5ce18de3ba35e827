"""course_lib.evaluate against numbers worked out by hand on constant images and hand-made masks."""

import json
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pytest

from course_lib import classical, database_inpainting, environment, evaluate, masks as masks_lib, reporting

SIZE = 32
# Constant images: every method's error is one number per image, so metrics are easy by hand.
VALUES = (0.2, 0.4, 0.6, 0.8)
C1 = 0.01 ** 2  # SSIM's luminance constant for data range 1


def constant_images(values=VALUES):
    return np.stack([np.full((SIZE, SIZE, 3), v, np.float32) for v in values])


def box_mask(rows, cols):
    """One mask (SIZE, SIZE, 1), 1 = valid, with a hole over [rows] x [cols]."""
    mask = np.ones((SIZE, SIZE, 1), np.float32)
    mask[rows, cols] = 0.0
    return mask


# Group "0.2-0.3": a 16x16 hole (25 % of the image) and a 8x16 hole (12.5 %), alternating.
HOLE_RATIOS = (0.25, 0.125)
HAND_MADE_MASKS = {
    "0.2-0.3": np.stack([box_mask(slice(0, 16), slice(0, 16)), box_mask(slice(8, 16), slice(8, 24))]),
    "strokes": np.ones((1, SIZE, SIZE, 1), np.float32),  # no hole at all: hole metrics are undefined
}


@pytest.fixture
def hand_made_masks(monkeypatch):
    monkeypatch.setattr(masks_lib, "load_eval_masks", lambda *args, **kwargs: HAND_MADE_MASKS)
    return HAND_MADE_MASKS


def constant_half_model(value=0.5):
    """A 'network' for masked images (kind vanilla) whose output is ``value`` (0.5) everywhere."""
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, keras.layers.Rescaling(scale=0.0, offset=value)(inputs))


def psnr_of_mse(mse):
    return 10 * math.log10(1 / mse)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One evaluation of the constant 0.5 network (loaded from a .keras file) and mean fill."""
    tmp = tmp_path_factory.mktemp("evaluate")
    model_path = tmp / "half.keras"
    constant_half_model().save(model_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(masks_lib, "load_eval_masks", lambda *args, **kwargs: HAND_MADE_MASKS)
        results = evaluate.evaluate({"vanilla-half": model_path}, out_dir=tmp / "out", images=constant_images(),
                                    methods=["mean fill"], n_examples=2, verbose=False)
    return results, tmp / "out"


def summary(results, method, variant, group, metric):
    return results["results"][method][variant][group][metric]


# --------------------------------------------------------------------------- hand computations
def test_network_raw_output_matches_hand_computation(run):
    results, _ = run
    errors = [abs(v - 0.5) for v in VALUES]
    for metric, per_image in {
        "l1": errors,
        "hole_l1": errors,
        "psnr": [psnr_of_mse(e ** 2) for e in errors],
        "hole_psnr": [psnr_of_mse(e ** 2) for e in errors],
        # constant images: no variance, so SSIM is its luminance term alone
        "ssim": [(2 * v * 0.5 + C1) / (v ** 2 + 0.25 + C1) for v in VALUES],
    }.items():
        got = summary(results, "vanilla-half", "raw", "0.2-0.3", metric)
        assert got["mean"] == pytest.approx(np.mean(per_image), rel=1e-5), metric
        assert got["std"] == pytest.approx(np.std(per_image, ddof=1), rel=1e-4), metric
        assert got["ci95"] == pytest.approx(1.96 * np.std(per_image, ddof=1) / 2, rel=1e-4), metric
        assert (got["n"], got["n_undefined"]) == (4, 0)


def test_network_composite_has_errors_only_in_the_hole(run):
    results, _ = run
    ratios = [HOLE_RATIOS[i % 2] for i in range(len(VALUES))]  # image i gets mask i mod 2
    errors = [abs(v - 0.5) for v in VALUES]
    whole_l1 = [r * e for r, e in zip(ratios, errors)]
    whole_psnr = [psnr_of_mse(r * e ** 2) for r, e in zip(ratios, errors)]
    composite = results["results"]["vanilla-half"]["composite"]["0.2-0.3"]
    assert composite["l1"]["mean"] == pytest.approx(np.mean(whole_l1), rel=1e-5)
    assert composite["psnr"]["mean"] == pytest.approx(np.mean(whole_psnr), rel=1e-5)
    assert composite["hole_psnr"]["mean"] == pytest.approx(np.mean([psnr_of_mse(e ** 2) for e in errors]), rel=1e-5)
    assert composite["hole_l1"]["mean"] == pytest.approx(np.mean(errors), rel=1e-5)


def test_mean_fill_is_exact_on_constant_images_and_infinite_psnr_is_counted(run):
    results, _ = run
    for variant in ("raw", "composite"):
        group = results["results"]["mean fill"][variant]["0.2-0.3"]
        assert group["l1"]["mean"] == pytest.approx(0.0, abs=1e-7)
        assert group["hole_l1"]["mean"] == pytest.approx(0.0, abs=1e-7)
        assert group["ssim"]["mean"] == pytest.approx(1.0)
        assert group["hole_psnr"] == {"mean": None, "std": None, "ci95": None, "n": 0, "n_undefined": 4}


def test_a_group_without_holes_has_undefined_hole_metrics(run):
    results, _ = run
    raw = results["results"]["vanilla-half"]["raw"]["strokes"]
    assert raw["hole_psnr"]["n_undefined"] == 4 and raw["hole_l1"]["n_undefined"] == 4
    assert raw["l1"]["mean"] == pytest.approx(np.mean([abs(v - 0.5) for v in VALUES]), rel=1e-5)
    # pasting every (known) pixel back gives the ground truth: infinite PSNR, zero L1
    composite = results["results"]["vanilla-half"]["composite"]["strokes"]
    assert composite["psnr"]["n_undefined"] == 4 and composite["l1"]["mean"] == 0.0


# --------------------------------------------------------------------------- files and layout
def test_json_holds_what_evaluate_returned_with_every_key(run):
    results, out_dir = run
    stored = json.loads((out_dir / "results.json").read_text())
    assert stored == json.loads(json.dumps(results))
    assert {"schema_version", "metadata", "results"} <= set(stored)
    metadata = stored["metadata"]
    for key in ("n_test", "seed", "groups", "methods", "networks", "checkpoints", "images_per_method",
                "runtime_seconds", "versions", "date", "machine", "notes"):
        assert key in metadata, key
    assert metadata["n_test"] == len(VALUES)
    assert metadata["machine"] == environment.describe_machine()  # the same record as a training run's
    assert metadata["versions"] == environment.library_versions()
    assert metadata["groups"] == list(HAND_MADE_MASKS)
    assert metadata["methods"] == ["vanilla-half", "mean fill"]
    assert metadata["checkpoints"]["vanilla-half"]["kind"] == "vanilla"
    for method in metadata["methods"]:
        assert set(stored["results"][method]) == {"raw", "composite"}
        for group in metadata["groups"]:
            for metric in reporting.METRICS:
                assert set(stored["results"][method]["raw"][group][metric]) == {"mean", "std", "ci95", "n",
                                                                                  "n_undefined"}


def test_markdown_is_regenerated_from_the_json(run):
    _, out_dir = run
    stored = json.loads((out_dir / "results.json").read_text())
    assert (out_dir / "results.md").read_text() == reporting.results_markdown(stored)
    table = reporting.results_table_markdown(out_dir / "results.json", metrics=("hole_psnr",))
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    expected = np.mean([psnr_of_mse((v - 0.5) ** 2) for v in VALUES])
    assert f"{expected:.2f} ±" in rows["vanilla-half"]
    assert "n/a" in rows["mean fill"]
    assert rows["method"].split("|")[2:4] == [" 0.2-0.3 ", " strokes "]


def test_figures_are_written(run):
    _, out_dir = run
    names = {p.name for p in out_dir.glob("*.png")}
    assert {"metric_by_bin_hole_psnr.png", "metric_by_bin_psnr.png", "metric_by_bin_ssim.png",
            "examples_strokes.png"} <= names


# --------------------------------------------------------------------------- pieces
def test_composite_takes_known_pixels_from_the_ground_truth():
    truth = np.zeros((1, 2, 2, 3), np.float32)
    output = np.ones((1, 2, 2, 3), np.float32)
    mask = np.array([1, 0, 0, 1], np.float32).reshape(1, 2, 2, 1)
    expected = np.array([0, 1, 1, 0], np.float32).reshape(1, 2, 2, 1).repeat(3, axis=-1)
    np.testing.assert_array_equal(evaluate.composite(truth, output, mask), expected)


def test_image_i_gets_mask_i_mod_k():
    group = np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1)
    assert evaluate.pair_masks(group, 7)[:, 0, 0, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_summarize_leaves_out_and_counts_non_finite_values():
    got = reporting.summarize([1.0, 2.0, 3.0, np.nan, np.inf])
    assert got == pytest.approx({"mean": 2.0, "std": 1.0, "ci95": 1.96 / math.sqrt(3), "n": 3, "n_undefined": 2})


@pytest.mark.parametrize("name, kind", [("vanilla", "vanilla"), ("pconv", "pconv"), ("pconv-liu", "pconv")])
def test_network_kind_is_the_name_before_the_first_dash(name, kind):
    assert evaluate.network_kind(name) == kind


def test_unknown_network_kind_and_missing_file_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="must start with one of"):
        evaluate.network_kind("unet")
    with pytest.raises(FileNotFoundError, match="Train one first"):
        evaluate.load_network(tmp_path / "missing.keras")


def test_run_method_dispatches_to_classical_methods_and_networks():
    images = constant_images()
    masks = HAND_MADE_MASKS["0.2-0.3"][[0, 1, 0, 1]]
    np.testing.assert_array_equal(evaluate.run_method("telea", images, masks),
                                  classical.inpaint_telea(images, masks))
    np.testing.assert_allclose(evaluate.run_method("vanilla", images, masks, model=constant_half_model()), 0.5)
    with pytest.raises(ValueError, match="Unknown method"):
        evaluate.run_method("photoshop", images, masks)


def test_pconv_kind_gets_the_image_with_zero_holes_and_the_mask():
    image_in, mask_in = keras.Input((SIZE, SIZE, 3)), keras.Input((SIZE, SIZE, 1))
    # output = input image + 0.7 in the holes: shows the holes arrive as 0 and the mask as given
    fill = keras.layers.Lambda(lambda t: t[0] + 0.7 * (1.0 - t[1]))([image_in, mask_in])
    model = keras.Model([image_in, mask_in], fill)
    images, masks = constant_images()[:2], HAND_MADE_MASKS["0.2-0.3"]
    outputs = evaluate.predict(model, evaluate.network_kind("pconv-toy"), images, masks)
    expected = np.where(masks == 1, images, 0.7)
    np.testing.assert_allclose(outputs, expected, atol=1e-6)


def test_max_images_per_method_is_recorded(tmp_path, hand_made_masks):
    results = evaluate.evaluate(out_dir=tmp_path, images=constant_images(), methods=["mean fill", "telea"],
                                max_images_per_method={"telea": 2}, figures=False, verbose=False)
    assert results["metadata"]["images_per_method"] == {"mean fill": 4, "telea": 2}
    assert summary(results, "telea", "raw", "0.2-0.3", "l1")["n"] == 2
    assert "first 2 images only" in (tmp_path / "results.md").read_text()


def _shared_cifar_dir():
    candidates = [os.environ.get("COURSE_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "data"]
    for folder in filter(None, candidates):
        if (Path(folder) / "cifar-10-python.tar.gz").is_file():
            return Path(folder)
    return None


@pytest.mark.skipif(_shared_cifar_dir() is None, reason="no local CIFAR-10 copy (COURSE_DATA_DIR or ../shared/data)")
@pytest.mark.skipif(not masks_lib.EVAL_MASKS_PATH.is_file(), reason="course_lib/data/eval_masks.npz is missing")
def test_cifar10_subset_with_the_real_evaluation_masks(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(_shared_cifar_dir()))
    results = evaluate.evaluate(n_test=20, out_dir=tmp_path, methods=["mean fill", "telea"], seed=1,
                                figures=False, verbose=False)
    metadata = results["metadata"]
    assert metadata["data"]["images_per_class"] == [2] * 10
    assert metadata["groups"] == masks_lib.eval_mask_names()
    telea, mean_fill = results["results"]["telea"]["raw"], results["results"]["mean fill"]["raw"]
    for group in metadata["groups"]:
        assert telea[group]["hole_psnr"]["n"] == 20
        # telea continues edges inward: better than a flat colour on natural images
        assert telea[group]["hole_psnr"]["mean"] > mean_fill[group]["hole_psnr"]["mean"]


# --------------------------------------------------------------------------- paired comparison
def test_paired_difference_by_hand():
    a = np.array([20.0, 22.0, 25.0, np.inf, 19.0])
    b = np.array([19.0, 21.5, 24.0, 30.0, np.nan])
    got = reporting.paired_difference(a, b)
    d = np.array([1.0, 0.5, 1.0])  # the three pairs where both values are finite
    std = math.sqrt(sum((x - d.mean()) ** 2 for x in d) / 2)
    assert got["mean"] == pytest.approx(2.5 / 3)
    assert got["ci95"] == pytest.approx(1.96 * std / math.sqrt(3))
    assert (got["n"], got["n_undefined"]) == (3, 2)


def test_pairing_removes_the_spread_that_both_methods_share():
    """Two methods 0.1 dB apart on images whose difficulty varies by several dB: the marginal
    intervals overlap, the paired one excludes zero."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(20.0, 3.0, 400)
    a, b = difficulty + 0.1 + rng.normal(0, 0.05, 400), difficulty
    marginal_a, marginal_b = reporting.summarize(a), reporting.summarize(b)
    assert abs(marginal_a["mean"] - marginal_b["mean"]) < marginal_a["ci95"] + marginal_b["ci95"]
    paired = reporting.paired_difference(a, b)
    assert paired["mean"] - paired["ci95"] > 0


def test_evaluate_writes_the_paired_comparison(run):
    results, out_dir = run
    paired = results["paired"]
    assert (paired["metric"], paired["variant"]) == ("hole_psnr", "composite")
    # Mean fill is exact on constant images (hole PSNR +inf): no pair has a finite difference.
    cell = paired["differences"]["vanilla-half"]["mean fill"]["0.2-0.3"]
    assert (cell["n"], cell["n_undefined"], cell["mean"]) == (0, len(VALUES), None)
    assert "vanilla-half − mean fill" in (out_dir / "results.md").read_text()


def test_networks_are_paired_with_each_other_and_the_table_takes_them_as_references(tmp_path, hand_made_masks):
    results = evaluate.evaluate({"vanilla-half": constant_half_model(), "vanilla-quarter": constant_half_model(0.25)},
                                out_dir=tmp_path, images=constant_images(), methods=["mean fill"], n_examples=2,
                                verbose=False, figures=False)
    differences = results["paired"]["differences"]
    by_hand = np.mean([psnr_of_mse((v - 0.5) ** 2) - psnr_of_mse((v - 0.25) ** 2) for v in VALUES])
    assert differences["vanilla-half"]["vanilla-quarter"]["0.2-0.3"]["mean"] == pytest.approx(by_hand, rel=1e-4)
    assert differences["vanilla-quarter"]["vanilla-half"]["0.2-0.3"]["mean"] == pytest.approx(-by_hand, rel=1e-4)
    assert "vanilla-half" not in differences["vanilla-half"]
    table = reporting.paired_table_markdown(results, references=["vanilla-half"])
    assert f"| vanilla-quarter − vanilla-half | {-by_hand:+.2f} ±" in table and "half − vanilla-half" not in table


def test_composite_refuses_0_255_masks():
    images = constant_images()
    mask = np.repeat(box_mask(slice(0, 8), slice(0, 8))[None], len(images), axis=0) * 255
    with pytest.raises(ValueError, match="0/255"):
        evaluate.composite(images, images, mask)


# --------------------------------------------------------------------------- the database method
def test_the_database_is_the_training_images_and_competes_only_on_cifar(tmp_path, monkeypatch):
    from fake_cifar import write_fake_cifar

    from course_lib import config, data, train

    monkeypatch.setenv("COURSE_DATA_DIR", str(write_fake_cifar(tmp_path / "data", per_batch=1100)))
    database = evaluate.training_database()
    (x_train, _), _ = data.load_cifar10(n_test=10)
    training_pool, _ = train.split_train_val(x_train, None, n_train=None, n_val=config.get_profile("full").n_val, seed=0)
    np.testing.assert_array_equal(database, training_pool)           # the images split_train_val trains on

    everything = evaluate.method_functions()
    assert list(everything) == [*evaluate.CLASSICAL_METHODS, evaluate.DATABASE_METHOD]
    images, masks = data.images_to_float(x_train[-2:]), np.ones((2, 32, 32, 1), np.float32)
    masks[:, 8:24, 8:24] = 0.0
    np.testing.assert_array_equal(everything["database"](images, masks),
                                  database_inpainting.inpaint_database(images, masks, database))
    results = evaluate.evaluate(out_dir=tmp_path / "out", images=constant_images(), figures=False, verbose=False)
    assert evaluate.DATABASE_METHOD not in results["metadata"]["methods"]   # other images: no database by default
    with pytest.raises(ValueError, match="Unknown classical method"):
        evaluate.method_functions(methods=["databse"])


@pytest.mark.parametrize("machine", [{"cpu_cores": 2}, {"cpu_count": 2}])  # as written now, and before
def test_time_per_image_by_hand(machine):
    results = {"metadata": {"groups": ["a", "b"], "images_per_method": {"x": 10, "y": 5},
                            "runtime_seconds": {"x": 2.0, "y": 0.5, "total": 2.5}, "machine": machine}}
    assert reporting.time_per_image(results) == {"x": 100.0, "y": 50.0}   # 2 s / 20 pairs, 0.5 s / 10 pairs
    table = reporting.time_table_markdown(results)
    assert "| x | 100 |" in table and "| y | 50.0 |" in table and "2 CPU cores" in table
