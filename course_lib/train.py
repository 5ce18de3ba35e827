"""Train an inpainting network by name, resumably, with everything about the run written down.

    from course_lib.train import train
    result = train("pconv", out_dir="build/runs/pconv", profile="ci")
    result.history["val_loss"], result.best_path

What one call does, in order:

1. **Settings.** Explicit arguments win; the rest come from the profile
   (:func:`course_lib.config.get_profile`: ``ci`` a check that everything runs, ``cpu`` a smaller run
   that still learns, ``full`` the source's 20 epochs on the 45,000 training images not held out,
   for a GPU; each profile's description says how long it takes).
2. **Data.** CIFAR-10's training split.  The validation images are held out of it (the last
   ``n_val`` images of the split -- never the test split, which is kept for the final
   evaluation); training uses a class-balanced subset of the rest (``n_train``; ``None`` = all
   of it, 50,000 - ``n_val`` images).  Masks: fresh every epoch for training, fixed for
   validation (:mod:`course_lib.pipeline`).
3. **Hardware.** Several GPUs -> ``tf.distribute.MirroredStrategy`` (``batch_size`` is the
   global batch, split across them); optionally ``mixed_float16``.
4. **Fit** with Keras callbacks, all writing into ``out_dir``::

       out_dir/log.csv       one row per finished epoch (column "epoch" = 0, 1, ...)
       out_dir/best.keras    the model with the lowest val_loss so far
       out_dir/backup/       BackupAndRestore's state: weights, optimizer, epoch
       out_dir/final.keras   the model after the last epoch
       out_dir/run.json      settings (and the equivalent command line), profile, hardware,
                             library versions, wall time of each session

**Resuming.** Call ``train`` again with the same ``out_dir`` (and settings) after a crash or a
kill: training restarts at the first unfinished epoch with the weights and optimizer state of
the last finished one, and the epoch's masks are those it would have had (they depend only on
``(seed, epoch)``).  ``log.csv`` keeps each epoch exactly once and ``best.keras`` is only
replaced by a model better than every earlier epoch.  A finished run returns at once; a larger
``epochs`` continues it.  The machinery behind that (the run's files, its log, backup and
``run.json``) is :mod:`course_lib.runs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import keras

from course_lib import config, data, logs, losses, models, names, pipeline, pretrained, recipes, runs, validation
from course_lib import masks as masks_lib


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained ``keras.Model`` (after the last epoch).
        history: per-epoch values of the whole run, all sessions, read from ``log.csv``:
            ``{"epoch": [0, 1, ...], "loss": [...], "val_loss": [...], "batch_psnr": [...], ...}``.
        out_dir, best_path, log_path: ``out_dir``, its ``best.keras`` and ``log.csv``.
    """

    model: keras.Model
    history: dict
    out_dir: Path
    best_path: Path
    log_path: Path


# ------------------------------------------------------------------------------ settings ----


def _positive_int_or_none(name, value):
    """None (the profile's value) or :func:`course_lib.validation.check_positive_int`."""
    return None if value is None else validation.check_positive_int(name, value, example=2)


def _check_number(name, value, *, zero_ok):
    """:func:`course_lib.validation.check_number`, with the default recipe's value as the example."""
    example = getattr(recipes.get_recipe(), name, None)
    return validation.check_number(name, value, zero_ok=zero_ok, example=example)


def resolve_settings(model_name, *, profile, epochs, n_train, n_val, batch_size, loss, masks,
                     seed, mixed_precision, learning_rate, recipe=None, schedule=None,
                     warmup_epochs=None, clipnorm=None, multi_device=False, adversarial_weight=None):
    """One dict of every setting of a run: explicit arguments, else the recipe's and the profile's.

    ``recipe`` (:func:`course_lib.recipes.get_recipe`; None = the default, ``"course"``) gives
    ``loss``, ``masks``, ``learning_rate``, ``schedule``, ``warmup_epochs`` and ``clipnorm``
    unless they are passed; the profile gives ``epochs``, ``n_train``, ``n_val`` and
    ``batch_size`` unless they are passed.  The ``"adversarial"`` network has a recipe of its
    own (:data:`course_lib.recipes.MODEL_RECIPES`), which also gives its ``adversarial_weight``
    (lambda; only that network has one).  ``mixed_precision=None`` turns it on in the ``full``
    profile on a GPU that has tensor cores (:func:`float16_pays_off`), off otherwise.
    """
    names.check_model_name(model_name)
    chosen_recipe = recipes.get_recipe(recipes.MODEL_RECIPES.get(model_name) if recipe is None else recipe)
    if model_name != "adversarial" and adversarial_weight:
        raise ValueError(f"adversarial_weight is a setting of the 'adversarial' network only, not of "
                         f"{model_name!r}; drop it or train model 'adversarial'.")
    loss = chosen_recipe.loss if loss is None else loss
    masks = chosen_recipe.masks if masks is None else masks
    learning_rate = chosen_recipe.learning_rate if learning_rate is None else learning_rate
    schedule = chosen_recipe.schedule if schedule is None else schedule
    warmup_epochs = chosen_recipe.warmup_epochs if warmup_epochs is None else warmup_epochs
    clipnorm = chosen_recipe.clipnorm if clipnorm is None else clipnorm
    losses.get_loss(loss)  # raises ValueError naming the losses if unknown
    masks_lib.check_family(masks)
    if schedule not in recipes.SCHEDULES:
        raise ValueError(
            f"Unknown learning-rate schedule {schedule!r}: choose one of {recipes.SCHEDULES}."
        )
    validation.check_seed(seed)
    _check_number("learning_rate", learning_rate, zero_ok=False)
    _check_number("warmup_epochs", warmup_epochs, zero_ok=True)
    if clipnorm is not None:
        _check_number("clipnorm", clipnorm, zero_ok=True)
    if model_name == "adversarial":
        adversarial_weight = (chosen_recipe.adversarial_weight if adversarial_weight is None
                              else adversarial_weight)
        _check_number("adversarial_weight", adversarial_weight, zero_ok=True)
    chosen = config.get_profile(profile)
    n_train = _positive_int_or_none("n_train", n_train)
    if mixed_precision is None:
        mixed_precision = chosen.name == "full" and float16_pays_off()
    return {
        "model": model_name,
        "profile": chosen.name,
        "recipe": chosen_recipe.name,
        "epochs": _positive_int_or_none("epochs", epochs) or chosen.epochs,
        "n_train": n_train if n_train is not None else chosen.n_train,
        "n_val": _positive_int_or_none("n_val", n_val) or chosen.n_val,
        "batch_size": _positive_int_or_none("batch_size", batch_size) or chosen.batch_size,
        "loss": str(loss).strip().lower(),
        "masks": masks,
        "seed": int(seed),
        "mixed_precision": bool(mixed_precision),
        "learning_rate": float(learning_rate),
        "schedule": schedule,
        "warmup_epochs": float(warmup_epochs),
        "clipnorm": float(clipnorm) if clipnorm else None,  # 0 = no clipping
        "multi_device": bool(multi_device),
        **({"adversarial_weight": float(adversarial_weight)} if model_name == "adversarial" else {}),
    }


# ---------------------------------------------------------------------------------- data ----


def split_train_val(images, labels, *, n_train, n_val, seed):
    """Hold out the last ``n_val`` images for validation; pick ``n_train`` of the others.

    Args:
        images: (N, H, W, 3) uint8 or float in [0, 1], a training split.
        labels: (N,) ints or ``None``.  With labels the training subset is class-balanced
            (:func:`course_lib.data.class_balanced_indices`), without, the first ``n_train``.
        n_train: training images, ``None`` = all that are not held out.
        n_val: validation images.

    Returns:
        ``(train_images, val_images)``, slices of ``images`` in their original order.
    """
    available = len(images) - n_val
    if available < 1 or (n_train is not None and n_train > available):
        raise ValueError(
            f"{len(images)} images cannot give n_val={n_val} validation images plus "
            f"n_train={n_train} training images; lower n_train/n_val or pass more images."
        )
    pool, val = images[:available], images[available:]
    if n_train is None or n_train == available:
        return pool, val
    if labels is None:
        return pool[:n_train], val
    chosen = data.class_balanced_indices(labels[:available], n_train, seed=seed, split="train")
    return pool[chosen], val


def load_training_data(settings, images=None):
    """``(train_images, val_images, description)`` for ``settings`` (see :func:`split_train_val`).

    ``images=None`` reads CIFAR-10's training split (:func:`course_lib.data.load_cifar10`);
    otherwise ``images`` (uint8 or float in [0, 1], (N, H, H, 3)) are split the same way.
    """
    if images is None:
        (all_images, labels), _ = data.load_cifar10(seed=settings["seed"])
        source = "CIFAR-10 training split"
    else:
        all_images, labels, source = np.asarray(images), None, "images passed to train()"
    train_images, val_images = split_train_val(
        all_images, labels, n_train=settings["n_train"], n_val=settings["n_val"],
        seed=settings["seed"],
    )
    description = {
        "source": source,
        "n_train": len(train_images),
        "n_val": len(val_images),
        "train_sha1": runs.fingerprint(train_images),
        "val_sha1": runs.fingerprint(val_images),
    }
    return train_images, val_images, description


# ----------------------------------------------------------------------------- hardware ----


def choose_strategy(multi_device=False):
    """The default strategy (one device: the first GPU if there is one), or, when asked for,
    ``MirroredStrategy`` over every GPU (or every logical CPU when there is no GPU).

    Several devices are opt-in: on small 32x32 images one GPU is rarely the bottleneck, and with
    several the batch and learning rate change (:func:`scale_for_replicas`).  Several logical CPUs
    only exist when configured on purpose (``tf.config.set_logical_device_configuration``), which
    the tests do to check this path without a GPU.
    """
    if multi_device:
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus if gpus else tf.config.list_logical_devices("CPU")
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def scale_for_replicas(settings, replicas):
    """The settings that ``replicas`` devices train with: ``batch_size`` images on *each* device.

    The global batch becomes ``batch_size * replicas`` and Adam's step size grows by the same
    factor (the linear scaling rule of Goyal et al. 2017, "Accurate, large minibatch SGD": the
    recipe's warm-up is what makes it safe).  One device: the settings unchanged.
    """
    if replicas == 1:
        return settings
    return {**settings, "batch_size": settings["batch_size"] * replicas,
            "learning_rate": settings["learning_rate"] * replicas}


def float16_pays_off():
    """True when a visible GPU has tensor cores (compute capability 7.0 or higher): there
    ``mixed_float16`` trains about twice as fast; on older GPUs and on CPUs it is slower."""
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (7, 0):
            return True
    return False


@contextlib.contextmanager
def dtype_policy(mixed_precision):
    """Use Keras' ``mixed_float16`` policy inside the block (if asked), then restore the old one."""
    previous = keras.mixed_precision.dtype_policy()
    if mixed_precision:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


# --------------------------------------------------------------------------------- train ----


def build_and_compile(settings, input_shape=(32, 32, 3)):
    """A fresh model for ``settings`` compiled with Adam, its loss and the PSNR / hole-L1 metrics.

    Adam's step size follows the recipe's schedule (:func:`course_lib.recipes.make_learning_rate`)
    over ``settings["epochs"]`` epochs of ``n_train // batch_size`` steps.

    The ``"adversarial"`` network is an :class:`course_lib.adversarial.AdversarialTrainer`
    instead: the shipped ``"improved"`` network (the generator, fine-tuned) against a fresh
    discriminator, one Adam each.

    Call inside the strategy's ``scope()`` and the dtype policy: variables are created here.
    """
    learning_rate = recipes.make_learning_rate(
        learning_rate=settings["learning_rate"], schedule=settings["schedule"],
        warmup_epochs=settings["warmup_epochs"], epochs=settings["epochs"],
        steps_per_epoch=settings["data"]["n_train"] // settings["batch_size"],
    )
    if settings["model"] == "adversarial":
        from course_lib import adversarial

        generator = models.build_model("adversarial", input_shape=input_shape)
        generator.set_weights(pretrained.load_pretrained("improved").get_weights())  # any image size
        return adversarial.make_trainer(
            generator, adversarial_weight=settings["adversarial_weight"],
            learning_rate=learning_rate, peak_learning_rate=settings["learning_rate"],
            pixel_loss=settings["loss"], clipnorm=settings["clipnorm"], input_shape=input_shape)
    model = models.build_model(settings["model"], input_shape=input_shape)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate, global_clipnorm=settings["clipnorm"]
        ),
        loss=losses.get_loss(settings["loss"]),
        metrics=list(losses.METRICS),
    )
    return model


def _finished_result(out_dir, verbose):
    paths = runs.run_paths(out_dir)
    history = logs.read_log(paths["log"])
    if verbose:
        print(f"{out_dir}: all {len(history['epoch'])} epochs are already trained, nothing to do "
              "(pass a larger epochs to continue).")
    model = keras.saving.load_model(paths["final"], compile=False)
    return TrainResult(model, history, Path(out_dir), paths["best"], paths["log"])


def train(
    model_name,
    *,
    out_dir,
    profile=None,
    epochs=None,
    n_train=None,
    n_val=None,
    batch_size=None,
    recipe=None,
    loss=None,
    masks=None,
    seed=0,
    mixed_precision=None,
    multi_device=False,
    learning_rate=None,
    schedule=None,
    warmup_epochs=None,
    clipnorm=None,
    adversarial_weight=None,
    verbose=1,
    images=None,
    callbacks=(),
    mask_workers=None,
):
    """Train model ``model_name`` into ``out_dir``, resuming what is already there.

    Args:
        model_name: one of :data:`course_lib.names.MODEL_NAMES` (``"vanilla"``, ``"pconv"``,
            ``"improved"``, ``"adversarial"``: the shipped improved network fine-tuned against a
            discriminator).
        out_dir: folder for ``log.csv``, ``best.keras``, ``final.keras``, ``run.json``,
            ``backup/``; created if missing.  Training the same folder again resumes the run.
        profile: ``"ci"``, ``"cpu"``, ``"full"`` or None (``$COURSE_PROFILE``, else by hardware).
        epochs, n_train, n_val, batch_size: override the profile's values.  ``n_train=None``
            keeps the profile's (``full``: every training image not held out for validation).
            ``batch_size`` is the batch of each device (one device unless ``multi_device``).
        recipe: ``"course"`` (default; ``"adversarial"`` for that network) or ``"source"`` (:mod:`course_lib.recipes`): the loss,
            masks, learning rate and schedule below, unless they are passed one by one.
        loss: a name of :func:`course_lib.losses.get_loss` (``"l1"``, ``"liu"``, ``"ssim"``).
        masks: the mask family for training and validation (``"strokes"``, ``"irregular"``,
            ``"boxes"``, ``"mixed"``).
        seed: makes the run reproducible: weights, training subset, order and masks.
        mixed_precision: train under ``mixed_float16`` (about twice as fast on GPUs with tensor
            cores, slow on CPUs); None: on in the ``full`` profile when such a GPU is visible.
        multi_device: train on every GPU with ``MirroredStrategy``, ``batch_size`` images on each
            and the learning rate scaled by the number of GPUs (:func:`scale_for_replicas`).
        learning_rate: Adam's (peak) step size.
        schedule: ``"constant"`` or ``"warmup_cosine"`` (:func:`course_lib.recipes.learning_rate_at`).
        warmup_epochs: epochs of linear warm-up of ``"warmup_cosine"``.
        clipnorm: clip gradients to this global norm (0: no clipping).
        adversarial_weight: lambda of the ``"adversarial"`` network's joint loss
            (:mod:`course_lib.adversarial`; None: its recipe's).
        verbose: 0 silent, 1 progress bar (Keras), 2 one line per epoch.
        images: optional (N, H, H, 3) uint8 or float [0, 1] images to use instead of CIFAR-10
            (split like it: the last ``n_val`` are the validation set).
        callbacks: extra Keras callbacks for ``fit``.
        mask_workers: worker processes that draw the training masks ahead
            (:func:`course_lib.pipeline.make_dataset`); None: 0 on a CPU, several with a GPU
            (:func:`course_lib.pipeline.default_mask_workers`).  It changes speed, never results,
            so a run may resume with another value.

    Returns:
        :class:`TrainResult`.
    """
    started = time.perf_counter()
    settings = resolve_settings(
        model_name, profile=profile, epochs=epochs, n_train=n_train, n_val=n_val,
        batch_size=batch_size, loss=loss, masks=masks, seed=seed,
        mixed_precision=mixed_precision, learning_rate=learning_rate, recipe=recipe,
        schedule=schedule, warmup_epochs=warmup_epochs, clipnorm=clipnorm, multi_device=multi_device,
        adversarial_weight=adversarial_weight,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = runs.run_paths(out_dir)
    train_images, val_images, settings["data"] = load_training_data(settings, images)
    record = runs.read_run_record(paths["run"])
    runs.check_same_run(record, settings)

    history = logs.read_log(paths["log"])
    if len(history.get("epoch", [])) >= settings["epochs"] and paths["final"].exists():
        return _finished_result(out_dir, verbose)

    with dtype_policy(settings["mixed_precision"]):
        strategy = choose_strategy(settings["multi_device"])
        replicas = strategy.num_replicas_in_sync
        run_settings = scale_for_replicas(settings, replicas)
        # A last validation batch smaller than the number of devices would leave one of them an
        # empty batch, which oneDNN's kernels get wrong (a ConcatOp shape error): drop < replicas images.
        val_images = val_images[:len(val_images) - len(val_images) % replicas]
        keras.utils.set_random_seed(settings["seed"])
        with strategy.scope():
            model = build_and_compile(run_settings, input_shape=train_images.shape[1:])
        record = runs.start_record(record, settings, strategy, out_dir)
        runs.write_run_record(paths["run"], record)
        if verbose:
            _print_plan(settings, strategy, out_dir, n_done=len(history.get("epoch", [])))

        epoch_counter = pipeline.EpochCounter()
        if mask_workers is None:
            mask_workers = pipeline.default_mask_workers(len(tf.config.list_physical_devices("GPU")))
        train_data, val_data = make_datasets(
            run_settings, train_images, val_images, epoch_counter, mask_workers=mask_workers
        )
        session = runs.SessionRecorder()
        fit_callbacks = [
            *runs.resume_callbacks(paths, epoch_counter, best_so_far=runs.best_val_loss(history)),
            session,
            *callbacks,
        ]
        status = "interrupted"
        try:
            model.fit(
                train_data, validation_data=val_data, epochs=settings["epochs"],
                callbacks=fit_callbacks, verbose=verbose, shuffle=False,
            )
            runs.save_atomically(model, paths["final"])
            status = "finished"
        finally:
            runs.end_record(record, session, status, time.perf_counter() - started)
            runs.write_run_record(paths["run"], record)

    return TrainResult(model, logs.read_log(paths["log"]), out_dir, paths["best"], paths["log"])


def make_datasets(settings, train_images, val_images, epoch_counter, mask_workers=0):
    """The training dataset (fresh masks each epoch) and the validation one (fixed masks)."""
    common = dict(batch_size=settings["batch_size"], masks=settings["masks"], seed=settings["seed"])
    train_data = pipeline.make_dataset(
        settings["model"], train_images, epoch_counter=epoch_counter, mask_workers=mask_workers,
        **common
    )
    val_data = pipeline.make_validation_dataset(settings["model"], val_images, **common)
    return train_data, val_data


def _print_plan(settings, strategy, out_dir, n_done):
    s = settings
    resume = f", resuming after {n_done} finished epochs" if n_done else ""
    print(
        f"Training {s['model']} ({s['profile']} profile): {s['data']['n_train']} images, "
        f"{s['epochs']} epochs of batch {s['batch_size']}, recipe {s['recipe']} (loss {s['loss']}, "
        f"masks {s['masks']}, Adam {s['learning_rate']:g} {s['schedule']}), "
        f"seed {s['seed']}, {strategy.num_replicas_in_sync} device(s){resume} -> {out_dir}"
    )
