"""The networks a notebook works with: the course's pretrained ones, or runs trained on the spot.

    from course_lib import notebook_runs
    model, log_csv = notebook_runs.trained_or_pretrained("pconv", use_pretrained=True)
    run = notebook_runs.short_run("improved")      # a real training run of a few minutes

A notebook cannot wait for the ``full`` profile's hours, so it loads the shipped weights
(:mod:`course_lib.pretrained`) and, to show the loop working, trains a short run beside them.
Both are thin layers over :func:`course_lib.train.train`: a finished run is reloaded at once,
so re-running a notebook costs nothing.
"""

from __future__ import annotations

import keras

from course_lib import config, pretrained
from course_lib.train import train

#: The short run that notebooks train next to the pretrained weights: a fresh network on a few
#: thousand images, enough to watch the loop and a falling curve in a few minutes without a GPU.
#: In the ``ci`` profile the ``ci`` sizes are used instead.
SHORT_RUN = {"n_train": 3072, "n_val": 512, "epochs": 3}


def trained_or_pretrained(model_name, *, use_pretrained, profile=None, verbose=2, **train_args):
    """A network for a notebook: the course's pretrained weights, or a run trained here.

    Args:
        model_name: one of :data:`course_lib.names.MODEL_NAMES`.
        use_pretrained: True: load :func:`course_lib.pretrained.load_pretrained` (with the log of
            the run that trained it, :func:`course_lib.pretrained.pretrained_log`) and, if the
            weights are missing, train a quick ``ci`` run instead.  False: train in ``profile``.
        profile: the profile to train in (None: the one in force).
        verbose, **train_args: passed to :func:`course_lib.train.train` (``out_dir`` defaults to
            ``config.output_dir("runs", <profile>, <name>)``, so a finished run is reloaded at once).

    Returns:
        ``(model, log_csv)``: the ``keras.Model`` (the best epoch of a run) and the path of
        its training log, or None when no log is known.
    """
    if use_pretrained:
        try:
            return pretrained.load_pretrained(model_name), pretrained.pretrained_log(model_name)
        except FileNotFoundError:
            print(f"The pretrained weights for {model_name!r} are not here; training a quick ci run instead.")
            profile = "ci"
    profile = config.profile_name(profile)
    out_dir = train_args.pop("out_dir", None) or config.output_dir("runs", profile, model_name)
    run = train(model_name, out_dir=out_dir, profile=profile, verbose=verbose, **train_args)
    return keras.saving.load_model(run.best_path, compile=False), run.log_path


def short_run(model_name, *, profile=None, verbose=2):
    """Train a fresh ``model_name`` briefly, for real, into ``output_dir("runs", "short-<profile>", name)``.

    Notebooks that load the pretrained weights still show a training run with this (the full
    run of a profile is :func:`trained_or_pretrained` with ``use_pretrained=False``).  A finished
    short run is reloaded at once.

    Returns:
        :class:`course_lib.train.TrainResult` (its ``log_path`` is the run's ``log.csv``).
    """
    profile = config.profile_name(profile)
    sizes = {} if profile == "ci" else SHORT_RUN
    out_dir = config.output_dir("runs", f"short-{profile}", model_name)
    return train(model_name, out_dir=out_dir, profile=profile, verbose=verbose, **sizes)
