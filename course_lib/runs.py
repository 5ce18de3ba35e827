"""A training run on disk: its files, its log, its backup, its ``run.json``, and how it resumes.

:func:`course_lib.train.train` writes a run into one folder (:func:`run_paths`)::

    log.csv       one row per finished epoch (column "epoch" = 0, 1, ...)
    best.keras    the model with the lowest val_loss so far
    backup/       BackupAndRestore's state: weights, optimizer, epoch
    final.keras   the model after the last epoch
    run.json      settings (and the equivalent command line), profile, hardware, library
                  versions, wall time of each session

This module is the machinery that keeps those files consistent when a run is killed at any
moment and resumed later: the order of the callbacks (:func:`resume_callbacks`), a log that
keeps each epoch once (:class:`ResumableCSVLogger`, :func:`drop_log_rows_from`), a backup that
is repaired or dropped when damaged (:func:`repair_backup`), atomic writes, and the check that a
resumed run has the settings it was started with (:func:`check_same_run`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import inspect
import json
import math
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

import keras

from course_lib import config, environment

#: The file names inside ``out_dir``.
LOG_NAME, BEST_NAME, FINAL_NAME, RUN_NAME, BACKUP_NAME = (
    "log.csv", "best.keras", "final.keras", "run.json", "backup",
)


# Settings that must be the same to resume a run (``epochs`` may grow, ``verbose`` may change).
_RESUME_KEYS = (
    "model", "n_train", "n_val", "batch_size", "loss", "masks", "seed",
    "mixed_precision", "learning_rate", "data", "recipe", "schedule", "warmup_epochs",
    "clipnorm", "multi_device", "adversarial_weight",
)


def _strategy_devices(strategy):
    """The devices a strategy trains on (the default strategy: wherever TensorFlow places ops)."""
    try:
        return [str(d) for d in strategy.extended.worker_devices]
    except RuntimeError:  # the default strategy has no explicit device list
        gpus = tf.config.list_logical_devices("GPU")
        return [(gpus or tf.config.list_logical_devices("CPU"))[0].name]


def describe_hardware(strategy):
    """The machine (:func:`course_lib.environment.describe_machine`) and the distribution strategy
    with its devices, for ``run.json``."""
    return {
        **environment.describe_machine(),
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "devices": _strategy_devices(strategy),
    }


def fingerprint(array):
    """Short sha1 of an array (the run's images), to recognise the same data on resume."""
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def drop_log_rows_from(log_path, first_epoch):
    """Remove the rows of epochs ``>= first_epoch`` from ``log.csv`` (they will be trained again).

    Returns True if the file changed.
    """
    log_path = Path(log_path)
    if not log_path.exists():
        return False
    with open(log_path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    if not lines:
        return False
    header, rows = lines[0], lines[1:]
    kept = [row for row in rows if row.strip() and int(row.split(",", 1)[0]) < first_epoch]
    if len(kept) == len(rows):
        return False
    with open(log_path, "w", newline="") as f:
        f.writelines([header, *kept])
    return True


class ResumableCSVLogger(keras.callbacks.CSVLogger):
    """``CSVLogger(append=True)`` that keeps each epoch exactly once across resumed runs.

    At the first epoch of a ``fit`` call it drops rows of that epoch and later ones: they were
    written by a run killed after logging an epoch but before backing it up, and the epoch is
    about to be trained again.  Before its first row it checks that the file's columns are the ones
    this run logs: ``CSVLogger`` writes values by position, so a log begun with other metrics (another
    version of the course) would get values under the wrong names.
    """

    def __init__(self, filename):
        super().__init__(str(filename), append=True)
        self._first_epoch_seen = False

    def on_train_begin(self, logs=None):
        self._first_epoch_seen = False
        super().on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first_epoch_seen:
            self._first_epoch_seen = True
            if drop_log_rows_from(self.filename, epoch):
                # Nothing was written yet: reopen so that appends follow the shortened file.
                self.csv_file.close()
                self.csv_file = open(self.filename, "a")
        super().on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.writer is None and not self.append_header:  # the first row under an existing header
            check_log_columns(self.filename, logs or {})
        super().on_epoch_end(epoch, logs)


def check_log_columns(log_path, logs: dict):
    """Raise ValueError if ``log_path``'s header is not what ``CSVLogger`` writes for ``logs`` (``epoch``,
    the logged names sorted, and ``val_`` twins when no validation value is logged)."""
    with open(log_path, newline="") as f:
        header = next(csv.reader(f), [])
    keys = sorted(logs)
    if not any(key.startswith("val_") for key in keys):
        keys += [f"val_{key}" for key in keys]
    if header != ["epoch", *keys]:
        raise ValueError(
            f"{log_path} has the columns {header[1:]}, but this run logs {keys}: it was begun by other "
            "training code. Train into a new folder, or move that log.csv away to start the log afresh.")


def best_val_loss(history):
    """The lowest ``val_loss`` of a history (from :func:`course_lib.logs.read_log`), or None."""
    values = [v for v in history.get("val_loss", []) if math.isfinite(v)]
    return min(values) if values else None


# File names used by keras.callbacks.BackupAndRestore inside its backup_dir (Keras 3).
_BACKUP_FILES = ("latest.weights.h5", "training_metadata.json")


def _backup_readable(weights_path, metadata_path):
    import h5py  # a Keras dependency

    try:
        with h5py.File(weights_path, "r"):
            pass
        json.loads(Path(metadata_path).read_text())["epoch"]
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def repair_backup(backup_dir):
    """Make a backup damaged by a kill loadable again, before ``BackupAndRestore`` reads it.

    ``BackupAndRestore`` overwrites its files in place at the end of every epoch, so a kill at
    that moment leaves them half written.  Then fall back to the previous backup
    (``double_checkpoint=True`` keeps it as ``*.bkp``), or, if there is none (the kill hit the
    very first backup), delete the backup so that training starts again at epoch 0.
    """
    weights, metadata = (Path(backup_dir) / name for name in _BACKUP_FILES)
    if not (weights.exists() or metadata.exists()) or _backup_readable(weights, metadata):
        return
    previous = [Path(f"{path}.bkp") for path in (weights, metadata)]
    if _backup_readable(*previous):
        for old, current in zip(previous, (weights, metadata)):
            shutil.copyfile(old, current)
        warnings.warn(f"{backup_dir}: the last backup was damaged (a kill while writing it); "
                      "resuming from the one before.")
    else:
        shutil.rmtree(backup_dir)
        warnings.warn(f"{backup_dir}: the only backup was damaged (a kill while writing it); "
                      "training starts again at epoch 0.")


def read_run_record(run_path):
    return json.loads(Path(run_path).read_text()) if Path(run_path).exists() else None


def check_same_run(record, settings):
    """Raise ValueError if ``out_dir`` holds a run with other settings than ``settings``."""
    if record is None:
        return
    previous = record["settings"]
    different = [k for k in _RESUME_KEYS if k in previous and previous[k] != settings.get(k)]
    if different:
        details = ", ".join(
            f"{k}: {previous[k]!r} there, {settings.get(k)!r} now" for k in different
        )
        raise ValueError(
            f"The output folder already holds a run with other settings ({details}); "
            "resume it with the same settings (only epochs may change) or pass another out_dir."
        )


def write_run_record(run_path, record):
    tmp = Path(run_path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, run_path)  # atomic: a kill never leaves half a file


class SessionRecorder(keras.callbacks.Callback):
    """Remembers which epochs this ``fit`` call trained (for ``run.json``)."""

    def __init__(self):
        super().__init__()
        self.epochs_trained = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_trained.append(int(epoch))


def run_paths(out_dir):
    out_dir = Path(out_dir)
    return {
        "log": out_dir / LOG_NAME, "best": out_dir / BEST_NAME, "final": out_dir / FINAL_NAME,
        "run": out_dir / RUN_NAME, "backup": out_dir / BACKUP_NAME,
    }


def resume_callbacks(paths, epoch_counter, *, best_so_far):
    """The callbacks that make a run resumable, in the order they must run.

    Order matters at the end of an epoch: best checkpoint, then log, then backup.  A kill
    between two of them makes the epoch be trained (and logged) again, never lost, and never
    leaves a half-written best.keras that the log claims is saved.

    Args:
        paths: from :func:`run_paths`.
        epoch_counter: the training dataset's :class:`course_lib.pipeline.EpochCounter`.
        best_so_far: the lowest val_loss of the epochs already trained (None at the start), so
            that a resumed run only replaces best.keras with a better model.
    """
    repair_backup(paths["backup"])
    return [
        epoch_counter.callback(),
        keras.callbacks.ModelCheckpoint(
            paths["best"], monitor="val_loss", mode="min", save_best_only=True,
            initial_value_threshold=best_so_far,
        ),
        ResumableCSVLogger(paths["log"]),
        backup_and_restore(paths["backup"]),
    ]


def backup_and_restore(backup_dir):
    """Keras' ``BackupAndRestore`` into ``backup_dir``, kept after training, with the previous
    backup kept beside the last where Keras has ``double_checkpoint`` (Keras 3.3 has not; there a
    damaged last backup means starting again at epoch 0, see :func:`repair_backup`)."""
    options = dict(delete_checkpoint=False)
    if "double_checkpoint" in inspect.signature(keras.callbacks.BackupAndRestore).parameters:
        options["double_checkpoint"] = True
    return keras.callbacks.BackupAndRestore(backup_dir, **options)


def save_atomically(model, path):
    """``model.save(path)`` through a temporary file, so a kill never leaves half a model."""
    partial = Path(path).with_suffix(".partial.keras")
    model.save(partial)
    os.replace(partial, path)


def equivalent_command(settings, out_dir):
    """The ``python -m course_lib train ...`` line that repeats a run (None for ``images=`` runs).

    A run can start from Python (:func:`course_lib.train.train`) as well as from the command line, so
    the line is built from the settings, not copied from ``sys.argv``; ``tests/test_cli.py`` parses it
    back with the command line's own parser and checks that every setting comes back."""
    if settings["data"]["source"] != "CIFAR-10 training split":
        return None
    s = settings
    # n_train as the settings hold it (None = the whole split), so the line resumes its own run.
    words = ["python", "-m", "course_lib", "train", "--model", s["model"], "--profile", s["profile"],
             "--recipe", s["recipe"], "--epochs", s["epochs"]]
    if s["n_train"] is not None:
        words += ["--n-train", s["n_train"]]
    words += ["--n-val", s["n_val"], "--batch-size", s["batch_size"], "--loss", s["loss"],
              "--masks", s["masks"], "--seed", s["seed"], "--learning-rate", s["learning_rate"],
              "--schedule", s["schedule"], "--warmup-epochs", s["warmup_epochs"]]
    words += ["--clipnorm", s["clipnorm"] or 0]
    if "adversarial_weight" in s:
        words += ["--adversarial-weight", s["adversarial_weight"]]
    words.append("--mixed-precision" if s["mixed_precision"] else "--no-mixed-precision")
    if s.get("multi_device"):
        words.append("--multi-gpu")
    return " ".join(map(str, [*words, "--out", out_dir]))


def start_record(record, settings, strategy, out_dir):
    """The ``run.json`` content at the start of a session (earlier sessions kept)."""
    profile = config.PROFILES[settings["profile"]]
    continued = {"continued_from": record["continued_from"]} if record and "continued_from" in record else {}
    return {
        "command": equivalent_command(settings, out_dir),
        "settings": settings,
        "profile": dataclasses.asdict(profile),
        "hardware": {**describe_hardware(strategy),
                     "global_batch_size": settings["batch_size"] * strategy.num_replicas_in_sync},
        "versions": environment.library_versions(),
        "sessions": (record or {}).get("sessions", []),
        "wall_time_s": (record or {}).get("wall_time_s", 0.0),
        "status": "running",
        **continued,
    }


def end_record(record, session, status, wall_time_s):
    record["sessions"].append({
        "ended": datetime.datetime.now().isoformat(timespec="seconds"),
        "epochs_trained": session.epochs_trained,
        "wall_time_s": round(wall_time_s, 2),
        "status": status,
    })
    record["wall_time_s"] = round(record["wall_time_s"] + wall_time_s, 2)
    record["status"] = status
