"""How much of a difference between two networks is the network, and how much is the luck of one run?

    study = seed_study.run(profile="cpu", out_dir="build/seed-study")   # trains 3 networks x 3 seeds
    study = seed_study.load(seed_study.STORED_DIR)                      # the course's runs

A network trained once gives one sample of what its architecture and recipe can do: the seed
draws the initial weights, the training subset, its order and the masks.  The paired intervals
of :func:`course_lib.evaluate.evaluate` cover the choice of *test images* only; to say that
one architecture beats another, the gap must also hold across *training runs*.  This module
trains every network with several seeds, in the same profile and the same recipe
(:mod:`course_lib.recipes`), scores them all on the same test images and masks, and summarises
per hole-size group:

- each run's mean hole PSNR (composite) and its paired difference with biharmonic inpainting;
- for each pair of networks, the later of :data:`NETWORKS` minus the earlier (``pconv - vanilla``),
  the difference of their means over every pairing of seeds
  (3 x 3 = 9 differences for three seeds each): a conclusion "A beats B" holds across the
  seeds when all of them have the same sign.

:func:`run` writes into ``out_dir``::

    out_dir/runs/<network>-s<seed>/   the training runs (resumable, see course_lib.train)
    out_dir/logs/<network>-s<seed>.csv
    out_dir/results.json, .md         course_lib.evaluate of every run and the reference
    out_dir/seeds.json, seeds.md      the summary above (:func:`summarize`)

``scripts/compare_seeds.py`` runs it and stores the small files in ``results/seeds/``.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np

from course_lib import config, names, validation
from course_lib.reporting import PAIRED_METRIC, PAIRED_VARIANT

#: The seeds of the course's study.
SEEDS = (0, 1, 2)

#: The networks compared (those the course trains from scratch, :data:`course_lib.names.FROM_SCRATCH`).
NETWORKS = tuple(names.FROM_SCRATCH)

#: The classical method every run is paired with.
REFERENCE = "biharmonic"

#: The floor: a run below it in every group paints a flat colour, it did not learn to inpaint (a "dead"
#: network, see notebook 06).  Such a run is reported, and left out of the comparisons.
FLOOR = "mean fill"

#: Where the course keeps its own seed study: ``results/seeds/`` of a checkout.
STORED_DIR = config.REPO_ROOT / "results" / "seeds"


def run_name(network: str, seed: int) -> str:
    """The name of one run in tables: ``"pconv-s1"``."""
    return f"{network}-s{seed}"


def _check(networks, seeds):
    for network in networks:
        names.check_model_name(network)
    seeds = tuple(validation.check_seed(seed, name=f"seeds[{i}]") for i, seed in enumerate(seeds))
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be at least two different seeds, got {seeds!r}; e.g. seeds=(0, 1, 2).")
    return tuple(networks), seeds


def train_runs(*, profile=None, out_dir, networks=NETWORKS, seeds=SEEDS, verbose=2) -> dict:
    """Train every network with every seed (seed by seed, so that an interrupted study has whole seeds).

    Returns:
        ``{run name: (network kind, path of best.keras)}``, the checkpoints for evaluate.
    """
    from course_lib import train  # TensorFlow: only where training happens (reading a study needs none)

    networks, seeds = _check(networks, seeds)
    out_dir = Path(out_dir)
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    trained = {}
    for seed in seeds:
        for network in networks:
            name = run_name(network, seed)
            result = train.train(network, out_dir=out_dir / "runs" / name, profile=profile, seed=seed,
                                 verbose=verbose)
            shutil.copyfile(result.log_path, out_dir / "logs" / f"{name}.csv")
            trained[name] = (network, result.best_path)
    return trained


def run(*, profile=None, out_dir, networks=NETWORKS, seeds=SEEDS, n_test=500, verbose=2) -> dict:
    """Train (or resume) every run, evaluate them together and write the summary.

    Args:
        profile: ``"ci"``, ``"cpu"``, ``"full"`` or None (the profile in force).
        out_dir: folder for the runs, their logs, results and the summary.
        networks: network names; seeds: at least two different seeds.
        n_test: CIFAR-10 test images scored (the same class-balanced subset for every run).
        verbose: passed to :func:`course_lib.train.train`.

    Returns:
        The summary of :func:`summarize` (also written to ``seeds.json`` and ``seeds.md``).
    """
    from course_lib import evaluate

    trained = train_runs(profile=profile, out_dir=out_dir, networks=networks, seeds=seeds, verbose=verbose)
    results = evaluate.evaluate(trained, methods=(REFERENCE, FLOOR), n_test=n_test, seed=0, out_dir=out_dir,
                                figures=False, verbose=False)
    study = summarize(results, networks=networks, seeds=seeds)
    study["profile"] = config.profile_name(profile)
    write(study, out_dir)
    return study


def summarize(results, *, networks=NETWORKS, seeds=SEEDS) -> dict:
    """The seed summary of an :func:`course_lib.evaluate.evaluate` report that holds every run.

    Returns::

        {"metric": "hole_psnr", "variant": "composite", "reference": "biharmonic", "seeds": [...],
         "n_test": N, "groups": [...],
         "runs": {network: {group: [mean of each seed]}},
         "failed": [names of the runs below the floor (mean fill) in every group],
         "versus_reference": {network: {group: [{"mean", "ci95"} of run - reference, per trained seed]}},
         "between": {"pconv-vanilla": {group: {"min", "max", "mean", "all_positive", "all_negative"}}}}

    ``between`` holds every difference ``mean(a, seed i) - mean(b, seed j)`` over the runs that did not fail.
    Without the floor in ``results`` no run counts as failed.
    """
    networks, seeds = _check(networks, seeds)
    table = results["results"]
    groups = list(results["metadata"]["groups"])
    paired = results["paired"]["differences"]

    def mean(name, group):
        return table[name][PAIRED_VARIANT][group][PAIRED_METRIC]["mean"]

    runs = {network: {group: [mean(run_name(network, s), group) for s in seeds] for group in groups}
            for network in networks}
    failed = [run_name(network, s) for network in networks for s in seeds
              if FLOOR in table and all(mean(run_name(network, s), g) < mean(FLOOR, g) for g in groups)]
    trained = {network: [s for s in seeds if run_name(network, s) not in failed] for network in networks}
    versus = {network: {group: [{key: paired[run_name(network, s)][REFERENCE][group][key] for key in ("mean", "ci95")}
                                for s in trained[network]] for group in groups}
              for network in networks}

    def trained_means(network, group):
        return [mean(run_name(network, s), group) for s in trained[network]]

    between = {}
    for b, a in itertools.combinations(networks, 2):  # the later network minus the earlier: pconv - vanilla
        between[f"{a}-{b}"] = {}
        for group in groups:
            gaps = np.subtract.outer(trained_means(a, group), trained_means(b, group)).ravel()
            between[f"{a}-{b}"][group] = {"min": float(gaps.min()), "max": float(gaps.max()),
                                          "mean": float(gaps.mean()), "all_positive": bool((gaps > 0).all()),
                                          "all_negative": bool((gaps < 0).all())}
    return {"metric": PAIRED_METRIC, "variant": PAIRED_VARIANT, "reference": REFERENCE, "seeds": list(seeds),
            "n_test": results["metadata"]["n_test"], "groups": groups, "runs": runs, "failed": failed,
            "versus_reference": versus, "between": between}


def _table(label, rows, groups) -> list[str]:
    """Markdown lines of a table with one column per group: ``rows`` is ``[(name, [cell per group])]``."""
    return (["| " + label + " | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
            + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows])


def _range_cell(values, mark: bool) -> str:
    """``"-0.09 to +0.28"``, with a tick when ``mark``."""
    return f"{min(values):+.2f} to {max(values):+.2f}{' ✓' if mark else ''}"


def markdown(study) -> str:
    """The summary as Markdown: three tables (the runs, each network against the reference, the gaps
    between networks) and the :func:`findings`."""
    groups, seeds, failed = study["groups"], study["seeds"], study.get("failed", [])
    runs = []
    for network, per_group in study["runs"].items():
        kept = [i for i, seed in enumerate(seeds) if run_name(network, seed) not in failed]
        values = {g: [per_group[g][i] for i in kept] for g in groups}
        runs.append((network, [f"{np.mean(v):.2f} (spread {max(v) - min(v):.2f})" for v in values.values()]))
    for name in failed:
        network, seed = name.rsplit("-s", 1)
        runs.append((f"{name} (did not train)",
                     [f"{study['runs'][network][g][seeds.index(int(seed))]:.2f}" for g in groups]))
    versus = [(network, [_range_cell([r["mean"] for r in per_group[g]],
                                     all(r["mean"] - r["ci95"] > 0 for r in per_group[g])) for g in groups])
              for network, per_group in study["versus_reference"].items()]
    between = [(pair.replace("-", " − "), [_range_cell([per_group[g]["min"], per_group[g]["max"]],
                                                       per_group[g]["all_positive"] or per_group[g]["all_negative"])
                                           for g in groups])
               for pair, per_group in study["between"].items()]
    lines = [f"Hole PSNR (dB, composite) on {study['n_test']} CIFAR-10 test images, seeds "
             f"{', '.join(str(s) for s in seeds)} (each cell: the mean over the seeds of each run's mean over the "
             "images, and the spread between seeds; a run that did not train is left out of its network's row and "
             "shown on its own).", "", *_table("network", runs, groups),
             "", f"Run minus {study['reference']}, image by image (dB): the lowest and highest over the seeds "
             "of the paired mean, and whether every seed's 95 % interval lies above zero.", "",
             *_table("network", versus, groups),
             "", "Between networks: every seed of the first minus every seed of the second (dB), "
             "lowest to highest; ✓ when all have the same sign.", "", *_table("pair", between, groups),
             "", *[f"- {line}" for line in findings(study)]]
    return "\n".join(lines) + "\n"


def findings(study) -> list[str]:
    """One sentence per comparison, computed from the summary: in how many groups each network
    beats the reference beyond its interval for every seed, and in how many groups each gap
    between networks keeps its sign over every pairing of seeds."""
    groups = study["groups"]
    failed = study.get("failed", [])
    lines = [f"{name} did not learn to inpaint: below {FLOOR} in every group (a flat fill); it is left out below."
             for name in failed]
    for network, per_group in study["versus_reference"].items():
        seeds = len(per_group[groups[0]])
        ahead = [g for g in groups if all(r["mean"] - r["ci95"] > 0 for r in per_group[g])]
        behind = [g for g in groups if all(r["mean"] + r["ci95"] < 0 for r in per_group[g])]
        every = f"all {seeds} trained seeds" if seeds > 1 else "its one trained seed"
        lines.append(f"{network} − {study['reference']}: ahead beyond the 95 % interval for {every} in "
                     f"{len(ahead)} of {len(groups)} groups, behind in {len(behind)}"
                     + (f" (ahead in {', '.join(ahead)})" if 0 < len(ahead) < len(groups) else "") + ".")
    for pair, per_group in study["between"].items():
        a, b = pair.split("-")
        better = [g for g in groups if per_group[g]["all_positive"]]
        worse = [g for g in groups if per_group[g]["all_negative"]]
        lines.append(f"{a} − {b}: ahead for every pairing of seeds in {len(better)} of {len(groups)} groups, "
                     f"behind in {len(worse)}, the sign depends on the seeds in {len(groups) - len(better) - len(worse)}"
                     f" (gaps from {min(per_group[g]['min'] for g in groups):+.2f} to "
                     f"{max(per_group[g]['max'] for g in groups):+.2f} dB).")
    return lines


def write(study, out_dir) -> None:
    """Write ``seeds.json`` and ``seeds.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "seeds.json").write_text(json.dumps(study, indent=1) + "\n")
    (out_dir / "seeds.md").write_text(markdown(study))


def load(results_dir=None) -> dict:
    """A finished study's summary (``seeds.json``); ``results_dir`` defaults to :data:`STORED_DIR`."""
    path = Path(STORED_DIR if results_dir is None else results_dir) / "seeds.json"
    if not path.is_file():
        raise FileNotFoundError(f"No seed study at {path.parent}: run scripts/compare_seeds.py "
                                "(or seed_study.run(profile=..., out_dir=...)) to make one.")
    return json.loads(path.read_text())
