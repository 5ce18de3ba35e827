"""The names of the networks and losses, in a module without TensorFlow.

The command line's ``--help`` (and anything else that only needs the names) reads them here, so it
answers in a fraction of a second; :mod:`course_lib.models` and :mod:`course_lib.losses` build
what the names stand for.
"""

#: The networks of :func:`course_lib.models.build_model`.  ``"adversarial"`` is the improved
#: network's architecture fine-tuned against a discriminator (:mod:`course_lib.adversarial`).
MODEL_NAMES = ("vanilla", "pconv", "improved", "adversarial")

#: The networks trained from scratch by the course's recipes (the others start from one of these).
FROM_SCRATCH = ("vanilla", "pconv", "improved")

#: The losses of :func:`course_lib.losses.get_loss`.
LOSS_NAMES = ("l1", "liu", "ssim")


def check_model_name(name) -> str:
    """``name`` if it is one of :data:`MODEL_NAMES`, else a ValueError that lists them."""
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model {name!r}: choose one of {MODEL_NAMES}.")
    return name
