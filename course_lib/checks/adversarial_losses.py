"""The checks of notebook 09 (sharp or right): the discriminator's loss and the generator's joint loss.

Each check calls the student's NumPy function on a few cases, compares it with a reference written
with plain loops, and names the likely mistake when the answer matches a known wrong one.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_lib.checks.feedback import run_check


def _cases(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(0.3, 1.2, (2, 4, 4, 1))
    fake = rng.normal(-0.2, 1.2, (2, 4, 4, 1))
    weights = (rng.random((2, 4, 4, 1)) > 0.4).astype(np.float64)
    return real, fake, weights


def _weighted_loop_mean(terms, weights):
    total = count = 0.0
    for term, weight in zip(np.ravel(terms), np.ravel(weights)):
        total += term * weight
        count += weight
    return total / max(count, 1.0)


def _discriminator_reference(real, fake, weights):
    real_terms = [max(0.0, 1.0 - r) for r in np.ravel(real)]
    fake_terms = [max(0.0, 1.0 + f) for f in np.ravel(fake)]
    return _weighted_loop_mean(real_terms, weights) + _weighted_loop_mean(fake_terms, weights)


def check_discriminator_loss(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(real_scores, fake_scores, weights) -> float``: the weighted hinge loss of ``D``.

    ``mean_w(relu(1 - real)) + mean_w(relu(1 + fake))``, ``mean_w`` the mean over the patches of weight 1.
    """
    cases = [_cases(90), _cases(91), (np.array([[2.0, -0.5]]), np.array([[0.5, -3.0]]), np.array([[1.0, 1.0]]))]

    def unweighted(real, fake, weights):
        return np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))

    def swapped(real, fake, weights):
        return _discriminator_reference(fake, real, weights)

    def no_margin(real, fake, weights):
        return _weighted_loop_mean(-np.ravel(real), weights) + _weighted_loop_mean(np.ravel(fake), weights)

    def over_all_patches(real, fake, weights):
        return (np.sum(np.maximum(0, 1 - real) * weights) + np.sum(np.maximum(0, 1 + fake) * weights)) / weights.size

    mistakes = [
        (unweighted, "every patch counts here: average only over the patches of weight 1 (those that hold a "
                     "hole), sum(term * weights) / sum(weights)"),
        (over_all_patches, "divide by the number of patches of weight 1, sum(weights), not by all patches"),
        (swapped, "real and fake are swapped: the discriminator wants REAL scores high (relu(1 - real)) and "
                  "FAKE scores low (relu(1 + fake))"),
        (no_margin, "that is the Wasserstein critic's loss (mean fake - mean real): the hinge clips each term "
                    "at the margin, relu(1 - real) and relu(1 + fake)"),
    ]
    return run_check(student_fn, cases, _discriminator_reference, mistakes=mistakes)


def _joint_reference(pixel_loss, fake, weights, lam):
    return pixel_loss + lam * _weighted_loop_mean([-f for f in np.ravel(fake)], weights)


def check_generator_loss(student_fn: Callable[[float, np.ndarray, np.ndarray, float], Any]) -> bool | None:
    """Check ``student_fn(pixel_loss, fake_scores, weights, lam) -> float``: ``pixel_loss + lam * mean_w(-fake)``."""
    cases = [(0.12, *_cases(92)[1:], 0.1), (0.3, *_cases(93)[1:], 0.5), (0.05, np.array([[1.0, -2.0]]),
                                                                           np.array([[1.0, 0.0]]), 0.25)]

    def plus_sign(pixel_loss, fake, weights, lam):
        return pixel_loss + lam * _weighted_loop_mean(np.ravel(fake), weights)

    def discriminator_form(pixel_loss, fake, weights, lam):
        return pixel_loss + lam * _weighted_loop_mean([max(0.0, 1.0 - f) for f in np.ravel(fake)], weights)

    def unweighted(pixel_loss, fake, weights, lam):
        return pixel_loss + lam * np.mean(-fake)

    def no_lambda(pixel_loss, fake, weights, lam):
        return pixel_loss + _weighted_loop_mean([-f for f in np.ravel(fake)], weights)

    mistakes = [
        (plus_sign, "the sign: the generator wants D's scores of its fills HIGH, so it minimises -mean(fake)"),
        (discriminator_form, "the generator's hinge term is not clipped: it is -mean(fake), without relu(1 - fake)"),
        (unweighted, "average the scores only over the patches of weight 1, as in the discriminator's loss"),
        (no_lambda, "multiply the adversarial term by lam"),
    ]
    return run_check(student_fn, cases, _joint_reference, mistakes=mistakes)
