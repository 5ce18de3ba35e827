"""Tests of course_lib.step: the hand-written training step and loop do what model.fit does."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from course_lib import step

N, SIZE = 4, 8


def tiny_model(seed=0):
    """Two 3x3 convolutions with weights drawn from a seeded generator (same seed, same model)."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="tanh", dtype="float32")(inputs)
    outputs = keras.layers.Conv2D(3, 3, padding="same", dtype="float32")(hidden)
    model = keras.Model(inputs, outputs)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def steep_loss(y_true, y_pred):
    """A hole-weighted squared error, scaled so that its gradient norm is far above 1.  (N,)."""
    image, mask = y_true[..., :3], y_true[..., 3:]
    return 20.0 * ops.mean(ops.square(y_pred - image) * (1.0 + 5.0 * (1.0 - mask)), axis=(1, 2, 3))


def batch(seed):
    rng = np.random.default_rng(seed)
    images = rng.random((N, SIZE, SIZE, 3)).astype("float32")
    masks = (rng.random((N, SIZE, SIZE, 1)) > 0.3).astype("float32")
    return images * masks + (1.0 - masks), np.concatenate([images, masks], axis=-1)


def gradients(model, inputs, targets):
    with tf.GradientTape() as tape:
        loss = ops.mean(steep_loss(targets, model(inputs, training=True)))
    return float(loss), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def fit_one_batch(model, optimizer, inputs, targets):
    model.compile(optimizer=optimizer, loss=steep_loss)
    history = model.fit(inputs, targets, batch_size=N, epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0]


def test_one_sgd_step_equals_one_batch_of_fit_with_global_clipnorm():
    inputs, targets = batch(1)
    by_hand, by_fit, unclipped = tiny_model(), tiny_model(), tiny_model()
    before = by_hand.get_weights()
    loss_before, grads = gradients(by_hand, inputs, targets)
    assert np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)) > 10.0  # so that clipping matters

    loss = step.train_step(by_hand, keras.optimizers.SGD(0.1), steep_loss, inputs, targets)
    fit_loss = fit_one_batch(by_fit, keras.optimizers.SGD(0.1, global_clipnorm=1.0), inputs, targets)

    assert loss.shape == () and loss.dtype == "float32"
    assert float(loss) == pytest.approx(fit_loss, rel=1e-5)
    assert float(loss) == pytest.approx(loss_before, rel=1e-6)  # the loss before the update, not after
    assert float(ops.mean(steep_loss(targets, by_hand(inputs)))) < 0.99 * float(loss)
    assert max_difference(by_hand.get_weights(), by_fit.get_weights()) < 1e-5
    assert max_difference(by_hand.get_weights(), before) > 1e-3

    fit_one_batch(unclipped, keras.optimizers.SGD(0.1), inputs, targets)
    assert max_difference(by_hand.get_weights(), unclipped.get_weights()) > 0.1  # clipping did matter


def test_the_update_is_the_clipped_gradient_step():
    inputs, targets = batch(2)
    model = tiny_model(seed=3)
    before = model.get_weights()
    _, grads = gradients(model, inputs, targets)
    global_norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    step.train_step(model, keras.optimizers.SGD(0.1), steep_loss, inputs, targets, clip_norm=2.0)
    expected = [w - 0.1 * g * 2.0 / global_norm for w, g in zip(before, grads)]
    assert max_difference(model.get_weights(), expected) < 1e-6


def test_one_adam_step_equals_one_batch_of_fit():
    inputs, targets = batch(4)
    by_hand, by_fit = tiny_model(seed=5), tiny_model(seed=5)
    loss = step.train_step(by_hand, keras.optimizers.Adam(0.01), steep_loss, inputs, targets)
    fit_loss = fit_one_batch(by_fit, keras.optimizers.Adam(0.01, global_clipnorm=1.0), inputs, targets)
    assert float(loss) == pytest.approx(fit_loss, rel=1e-5)
    assert max_difference(by_hand.get_weights(), by_fit.get_weights()) < 1e-5


def test_a_two_input_model_takes_a_tuple():
    image = keras.Input((SIZE, SIZE, 3))
    mask = keras.Input((SIZE, SIZE, 1))
    joined = keras.layers.Concatenate()([image, mask])
    model = keras.Model([image, mask], keras.layers.Conv2D(3, 3, padding="same")(joined))
    inputs, targets = batch(6)
    before = model.get_weights()
    loss = step.train_step(model, keras.optimizers.SGD(0.1), steep_loss, (inputs, targets[..., 3:]), targets)
    assert np.isfinite(float(loss))
    assert max_difference(model.get_weights(), before) > 1e-4


def test_train_epochs_equals_calling_the_step_by_hand(capsys):
    batches = [batch(7), batch(8)]
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]))).batch(N)
    looped, by_hand = tiny_model(seed=9), tiny_model(seed=9)

    history = step.train_epochs(looped, keras.optimizers.SGD(0.1), steep_loss, dataset, 2)

    optimizer = keras.optimizers.SGD(0.1)
    losses = [float(step.train_step(by_hand, optimizer, steep_loss, x, y)) for _ in range(2) for x, y in batches]
    assert history == pytest.approx([np.mean(losses[:2]), np.mean(losses[2:])], rel=1e-5)
    assert all(isinstance(value, float) for value in history)
    assert max_difference(looped.get_weights(), by_hand.get_weights()) < 1e-6
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"epoch 1/2: loss {history[0]:.4f}",
                                                        f"epoch 2/2: loss {history[1]:.4f}"]


def test_train_epochs_uses_the_step_it_is_given(capsys):
    calls = []

    def counting_step(model, optimizer, loss_fn, inputs, targets):
        calls.append(float(np.asarray(inputs).sum()))
        return float(len(calls))

    batches = [batch(10), batch(11), batch(12)]
    history = step.train_epochs(tiny_model(), keras.optimizers.SGD(0.1), steep_loss, batches, 2, step=counting_step)
    assert len(calls) == 6 and calls[:3] == calls[3:]
    assert history == [2.0, 5.0]  # means of the returned 1, 2, 3 and 4, 5, 6


def test_train_epochs_refuses_a_used_up_generator():
    batches = iter([batch(13)])
    with pytest.raises(ValueError, match="no batches"):
        step.train_epochs(tiny_model(), keras.optimizers.SGD(0.1), steep_loss, batches, 2,
                          step=lambda *args: 1.0)
