"""An interactive explorer: choose an image and a mask, see every method's fill and its hole PSNR.

:func:`inpainting_explorer` is an ipywidgets widget; its picture is drawn with the figures of
:mod:`course_lib.viz`.  Conventions: images float in [0, 1] (or uint8), NHWC ``(N, H, W, 3)``; masks
``(N, H, W, 1)``, **1 = valid pixel, 0 = hole**.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping

import matplotlib.figure
import numpy as np

from course_lib import masks as masks_lib, metrics as metrics_lib, viz

#: Name of the mask family drawn with the four box sliders.
SLIDER_BOX = "box (sliders)"
#: The explorer lists evaluation group g as "eval: g" (``"strokes"`` is both a family and a group).
EVAL_PREFIX = "eval: "


def _explorer_mask(family: str, seed: int, size: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """One mask (1, size, size, 1) for the explorer's current choice; 1 = valid, 0 = hole."""
    if family == SLIDER_BOX:
        x, y, width, height = box
        mask = np.ones((1, size, size, 1), np.float32)
        mask[0, y:y + height, x:x + width] = 0.0
        return mask
    if family.startswith(EVAL_PREFIX):
        group = masks_lib.load_eval_masks()[family.removeprefix(EVAL_PREFIX)]
        return group[seed % len(group)][None]
    return masks_lib.make_masks(family, 1, size, seed=seed)


def _render_png(fig: matplotlib.figure.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def inpainting_explorer(images, methods: Mapping[str, Callable], mask_families=None, *, seed: int = 0,
                        cell_size: float = 1.8):
    """An interactive comparison: choose an image and a mask, see every method's result and hole PSNR.

    Controls: an image slider; a mask family (those of ``masks.MASK_FAMILIES`` such as
    ``"strokes"``, ``"irregular"``, ``"boxes"``; the evaluation groups such as ``"eval: 0.3-0.4"``
    (mask ``seed mod K`` of that group); and ``"box (sliders)"``); a seed; and four sliders (x, y, width, height) that draw a rectangular
    hole when ``"box (sliders)"`` is chosen.  Drawing a free-hand mask would need a canvas
    widget (ipycanvas, ipyevents) that plain ipywidgets and Colab do not have, so the hole you
    draw yourself is a rectangle set with sliders: it works everywhere ipywidgets works.

    The figure is a PNG in an ``ipywidgets.Image``, rendered without pyplot, so nothing depends on
    the notebook's matplotlib backend.  The widget works without a front end too: change a
    control's ``value`` (or call ``widget.update()``) and read ``widget.state``.

    Args:
        images: (N, H, W, 3) float in [0, 1] or uint8.
        methods: ``{name: callable(images, masks) -> images}``, batches in and out (float32, masks
            1 = valid, 0 = hole), e.g. ``evaluate.method_functions({"pconv": model})``.
        mask_families: the families offered (default: all of the above).
        seed: initial seed.

    Returns:
        An ``ipywidgets.VBox`` with extra attributes: ``controls`` (dict of the widgets by name),
        ``update()`` (redraw now) and ``state`` (dict: ``"mask"`` (1, H, W, 1), ``"outputs"``
        {name: (1, H, W, 3)}, ``"hole_psnr"`` {name: float}, ``"figure"``, ``"png"`` bytes).
    """
    import ipywidgets as widgets

    images = viz.as_display_batch(images)
    size = images.shape[1]
    eval_groups = [EVAL_PREFIX + group for group in masks_lib.eval_mask_names()]
    families = list(mask_families or [*masks_lib.MASK_FAMILIES, *eval_groups, SLIDER_BOX])

    slider = dict(continuous_update=False, style={"description_width": "initial"})
    controls = {
        "image": widgets.IntSlider(0, 0, len(images) - 1, description="image", **slider),
        "family": widgets.Dropdown(options=families, value=families[0], description="mask"),
        "seed": widgets.IntText(seed, description="seed"),
        "x": widgets.IntSlider(size // 4, 0, size - 1, description="box x", **slider),
        "y": widgets.IntSlider(size // 4, 0, size - 1, description="box y", **slider),
        "width": widgets.IntSlider(size // 2, 1, size, description="box width", **slider),
        "height": widgets.IntSlider(size // 2, 1, size, description="box height", **slider),
    }
    box_controls = widgets.HBox([controls[k] for k in ("x", "y", "width", "height")])
    picture = widgets.Image(format="png")
    state = {}

    def update(*_):
        family = controls["family"].value
        box_controls.layout.display = None if family == SLIDER_BOX else "none"
        box = tuple(controls[k].value for k in ("x", "y", "width", "height"))
        mask = _explorer_mask(family, controls["seed"].value, size, box)
        truth = images[controls["image"].value][None]
        outputs = {name: np.clip(np.asarray(run(truth, mask), np.float32), 0, 1) for name, run in methods.items()}
        hole_psnr = {name: float(metrics_lib.psnr(truth, out, hole_mask=1 - mask)[0]) for name, out in outputs.items()}
        figure = _explorer_figure(truth, mask, outputs, hole_psnr, cell_size)
        png = _render_png(figure)
        picture.value = png
        state.update(mask=mask, outputs=outputs, hole_psnr=hole_psnr, figure=figure, png=png)

    for control in controls.values():
        control.observe(update, names="value")
    explorer = widgets.VBox([widgets.HBox([controls["image"], controls["family"], controls["seed"]]),
                             box_controls, picture])
    explorer.controls, explorer.update, explorer.state = controls, update, state
    update()
    return explorer


#: Panels per row of the explorer's picture: four 1.8-inch panels at 100 dpi make it 720 pixels wide, so that
#: its titles are drawn at their size (about 11 pixels) where a notebook shows it 720 pixels wide.
EXPLORER_COLUMNS = 4


def _explorer_figure(truth, mask, outputs, hole_psnr, cell_size) -> matplotlib.figure.Figure:
    """Rows of :data:`EXPLORER_COLUMNS` panels: masked input, each method titled with its hole PSNR, ground truth
    (not pyplot-managed)."""
    panels = [("input", viz.masked_input(truth, mask)[0])]
    panels += [(f"{name}\nhole PSNR {viz.format_db(hole_psnr[name])}", out[0]) for name, out in outputs.items()]
    panels.append(("ground truth", truth[0]))
    n_cols = min(EXPLORER_COLUMNS, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    fig = matplotlib.figure.Figure(figsize=(cell_size * n_cols, (cell_size + 0.5) * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, (title, image) in zip(axes, panels):
        viz.draw_image(ax, image, title)
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
