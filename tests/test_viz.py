"""course_lib.viz and course_lib.interactive: figures have the expected axes and lines; the explorer redraws when a
control changes."""

import csv
import math
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import classical, interactive, masks as masks_lib, viz

SIZE = 32


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_images(n, seed=0):
    return np.random.default_rng(seed).random((n, SIZE, SIZE, 3)).astype(np.float32)


def box_mask(top, left, height, width):
    """One mask (1, SIZE, SIZE, 1), 1 = valid, 0 in the box."""
    mask = np.ones((1, SIZE, SIZE, 1), np.float32)
    mask[0, top:top + height, left:left + width] = 0.0
    return mask


# --------------------------------------------------------------------------- grids
def test_show_images_has_one_axes_per_image_with_its_title():
    fig = viz.show_images(random_images(5), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == list("abcde")


def test_show_images_accepts_uint8_and_single_channel():
    fig = viz.show_images(np.zeros((2, SIZE, SIZE, 1), np.uint8))
    assert len(fig.axes) == 2


def test_show_masks_titles_give_the_hole_ratio():
    fig = viz.show_masks(np.concatenate([box_mask(0, 0, 16, 16), box_mask(0, 0, 16, 32)]))
    assert [ax.get_title() for ax in fig.axes] == ["holes 25%", "holes 50%"]


def test_inpainting_grid_shows_input_methods_and_ground_truth():
    truth = random_images(2)
    masks = np.concatenate([box_mask(0, 0, 8, 8), box_mask(4, 4, 16, 16)])
    outputs = {"gray": np.full_like(truth, 0.5), "mean fill": classical.inpaint_mean(truth, masks)}
    fig = viz.show_inpainting_grid(outputs, masks, truth)
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == ["input", "gray", "mean fill", "ground truth"]
    shown_input = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown_input[0, 0], viz.HOLE_COLOR)          # a hole pixel
    np.testing.assert_allclose(shown_input[20, 20], truth[0, 20, 20])      # a known pixel
    hole_mse = np.mean((truth[0, :8, :8] - 0.5) ** 2)
    assert fig.axes[1].get_xlabel() == f"{10 * math.log10(1 / hole_mse):.1f} dB"


# --------------------------------------------------------------------------- results
def fake_results():
    groups = ["0.01-0.1", "0.1-0.2", "0.2-0.3", "strokes"]
    means = {"a": [30.0, 25.0, 20.0, 28.0], "b": [20.0, 18.0, 16.0, 19.0]}
    cell = lambda mean: {"mean": mean, "std": 1.0, "ci95": 0.5, "n": 10, "n_undefined": 0}  # noqa: E731
    results = {method: {variant: {g: {"hole_psnr": cell(m)} for g, m in zip(groups, values)}
                        for variant in ("raw", "composite")}
               for method, values in means.items()}
    return {"metadata": {"groups": groups, "n_test": 10}, "results": results}, means


def test_metric_by_bin_has_one_line_per_method_over_the_bins_only():
    results, means = fake_results()
    fig = viz.plot_metric_by_bin(results, "hole_psnr")
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    for line, method in zip(ax.lines, means):
        assert line.get_label() == method
        np.testing.assert_allclose(line.get_ydata(), means[method][:3])  # "strokes" is not a bin
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01-0.1", "0.1-0.2", "0.2-0.3"]


def test_metric_by_bin_refuses_unknown_metrics():
    with pytest.raises(ValueError, match="Unknown metric"):
        viz.plot_metric_by_bin(fake_results()[0], "hole_ssim")


# --------------------------------------------------------------------------- training
def write_csv_log(path, losses, val_losses):
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["epoch", "loss", "val_loss"])
        for epoch, (loss, val) in enumerate(zip(losses, val_losses)):
            writer.writerow([epoch, loss, val])
    return path


def test_learning_curves_from_a_csv_log(tmp_path):
    log = write_csv_log(tmp_path / "log.csv", [0.3, 0.2, 0.1], [0.35, 0.25, 0.2])
    fig = viz.plot_learning_curves(log)
    (ax,) = fig.axes
    train, val = ax.lines
    assert list(train.get_xdata()) == [1, 2, 3]  # CSVLogger counts from 0, the figure from 1
    np.testing.assert_allclose(train.get_ydata(), [0.3, 0.2, 0.1])
    np.testing.assert_allclose(val.get_ydata(), [0.35, 0.25, 0.2])


def test_learning_curves_from_an_object_with_a_history_and_epoch_column():
    train_result = types.SimpleNamespace(history={"epoch": [0, 1], "loss": [0.4, 0.3], "val_loss": [0.5, 0.4]})
    (ax,) = viz.plot_learning_curves(train_result).axes
    assert [list(line.get_xdata()) for line in ax.lines] == [[1, 2], [1, 2]]


def test_learning_curves_compare_runs_and_metrics(tmp_path):
    runs = {"csv": write_csv_log(tmp_path / "log.csv", [0.3, 0.2], [0.3, 0.3]),
            "history": {"loss": [0.5, 0.4, 0.3], "val_loss": [0.6, 0.5, 0.5], "mae": [1, 2, 3]}}
    assert len(viz.plot_learning_curves(runs).axes[0].lines) == 4
    fig = viz.plot_learning_curves({"loss": [0.5, 0.4], "mae": [0.2, 0.1]}, metrics=("loss", "mae"))
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [1, 1]
    with pytest.raises(ValueError, match="No 'psnr'"):
        viz.plot_learning_curves({"loss": [0.5]}, metrics=("psnr",))


def test_mask_pyramid_has_one_axes_per_layer_titled_with_size_and_holes():
    half_size = np.ones((16, 16, 1))
    half_size[:4, :4] = 0  # 16 of 256 pixels
    layers = {"input": box_mask(0, 0, 16, 16), "pconv1": half_size, "pconv2": np.ones((8, 8))}
    fig = viz.plot_mask_pyramid(layers)
    assert [ax.get_title() for ax in fig.axes] == ["input\n32x32, holes 25%", "pconv1\n16x16, holes 6%",
                                                   "pconv2\n8x8, holes 0%"]


# --------------------------------------------------------------------------- the explorer
@pytest.fixture
def explorer(monkeypatch):
    eval_masks = {name: box_mask(0, 0, 8, 8 + 2 * k) for k, name in enumerate(masks_lib.eval_mask_names())}
    monkeypatch.setattr(masks_lib, "load_eval_masks", lambda *args, **kwargs: eval_masks)
    methods = {"gray": lambda images, masks: np.full_like(images, 0.5), "mean fill": classical.inpaint_mean}
    return interactive.inpainting_explorer(random_images(3), methods)


def test_explorer_offers_every_mask_family(explorer):
    options = list(explorer.controls["family"].options)
    assert options == [*masks_lib.MASK_FAMILIES, *("eval: " + g for g in masks_lib.eval_mask_names()),
                       interactive.SLIDER_BOX]


def test_explorer_redraws_when_the_image_changes(explorer):
    before_psnr, before_png = dict(explorer.state["hole_psnr"]), explorer.state["png"]
    explorer.controls["image"].value = 2
    assert explorer.state["hole_psnr"] != before_psnr
    assert explorer.state["png"] != before_png and explorer.state["png"].startswith(b"\x89PNG")
    assert len(explorer.state["figure"].axes) == 4  # input, two methods, ground truth


def test_explorer_slider_box_gives_a_hand_checkable_hole(explorer):
    controls = explorer.controls
    controls["family"].value = interactive.SLIDER_BOX
    controls["x"].value, controls["y"].value, controls["width"].value, controls["height"].value = 2, 3, 5, 4
    mask = explorer.state["mask"]
    assert mask.shape == (1, SIZE, SIZE, 1) and (mask == 0).sum() == 5 * 4
    assert mask[0, 3, 2, 0] == 0 and mask[0, 2, 2, 0] == 1
    image = random_images(3)[0]  # the image slider is still at 0
    hole = image[3:7, 2:7]
    assert explorer.state["hole_psnr"]["gray"] == pytest.approx(10 * math.log10(1 / np.mean((hole - 0.5) ** 2)))


def test_explorer_uses_the_evaluation_masks_with_the_seed(explorer):
    explorer.controls["family"].value = "eval: 0.1-0.2"
    np.testing.assert_array_equal(explorer.state["mask"], masks_lib.load_eval_masks()["0.1-0.2"][:1])


def test_explorer_picture_wraps_its_panels_so_that_it_fits_a_notebook_at_full_size():
    import struct

    methods = {f"method {k}": (lambda images, masks: np.full_like(images, 0.5)) for k in range(10)}
    explorer = interactive.inpainting_explorer(random_images(2), methods)
    figure, png = explorer.state["figure"], explorer.state["png"]
    shown = [ax for ax in figure.axes if ax.get_images()]
    assert len(shown) == 12  # input, ten methods, ground truth
    columns = {round(ax.get_position().x0, 3) for ax in shown}
    assert len(columns) == interactive.EXPLORER_COLUMNS
    width = struct.unpack(">I", png[16:20])[0]  # the PNG header's width
    assert width <= 760, f"the explorer's picture is {width} px wide; shown 720 px wide its titles would shrink"


def test_a_validation_metric_asked_for_by_itself_is_labelled_and_dashed_as_validation():
    import matplotlib.pyplot as plt

    fig = viz.plot_learning_curves({"run": {"epoch": [0, 1], "val_psnr": [20.0, 21.0]}}, metrics=("val_psnr",))
    line = fig.axes[0].get_lines()[0]
    assert line.get_label() == "run: validation" and line.get_linestyle() == "--"
    plt.close(fig)


def test_hole_box_and_the_zoomed_crops():
    mask = np.ones((32, 32, 1), np.float32)
    mask[10:14, 20:25] = 0
    rows, cols = viz.hole_box(mask, margin=2)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (8, 16, 18, 27)
    mask[0, 31] = 0  # a hole at the corner: the box is clipped to the image
    rows, cols = viz.hole_box(mask, margin=2)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (0, 16, 18, 32)
    assert viz.hole_box(np.ones((8, 8, 1))) == (slice(None), slice(None))
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    masks = np.stack([mask, mask])
    fig = viz.show_hole_crops({"flat": np.full_like(images, 0.5)}, masks, images)
    assert len(fig.axes) == 2 * 3  # input, ground truth, one method
    assert fig.axes[2].get_xlabel().startswith("sharpness ")
    assert fig.axes[0].get_images()[0].get_array().shape[:2] == (16, 14)  # the crop, not the image
    plt.close(fig)
