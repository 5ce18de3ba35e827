"""Figures for the course: image grids, masks, results, learning curves.

Every ``show_*`` / ``plot_*`` function draws one matplotlib figure and **returns it**; none calls
``plt.show()``.  In Jupyter the inline backend shows the figure at the end of the cell (write
``fig = viz.show_images(...)`` to keep a handle without a second copy); in a script or a test
use ``fig.savefig(...)`` and ``plt.close(fig)``; headless runs work with ``MPLBACKEND=Agg``.

Conventions: images float in [0, 1] (or uint8), NHWC ``(N, H, W, 3)``; masks ``(N, H, W, 1)``,
**1 = valid pixel, 0 = hole**.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from course_lib import logs, metrics as metrics_lib, reporting

#: The smallest text of the course's figures, in points: 10 pixels high at the 72 dpi of the notebooks'
#: inline figures, about the size of JupyterLab's own smallest labels.
SMALL_TEXT_PT = 10
#: The widest figure, in inches: JupyterLab shows a notebook's output about 850 pixels wide in a
#: 1280-pixel window with its file browser open, and shrinks a wider picture (and its text) to fit.
#: At 72 dpi, 11.5 inches leave room for the margins ``bbox_inches="tight"`` adds.
MAX_WIDTH_IN = 11.5

#: Colour (RGB in [0, 1]) painted into the holes of a masked input so that they stand out.
HOLE_COLOR = (1.0, 0.0, 1.0)


# --------------------------------------------------------------------------- helpers
def as_display_batch(images) -> np.ndarray:
    """A list or array of images as a float array (N, H, W, C) or (N, H, W) that imshow can draw."""
    array = np.asarray(images)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (3, 4) or (array.ndim == 3 and array.shape[-1] == 3):  # (H, W, 3): one RGB image
        raise ValueError(f"images have shape {np.shape(images)}; expected a batch (N, H, W, 3), (N, H, W, 1) "
                         "or (N, H, W). For a single image add the batch axis: image[None].")
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def _image_grid(n: int, ncols: int, cell_size: float, *, extra_height: float = 0.0):
    """A pyplot figure with exactly ``n`` axes on a grid of ``ncols`` columns (the unused cells removed)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    cell_size = min(cell_size, MAX_WIDTH_IN / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell_size * ncols, cell_size * nrows + extra_height),
                             squeeze=False)
    axes = axes.ravel()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def draw_image(ax, image, title=None) -> None:
    """One image without ticks; 2-D arrays in grey from 0 (black) to 1 (white)."""
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=SMALL_TEXT_PT)


def masked_input(images, masks, hole_color=HOLE_COLOR) -> np.ndarray:
    """The images with their holes painted in ``hole_color``: what the inpainting method is given.

    Args:
        images: float (N, H, W, 3) in [0, 1] (or uint8).
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.
        hole_color: RGB in [0, 1].

    Returns:
        float32 (N, H, W, 3).
    """
    images = as_display_batch(images)
    masks = np.asarray(masks, dtype=np.float32)
    return images * masks + np.asarray(hole_color, dtype=np.float32) * (1.0 - masks)


# --------------------------------------------------------------------------- grids
def show_images(images, titles=None, ncols: int = 8, *, cell_size: float = 1.5, suptitle: str | None = None):
    """A grid of images.

    Args:
        images: (N, H, W, 3), (N, H, W, 1) or (N, H, W), float in [0, 1] or uint8; or a list of them.
        titles: optional N strings.
        ncols: images per row.
        cell_size: inches per image.
        suptitle: optional title over the grid.

    Returns:
        The matplotlib Figure, with N axes.
    """
    images = as_display_batch(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images; pass one title per image or none.")
    fig, axes = _image_grid(len(images), ncols, cell_size, extra_height=0.3 if suptitle else 0.0)
    for i, ax in enumerate(axes):
        draw_image(ax, images[i], None if titles is None else titles[i])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_masks(masks, titles=None, ncols: int = 8, *, cell_size: float = 1.5, suptitle: str | None = None):
    """A grid of masks: white = valid pixel (1), black = hole (0); titled with the hole ratio by default.

    Args:
        masks: float (N, H, W, 1) or (N, H, W), 1 = valid, 0 = hole.
        titles: optional N strings (default: ``"holes 23%"``).

    Returns:
        The matplotlib Figure, with N axes.
    """
    masks = np.asarray(masks, dtype=np.float32)
    if titles is None:
        holes = 1.0 - masks.reshape(len(masks), -1).mean(axis=1)
        titles = [f"holes {ratio:.0%}" for ratio in holes]
    return show_images(masks, titles, ncols, cell_size=cell_size, suptitle=suptitle)


def show_inpainting_grid(outputs: Mapping[str, np.ndarray], masks, ground_truth, *, hole_color=HOLE_COLOR,
                         show_psnr: bool = True, cell_size: float = 1.5, title: str | None = None):
    """Qualitative comparison: one row per image; columns: masked input, each method, ground truth.

    Args:
        outputs: ``{method: float (N, H, W, 3) in [0, 1]}``, each method's output for the N images.
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.
        ground_truth: float (N, H, W, 3) in [0, 1] (or uint8).
        hole_color: RGB colour of the holes in the first column.
        show_psnr: write each output's hole PSNR (dB) under it.
        title: optional title over the grid.

    Returns:
        The matplotlib Figure, with N * (len(outputs) + 2) axes.
    """
    truth = as_display_batch(ground_truth)
    masks = np.asarray(masks, dtype=np.float32)
    columns = {"input": masked_input(truth, masks, hole_color), **outputs, "ground truth": truth}
    n_rows, n_cols = len(truth), len(columns)
    cell_size = min(cell_size, MAX_WIDTH_IN / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_size * n_cols, (cell_size + 0.2) * n_rows + 0.4),
                             squeeze=False)
    for col, (name, column_images) in enumerate(columns.items()):
        column_images = as_display_batch(column_images)
        scores = None
        if show_psnr and name in outputs:
            scores = metrics_lib.psnr(truth, column_images, hole_mask=1.0 - masks)
        for row in range(n_rows):
            ax = axes[row, col]
            draw_image(ax, column_images[row], name if row == 0 else None)
            if scores is not None:
                ax.set_xlabel(format_db(scores[row]), fontsize=SMALL_TEXT_PT)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def hole_box(mask, margin: int = 2) -> tuple[slice, slice]:
    """The rows and columns of the smallest box around a mask's hole, grown by ``margin`` pixels
    (clipped to the image); the whole image if there is no hole.  ``mask``: (H, W, 1), 0 = hole."""
    rows, cols = np.nonzero(np.asarray(mask)[..., 0] < 0.5)
    if rows.size == 0:
        return slice(None), slice(None)
    height, width = np.asarray(mask).shape[:2]
    return (slice(max(0, rows.min() - margin), min(height, rows.max() + margin + 1)),
            slice(max(0, cols.min() - margin), min(width, cols.max() + margin + 1)))


def show_hole_crops(outputs: Mapping[str, np.ndarray], masks, ground_truth, *, cell_size: float = 2.2,
                    title: str | None = None):
    """Zoomed crops around each hole, pixels drawn as squares: where blur and seams show at a glance.

    One row per image; columns: the input (holes in magenta), the ground truth, then each method's
    composite (known pixels pasted back), each cropped to the box around that image's hole
    (:func:`hole_box`).  Under each
    fill, its sharpness (:func:`course_lib.perception.sharpness`; 1 = as sharp as the truth).

    Args:
        outputs: ``{method: float (N, H, W, 3) in [0, 1]}``.
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.
        ground_truth: float (N, H, W, 3) in [0, 1].

    Returns:
        The matplotlib Figure.
    """
    from course_lib import perception

    truth = as_display_batch(ground_truth)
    masks = np.asarray(masks, dtype=np.float32)
    composites = {name: truth * masks + as_display_batch(out) * (1.0 - masks) for name, out in outputs.items()}
    columns = {"input": masked_input(truth, masks), "ground truth": truth, **composites}
    sharp = {name: perception.sharpness(truth, out, masks) for name, out in composites.items()}
    cell_size = min(cell_size, MAX_WIDTH_IN / len(columns))
    fig, axes = plt.subplots(len(truth), len(columns), squeeze=False,
                             figsize=(cell_size * len(columns), (cell_size + 0.35) * len(truth) + 0.5))
    for row in range(len(truth)):
        box = hole_box(masks[row])
        for col, (name, images) in enumerate(columns.items()):
            ax = axes[row, col]
            ax.imshow(images[row][box], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name, fontsize=11)
            if name in sharp:
                ax.set_xlabel(f"sharpness {sharp[name][row]:.2f}", fontsize=SMALL_TEXT_PT)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def format_db(value: float) -> str:
    """A value in dB for a title: one decimal, "exact" for +inf (a perfect fill), "n/a" for NaN (no hole)."""
    return f"{value:.1f} dB" if np.isfinite(value) else ("exact" if value > 0 else "n/a")


# --------------------------------------------------------------------------- results
def _is_ratio_bin(group: str) -> bool:
    """True for hole-ratio groups named ``"lo-hi"`` (e.g. ``"0.1-0.2"``), False for ``"strokes"``."""
    low, _, high = group.partition("-")
    try:
        float(low), float(high)
    except ValueError:
        return False
    return True


def plot_metric_by_bin(results, metric: str = "hole_psnr", variant: str = "composite", *, methods=None):
    """One line per method: a metric's mean (band: 95 % CI) against the hole-ratio bin.

    Args:
        results: the dict returned by ``evaluate.evaluate`` or the path of its results.json.
        metric: one of ``reporting.METRICS``.
        variant: ``"composite"`` (known pixels pasted back) or ``"raw"``.
        methods: the methods to draw (default: all).

    Returns:
        The matplotlib Figure (one axes, one line per method; the strokes group is not a bin and
        is left out).
    """
    results = reporting.load_results(results)
    if metric not in reporting.METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {list(reporting.METRICS)}.")
    bins = [g for g in results["metadata"]["groups"] if _is_ratio_bin(g)]
    methods = list(results["results"]) if methods is None else list(methods)
    x = np.arange(len(bins))
    fig, ax = plt.subplots(figsize=(7, 4))
    for method in methods:
        summaries = [results["results"][method][variant][group][metric] for group in bins]
        mean = np.array([np.nan if s["mean"] is None else s["mean"] for s in summaries])
        ci95 = np.array([np.nan if s["ci95"] is None else s["ci95"] for s in summaries])
        (line,) = ax.plot(x, mean, marker="o", label=method)
        ax.fill_between(x, mean - ci95, mean + ci95, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xticks(x, bins)
    ax.set_xlabel("fraction of the image in the hole")
    ax.set_ylabel(reporting.METRIC_LABELS[metric])
    ax.set_title(f"{reporting.METRIC_LABELS[metric]}, by hole-ratio bin\n"
                 f"({variant}, n = {results['metadata']['n_test']} images)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_TEXT_PT)
    fig.tight_layout()
    return fig


#: Groups shown in the qualitative figures of an evaluation (a small bin, a large bin, strokes), when present.
EXAMPLE_GROUPS = ("0.1-0.2", "0.5-0.6", "strokes")


def write_evaluation_figures(results: dict, example_images, examples: dict, out_dir) -> list[Path]:
    """The PNG figures of an evaluation: each metric against the hole-ratio bin, and example grids.

    Args:
        results: the dict of :func:`course_lib.evaluate.evaluate`.
        example_images: float32 (E, H, W, 3), the ground truth of the examples.
        examples: ``{group: {"masks": (E, H, W, 1), "outputs": {method: (E, H, W, 3)}}}``, one
            grid per group of :data:`EXAMPLE_GROUPS` present (else the first and last groups).
        out_dir: where the PNG files go: ``metric_by_bin_<metric>.png``, ``examples_<group>.png``.

    Returns:
        The paths written.
    """
    out_dir, written = Path(out_dir), []

    def save(fig, name):
        written.append(out_dir / name)
        fig.savefig(written[-1], dpi=120, bbox_inches="tight")
        plt.close(fig)

    for metric in ("hole_psnr", "psnr", "ssim"):
        save(plot_metric_by_bin(results, metric, variant="composite"), f"metric_by_bin_{metric}.png")
    groups = results["metadata"]["groups"]
    for group in [g for g in EXAMPLE_GROUPS if g in groups] or list(dict.fromkeys([groups[0], groups[-1]])):
        example = examples[group]
        save(show_inpainting_grid(example["outputs"], example["masks"], example_images,
                                  title=f"Mask group {group} (known pixels pasted back)"), f"examples_{group}.png")
    return written


# --------------------------------------------------------------------------- training
def _read_history(source) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(epochs numbered from 1, {column: values}) from a CSVLogger file, a History or a dict of lists."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No training log at {path}; pass the log.csv written by course_lib.train.")
        history = logs.read_log(path)
        if not history:
            raise ValueError(f"{path} has no 'epoch' column or no rows; expected a keras CSVLogger file.")
    else:
        history = getattr(source, "history", source)  # keras History, course_lib TrainResult, or a dict
        if not isinstance(history, Mapping):
            raise TypeError(f"Cannot read a training history from {type(source).__name__}; pass a log.csv path, "
                            "a keras History, or a dict {'loss': [...], 'val_loss': [...]}.")
    columns = {key: np.asarray(values, dtype=np.float64) for key, values in history.items()}
    if "epoch" in columns:
        return columns.pop("epoch") + 1, columns  # CSVLogger counts epochs from 0
    n_epochs = len(next(iter(columns.values()), []))
    return np.arange(1, n_epochs + 1), columns


def _is_one_history(source) -> bool:
    """False for ``{run name: history}``; True for one history (a path, a History, ``{'loss': [...]}``)."""
    return not isinstance(source, Mapping) or all(np.ndim(values) == 1 for values in source.values())


def plot_learning_curves(logs, metrics=("loss",)):
    """Training (solid) and validation (dashed) curves per epoch, one axes per metric.

    Args:
        logs: one training history -- the path of a ``keras.callbacks.CSVLogger`` file (with an
            ``epoch`` column, as written by ``course_lib.train``), a ``keras.callbacks.History``,
            an object with a ``history`` dict, or a dict ``{"loss": [...], "val_loss": [...]}`` --
            or a dict ``{run name: history}`` to compare runs (one colour per run).
        metrics: base names of the curves to draw (``"loss"`` draws ``loss`` and ``val_loss``;
            ``"val_loss"`` only the validation curve).

    Returns:
        The matplotlib Figure, with ``len(metrics)`` axes.
    """
    runs = {"": logs} if _is_one_history(logs) else dict(logs)
    fig, axes = plt.subplots(1, len(metrics), figsize=(min(5 * len(metrics), MAX_WIDTH_IN), 3.5), squeeze=False)
    for run_index, (run_name, source) in enumerate(runs.items()):
        epochs, columns = _read_history(source)
        color = f"C{run_index}"
        for ax, metric in zip(axes[0], metrics):
            if metric not in columns:
                where = f" of {run_name!r}" if run_name else ""
                raise ValueError(f"No {metric!r} in the training log{where}; it has {sorted(columns)}.")
            prefix = f"{run_name}: " if run_name else ""
            validation = metric.startswith("val_")  # a validation metric asked for by itself
            ax.plot(epochs, columns[metric], color=color, marker=".", linestyle="--" if validation else "-",
                    label=f"{prefix}{'validation' if validation else 'train'}")
            if f"val_{metric}" in columns:
                ax.plot(epochs, columns[f"val_{metric}"], color=color, linestyle="--", marker=".",
                        label=f"{prefix}validation")
    for ax, metric in zip(axes[0], metrics):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL_TEXT_PT)
    fig.tight_layout()
    return fig


def plot_mask_pyramid(masks_per_layer, titles=None, *, cell_size: float = 1.8, ncols: int = 5):
    """The mask after each partial-convolution layer: holes shrink as the layers go deeper.

    Args:
        masks_per_layer: a list of masks, or a dict ``{layer name: mask}``; each mask is
            (H, W), (H, W, 1) or a batch (N, H, W, 1) of which the first is drawn; 1 = valid,
            0 = hole (values between are drawn in grey).
        titles: optional names, one per mask (default: the dict's keys or "layer k").
        ncols: masks per row.

    Returns:
        The matplotlib Figure, with one axes per mask, titled with its size and hole ratio.
    """
    if isinstance(masks_per_layer, Mapping):
        titles = titles or list(masks_per_layer)
        masks_per_layer = list(masks_per_layer.values())
    titles = titles or [f"layer {k}" for k in range(len(masks_per_layer))]
    rows = math.ceil(len(masks_per_layer) / max(1, min(ncols, len(masks_per_layer))))
    fig, axes = _image_grid(len(masks_per_layer), ncols, cell_size, extra_height=0.4 * rows)  # two-line titles
    for ax, mask, name in zip(axes, masks_per_layer, titles):
        mask = np.asarray(mask, dtype=np.float32)
        mask = mask[0] if mask.ndim == 4 else mask
        mask = np.clip(mask[..., 0] if mask.ndim == 3 else mask, 0.0, 1.0)
        draw_image(ax, mask, f"{name}\n{mask.shape[0]}x{mask.shape[1]}, holes {np.mean(mask == 0):.0%}")
    fig.tight_layout()
    return fig
