"""Evaluate the networks and the classical methods on the same images and the same fixed masks.

The protocol
------------
* **Images**: the CIFAR-10 test split, or a reproducible class-balanced subset of ``n_test``
  images (``data.load_cifar10(n_test=..., seed=...)``).  ``images=`` replaces them (tests, notebooks).
* **Masks**: the committed evaluation masks, ``masks.load_eval_masks()``: one group per hole-ratio
  bin (``"0.01-0.1"`` ... ``"0.5-0.6"``) plus ``"strokes"``.  Image ``i`` is paired with mask
  ``i mod K`` of each group (``K`` masks in the group), so every method sees exactly the same
  (image, mask) pairs, and the pairing does not depend on a random generator.
* **Methods**: each network (one ``model.predict`` pass per group), each classical method of
  :data:`CLASSICAL_METHODS` and, on CIFAR-10, :data:`DATABASE_METHOD`: inpainting from the
  45,000 training images the networks learn from (``database_inpainting.inpaint_database``; the test
  images are never in it).
* **Variants**: ``"raw"`` is the method's output as it is; ``"composite"`` pastes the known pixels
  back, ``gt * mask + output * (1 - mask)``.  Inside the hole both are the same, so the hole
  metrics of the two variants are equal.  The classical methods return the known pixels
  unchanged, so their raw output already *is* the composite.
* **Metrics**, one value per image (``course_lib.metrics``, data range 1.0):

  ============  ===========================================================================
  ``psnr``      PSNR over the whole image, dB
  ``ssim``      SSIM over the whole image (11 x 11 Gaussian window, as ``tf.image.ssim``)
  ``l1``        mean absolute error over the whole image
  ``hole_psnr`` PSNR over the hole pixels only, dB (``hole_mask = 1 - mask``)
  ``hole_l1``   mean absolute error over the hole pixels only
  ============  ===========================================================================

  There is no hole SSIM: SSIM compares 11 x 11 windows, and every window that touches the
  hole also covers known pixels, so "SSIM of the hole" depends on an arbitrary choice (which
  windows, how to weigh them) rather than on the hole alone.
* **Aggregation**: per image, then over images: mean, standard deviation, 95 % confidence
  interval of the mean (``1.96 * std / sqrt(n)``) and ``n``.  A value that is not a finite
  number is left out and counted in ``n_undefined``: a hole PSNR of an empty hole is NaN, a
  PSNR of an exact reconstruction is ``+inf``.

What :func:`evaluate` writes to ``out_dir``
-------------------------------------------
``results.json`` (every number and the metadata; layout in :func:`evaluate`), ``results.md``
(the tables, regenerated from the JSON by :func:`course_lib.reporting.results_markdown`), and
PNG figures (:func:`course_lib.viz.write_evaluation_figures`): one line plot per metric against
the hole-ratio bin, and one qualitative grid per example group.  Reading and tabulating the
results needs no TensorFlow: that is :mod:`course_lib.reporting`.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from course_lib import classical, config, data, database_inpainting, environment, masks as masks_lib, metrics, models
from course_lib import names, patch_inpainting, reporting, validation

#: Written into results.json so that readers of an old file can tell its layout
#: (2: adds the top-level "paired" comparison).
SCHEMA_VERSION = 2

NOTES = (
    "Image i is paired with mask (i mod K) of each group of masks.load_eval_masks() (K masks in the group).",
    "composite = ground_truth * mask + output * (1 - mask) (mask: 1 = valid, 0 = hole). The hole metrics of "
    "'raw' and 'composite' are equal by construction.",
    "The classical methods return the known pixels unchanged: their 'raw' and 'composite' numbers are equal.",
    "No hole SSIM: SSIM compares 11x11 windows and every window touching the hole also covers known pixels, "
    "so an SSIM 'of the hole' is not well defined.",
    "Network outputs are clipped to [0, 1] before any metric, as an image would be when saved.",
    "Aggregation: per image, then mean, std (ddof=1), ci95 = 1.96 * std / sqrt(n) over the n images with a "
    "finite value; n_undefined counts the others (NaN: empty hole; +inf: PSNR of an exact reconstruction).",
)

#: Every classical method that takes ``(images, masks)`` alone, by its name in results and tables, in the order of
#: the course's tables: the smoothing methods, then ``patch``, which copies.  The database method needs its
#: database as well: :data:`DATABASE_METHOD`.
CLASSICAL_METHODS: dict[str, Callable[..., np.ndarray]] = {
    **classical.SMOOTHING_METHODS, "patch": patch_inpainting.inpaint_patch,
}


# --------------------------------------------------------------------------- inputs
def _as_float_images(images) -> np.ndarray:
    """``images`` as float32 (N, H, W, 3) in [0, 1]; uint8 input is divided by 255."""
    return validation.check_images(images, uint8="scale")


def composite(images, outputs, masks) -> np.ndarray:
    """Known pixels from ``images``, hole pixels from ``outputs``.

    Args:
        images: ground truth, float (N, H, W, 3) in [0, 1].
        outputs: a method's output, float (N, H, W, 3) in [0, 1].
        masks: float (N, H, W, 1), 1 = valid (known) pixel, 0 = hole.

    Returns:
        float32 (N, H, W, 3): ``images * masks + outputs * (1 - masks)``.
    """
    images, outputs = (np.asarray(a, dtype=np.float32) for a in (images, outputs))
    masks = masks_lib.check_binary(masks)  # any shape that broadcasts; 0/255 masks are refused
    if images.shape != outputs.shape:
        raise ValueError(f"images {images.shape} and outputs {outputs.shape} differ in shape; "
                         "pass the outputs of a method run on these images.")
    return images * masks + outputs * (1.0 - masks)


def pair_masks(group_masks: np.ndarray, n_images: int) -> np.ndarray:
    """The masks for ``n_images`` images: image ``i`` gets ``group_masks[i % K]``.

    Args:
        group_masks: float32 (K, H, W, 1), 1 = valid, 0 = hole.
        n_images: how many images to pair.

    Returns:
        float32 (n_images, H, W, 1).
    """
    return np.asarray(group_masks, dtype=np.float32)[np.arange(n_images) % len(group_masks)]


# --------------------------------------------------------------------------- networks
def network_kind(name: str) -> str:
    """The model kind a checkpoint name stands for: the part before the first ``-``.

    ``"vanilla"`` -> ``"vanilla"``, ``"pconv-liu"`` -> ``"pconv"``.  The kind decides how
    ``models.prepare_inputs`` builds the network's inputs.
    """
    kind = name.split("-", 1)[0]
    if kind not in names.MODEL_NAMES:
        raise ValueError(
            f"Cannot tell the model kind of checkpoint {name!r}: its name must start with one of "
            f"{list(names.MODEL_NAMES)} (e.g. 'pconv' or 'pconv-liu'), or pass (kind, path) as its value."
        )
    return kind


def load_network(model_or_path) -> keras.Model:
    """A ``keras.Model`` as it is, or the model saved in a ``.keras`` file (loaded without compiling)."""
    if isinstance(model_or_path, keras.Model):
        return model_or_path
    path = Path(model_or_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No model file at {path}. Train one first (python -m course_lib train ...) "
            "or pass the path of an existing .keras file."
        )
    return keras.saving.load_model(path, compile=False)


def _resolve_checkpoints(checkpoints) -> dict[str, tuple[str, keras.Model, str]]:
    """``{name: path | model | (kind, path | model)}`` -> ``{name: (kind, model, description)}``."""
    resolved = {}
    for name, spec in (checkpoints or {}).items():
        kind, source = spec if isinstance(spec, tuple) else (network_kind(name), spec)
        if kind not in names.MODEL_NAMES:
            raise ValueError(f"Checkpoint {name!r} has kind {kind!r}; choose one of {list(names.MODEL_NAMES)}.")
        if name in CLASSICAL_METHODS:
            raise ValueError(f"Checkpoint name {name!r} is also a classical method's name; rename the checkpoint.")
        model = load_network(source)
        description = str(source) if not isinstance(source, keras.Model) else f"in-memory keras.Model {source.name!r}"
        resolved[name] = (kind, model, description)
    return resolved


def predict(model_or_path, kind: str, images, masks, batch_size: int = 256) -> np.ndarray:
    """Run a network on masked images.

    Args:
        model_or_path: a ``keras.Model`` or the path of a ``.keras`` file.
        kind: one of :data:`course_lib.names.MODEL_NAMES`: how ``models.prepare_inputs`` builds the inputs.
        images: ground truth, float (N, H, W, 3) in [0, 1] (or uint8); the network only sees
            the known pixels (``prepare_inputs`` hides the holes).
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.
        batch_size: images per forward pass.

    Returns:
        float32 (N, H, W, 3), clipped to [0, 1]: the raw output, known pixels not pasted back
        (see :func:`composite`).
    """
    model = load_network(model_or_path)
    images = _as_float_images(images)
    inputs = models.prepare_inputs(kind, images, masks)
    outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
    return np.clip(np.asarray(outputs, dtype=np.float32), 0.0, 1.0)


def run_method(name: str, images, masks, *, model=None, batch_size: int = 256) -> np.ndarray:
    """Inpaint with a classical method (by name) or a network (``model`` given; kind from ``name``).

    Args:
        name: a key of :data:`CLASSICAL_METHODS` ("mean fill", "diffusion", "telea",
            "navier-stokes", "biharmonic", "patch"), or, with ``model``, a network name such as
            ``"vanilla"``, ``"pconv"`` or ``"pconv-liu"`` (see :func:`network_kind`).
        images: float (N, H, W, 3) in [0, 1] (or uint8).
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.
        model: a ``keras.Model`` or a ``.keras`` path, for networks only.

    Returns:
        float32 (N, H, W, 3) in [0, 1], the raw output.
    """
    if model is not None:
        return predict(model, network_kind(name), images, masks, batch_size=batch_size)
    if name not in CLASSICAL_METHODS:
        raise ValueError(
            f"Unknown method {name!r}: choose one of {list(CLASSICAL_METHODS)}, "
            "or pass model=... to run a network."
        )
    return np.asarray(CLASSICAL_METHODS[name](_as_float_images(images), masks), dtype=np.float32)


# --------------------------------------------------------------------------- scores
def image_scores(images, outputs, masks) -> dict[str, np.ndarray]:
    """Every metric of :data:`course_lib.reporting.METRICS` for each image.

    Args:
        images: ground truth, float (N, H, W, 3) in [0, 1].
        outputs: float (N, H, W, 3) in [0, 1].
        masks: float (N, H, W, 1), 1 = valid, 0 = hole.

    Returns:
        ``{metric: float64 (N,)}``; hole metrics are NaN for an image without hole pixels.
    """
    holes = 1.0 - np.asarray(masks)
    return {
        "psnr": metrics.psnr(images, outputs),
        "ssim": metrics.ssim(images, outputs),
        "l1": metrics.l1(images, outputs),
        "hole_psnr": metrics.psnr(images, outputs, hole_mask=holes),
        "hole_l1": metrics.l1(images, outputs, hole_mask=holes),
    }


def score_images(images, outputs, masks) -> dict[str, dict[str, np.ndarray]]:
    """``{variant: {metric: float64 (N,)}}``: every per-image score of one method on one group."""
    composited = composite(images, outputs, masks)
    raw_scores = image_scores(images, outputs, masks)
    if np.array_equal(composited, outputs):  # classical methods: nothing to paste back
        return {"raw": raw_scores, "composite": raw_scores}
    return {"raw": raw_scores, "composite": image_scores(images, composited, masks)}


def paired_comparison(per_image: dict, networks, references) -> dict:
    """``{network: {reference: {group: summary of the per-image difference}}}`` (a method is not compared with itself).

    Args:
        per_image: ``{method: {group: (N,) scores}}`` of one metric and variant.
        networks, references: method names to compare (each network against each reference).
    """
    return {network: {reference: {group: reporting.paired_difference(per_image[network][group],
                                                            per_image[reference][group])
                                  for group in per_image[network]}
                      for reference in references if reference != network}
            for network in networks}


# --------------------------------------------------------------------------- the methods
#: The name of inpainting from a database of images in results and tables (``database_inpainting.inpaint_database``).
DATABASE_METHOD = "database"


def training_database() -> np.ndarray:
    """The images the networks learn from, as a database: uint8 (45,000, 32, 32, 3).

    CIFAR-10's training split less the ``full`` profile's validation images (the last 5,000), the
    same images :func:`course_lib.train.split_train_val` trains on.
    """
    (x_train, _), _ = data.load_cifar10(n_test=len(data.CLASS_NAMES))
    return x_train[:len(x_train) - config.get_profile("full").n_val]


def _select_classical(methods, *, database: bool = True) -> dict:
    """The classical methods to run: all of them for ``None`` (with :data:`DATABASE_METHOD` only if
    ``database``: its images are 32 x 32), else those named."""
    known = [*CLASSICAL_METHODS, DATABASE_METHOD]
    if methods is None:
        methods = known if database else list(CLASSICAL_METHODS)
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f"Unknown classical method(s) {unknown}: choose from {known}.")
    return {name: (database_inpainting.make_database_method(training_database()) if name == DATABASE_METHOD
                   else CLASSICAL_METHODS[name]) for name in methods}


def _copying(method_names) -> list[str]:
    """The methods among ``method_names`` that copy rather than smooth: the paired comparison holds them up
    against the smoothing ones, as it does the networks (notebook 02)."""
    return [name for name in method_names if name in ("patch", DATABASE_METHOD)]


def _network_runner(kind: str, model: keras.Model, batch_size: int):
    """A ``callable(images, masks) -> outputs`` running ``model`` as a network of ``kind``."""
    def run(images, masks):
        return predict(model, kind, images, masks, batch_size=batch_size)
    return run


def _method_runners(networks: dict, methods, batch_size: int, *, database: bool = True) -> dict:
    """``{name: callable(images, masks) -> outputs}``: the networks first, then the classical methods."""
    runners = {name: _network_runner(kind, model, batch_size) for name, (kind, model, _) in networks.items()}
    runners.update(_select_classical(methods, database=database))
    return runners


def method_functions(checkpoints=None, methods=None, batch_size: int = 256) -> dict:
    """Every method as ``callable(images, masks) -> float32 images``, e.g. for ``interactive.inpainting_explorer``.

    Args:
        checkpoints: as in :func:`evaluate` (``None``: no network).
        methods: classical method names, :data:`DATABASE_METHOD` among them (``None``: all, ``()``: none).

    Returns:
        ``{name: callable}``; each takes float (N, H, W, 3) images in [0, 1] and float
        (N, H, W, 1) masks (1 = valid, 0 = hole) and returns the raw output.
    """
    return _method_runners(_resolve_checkpoints(checkpoints), methods, batch_size)


# --------------------------------------------------------------------------- the run
def _load_test_images(images, n_test, seed, images_source=None) -> tuple[np.ndarray, dict]:
    """The evaluation images (float32) and a description of where they came from."""
    if images is not None:
        images = _as_float_images(images)[:n_test]
        return images, {"source": images_source or "images passed to evaluate()", "n_test": len(images)}
    if n_test is None:
        n_test = config.get_profile().n_test
    _, (x_test, y_test) = data.load_cifar10(n_test=n_test, seed=seed)
    per_class = np.bincount(np.asarray(y_test), minlength=len(data.CLASS_NAMES))
    source = {"source": "CIFAR-10 test split", "n_test": len(x_test), "images_per_class": per_class.tolist()}
    return data.images_to_float(x_test), source


def _images_per_method(runners: dict, n_images: int, max_images_per_method) -> dict[str, int]:
    """How many images each method is evaluated on: all, or the first ``max_images_per_method[name]``."""
    limits = dict(max_images_per_method or {})
    unknown = sorted(set(limits) - set(runners))
    if unknown:
        raise ValueError(f"max_images_per_method names {unknown}, which are not evaluated; "
                         f"use names among {list(runners)}.")
    return {name: min(n_images, limits.get(name, n_images)) for name in runners}


def _evaluate_groups(images, eval_masks, runners, images_per_method, n_examples, verbose):
    """Run every method on every mask group and score it.

    Returns:
        ``results`` {method: {variant: {group: {metric: summary}}}}, ``runtime`` {method: seconds
        spent inpainting, metrics excluded}, ``examples`` {group: {"masks": (E, H, W, 1),
        "outputs": {method: composite (E, H, W, 3)}}} for the first ``n_examples`` images, and
        ``paired_scores`` {method: {group: (N,) per-image PAIRED_METRIC of PAIRED_VARIANT (:mod:`course_lib.reporting`)}}.
    """
    results = {name: {variant: {} for variant in reporting.VARIANTS} for name in runners}
    paired_scores = {name: {} for name in runners}
    runtime = {name: 0.0 for name in runners}
    examples = {}
    for group, group_masks in eval_masks.items():
        paired = pair_masks(group_masks, len(images))
        examples[group] = {"masks": paired[:n_examples], "outputs": {}}
        for name, run in runners.items():
            n = images_per_method[name]
            tic = time.perf_counter()
            outputs = np.asarray(run(images[:n], paired[:n]), dtype=np.float32)  # one pass over the group
            runtime[name] += time.perf_counter() - tic
            scores = score_images(images[:n], outputs, paired[:n])
            for variant, per_metric in scores.items():
                results[name][variant][group] = {metric: reporting.summarize(v) for metric, v in per_metric.items()}
            paired_scores[name][group] = scores[reporting.PAIRED_VARIANT][reporting.PAIRED_METRIC]
            examples[group]["outputs"][name] = composite(images[:n_examples], outputs[:n_examples],
                                                         paired[:n_examples])
            if verbose:
                print(f"[evaluate] {group:>8}  {name:<14} {n} images, {time.perf_counter() - tic:5.1f} s "
                      "with metrics", flush=True)
    return results, runtime, examples, paired_scores


def evaluate(
    checkpoints=None,
    *,
    n_test: int | None = None,
    out_dir,
    seed: int = 0,
    images=None,
    images_source: str | None = None,
    batch_size: int = 256,
    methods=None,
    max_images_per_method: dict[str, int] | None = None,
    n_examples: int = 4,
    figures: bool = True,
    verbose: bool = True,
    eval_masks: dict | None = None,
) -> dict:
    """Evaluate networks and classical methods on the fixed evaluation masks; write the results.

    Args:
        checkpoints: ``{name: path | keras.Model | (kind, path | keras.Model)}``, or ``None`` for
            the classical methods alone.  Without a kind, the name's part before the first ``-``
            is the kind (``"pconv-liu"`` -> ``"pconv"``, see :func:`network_kind`).
        n_test: number of CIFAR-10 test images (a class-balanced subset, reproducible for a
            seed); ``None``: the profile's ``n_test`` (``None`` there = all 10,000).  With
            ``images=`` it keeps the first ``n_test`` of them.
        out_dir: folder for results.json, results.md and the PNG figures (created).
        seed: seed of the test subset.
        images: evaluate these images instead of CIFAR-10: uint8 or float (N, H, W, 3) in [0, 1]
            (e.g. ``photographs.sample_photographs(300)`` or ``photographs.load_image_folder(path)``).
        images_source: where ``images`` come from, in one line, for results.json and results.md.
        batch_size: images per network forward pass.
        methods: names of the classical methods to run (keys of :data:`CLASSICAL_METHODS` and
            :data:`DATABASE_METHOD`); ``None``: all of them (the database only on CIFAR-10 test
            images, not on ``images=``); ``()``: none.
        max_images_per_method: ``{method: m}``: evaluate that method on the first ``m`` images
            only (for a slow method); the JSON records how many images each number rests on.
        n_examples: images shown per qualitative figure.
        figures: write the PNG figures (needs matplotlib).
        verbose: print the time each method takes.
        eval_masks: ``{group: float32 (K, H, W, 1) masks}`` to use instead of the fixed evaluation
            set (e.g. ``masks.build_eval_masks(seed=...)``: other masks of the same bins).

    Returns:
        The dict written to results.json::

            {"schema_version": 2,
             "metadata": {"n_test", "seed", "data": {...}, "groups": [...], "masks_per_group": {...},
                          "methods": [...], "networks": [...], "metrics": {name: label},
                          "variants": ["raw", "composite"],
                          "checkpoints": {name: {"kind", "source", "params"}},
                          "images_per_method": {method: n}, "runtime_seconds": {method: s, "total": s},
                          "versions": {...}, "date", "machine": {...}, "notes": [...]},
             "results": {method: {variant: {group: {metric: {"mean", "std", "ci95", "n", "n_undefined"}}}}},
             "paired": {"metric": "hole_psnr", "variant": "composite",
                        "differences": {method: {reference: {group: summary of method - reference,
                                        image by image}}}}}

        The paired methods are the networks and the classical methods that copy pixels (patch, database);
        the references are the classical methods and the networks (a method is not paired with itself).
    """
    started = time.perf_counter()
    images, data_source = _load_test_images(images, n_test, seed, images_source)
    networks = _resolve_checkpoints(checkpoints)
    # The database holds CIFAR-10 images: by default it competes only on CIFAR-10 test images.
    runners = _method_runners(networks, methods, batch_size, database=data_source["source"] == "CIFAR-10 test split")
    if not runners:
        raise ValueError("Nothing to evaluate: pass checkpoints=... or leave methods=None for the classical methods.")
    images_per_method = _images_per_method(runners, len(images), max_images_per_method)
    n_examples = min(n_examples, *images_per_method.values())
    mask_source = "the fixed evaluation set (masks.load_eval_masks())" if eval_masks is None else "passed to evaluate()"
    eval_masks = masks_lib.load_eval_masks() if eval_masks is None else {
        group: masks_lib.validate_masks(group_masks) for group, group_masks in eval_masks.items()}

    results, runtime, examples, paired_scores = _evaluate_groups(
        images, eval_masks, runners, images_per_method, n_examples, verbose)
    classical_names = [name for name in runners if name not in networks]

    runtime = {name: round(seconds, 2) for name, seconds in runtime.items()}
    runtime["total"] = round(time.perf_counter() - started, 2)
    report = {
        "schema_version": SCHEMA_VERSION,
        "metadata": {
            "n_test": len(images),
            "seed": seed,
            "data": data_source,
            "groups": list(eval_masks),
            "masks_per_group": {group: len(m) for group, m in eval_masks.items()},
            "mask_source": mask_source,
            "methods": list(runners),
            "networks": list(networks),
            "metrics": {metric: reporting.METRIC_LABELS[metric] for metric in reporting.METRICS},
            "variants": list(reporting.VARIANTS),
            "checkpoints": {name: {"kind": kind, "source": source, "params": int(model.count_params())}
                            for name, (kind, model, source) in networks.items()},
            "images_per_method": images_per_method,
            "runtime_seconds": runtime,
            "versions": environment.library_versions(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": environment.describe_machine(),
            "notes": list(NOTES),
        },
        "results": results,
        "paired": {
            "metric": reporting.PAIRED_METRIC,
            "variant": reporting.PAIRED_VARIANT,
            "differences": (paired_comparison(paired_scores, list(networks) + _copying(classical_names),
                                              classical_names + list(networks))
                            if classical_names else {}),
        },
    }
    reporting.write_results(report, out_dir)
    if figures:
        from course_lib import viz  # here: evaluating without figures needs no matplotlib

        viz.write_evaluation_figures(report, images[:n_examples], examples, out_dir)
    return report
