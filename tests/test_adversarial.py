"""course_lib.adversarial: the two losses by hand, one step moves both networks, a run resumes."""

import json

import numpy as np
import pytest

import keras

from course_lib import adversarial, models, pretrained, recipes
from course_lib.train import resolve_settings, train
from test_train import CountEpochs, Interrupt, csv_epochs, smooth_images

SETTINGS = dict(epochs=2, n_train=32, n_val=16, batch_size=16, seed=0, verbose=0)


def test_hinge_losses_by_hand():
    real = np.array([[2.0, 0.5], [-1.0, 1.0]])  # relu(1 - r): 0, 0.5, 2, 0 -> mean 0.625
    fake = np.array([[-2.0, 0.0], [1.0, -0.5]])  # relu(1 + f): 0, 1, 2, 0.5 -> mean 0.875
    assert float(adversarial.discriminator_loss(real, fake)) == pytest.approx(0.625 + 0.875)
    assert float(adversarial.generator_adversarial_loss(fake)) == pytest.approx(-np.mean(fake))


def test_non_saturating_losses_against_the_log_sigmoid_form():
    real, fake = np.array([1.5, -0.3, 0.2]), np.array([-1.0, 0.4, 2.0])
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected_d = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake)))
    expected_g = -np.mean(np.log(sigmoid(fake)))
    assert float(adversarial.discriminator_loss(real, fake, "non_saturating")) == pytest.approx(expected_d, rel=1e-6)
    assert float(adversarial.generator_adversarial_loss(fake, "non_saturating")) == pytest.approx(expected_g, rel=1e-6)
    with pytest.raises(ValueError, match="hinge"):
        adversarial.discriminator_loss(real, fake, "wasserstein")


def test_patch_weights_mark_the_cells_that_hold_hole_pixels():
    rng = np.random.default_rng(0)
    masks = (rng.random((3, 32, 32, 1)) > 0.02).astype(np.float32)
    weights = np.asarray(adversarial.patch_weights(masks, np.zeros((3, 8, 8, 1))))
    for n in range(3):
        for i in range(8):
            for j in range(8):
                has_hole = np.any(masks[n, 4 * i:4 * i + 4, 4 * j:4 * j + 4] == 0)
                assert weights[n, i, j, 0] == float(has_hole)


def test_the_losses_count_only_the_weighted_patches():
    real, fake = np.array([[3.0, 0.5]]), np.array([[7.0, -0.5]])
    weights = np.array([[0.0, 1.0]])  # only the second patch holds a hole
    assert float(adversarial.discriminator_loss(real, fake, weights=weights)) == pytest.approx(0.5 + 0.5)
    assert float(adversarial.generator_adversarial_loss(fake, weights=weights)) == pytest.approx(0.5)


def test_joint_loss_and_the_discriminator_shape():
    assert adversarial.joint_generator_loss(0.2, -3.0, 0.01) == pytest.approx(0.17)
    discriminator = adversarial.build_discriminator()
    scores = discriminator([np.zeros((2, 32, 32, 3), np.float32), np.ones((2, 32, 32, 1), np.float32)])
    assert tuple(scores.shape) == (2, 8, 8, 1)


@pytest.fixture(scope="module")
def batch():
    images = smooth_images(8, size=32).astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    masks = (rng.random((8, 32, 32, 1)) > 0.4).astype(np.float32)
    return models.prepare_inputs("improved", images, masks), np.concatenate([images, masks], -1)


def test_one_step_changes_both_networks_and_the_loss_it_logs_is_the_joint_loss(batch):
    inputs, y_true = batch
    keras.utils.set_random_seed(0)
    trainer = adversarial.make_trainer(models.build_model("improved"), adversarial_weight=0.5,
                                       learning_rate=1e-3)
    before_g = [w.copy() for w in trainer.generator.get_weights()]
    before_d = [w.copy() for w in trainer.discriminator.get_weights()]
    logs = trainer.train_on_batch(inputs, y_true, return_dict=True)
    assert any(not np.array_equal(a, b) for a, b in zip(before_g, trainer.generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(before_d, trainer.discriminator.get_weights()))
    assert logs["loss"] == pytest.approx(logs["pixel_loss"] + 0.5 * logs["adversarial_loss"], rel=1e-5)
    assert logs["adversarial_loss"] == pytest.approx(-logs["d_fake"], rel=1e-5)  # hinge: -mean D(fake)


@pytest.mark.long
def test_with_lambda_zero_the_generator_takes_the_pixel_loss_step(batch):
    """lambda = 0: the generator's step is the same as plain Adam on the pixel loss."""
    inputs, y_true = batch
    generator = models.build_model("improved")
    twin = models.build_model("improved")
    twin.set_weights(generator.get_weights())
    trainer = adversarial.make_trainer(generator, adversarial_weight=0.0, learning_rate=1e-3)
    trainer.train_on_batch(inputs, y_true)
    twin.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=adversarial.ADAM_BETA_1),
                 loss=lambda t, p: trainer.pixel_loss_fn(t, p))
    twin.train_on_batch(inputs, y_true)
    for a, b in zip(generator.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_saving_the_trainer_saves_the_generator(batch, tmp_path):
    trainer = adversarial.make_trainer(models.build_model("improved"), adversarial_weight=0.1,
                                       learning_rate=1e-3)
    trainer.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras", compile=False)
    assert loaded.count_params() == models.build_model("adversarial").count_params()


def test_the_adversarial_network_has_its_own_recipe_and_weight():
    settings = resolve_settings("adversarial", profile="ci", epochs=None, n_train=None, n_val=None,
                                batch_size=None, loss=None, masks=None, seed=0, mixed_precision=False,
                                learning_rate=None)
    assert settings["recipe"] == "adversarial"
    assert settings["adversarial_weight"] == recipes.ADVERSARIAL_WEIGHT
    common = dict(profile="ci", epochs=None, n_train=None, n_val=None, batch_size=None, loss=None,
                  masks=None, seed=0, mixed_precision=False, learning_rate=None)
    with pytest.raises(ValueError, match="adversarial_weight is a setting of the 'adversarial' network"):
        resolve_settings("improved", adversarial_weight=0.1, **common)
    with pytest.raises(ValueError, match="adversarial_weight must be a finite non-negative"):
        resolve_settings("adversarial", adversarial_weight=-1.0, **common)
    assert "adversarial_weight" not in resolve_settings("improved", **common)


@pytest.mark.long
def test_an_adversarial_run_starts_from_the_improved_network_and_resumes(tmp_path):
    images = smooth_images(48)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train("adversarial", out_dir=out, images=images, callbacks=[Interrupt(1)], **SETTINGS)
    assert csv_epochs(out / "log.csv") == [0]
    counter = CountEpochs()
    result = train("adversarial", out_dir=out, images=images, callbacks=[counter], **SETTINGS)
    assert counter.finished == [1] and csv_epochs(out / "log.csv") == [0, 1]
    log = result.history
    assert {"discriminator_loss", "d_real", "d_fake", "pixel_loss", "val_loss"} <= set(log)
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["adversarial_weight"] == recipes.ADVERSARIAL_WEIGHT
    # what the run saves is an inpainting network of the improved architecture, moved from the shipped one
    final = keras.saving.load_model(out / "final.keras", compile=False)
    shipped = pretrained.load_pretrained("improved")
    assert [w.shape for w in final.get_weights()] == [w.shape for w in shipped.get_weights()]
    moved = [np.max(np.abs(a - b)) for a, b in zip(final.get_weights(), shipped.get_weights())]
    assert 0 < max(moved) < 0.05  # fine-tuned: close to the shipped weights, not equal


def test_each_score_sees_a_26_pixel_patch():
    """The receptive field the docstrings state, from the gradient of one score with respect to the image."""
    import tensorflow as tf

    discriminator = adversarial.build_discriminator((64, 64, 3))
    image = tf.random.uniform((1, 64, 64, 3), seed=0)
    with tf.GradientTape() as tape:
        tape.watch(image)
        score = discriminator([image, tf.ones((1, 64, 64, 1))])[0, 8, 8, 0]
    reach = np.abs(tape.gradient(score, image).numpy()[0]).sum(-1) > 0
    rows, cols = np.nonzero(reach.any(1))[0], np.nonzero(reach.any(0))[0]
    assert rows.max() - rows.min() + 1 == 26 and cols.max() - cols.min() + 1 == 26
