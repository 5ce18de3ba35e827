"""Turn a shipped pretrained network back into a training run that its recorded command resumes.

    .venv/bin/python scripts/continue_pretrained.py --model vanilla --out build/runs/vanilla
    <the run.json command with --epochs 20>        # trains epochs 11-20, then export as usual

A finished run's folder (``build/runs/<model>``) is not kept between machines; the package keeps
only float16 weights, ``log.csv`` and ``run.json``.  This script rebuilds the folder from them so
that ``python -m course_lib train`` with the recorded command and a larger ``--epochs`` continues
the run exactly as a resume does: the log keeps the trained epochs, the learning rate follows the
longer schedule from the step where the run stopped (:func:`course_lib.recipes.make_learning_rate`),
and masks and data order continue with the next epoch.

One thing a real resume has that the package lacks is Adam's state.  Restarting it at zero would
make the first few hundred steps up to three times larger than the schedule says (Adam divides by
a second moment that is still almost zero), enough to kill a ReLU output layer.  So the second
moments are estimated from ``--moment-batches`` batches of clipped gradients before training; the
first moments start at zero and fill within about ten steps.  ``run.json`` records all of this
under ``"continued_from"``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="vanilla, pconv or improved")
    parser.add_argument("--out", required=True, type=Path, help="the run folder to create")
    parser.add_argument("--from", dest="source", type=Path, default=None, metavar="DIR",
                        help="a folder with weights.npz, log.csv and run.json (default: the "
                        "shipped course_lib/data/pretrained/MODEL)")
    parser.add_argument("--moment-batches", type=int, default=64,
                        help="batches of gradients that estimate Adam's second moments")
    return parser.parse_args(argv)


def estimate_second_moments(model, dataset, n_batches, clipnorm):
    """Mean of the squared, globally clipped gradients over ``n_batches`` training batches."""
    import tensorflow as tf

    variables = model.trainable_variables
    sums = [np.zeros(v.shape, np.float64) for v in variables]
    for x, y in dataset.take(n_batches):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
        grads = tape.gradient(loss, variables)
        if clipnorm:
            grads, _ = tf.clip_by_global_norm(grads, clipnorm)
        for total, grad in zip(sums, grads):
            total += np.square(grad.numpy().astype(np.float64))
    return [total / n_batches for total in sums]


def _shown(path):
    """``path`` relative to the package's parent (course_lib/data/...) when it is inside it."""
    from course_lib import config

    try:
        return str(Path(path).resolve().relative_to(Path(config.__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def main(argv=None):
    args = parse_args(argv)
    from course_lib import logs, pipeline, pretrained, runs, train

    shipped = args.source or pretrained.pretrained_path(args.model).parent
    record = json.loads((shipped / "run.json").read_text())
    settings = record["settings"]
    n_done = len(logs.read_log(shipped / "log.csv")["epoch"])
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"error: {args.out} is not empty; pass a new folder.")
    train_images, _, data_record = train.load_training_data(settings)
    if data_record != settings["data"]:
        sys.exit(f"error: the training data differ from the shipped run's ({data_record} here, "
                 f"{settings['data']} there); continue on the same CIFAR-10 copy.")
    paths = runs.run_paths(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped / "log.csv", paths["log"])

    with train.dtype_policy(settings["mixed_precision"]):
        model = train.build_and_compile(settings, input_shape=train_images.shape[1:])
    model.set_weights(pretrained.load_pretrained(args.model, path=shipped / "weights.npz").get_weights())
    model.save(paths["best"])  # the shipped weights are their run's best.keras

    counter = pipeline.EpochCounter(first_epoch=n_done)
    train_data, _ = train.make_datasets(settings, train_images, train_images[:32], counter)
    second_moments = estimate_second_moments(model, train_data, args.moment_batches, settings["clipnorm"])
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    steps_done = n_done * (settings["data"]["n_train"] // settings["batch_size"])
    optimizer.iterations.assign(steps_done)
    # Keras 3's Adam keeps one velocity (second moment) per variable; no public setter exists.
    for variable, moment in zip(model.trainable_variables, second_moments):
        index = optimizer._get_variable_index(variable)
        optimizer._velocities[index].assign(moment.astype(np.float32))

    paths["backup"].mkdir()
    model.save_weights(paths["backup"] / "latest.weights.h5")
    (paths["backup"] / "training_metadata.json").write_text(json.dumps({"epoch": n_done, "batch": 0}))
    record["continued_from"] = {
        "source": f"{_shown(shipped)} ({n_done} epochs, float16 weights)",
        "optimizer": f"Adam at step {steps_done}; second moments estimated from "
                     f"{args.moment_batches} batches of clipped gradients, first moments zero",
        "prepared_by": " ".join(["scripts/continue_pretrained.py", *(argv or sys.argv[1:])]),
    }
    record["status"] = "continued"
    runs.write_run_record(paths["run"], record)
    more = runs.equivalent_command({**settings, "epochs": 2 * n_done}, args.out)
    print(f"{args.out}: ready to continue after epoch {n_done}; run the recorded command with a "
          f"larger --epochs, for example:\n  {more}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
