"""The perception-distortion study: every method of the course scored beyond PSNR, and the
adversarial network at several values of lambda.

    .venv/bin/python scripts/perception_study.py      # train (resumable), score, store in results/perception/

1. **Training** (:func:`train_runs`): the improved network fine-tuned from its shipped weights
   with the adversarial recipe at each lambda of :data:`LAMBDAS` (0 is the pixel-loss twin: the
   same schedule, the same steps, no adversarial term), ``cpu`` profile sizes, :data:`EPOCHS`
   epochs.  The run with :data:`course_lib.recipes.ADVERSARIAL_WEIGHT` is the shipped
   ``"adversarial"`` network.
2. **Scoring** (:func:`study`): the same 500 CIFAR-10 test images and evaluation masks as
   ``results/results.json``; per method and group: hole PSNR, sharpness, the classifier's
   accuracy (class kept) and the feature distance to 500 other real test images
   (:mod:`course_lib.perception`); per lambda > 0, paired differences against lambda = 0.
3. **Storing** (:func:`write`): ``perception.json``, ``perception.md``, the plane's figure and
   each run's ``log.csv`` and ``run.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from course_lib import config, perception, recipes
from course_lib.reporting import paired_difference, summarize

#: The values of lambda trained (0: the twin without an adversarial term).
LAMBDAS = (0.0, 0.01, 0.03, 0.1, 0.3)

#: Epochs of each fine-tuning run (``cpu`` profile: 10,000 images each).
EPOCHS = 3

#: Where the study is stored in the repository.
STORED_DIR = config.REPO_ROOT / "results" / "perception"

#: The row of other real images in the tables (the feature distance a perfect fill would get).
REAL_FLOOR = "real images (other)"

#: The group the plane's figure shows.
PLANE_GROUP = "0.5-0.6"


def lambda_name(value):
    """The method name of the run with lambda ``value``: ``"λ=0"``, ``"λ=0.01"``."""
    return f"λ={value:g}"


def run_dir(out_dir, value):
    return Path(out_dir) / "runs" / f"lambda-{value:g}"


def train_runs(out_dir, *, profile="cpu", lambdas=LAMBDAS, epochs=EPOCHS, verbose=2):
    """Train (or resume) the fine-tuning run of every lambda into ``out_dir/runs/lambda-<value>``."""
    from course_lib.train import train

    for value in lambdas:
        train("adversarial", out_dir=run_dir(out_dir, value), profile=profile, epochs=epochs,
              adversarial_weight=value, verbose=verbose)


def other_real_images(images, n, seed=1):
    """``n`` CIFAR-10 test images that are not among ``images`` (float in [0, 1])."""
    from course_lib import data

    _, (test_images, _) = data.load_cifar10()
    taken = {image.tobytes() for image in np.round(np.asarray(images) * 255).astype(np.uint8)}
    free = [i for i, image in enumerate(test_images) if image.tobytes() not in taken]
    chosen = np.random.default_rng(seed).choice(free, size=n, replace=False)
    return data.images_to_float(test_images[np.sort(chosen)])


def _summary(values):
    """:func:`course_lib.reporting.summarize` plus the median (sharpness ratios are skewed)."""
    values = np.asarray(values, dtype=np.float64)
    summary = summarize(values)
    finite = values[np.isfinite(values)]
    summary["median"] = float(np.median(finite)) if finite.size else None
    return summary


def study(runners, images, labels, real_images, groups, classifier, *, pairs=(), resamples=None,
          verbose=True):
    """Score every method with hole PSNR, sharpness, class kept and feature distance.

    Args:
        runners: ``{method: callable(images, masks) -> outputs}`` (e.g.
            :func:`course_lib.evaluate.method_functions`).
        images, labels: the test images (N, 32, 32, 3) float in [0, 1] and their (N,) classes.
        real_images: other real images (M, 32, 32, 3), the reference set of the feature distance.
        groups: ``{group: (K, 32, 32, 1) masks}``; image i gets mask ``i mod K``.
        classifier: the classifier of :mod:`course_lib.classifier`.
        pairs: ``((method_a, method_b), ...)`` to compare image by image (paired intervals).
        resamples: bootstrap resamples of the feature distance's interval (None:
            :data:`course_lib.perception.BOOTSTRAP`).

    Returns:
        ``{"groups": {group: {method: {"hole_psnr", "sharpness", "class_kept": summaries,
        "accuracy", "feature_distance": floats}}}, "clean": {"accuracy", "feature_distance"},
        "paired": {"a - b": {group: {...}}}}``.
    """
    from course_lib import classifier as classifier_lib
    from course_lib import evaluate, metrics

    _, real_features = classifier_lib.logits_and_features(classifier, real_images)
    clean_logits, clean_features = classifier_lib.logits_and_features(classifier, images)
    labels = np.asarray(labels).reshape(-1)
    results = {
        "clean": {"accuracy": float(np.mean(np.argmax(clean_logits, 1) == labels)),
                  "feature_distance": perception.frechet_distance(clean_features, real_features)},
        "groups": {}, "paired": {f"{a} - {b}": {} for a, b in pairs},
    }
    for group, group_masks in groups.items():
        masks = evaluate.pair_masks(group_masks, len(images))
        scores, features, per_image_of = {}, {}, {}
        for method, run in runners.items():
            started = time.perf_counter()
            composite = evaluate.composite(images, np.clip(run(images, masks), 0.0, 1.0), masks)
            logits, features[method] = classifier_lib.logits_and_features(classifier, composite)
            kept = (np.argmax(logits, 1) == labels).astype(np.float64)
            per_image = per_image_of[method] = {
                "hole_psnr": metrics.psnr(images, composite, hole_mask=1.0 - masks),
                "sharpness": perception.sharpness(images, composite, masks), "class_kept": kept}
            scores[method] = {
                **{name: _summary(values) for name, values in per_image.items()},
                "accuracy": float(kept.mean()),
                "feature_distance": perception.frechet_distance(features[method], real_features),
            }
            if verbose:
                print(f"  {group:>9} {method:<22} {time.perf_counter() - started:5.1f} s")
        for a, b in pairs:
            results["paired"][f"{a} - {b}"][group] = {
                name: paired_difference(per_image_of[a][name], per_image_of[b][name])
                for name in ("hole_psnr", "sharpness")
            } | {"feature_distance": perception.frechet_difference(
                features[a], features[b], real_features, resamples=resamples or perception.BOOTSTRAP)}
        results["groups"][group] = scores
    return results


def write(results, out_dir):
    """Write ``perception.json`` and ``perception.md`` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "perception.json", out_dir / "perception.md"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path


def load(path):
    """A study's results from ``perception.json`` (a folder or the file)."""
    path = Path(path)
    return json.loads((path / "perception.json" if path.is_dir() else path).read_text())


def _number(value, digits):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _signed(value, digits):
    return "–" if value is None else f"{value:+.{digits}f}"


def markdown(results):
    """The study as Markdown: one table per group, then the paired comparisons."""
    lines = [
        "# Measures beyond PSNR", "",
        f"Clean test images: classifier accuracy {results['clean']['accuracy']:.3f}; feature distance of "
        f"the clean images to {REAL_FLOOR}: {results['clean']['feature_distance']:.2f} (the floor: what "
        "a perfect fill would get).", "",
        "Sharpness: gradient energy of the fill in the dilated hole over the truth's (1 = as sharp as "
        "the truth; median over images). Class kept: the classifier's accuracy on the inpainted images. "
        "Feature distance: Fréchet distance of the classifier's features to real images (not FID).", "",
    ]
    for group in results["groups"]:
        lines += [f"## {group}", "", group_table(results, group), ""]
    for pair in results.get("paired", {}):
        lines += [f"## Paired: {pair}", "", paired_table(results, pair), ""]
    return "\n".join(lines)


def group_table(results, group):
    """One group's Markdown table: a row per method, a column per measure."""
    lines = ["| method | hole PSNR (dB) | sharpness (median) | class kept | feature distance |",
             "|---|---:|---:|---:|---:|"]
    for method, s in results["groups"][group].items():
        lines.append(
            f"| {method} | {_number(s['hole_psnr']['mean'], 2)} ± {_number(s['hole_psnr']['ci95'], 2)} "
            f"| {_number(s['sharpness']['median'], 3)} | {s['accuracy']:.3f} "
            f"| {s['feature_distance']:.2f} |")
    return "\n".join(lines)


def paired_table(results, pair):
    """The paired differences ``"a - b"`` of every group as a Markdown table (95 % intervals)."""
    lines = ["| group | hole PSNR (dB) | sharpness (mean) | feature distance (bootstrap 95 %) |",
             "|---|---:|---:|---:|"]
    for group, d in results["paired"][pair].items():
        fd = d["feature_distance"]
        lines.append(
            f"| {group} | {_signed(d['hole_psnr']['mean'], 2)} ± {_number(d['hole_psnr']['ci95'], 2)} "
            f"| {_signed(d['sharpness']['mean'], 3)} ± {_number(d['sharpness']['ci95'], 3)} "
            f"| {fd['difference']:+.2f} [{fd['low']:+.2f}, {fd['high']:+.2f}] |")
    return "\n".join(lines)


def plot_plane(results, group, *, series=None, ax=None, span_db=3.0):
    """The perception-distortion plane of one group, as a figure with two panels: hole PSNR
    against sharpness and against the feature distance, one point per method.

    ``series``: method names drawn as one connected line (default: the lambda runs, in order),
    each point labelled by what follows ``=`` in its name.  Methods more than ``span_db`` below the
    best hole PSNR are left off the axes and named in the title.  Returns the figure.
    """
    import matplotlib.pyplot as plt

    scores = results["groups"][group]
    if series is None:
        series = [lambda_name(v) for v in results.get("metadata", {}).get("lambdas", []) if lambda_name(v) in scores]
    psnr = {m: s["hole_psnr"]["mean"] for m, s in scores.items() if s["hole_psnr"]["mean"] is not None}
    top = max(psnr.values())
    shown = [m for m in psnr if psnr[m] >= top - span_db]
    hidden = [m for m in psnr if m not in shown]
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    else:
        fig = ax[0].figure
    for panel, (key, label) in zip(ax, (("sharpness", "sharpness (1 = as sharp as the truth)"),
                                        ("feature_distance", "feature distance to real images (lower = more real)"))):
        def x_of(method):
            return scores[method][key]["median"] if key == "sharpness" else scores[method][key]

        for method in shown:
            if method in series:
                continue
            panel.scatter(x_of(method), psnr[method], s=30, color="C0", zorder=3)
            right = method == "improved"  # it sits on the lambda = 0 point: label it on the other side
            panel.annotate(method, (x_of(method), psnr[method]), textcoords="offset points",
                           xytext=(-5, 4) if right else (4, 4), ha="right" if right else "left", fontsize=10)
        line = [m for m in series if m in shown]
        if line:
            panel.plot([x_of(m) for m in line], [psnr[m] for m in line], "o-", color="C3", zorder=4,
                       label="adversarial fine-tuning, by λ")
            for i, method in enumerate(line):  # labels alternate below and above: neighbours can be close
                panel.annotate(method.split("=", 1)[-1], (x_of(method), psnr[method]), textcoords="offset points",
                               xytext=(4, -13) if i % 2 == 0 else (4, 5), fontsize=10, color="C3")
            panel.legend(loc="upper right" if key == "sharpness" else "lower left", fontsize=10)
        panel.set_xlabel(label, fontsize=11)
        panel.set_ylabel("hole PSNR (dB, higher = closer to the truth)", fontsize=11)
        panel.tick_params(labelsize=10)
        panel.grid(alpha=0.3)
    ax[0].axvline(1.0, color="grey", lw=0.8, ls="--")
    ax[1].axvline(results["clean"]["feature_distance"], color="grey", lw=0.8, ls="--")
    off = f" (off the axes, below {top - span_db:.1f} dB: {', '.join(hidden)})" if hidden else ""
    fig.suptitle(f"The perception-distortion plane, holes {group}{off}", fontsize=12)
    return fig


def _interval(summary, digits):
    return f"{summary['mean']:+.{digits}f} ± {summary['ci95']:.{digits}f}"


def findings(results, lam=None):
    """What the study shows about the network with lambda ``lam`` (default: the shipped one) against
    its lambda = 0 twin, and about every lambda on :data:`PLANE_GROUP`, as sentences."""
    lam = results["metadata"]["shipped_lambda"] if lam is None else lam
    name, twin = lambda_name(lam), lambda_name(0.0)
    paired = results["paired"][f"{name} - {twin}"]
    groups = list(paired)
    sharper = [g for g in groups if paired[g]["sharpness"]["mean"] - paired[g]["sharpness"]["ci95"] > 0]
    closer = [g for g in groups if paired[g]["feature_distance"]["high"] < 0]
    psnr = [paired[g]["hole_psnr"]["mean"] for g in groups]
    large = paired[PLANE_GROUP]
    scores = results["groups"][PLANE_GROUP]
    return [
        f"{name} against its twin {twin}: sharper in {len(sharper)} of {len(groups)} groups (paired 95 % interval "
        f"above 0; on {PLANE_GROUP} holes {_interval(large['sharpness'], 3)} in sharpness), lower feature "
        f"distance in {len(closer)} of {len(groups)} (bootstrap interval below 0; on {PLANE_GROUP} "
        f"{large['feature_distance']['difference']:+.2f} [{large['feature_distance']['low']:+.2f}, "
        f"{large['feature_distance']['high']:+.2f}]).",
        f"The price in hole PSNR: {min(psnr):+.2f} to {max(psnr):+.2f} dB across the groups "
        f"({_interval(large['hole_psnr'], 2)} dB on {PLANE_GROUP}).",
        f"On {PLANE_GROUP} holes, by lambda: " + "; ".join(
            f"{lambda_name(v)}: sharpness {scores[lambda_name(v)]['sharpness']['median']:.3f}, hole PSNR "
            f"{scores[lambda_name(v)]['hole_psnr']['mean']:.2f} dB, feature distance "
            f"{scores[lambda_name(v)]['feature_distance']:.2f}" for v in results["metadata"]["lambdas"]) + ".",
        f"Class kept on {PLANE_GROUP} holes (clean: {results['clean']['accuracy']:.3f}): " + ", ".join(
            f"{method} {s['accuracy']:.3f}" for method, s in sorted(scores.items(), key=lambda kv: -kv[1]["accuracy"]))
        + ".",
    ]


def save_plane(results, out_dir, group=PLANE_GROUP):
    """Draw :func:`plot_plane` of ``group`` into ``out_dir/plane_<group>.png``; returns the path."""
    import matplotlib.pyplot as plt

    fig = plot_plane(results, group)
    path = Path(out_dir) / f"plane_{group}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(out_dir, *, n_test=500, lambdas=LAMBDAS, profile="cpu", verbose=True):
    """Train what is missing, score every method, write the study into ``out_dir``; returns the results."""
    from course_lib import data, evaluate, masks, names, pretrained

    train_runs(out_dir, profile=profile, lambdas=lambdas, verbose=2 if verbose else 0)
    (_, _), (x_test, y_test) = data.load_cifar10(n_test=n_test, seed=0)
    images = data.images_to_float(x_test)
    checkpoints = {name: (name, pretrained.load_pretrained(name)) for name in names.FROM_SCRATCH}
    checkpoints.update({lambda_name(value): ("adversarial", run_dir(out_dir, value) / "final.keras")
                        for value in lambdas})
    runners = evaluate.method_functions(checkpoints)
    twin = lambda_name(0.0)
    pairs = [(lambda_name(value), twin) for value in lambdas if value > 0]
    results = study(runners, images, y_test, other_real_images(images, n_test), masks.load_eval_masks(),
                    pretrained.load_pretrained(pretrained.CLASSIFIER), pairs=pairs, verbose=verbose)
    record = pretrained.pretrained_record(pretrained.CLASSIFIER)
    results["metadata"] = {
        "n_test": n_test, "images": "CIFAR-10 test split, class-balanced subset (seed 0), as results/results.json",
        "real_reference": f"{n_test} other CIFAR-10 test images (seed 1)",
        "lambdas": list(lambdas), "shipped_lambda": recipes.ADVERSARIAL_WEIGHT, "epochs": EPOCHS, "profile": profile,
        "runs": {lambda_name(v): json.loads((run_dir(out_dir, v) / "run.json").read_text()) for v in lambdas},
        "classifier": {"test_accuracy": record["test_accuracy"], "wall_time_s": record["wall_time_s"],
                       "epochs": record["settings"]["epochs"]},
    }
    write(results, out_dir)
    return results
