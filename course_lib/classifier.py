"""A small CIFAR-10 classifier the course trains itself: a judge of what a fill shows.

PSNR and SSIM ask whether a fill is *close to the truth*, pixel by pixel.  Two other questions
need a network that knows what CIFAR-10 pictures look like (:mod:`course_lib.perception` asks
them):

* does the fill keep what the picture shows?  The classifier's accuracy on inpainted test
  images, next to its accuracy on the clean ones;
* do the fills look like real pictures, as a set?  The Fréchet distance between the
  classifier's penultimate-layer features of inpainted and of real images (the idea of FID,
  which uses a network trained on ImageNet; this course trains its own feature network so that
  nothing has to be downloaded, so the numbers are not FID and cannot be compared with FID).

Both measures read the classifier through :func:`logits_and_features`, which averages each image
with its mirror image.

The network (:func:`build_classifier`): three VGG-style stages of two 3x3 convolutions with
batch normalisation and ReLU, max-pooling between them, global average pooling to a
:data:`FEATURES`-long feature vector, and one dense layer to the 10 class scores (logits).
It is trained (:func:`train_classifier`, or ``python -m course_lib train-classifier``) on the
45,000 training images not held out, with random flips and shifts, SGD with Nesterov momentum
and a one-cycle learning rate (:func:`one_cycle`).  The shipped weights,
``course_lib.pretrained.load_pretrained("classifier")``, reach the accuracy recorded in the
``run.json`` next to them (``pretrained.pretrained_record("classifier")``).

Images everywhere: float32 in [0, 1], shape (N, 32, 32, 3).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np

#: Channels of the three stages.
WIDTHS = (32, 64, 128)

#: Length of the feature vector (the penultimate layer): the last stage's channels.
FEATURES = WIDTHS[-1]

#: The name of the layer whose output is the feature vector.
FEATURE_LAYER = "features"

#: CIFAR-10 channel means and standard deviations (of the training split), for the input layer.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

#: The settings of the shipped run (see :func:`train_classifier`).
DEFAULTS = {"epochs": 25, "batch_size": 128, "learning_rate": 0.1, "weight_decay": 5e-4,
            "n_val": 5000, "seed": 0}


def build_classifier(input_shape=(32, 32, 3)):
    """The classifier: (N, 32, 32, 3) images in [0, 1] -> (N, 10) logits.

    Its layer ``"features"`` (:data:`FEATURE_LAYER`) gives the (N, :data:`FEATURES`)
    penultimate-layer features (after ReLU and global average pooling).
    """
    from keras import layers

    inputs = keras.Input(input_shape, name="images")
    x = layers.Normalization(mean=MEAN, variance=[s * s for s in STD], name="standardise")(inputs)
    for stage, width in enumerate(WIDTHS):
        for i in range(2):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage}_{i}")(x)
            x = layers.BatchNormalization(name=f"bn{stage}_{i}")(x)
            x = layers.ReLU(name=f"relu{stage}_{i}")(x)
        if stage < len(WIDTHS) - 1:
            x = layers.MaxPooling2D(name=f"pool{stage}")(x)
    features = layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    logits = layers.Dense(10, name="logits")(features)
    return keras.Model(inputs, logits, name="classifier")


def feature_model(classifier):
    """A model with two outputs, ``(logits, features)``, sharing ``classifier``'s weights."""
    return keras.Model(classifier.input,
                       [classifier.outputs[0], classifier.get_layer(FEATURE_LAYER).output])


def logits_and_features(classifier, images, batch_size=500):
    """``(logits (N, 10), features (N, FEATURES))`` of float images in [0, 1], as NumPy float64.

    Each is the mean over the image and its mirror image (left-right flip): the network was
    trained on both, and averaging the two views is a standard, cheap gain in accuracy (both
    accuracies of the shipped weights are in their ``run.json``).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) floats in [0, 1], got shape {images.shape}.")
    model = feature_model(classifier)
    logits, features = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        views = [model(view, training=False) for view in (batch, batch[:, :, ::-1])]
        logits.append(np.mean([np.asarray(v[0], dtype=np.float64) for v in views], axis=0))
        features.append(np.mean([np.asarray(v[1], dtype=np.float64) for v in views], axis=0))
    return np.concatenate(logits), np.concatenate(features)


def accuracy(classifier, images, labels, batch_size=500):
    """The fraction of ``images`` whose highest (mirror-averaged) logit is their label (``labels``: (N,) ints)."""
    logits, _ = logits_and_features(classifier, images, batch_size)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(labels).reshape(-1)))


# ------------------------------------------------------------------------------ training ----


def _augment(image, label):
    """A random horizontal flip and a shift of up to 4 pixels (zero padding), for tf.data."""
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image)
    image = tf.image.pad_to_bounding_box(image, 4, 4, 40, 40)
    return tf.image.random_crop(image, (32, 32, 3)), label


def _datasets(train_images, train_labels, val_images, val_labels, batch_size, seed):
    import tensorflow as tf

    train = (tf.data.Dataset.from_tensor_slices((train_images, train_labels))
             .shuffle(len(train_images), seed=seed, reshuffle_each_iteration=True)
             .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))
             .map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
             .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    val = (tf.data.Dataset.from_tensor_slices((val_images, val_labels))
           .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y)).batch(500))
    return train, val


def one_cycle(step, *, peak, total_steps):
    """The step size at optimizer step ``step``, as a float (the reference :class:`OneCycle` follows):
    a linear rise from ``peak / 10`` to ``peak`` over the first 30 % of the steps, then a cosine
    down to ``peak / 1000`` at the end."""
    rise = 0.3 * total_steps
    if step < rise:
        return peak * (0.1 + 0.9 * step / rise)
    t = min(1.0, (step - rise) / max(1.0, total_steps - rise))
    return peak * (1e-3 + (1 - 1e-3) * 0.5 * (1 + math.cos(math.pi * t)))


@keras.saving.register_keras_serializable(package="course_lib")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """:func:`one_cycle` as a Keras schedule of the optimizer step."""

    def __init__(self, peak, total_steps):
        self.peak, self.total_steps = float(peak), int(total_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rise = 0.3 * self.total_steps
        up = self.peak * (0.1 + 0.9 * step / rise)
        t = keras.ops.minimum(1.0, (step - rise) / max(1.0, self.total_steps - rise))
        down = self.peak * (1e-3 + (1 - 1e-3) * 0.5 * (1 + keras.ops.cos(math.pi * t)))
        return keras.ops.where(step < rise, up, down)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps}


def train_classifier(out_dir, *, epochs=None, batch_size=None, n_train=None, seed=None,
                     verbose=2, images=None):
    """Train the classifier into ``out_dir`` (resumable: call again to continue a killed run).

    Args:
        out_dir: folder for ``log.csv``, ``best.keras``, ``final.keras``, ``backup/``, ``run.json``
            (:mod:`course_lib.runs`, the same files as an inpainting run's).
        epochs, batch_size, seed: override :data:`DEFAULTS`.
        n_train: use only the first ``n_train`` training images not held out (None: all).
        images: optional ``((train_images, train_labels), (test_images, test_labels))`` uint8
            arrays instead of CIFAR-10 (for tests).

    Returns:
        ``(model, record)``: the final model and the ``run.json`` record, whose
        ``"test_accuracy"`` is the accuracy on the test split.
    """
    import tensorflow as tf

    from course_lib import data, environment, logs, runs, validation

    settings = dict(DEFAULTS)
    for key, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value is not None:
            settings[key] = validation.check_positive_int(key, value, example=DEFAULTS[key])
    if seed is not None:
        settings["seed"] = validation.check_seed(seed)
    if n_train is not None:
        validation.check_positive_int("n_train", n_train, example=1000)
    started = time.perf_counter()
    (train_all, labels_all), (test_images, test_labels) = (
        images if images is not None else data.load_cifar10(seed=settings["seed"]))
    train_all, test_images = np.asarray(train_all), np.asarray(test_images)
    labels_all, test_labels = np.asarray(labels_all).reshape(-1), np.asarray(test_labels).reshape(-1)
    n_val = min(settings["n_val"], len(train_all) // 10)
    train_images, train_labels = train_all[:-n_val], labels_all[:-n_val]
    if n_train is not None:
        train_images, train_labels = train_images[:n_train], train_labels[:n_train]
    val_images, val_labels = train_all[-n_val:], labels_all[-n_val:]
    settings.update(model="classifier", n_train=len(train_images), n_val=n_val,
                    data={"train_sha1": runs.fingerprint(train_images), "test_sha1": runs.fingerprint(test_images)})

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = runs.run_paths(out_dir)
    record = runs.read_run_record(paths["run"])
    runs.check_same_run(record, settings)  # the same data and settings; only epochs may grow
    history = logs.read_log(paths["log"])
    if len(history.get("epoch", [])) >= settings["epochs"] and paths["final"].exists():
        return keras.saving.load_model(paths["final"]), record

    keras.utils.set_random_seed(settings["seed"])
    steps = len(train_images) // settings["batch_size"]
    total = steps * settings["epochs"]
    model = build_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(OneCycle(settings["learning_rate"], total), momentum=0.9, nesterov=True,
                                       weight_decay=settings["weight_decay"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train_data, val_data = _datasets(train_images, train_labels, val_images, val_labels,
                                     settings["batch_size"], settings["seed"])
    command = None if images is not None else (
        f"python -m course_lib train-classifier --epochs {settings['epochs']} --seed {settings['seed']}"
        + (f" --n-train {n_train}" if n_train is not None else "") + f" --out {out_dir}")
    run = {**(record or {}), "command": command, "settings": settings, "versions": environment.library_versions(),
           "hardware": runs.describe_hardware(tf.distribute.get_strategy()),
           "status": "running"}
    runs.write_run_record(paths["run"], run)
    runs.repair_backup(paths["backup"])
    callbacks = [
        keras.callbacks.ModelCheckpoint(paths["best"], monitor="val_loss", mode="min",
                                        save_best_only=True,
                                        initial_value_threshold=runs.best_val_loss(history)),
        runs.ResumableCSVLogger(paths["log"]),
        runs.backup_and_restore(paths["backup"]),
    ]
    model.fit(train_data, validation_data=val_data, epochs=settings["epochs"], shuffle=False,
              callbacks=callbacks, verbose=verbose)
    runs.save_atomically(model, paths["final"])
    run["test_accuracy"] = accuracy(model, test_images.astype(np.float32) / 255.0, test_labels)
    run["wall_time_s"] = run.get("wall_time_s", 0.0) + time.perf_counter() - started
    run["status"] = "finished"
    runs.write_run_record(paths["run"], run)
    return model, run
