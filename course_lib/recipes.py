"""Training recipes: the loss, masks and learning-rate schedule a network is trained with.

A recipe is everything about *how* to train that is not the network or the data size (those
come from :mod:`course_lib.models` and the run profile of :mod:`course_lib.config`).  Two are
named, so that the notebooks can put them side by side:

``"source"``
    The course's reconstruction of the source project's training (its slides give neither the
    loss nor the masks' recipe nor the optimiser; these are the plain defaults): the whole-image
    L1 loss, thin stroke masks, and Keras' default Adam (a constant step size of 1e-3).
``"course"`` (the default, and the recipe of the shipped weights)
    * Liu et al.'s pixel loss ``L_valid + 6 L_hole + 0.1 L_tv``: PSNR of the hole rewards the
      pixel-wise mean of what could be there, so the hole's pixels must dominate the loss --
      with a whole-image L1 a 30 % hole gets 30 % of the gradient.
    * The ``"mixed"`` masks (half thin strokes, half irregular holes of 1-60 %): the
      families the course evaluates on.
    * Adam with a **linear warm-up** over the first epoch, then **cosine decay** to 1 % of the
      peak: the warm-up keeps the first, largest gradients from pushing a ReLU layer into the
      region where it outputs 0 for every input (the course's rebuild of the source PConv U-Net's
      3-channel ``decoder_output`` died that way at a constant 1e-3 with the hole-weighted loss); the
      decay lets the last epochs settle into a minimum instead of bouncing around it.
    * Gradients clipped to a global norm of 1, a second guard against one huge early step.

Every field can be overridden one by one (``train(..., recipe="course", loss="l1")``).
"""

from __future__ import annotations

import dataclasses
import math

__all__ = [
    "DEFAULT_RECIPE",
    "RECIPES",
    "Recipe",
    "SCHEDULES",
    "MODEL_RECIPES",
    "get_recipe",
    "learning_rate_at",
    "make_learning_rate",
]

#: The learning-rate schedules :func:`make_learning_rate` knows.
SCHEDULES = ("constant", "warmup_cosine")

#: lambda of the shipped adversarial network (chosen by the trade-off study, results/perception/).
ADVERSARIAL_WEIGHT = 0.1

#: Where the cosine ends, as a fraction of the peak step size.
COSINE_FLOOR = 0.01

#: Where the linear warm-up starts, as a fraction of the peak step size.
WARMUP_START = 0.01


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train, apart from the network and the data size.

    Attributes:
        name: the recipe's name, a key of :data:`RECIPES`.
        loss: a loss name of :func:`course_lib.losses.get_loss`.
        masks: a mask family of :data:`course_lib.masks.MASK_FAMILIES`.
        learning_rate: Adam's (peak) step size.
        schedule: one of :data:`SCHEDULES`.
        warmup_epochs: epochs of linear warm-up (``"warmup_cosine"`` only).
        clipnorm: clip gradients to this global norm, or None.
        description: one line for humans.
        adversarial_weight: lambda of the adversarial loss (:mod:`course_lib.adversarial`;
            the ``"adversarial"`` network only).
    """

    name: str
    loss: str
    masks: str
    learning_rate: float
    schedule: str
    warmup_epochs: float
    clipnorm: float | None
    description: str
    adversarial_weight: float = 0.0


RECIPES: dict[str, Recipe] = {
    "source": Recipe(
        "source", loss="l1", masks="strokes", learning_rate=1e-3, schedule="constant",
        warmup_epochs=0.0, clipnorm=None,
        description="a reconstruction of the source project's (its slides do not say): whole-image L1, stroke masks, "
        "constant Adam 1e-3",
    ),
    "course": Recipe(
        "course", loss="liu", masks="mixed", learning_rate=5e-4, schedule="warmup_cosine",
        warmup_epochs=1.0, clipnorm=1.0,
        description="hole-weighted loss (Liu et al.), mixed masks, Adam 5e-4 with a one-epoch "
        "warm-up then cosine decay, gradients clipped to norm 1",
    ),
    "adversarial": Recipe(
        "adversarial", loss="liu", masks="mixed", learning_rate=1e-4, schedule="warmup_cosine",
        warmup_epochs=0.25, clipnorm=1.0, adversarial_weight=ADVERSARIAL_WEIGHT,
        description="the adversarial network's: starts from the shipped improved network, hole-weighted "
        f"loss + {ADVERSARIAL_WEIGHT:g} x a PatchGAN hinge loss, mixed masks, Adam 1e-4 (beta_1 0.5) with a "
        "quarter-epoch warm-up then cosine decay; the discriminator's Adam 4e-4",
    ),
}

#: The recipe of each network that has its own (the others use :data:`DEFAULT_RECIPE`).
MODEL_RECIPES = {"adversarial": "adversarial"}

#: The recipe :func:`course_lib.train.train` uses unless told otherwise.
DEFAULT_RECIPE = "course"


def get_recipe(name=None):
    """The :class:`Recipe` called ``name`` (None: :data:`DEFAULT_RECIPE`)."""
    key = DEFAULT_RECIPE if name is None else str(name).strip().lower()
    if key not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}: choose one of {sorted(RECIPES)}.")
    return RECIPES[key]


def _check_schedule(schedule):
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {schedule!r}: choose one of {SCHEDULES}.")


def _warmup_and_total_steps(warmup_epochs, steps_per_epoch, epochs):
    total = max(1, int(steps_per_epoch) * int(epochs))
    warmup = min(total - 1, max(0, round(float(warmup_epochs) * int(steps_per_epoch))))
    return warmup, total


def learning_rate_at(step, *, learning_rate, schedule, warmup_epochs, steps_per_epoch, epochs):
    """The step size of optimizer step ``step`` (0-based), as a plain float.

    ``"constant"``: ``learning_rate`` always.  ``"warmup_cosine"``: a straight line from
    ``WARMUP_START * learning_rate`` at step 0 to ``learning_rate`` at the end of the warm-up,
    then ``floor + (peak - floor) * (1 + cos(pi * t)) / 2`` with ``t`` going from 0 to 1 over
    the remaining steps and ``floor = COSINE_FLOOR * learning_rate``; after the last step it
    stays at the floor.  This is the reference :func:`make_learning_rate` must agree with.
    """
    _check_schedule(schedule)
    if schedule == "constant":
        return float(learning_rate)
    warmup, total = _warmup_and_total_steps(warmup_epochs, steps_per_epoch, epochs)
    start = WARMUP_START * learning_rate
    if step < warmup:
        return start + (learning_rate - start) * step / warmup
    t = min(1.0, (step - warmup) / (total - warmup))
    floor = COSINE_FLOOR * learning_rate
    return floor + (learning_rate - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def make_learning_rate(*, learning_rate, schedule, warmup_epochs, steps_per_epoch, epochs):
    """What to pass as Adam's ``learning_rate``: a float, or a Keras schedule of the step.

    Args:
        learning_rate: the (peak) step size.
        schedule: ``"constant"`` or ``"warmup_cosine"`` (see :func:`learning_rate_at`).
        warmup_epochs: length of the warm-up in epochs (may be fractional).
        steps_per_epoch, epochs: the run's length; the cosine reaches its floor at the last
            step.  A run continued with more epochs gets a new, longer cosine.
    """
    _check_schedule(schedule)
    if schedule == "constant":
        return float(learning_rate)
    import keras  # here, so that recipes can be read without TensorFlow

    warmup, total = _warmup_and_total_steps(warmup_epochs, steps_per_epoch, epochs)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=WARMUP_START * learning_rate,
        warmup_target=learning_rate,
        warmup_steps=warmup,
        decay_steps=total - warmup,
        alpha=COSINE_FLOOR,
    )
