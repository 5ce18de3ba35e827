"""Which loss should the network learn from?  The same PConv U-Net trained once per loss, then scored.

    results, logs = loss_study.run(profile="cpu", out_dir="build/loss-study")   # trains (minutes)
    results, logs = loss_study.load(loss_study.STORED_DIR)                      # the course's runs

Every run uses the course's recipe (:mod:`course_lib.recipes`: mixed masks, warm-up and cosine
decay, clipping) and the same seed, profile and data; only the loss differs, so differences in
the scores are the loss's doing.  :func:`run` writes into ``out_dir``::

    out_dir/runs/<loss>/        the training runs (resumable, see course_lib.train)
    out_dir/logs/<loss>.csv     a copy of each run's log.csv
    out_dir/results.json, .md   course_lib.evaluate on the fixed evaluation masks, with figures

``scripts/compare_losses.py`` runs it and stores the small files (not the models) in
``results/losses/`` of the repository, which notebook 08 reads in the quick ``ci`` profile.
A plain install of course_lib (as on Colab) does not include them: there the notebook runs the study.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from course_lib import config, evaluate, losses, names, reporting, train

#: The losses compared, in the order of the tables.
LOSSES = names.LOSS_NAMES

#: Where the course keeps the results of its own loss study: ``results/losses/`` of a checkout
#: (it does not exist after a plain install).
STORED_DIR = config.REPO_ROOT / "results" / "losses"

#: The network the losses are compared on (fast to train, and given the mask).
MODEL = "pconv"

#: Classical methods scored alongside, as yardsticks: the course's own and the strongest.
REFERENCE_METHODS = ("diffusion", "biharmonic")


def network_name(loss):
    """The name of the network trained with ``loss`` in tables: ``"pconv-l1"``, ..."""
    return f"{MODEL}-{loss}"


def run(*, profile=None, out_dir, loss_names=LOSSES, n_test=None, seed=0, verbose=2):
    """Train the PConv U-Net once per loss in ``profile`` and evaluate the runs together.

    Args:
        profile: ``"ci"``, ``"cpu"``, ``"full"`` or None (the profile in force).
        out_dir: folder for runs, logs and results (a finished study is reloaded at once).
        loss_names: names of :data:`course_lib.losses.LOSSES`.
        n_test: test images for the evaluation (None: the profile's).
        seed: the seed of every run and of the test subset.
        verbose: passed to :func:`course_lib.train.train`.

    Returns:
        ``(results, logs)``: the dict of :func:`course_lib.evaluate.evaluate` (the networks and
        :data:`REFERENCE_METHODS`) and ``{loss: path of its log.csv}``.
    """
    for name in loss_names:
        losses.get_loss(name)  # a clear error before any training starts
    out_dir = Path(out_dir)
    profile = config.profile_name(profile)
    trained, logs = {}, {}
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    for name in loss_names:
        result = train.train(MODEL, out_dir=out_dir / "runs" / name, profile=profile, loss=name,
                             seed=seed, verbose=verbose)
        trained[network_name(name)] = (MODEL, result.best_path)
        logs[name] = out_dir / "logs" / f"{name}.csv"
        shutil.copyfile(result.log_path, logs[name])
    if n_test is None:
        n_test = config.get_profile(profile).n_test
    results = evaluate.evaluate(trained, methods=REFERENCE_METHODS, n_test=n_test, seed=seed,
                                out_dir=out_dir, verbose=False)
    return results, logs


def load(results_dir=None):
    """A finished study's ``(results, {loss: log.csv path})``, as :func:`run` wrote it.

    ``results_dir`` defaults to :data:`STORED_DIR`, the course's own study.
    """
    results_dir = Path(STORED_DIR if results_dir is None else results_dir)
    if results_dir == STORED_DIR and not (results_dir / "results.json").is_file():
        raise FileNotFoundError(
            f"No stored loss study at {results_dir}: the course's own study ships with a checkout of the "
            "repository (results/losses/), not with a pip-installed course_lib. Run "
            "loss_study.run(profile=..., out_dir=...) to make one."
        )
    results = reporting.load_results(results_dir)
    logs = {path.stem: path for path in sorted((results_dir / "logs").glob("*.csv"))}
    order = {name: i for i, name in enumerate(LOSSES)}
    return results, dict(sorted(logs.items(), key=lambda item: order.get(item[0], len(order))))
