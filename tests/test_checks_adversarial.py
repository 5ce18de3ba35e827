"""The notebook 09 checks: a right answer passes, a blank is 'not attempted', each known mistake is named."""

import numpy as np
import pytest

from course_lib import adversarial
from course_lib.checks import adversarial_losses


def right_d(real, fake, weights):
    return (np.sum(np.maximum(0, 1 - real) * weights) + np.sum(np.maximum(0, 1 + fake) * weights)) / max(weights.sum(), 1)


def right_g(pixel_loss, fake, weights, lam):
    return pixel_loss + lam * np.sum(-fake * weights) / max(weights.sum(), 1)


def test_right_answers_and_the_library_pass(capsys):
    assert adversarial_losses.check_discriminator_loss(right_d) is True
    assert adversarial_losses.check_generator_loss(right_g) is True
    assert adversarial_losses.check_discriminator_loss(
        lambda r, f, w: float(adversarial.discriminator_loss(r, f, weights=w))) is True
    assert adversarial_losses.check_generator_loss(
        lambda p, f, w, lam: float(adversarial.joint_generator_loss(
            p, adversarial.generator_adversarial_loss(f, weights=w), lam))) is True
    assert capsys.readouterr().out.count("✓") == 4


def test_a_blank_is_not_attempted():
    assert adversarial_losses.check_discriminator_loss(lambda r, f, w: None) is None
    assert adversarial_losses.check_generator_loss(lambda p, f, w, lam: None) is None


@pytest.mark.parametrize("wrong, hint", [
    (lambda r, f, w: np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)), "every patch counts"),
    (lambda r, f, w: right_d(f, r, w), "swapped"),
    (lambda r, f, w: np.sum((f - r) * w) / w.sum(), "Wasserstein"),
    (lambda r, f, w: (np.sum(np.maximum(0, 1 - r) * w) + np.sum(np.maximum(0, 1 + f) * w)) / w.size, "sum(weights)"),
])
def test_discriminator_mistakes_are_named(wrong, hint, capsys):
    assert adversarial_losses.check_discriminator_loss(wrong) is False
    assert hint in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda p, f, w, lam: p + lam * np.sum(f * w) / w.sum(), "the sign"),
    (lambda p, f, w, lam: p + lam * np.sum(np.maximum(0, 1 - f) * w) / w.sum(), "not clipped"),
    (lambda p, f, w, lam: p + lam * np.mean(-f), "patches of weight 1"),
    (lambda p, f, w, lam: p + np.sum(-f * w) / w.sum(), "by lam"),
])
def test_generator_mistakes_are_named(wrong, hint, capsys):
    assert adversarial_losses.check_generator_loss(wrong) is False
    assert hint in capsys.readouterr().out
