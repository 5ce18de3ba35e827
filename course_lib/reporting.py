"""Results of :func:`course_lib.evaluate.evaluate` as numbers and tables, without TensorFlow.

:mod:`course_lib.evaluate` runs the methods (and needs Keras for the networks); this module only
reads and summarises what it wrote, so that figures (:mod:`course_lib.viz`), the README and a
notebook that only *reads* ``results.json`` start in a fraction of a second:

* the metric names and labels (:data:`METRICS`, :data:`METRIC_LABELS`);
* :func:`summarize` (mean, std, 95 % CI of per-image values) and :func:`paired_difference`;
* :func:`load_results`, :func:`results_table_markdown`, :func:`paired_table_markdown`,
  :func:`best_classical`, :func:`results_markdown` and :func:`write_results`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from course_lib import environment

#: Per-image metrics, in the order of the JSON and the tables.
METRICS = ("psnr", "ssim", "l1", "hole_psnr", "hole_l1")


#: Human-readable names, for tables and figures.
METRIC_LABELS = {
    "psnr": "PSNR (dB), whole image",
    "ssim": "SSIM, whole image",
    "l1": "L1, whole image",
    "hole_psnr": "PSNR (dB), hole only",
    "hole_l1": "L1, hole only",
}


#: Digits shown in the Markdown tables.
METRIC_DIGITS = {"psnr": 2, "ssim": 3, "l1": 4, "hole_psnr": 2, "hole_l1": 4}


#: "raw": the method's output; "composite": known pixels pasted back from the ground truth.
VARIANTS = ("raw", "composite")


#: The metric and variant of the paired comparison between networks and classical methods.
PAIRED_METRIC, PAIRED_VARIANT = "hole_psnr", "composite"


def summarize(values) -> dict:
    """Mean, std (ddof=1), 95 % CI half-width, ``n`` over the finite values; ``n_undefined`` = the rest.

    Returns:
        ``{"mean", "std", "ci95", "n", "n_undefined"}``; mean/std/ci95 are ``None`` when no value
        is finite (JSON ``null``), std and ci95 are 0 for a single value.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    summary = {"mean": None, "std": None, "ci95": None, "n": n, "n_undefined": int(values.size - n)}
    if n:
        std = float(finite.std(ddof=1)) if n > 1 else 0.0
        summary.update(mean=float(finite.mean()), std=std, ci95=1.96 * std / math.sqrt(n))
    return summary


def paired_difference(values, reference) -> dict:
    """:func:`summarize` of the per-image differences ``values - reference``.

    Both are (N,) scores of two methods on the *same* N image-mask pairs, so the difference
    of each pair removes what the pair itself makes easy or hard; its 95 % interval says
    whether one method beats the other, which two overlapping intervals of the separate
    means cannot (they include the spread between images that the two methods share).
    The first ``min(len(values), len(reference))`` pairs are used; pairs where either value
    is not finite are left out (``n_undefined``).
    """
    n = min(len(values), len(reference))
    with np.errstate(invalid="ignore"):  # inf - inf (two exact fills) is undefined: left out as NaN
        return summarize(np.asarray(values[:n], np.float64) - np.asarray(reference[:n], np.float64))


def load_results(results_or_path) -> dict:
    """A results dict as it is, or read from a results.json file (or a folder holding one)."""
    if isinstance(results_or_path, dict):
        return results_or_path
    path = Path(results_or_path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"No results file at {path}. Run `python -m course_lib evaluate` first.")
    return json.loads(path.read_text())


def _format_cell(summary: dict, digits: int) -> str:
    if summary["mean"] is None:
        return "n/a"
    cell = f"{summary['mean']:.{digits}f} ± {summary['ci95']:.{digits}f}"
    return cell + " *" if summary["n_undefined"] else cell


def results_table_markdown(
    results, metrics=("hole_psnr", "psnr", "ssim"), *, variant: str = "composite", methods=None,
) -> str:
    """Markdown tables from a results dict (or results.json path): one per metric.

    Rows are methods, columns the mask groups; a cell is ``mean ± 95 % CI`` over the images,
    marked ``*`` when some images had no finite value (see the JSON's ``n_undefined``).

    Args:
        results: what :func:`evaluate` returned, or the path of its results.json.
        metrics: metric names of :data:`METRICS`, one table each.
        variant: ``"composite"`` (known pixels pasted back) or ``"raw"``.
        methods: rows to show; ``None``: every method in the results.

    Returns:
        Markdown text.
    """
    results = load_results(results)
    groups = results["metadata"]["groups"]
    methods = list(results["results"]) if methods is None else list(methods)
    tables = []
    for metric in metrics:
        lines = [f"**{METRIC_LABELS[metric]}** ({variant}; mean ± 95 % CI over images)", "",
                 "| method | " + " | ".join(groups) + " |",
                 "|---|" + "---:|" * len(groups)]
        for method in methods:
            per_group = results["results"][method][variant]
            cells = [_format_cell(per_group[group][metric], METRIC_DIGITS[metric]) for group in groups]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def best_classical(results, metric=PAIRED_METRIC, variant=PAIRED_VARIANT) -> str:
    """The classical method with the highest ``metric`` averaged over the groups (ties: first)."""
    results = load_results(results)
    networks = set(results["metadata"]["networks"])
    candidates = [m for m in results["results"] if m not in networks]
    if not candidates:
        raise ValueError("These results hold no classical method to compare with; evaluate with methods=None.")

    def mean_over_groups(method):
        means = [s[metric]["mean"] for s in results["results"][method][variant].values()]
        return float(np.mean([m for m in means if m is not None])) if any(m is not None for m in means) else -math.inf

    return max(candidates, key=mean_over_groups)


def paired_table_markdown(results, references=None) -> str:
    """Markdown table of the paired comparison: per method (networks, then copying methods) and reference, per group,
    the mean per-image difference in hole PSNR (dB) with its 95 % interval.

    ``references``: methods to compare with (classical methods or networks); ``None``: the best classical one
    (:func:`best_classical`) and ``"diffusion"`` (the course's own), those present.
    """
    results = load_results(results)
    paired = results.get("paired")
    if not paired or not paired["differences"]:
        return ""
    groups = results["metadata"]["groups"]
    if references is None:
        references = list(dict.fromkeys([best_classical(results), "diffusion"]))
    lines = [f"**Paired: method − reference, {METRIC_LABELS[paired['metric']]}** ({paired['variant']}; "
             "mean ± 95 % CI of the per-image difference; above 0: the first method wins)", "",
             "| method − reference | " + " | ".join(groups) + " |",
             "|---|" + "---:|" * len(groups)]
    for network, per_reference in paired["differences"].items():
        for reference in (r for r in references if r in per_reference):
            cells = [_format_signed(per_reference[reference][group]) for group in groups]
            lines.append(f"| {network} − {reference} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _format_signed(summary: dict) -> str:
    if summary["mean"] is None:
        return "n/a"
    return f"{summary['mean']:+.2f} ± {summary['ci95']:.2f}"


def time_per_image(results) -> dict[str, float]:
    """``{method: milliseconds per image}``: each method's running time over the (image, mask) pairs it filled."""
    meta = load_results(results)["metadata"]
    pairs = {method: n * len(meta["groups"]) for method, n in meta["images_per_method"].items()}
    return {method: 1000.0 * meta["runtime_seconds"][method] / pairs[method] for method in pairs if pairs[method]}


def _format_ms(ms: float) -> str:
    """Two or three significant digits: 0.04, 2.2, 12.3, 104."""
    return f"{ms:.2f}" if ms < 1 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def time_table_markdown(results) -> str:
    """One row per method: what filling one 32 x 32 image cost in the run (wall-clock, batched)."""
    results = load_results(results)
    cores = environment.cpu_cores(results["metadata"].get("machine", {}))
    where = f" on {cores} CPU cores" if cores else ""
    lines = [f"**Time per image** (ms, wall-clock, batch by batch{where})", "", "| method | ms per image |", "|---|---:|"]
    lines += [f"| {method} | {_format_ms(ms)} |" for method, ms in time_per_image(results).items()]
    return "\n".join(lines) + "\n"


def results_markdown(results) -> str:
    """The whole results.md: a header with the run's metadata, then the tables."""
    results = load_results(results)
    meta = results["metadata"]
    header = (f"{meta['n_test']} test images (seed {meta['seed']}, {meta['data']['source']}), {meta['date']}, "
              f"course_lib {meta['versions']['course_lib']}. Hole-ratio groups use the fixed evaluation masks; "
              "image i gets mask i mod K of each group.")
    bullets = [f"- `{name}`: {c['kind']} U-Net, {c['params']:,} parameters, {c['source']}"
               for name, c in meta["checkpoints"].items()]
    bullets += [f"- `{method}` was evaluated on the first {n} images only."
                for method, n in meta["images_per_method"].items() if n < meta["n_test"]]
    legend = ("Cells: mean ± 95 % CI; `*`: some images gave no finite value (see results.json, `n_undefined`). "
              "Networks: known pixels pasted back (composite) unless marked raw. There is no hole SSIM "
              "(SSIM windows straddle the hole border).")
    parts = ["# Evaluation results", header]
    if bullets:
        parts.append("\n".join(bullets))
    parts += [legend, results_table_markdown(results)]
    if results.get("paired", {}).get("differences"):
        parts.append(paired_table_markdown(results))
    parts.append(time_table_markdown(results))
    if meta["networks"]:
        parts += ["## Networks, raw output (known pixels not pasted back)",
                  results_table_markdown(results, ("psnr", "ssim"), variant="raw", methods=meta["networks"])]
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def write_results(results: dict, out_dir) -> Path:
    """Write results.json and results.md into ``out_dir`` (created); return the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    (out_dir / "results.md").write_text(results_markdown(results))
    return out_dir
