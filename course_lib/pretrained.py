"""The course's shipped weights: where they live, their float16 format, and loading them.

Every trained network the course ships has a folder of package data (so every install has it)::

    course_lib/data/pretrained/<name>/
        weights.npz   the weights as float16 arrays w000, w001, ... in ``model.weights`` order
        log.csv       the log of the run that trained them (one row per epoch)
        run.json      that run's record: command, settings, hardware, versions, wall time
        export.json   (inpainting networks) what the float16 rounding changes in the outputs

``<name>`` is one of :data:`course_lib.names.MODEL_NAMES` or :data:`CLASSIFIER`, the judge of
:mod:`course_lib.classifier`.  ``scripts/export_pretrained.py`` writes a folder from a finished
run; :func:`load_pretrained` gives the ready model.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from course_lib import config, models, names

#: The folder of the shipped weights, one sub-folder per network.
PRETRAINED_DIR = config.PACKAGE_DATA_DIR / "pretrained"

#: The name of the shipped CIFAR-10 classifier (:mod:`course_lib.classifier`).
CLASSIFIER = "classifier"

#: Every name with shipped weights.
PRETRAINED_NAMES = (*names.MODEL_NAMES, CLASSIFIER)


def _check_name(name):
    if name != CLASSIFIER:
        names.check_model_name(name)


def pretrained_path(name):
    """The weights file of the pretrained ``name``: ``course_lib/data/pretrained/<name>/weights.npz``."""
    _check_name(name)
    return PRETRAINED_DIR / name / "weights.npz"


def save_weights(model, path):
    """Write ``model``'s weights compactly: float16, in ``model.weights`` order, compressed ``.npz``.

    float16 halves the file (the vanilla U-Net's 7.8 M weights take about 14 MB); the rounding
    changes outputs by far less than one 8-bit grey level (``scripts/export_pretrained.py``
    measures it into ``export.json``).  Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{i:03d}": np.asarray(w).astype(np.float16) for i, w in enumerate(model.get_weights())}
    np.savez_compressed(path, **arrays)
    return path


def load_weights(model, path):
    """Set ``model``'s weights (as float32) from a file of :func:`save_weights`; returns ``model``.

    Raises:
        ValueError: the file is not such a file, cannot be read, or holds the weights of
            another architecture; the message says how to get a good one.
    """
    expected = [tuple(w.shape) for w in model.weights]
    try:
        with np.load(path) as stored:
            keys = [f"w{i:03d}" for i in range(len(stored.files))]
            if sorted(stored.files) != keys:
                raise ValueError(
                    f"{path} is not a file of course_lib.pretrained.save_weights: expected the arrays "
                    f"w000 ... w{len(expected) - 1:03d} ({len(expected)} weights of {model.name!r}), found "
                    f"{sorted(stored.files)[:4]}...; export weights with scripts/export_pretrained.py."
                )
            weights = [stored[key] for key in keys]
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} cannot be read as a .npz file ({error}); restore or re-export it.") from None
    if [w.shape for w in weights] != expected:
        raise ValueError(
            f"{path} holds {len(weights)} arrays that do not match the {model.name!r} network's "
            f"{len(expected)} weights; re-export them with scripts/export_pretrained.py."
        )
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def save_pretrained(model, name, path=None):
    """:func:`save_weights` into the folder of ``name`` (default :func:`pretrained_path`); returns the path."""
    _check_name(name)
    return save_weights(model, pretrained_path(name) if path is None else path)


def load_pretrained(name, path=None):
    """The network ``name`` (:data:`PRETRAINED_NAMES`) with the course's pretrained weights.

    Returns a ready, uncompiled :class:`keras.Model` (float32 weights): for an inpainting network
    built by :func:`course_lib.models.build_model` (feed it
    :func:`course_lib.models.prepare_inputs`), for :data:`CLASSIFIER` by
    :func:`course_lib.classifier.build_classifier`.  How the weights were trained is recorded next
    to them (:func:`pretrained_record`, :func:`pretrained_log`).

    Raises:
        FileNotFoundError: the weights file is missing (a partial checkout, or a plain
            install that left out the package data): it names the file and how to get it.
        ValueError: the file does not fit the architecture (weights of another version).
    """
    _check_name(name)
    path = pretrained_path(name) if path is None else Path(path)
    if not path.exists():
        command = "train-classifier" if name == CLASSIFIER else f"train --model {name}"
        raise FileNotFoundError(
            f"No pretrained weights for {name!r} at {path}. They ship inside course_lib "
            "(course_lib/data/pretrained/); reinstall it from the course repository, or train your own with "
            f"`python -m course_lib {command} --out DIR`."
        )
    if name == CLASSIFIER:
        from course_lib import classifier  # imported here: the classifier's module needs no weights

        model = classifier.build_classifier()
    else:
        model = models.build_model(name)
    return load_weights(model, path)


def pretrained_log(name):
    """The ``log.csv`` of the run that trained the pretrained ``name``, or None if it is missing."""
    log = pretrained_path(name).parent / "log.csv"
    return log if log.exists() else None


def pretrained_record(name):
    """The ``run.json`` of the run that trained the pretrained ``name``, as a dict (settings, hardware,
    wall time; the classifier's also its ``test_accuracy``)."""
    return json.loads((pretrained_path(name).parent / "run.json").read_text())
