"""Tests of the training checks of course_lib.checks: each check passes correct solutions written in different ways and
names the mistake of each common wrong one.

The solutions below are written here as a student would, independently of the references in
course_lib.checks.training and of course_lib.step / course_lib.losses.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from course_lib.checks import pconv_unet, training, vanilla_unet
from course_lib import losses, step


def said(capsys):
    return capsys.readouterr().out


# --- the training step ------------------------------------------------------------------

def make_step(*, reduce=ops.mean, clip="global", sign=1.0, apply=True, returns="before"):
    """A student's step with GradientTape; each keyword picks one way of doing (or botching) a part."""
    def my_train_step(model, optimizer, loss_fn, inputs, targets):
        with tf.GradientTape() as tape:
            loss = reduce(loss_fn(targets, model(inputs, training=True)))
        gradients = tape.gradient(loss, model.trainable_variables)
        if clip == "global":
            gradients, _ = tf.clip_by_global_norm(gradients, 1.0)
        elif clip == "each":
            gradients = [tf.clip_by_norm(g, 1.0) for g in gradients]
        elif clip == "value":
            gradients = [tf.clip_by_value(g, -1.0, 1.0) for g in gradients]
        if apply:
            optimizer.apply([sign * g for g in gradients], model.trainable_variables)
        if returns == "after":
            return reduce(loss_fn(targets, model(inputs, training=True)))
        return loss
    return my_train_step


def manual_norm_step(model, optimizer, loss_fn, inputs, targets):
    """Correct, written differently: the global norm by hand with ops, apply_gradients, a float returned."""
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        per_image = loss_fn(targets, model(inputs, training=True))
        loss = ops.sum(per_image) / ops.cast(ops.shape(per_image)[0], "float32")
    gradients = tape.gradient(loss, variables)
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in gradients))
    scale = ops.minimum(1.0, 1.0 / norm)
    optimizer.apply_gradients(zip([g * scale for g in gradients], variables))
    return float(loss)


@tf.function
def compiled_step(model, optimizer, loss_fn, inputs, targets):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(loss_fn(targets, model(inputs, training=True)))
    gradients = tape.gradient(loss, model.trainable_variables)
    clipped, _ = tf.clip_by_global_norm(gradients, 1.0)
    optimizer.apply(clipped, model.trainable_variables)
    return loss


@pytest.mark.parametrize("student", [make_step(), manual_norm_step, compiled_step],
                         ids=["tape+clip_by_global_norm", "manual-norm-with-ops", "tf.function"])
def test_check_train_step_accepts_correct_steps(student, capsys):
    assert vanilla_unet.check_train_step(student) is True
    assert said(capsys) == "✓ correct\n"


@pytest.mark.parametrize("student, hint", [
    (make_step(apply=False), "the optimizer never applied the gradients"),
    (make_step(clip=None), "clip the gradients to a global norm of 1 (tf.clip_by_global_norm)"),
    (make_step(clip="each"), "clip the GLOBAL norm of all gradients together, not each tensor"),
    (make_step(clip="value"), "clip the GLOBAL norm of all gradients together, not each tensor"),
    (make_step(reduce=ops.sum), "average the per-image losses (ops.mean) before taking the gradient"),
    (make_step(returns="after"), "return the loss of the forward pass, before the update"),
    (make_step(sign=-1.0), "subtract: the optimizer minimises"),
    (make_step(reduce=lambda per_image: per_image), "return one number, the batch's mean loss"),
])
def test_check_train_step_names_each_mistake(student, hint, capsys):
    assert vanilla_unet.check_train_step(student) is False
    out = said(capsys)
    assert out.startswith("✗ ") and hint in out and out.count("\n") == 1


def test_check_train_step_loss_outside_the_tape(capsys):
    def outside(model, optimizer, loss_fn, inputs, targets):
        loss = ops.mean(loss_fn(targets, model(inputs, training=True)))
        with tf.GradientTape() as tape:
            pass
        gradients, _ = tf.clip_by_global_norm(tape.gradient(loss, model.trainable_variables), 1.0)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    assert vanilla_unet.check_train_step(outside) is False
    assert "inside `with tf.GradientTape() as tape:`" in said(capsys)


def test_check_train_step_needs_tuples_to_reach_the_model_unchanged(capsys):
    base = make_step()

    def stacks_inputs(model, optimizer, loss_fn, inputs, targets):
        return base(model, optimizer, loss_fn, tf.convert_to_tensor(inputs), targets)

    assert vanilla_unet.check_train_step(stacks_inputs) is False
    out = said(capsys)
    assert "with a two-input model" in out and "pass `inputs` to the model unchanged" in out


def test_check_train_step_not_attempted_raising_and_not_a_function(capsys):
    assert vanilla_unet.check_train_step(None) is None
    assert "not attempted" in said(capsys)
    assert vanilla_unet.check_train_step(lambda model, optimizer, loss_fn, inputs, targets: None) is None
    assert "not attempted" in said(capsys)

    def broken(model, optimizer, loss_fn, inputs, targets):
        raise ZeroDivisionError("oops")

    assert vanilla_unet.check_train_step(broken) is False
    assert "raised ZeroDivisionError: oops" in said(capsys)
    assert vanilla_unet.check_train_step(3.0) is False
    assert "pass the function itself" in said(capsys)


def test_check_train_step_switches_the_library_step_off(capsys):
    code = step.train_step.__code__
    assert vanilla_unet.check_train_step(lambda *args: step.train_step(*args)) is False
    assert "calls course_lib's step.train_step" in said(capsys)
    assert vanilla_unet.check_train_step(step.train_step) is False
    assert "calls course_lib's step.train_step" in said(capsys)
    assert vanilla_unet.check_train_step(tf.function(lambda *args: step.train_step(*args))) is False
    assert "calls course_lib's step.train_step" in said(capsys)
    assert step.train_step.__code__ is code


def test_the_checks_model_and_loss_make_clipping_matter():
    model = training.tiny_model(seed=20)
    inputs, _, targets = training.tiny_batch(22)
    _, _, gradients = training._loss_and_gradients(model, inputs, targets)
    assert np.sqrt(sum(np.sum(g ** 2) for g in gradients)) > 10.0
    assert min(np.sqrt(np.sum(g ** 2)) for g in gradients) > 1.0      # clipping each tensor changes each one
    assert max(np.max(np.abs(g)) for g in gradients) > 1.0          # clipping by value changes something


# --- the epoch loop ---------------------------------------------------------------------

def make_loop(result="means", *, epochs_run=None, use_step=True):
    """A student's loop; ``result`` picks what it returns, ``epochs_run`` overrides the number of epochs."""
    def own_step(model, optimizer, loss_fn, inputs, targets):
        with tf.GradientTape() as tape:
            loss = ops.mean(loss_fn(targets, model(inputs, training=True)))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    def my_train_epochs(model, optimizer, loss_fn, dataset, epochs, step):
        history, everything = [], []
        for _ in range(epochs if epochs_run is None else epochs_run):
            batch_losses = []
            for inputs, targets in dataset:
                run = step if use_step else own_step
                batch_losses.append(float(run(model, optimizer, loss_fn, inputs, targets)))
            everything += batch_losses
            history.append({"means": np.mean(batch_losses), "last": batch_losses[-1], "sums": np.sum(batch_losses),
                            "running": np.mean(everything)}.get(result, np.mean(batch_losses)))
        if result == "one value":
            return history[-1]
        if result == "batches":
            return everything
        return history
    return my_train_epochs


def metric_loop(model, optimizer, loss_fn, dataset, epochs, step):
    """Correct, written differently: a keras Mean metric, an explicit iterator, a NumPy array returned."""
    means = np.zeros(epochs)
    for epoch in range(epochs):
        tracker = keras.metrics.Mean()
        iterator = iter(dataset)
        while (batch := next(iterator, None)) is not None:
            tracker.update_state(step(model, optimizer, loss_fn, *batch))
        means[epoch] = tracker.result()
        print(f"epoch {epoch + 1}: {means[epoch]:.3f}")  # the check prints one line all the same
    return means


@pytest.mark.parametrize("student", [make_loop(), metric_loop], ids=["list+np.mean", "keras-metric"])
def test_check_train_epochs_accepts_correct_loops(student, capsys):
    assert vanilla_unet.check_train_epochs(student) is True
    assert said(capsys) == "✓ correct\n"


@pytest.mark.parametrize("student, hint", [
    (make_loop("last"), "you returned the last batch's loss of each epoch"),
    (make_loop("one value"), "return a list with one mean loss per epoch, not one value"),
    (make_loop(epochs_run=1), "runs one epoch only"),
    (make_loop(use_step=False), "use the step you were given"),
    (make_loop("batches"), "return one value per epoch, the mean of its batch losses"),
    (make_loop("sums"), "average the batch losses of each epoch"),
    (make_loop("running"), "start a new list of batch losses at the beginning of every epoch"),
    (make_loop(epochs_run=2), "step was called 4 times"),  # right for the 2-epoch case, wrong for 1 epoch
])
def test_check_train_epochs_names_each_mistake(student, hint, capsys):
    assert vanilla_unet.check_train_epochs(student) is False
    out = said(capsys)
    assert out.startswith("✗ ") and hint in out and out.count("\n") == 1


def test_check_train_epochs_not_attempted_raising_and_library(capsys):
    assert vanilla_unet.check_train_epochs(None) is None
    assert "not attempted" in said(capsys)
    assert vanilla_unet.check_train_epochs(lambda model, optimizer, loss_fn, dataset, epochs, step: None) is None
    assert "not attempted" in said(capsys)
    # the skeleton: nothing run, an empty list returned
    assert vanilla_unet.check_train_epochs(lambda model, optimizer, loss_fn, dataset, epochs, step: []) is None
    assert "not attempted" in said(capsys)

    def broken(model, optimizer, loss_fn, dataset, epochs, step):
        for inputs, targets in dataset:
            step(model, optimizer, loss_fn, targets, inputs)  # arguments swapped: the loss cannot split targets

    assert vanilla_unet.check_train_epochs(broken) is False
    assert "your function raised" in said(capsys)

    code = step.train_epochs.__code__
    assert vanilla_unet.check_train_epochs(lambda *args, step: step_module_loop(*args, step=step)) is False
    assert "calls course_lib's step.train_epochs" in said(capsys)

    def calls_library_step(model, optimizer, loss_fn, dataset, epochs, step):
        return [float(np.mean([module_step(model, optimizer, loss_fn, x, y) for x, y in dataset]))
                for _ in range(epochs)]

    assert vanilla_unet.check_train_epochs(calls_library_step) is False
    assert "use the step you were given (the `step` argument), not course_lib's step.train_step" in said(capsys)
    assert step.train_epochs.__code__ is code


step_module_loop = step.train_epochs
module_step = step.train_step


# --- Liu et al.'s loss --------------------------------------------------------------------

def make_liu(*, hole_weight=6.0, valid_weight=1.0, tv_weight=0.1, normalise="image", tv_of="composite",
             tv_region="dilated", hole_is=0.0):
    """A student's loss with slicing and ops.where; each keyword picks one way of doing (or botching) a part."""
    def my_liu_loss(y_true, y_pred):
        image, mask = y_true[..., :3], y_true[..., 3:]
        hole = ops.cast(ops.equal(mask, hole_is), "float32")
        size = float(image.shape[1] * image.shape[2] * image.shape[3])
        error = ops.abs(y_pred - image)
        hole_sum = ops.sum(hole * error, axis=(1, 2, 3))
        valid = ops.sum((1.0 - hole) * error, axis=(1, 2, 3)) / size
        if normalise == "image":
            hole_term = hole_sum / size
        elif normalise == "holes, safe":
            hole_term = hole_sum / ops.maximum(3.0 * ops.sum(hole, axis=(1, 2, 3)), 1.0)
        elif normalise == "holes":
            hole_term = hole_sum / (3.0 * ops.sum(hole, axis=(1, 2, 3)))
        else:  # "fraction": right in theory, (sum / count) * (count / size), but 0/0 without holes
            count = 3.0 * ops.sum(hole, axis=(1, 2, 3))
            hole_term = hole_sum / count * (count / size)

        composite = ops.where(hole > 0, y_pred, image)
        picture = composite if tv_of == "composite" else y_pred
        padded = ops.pad(hole, ((0, 0), (1, 1), (1, 1), (0, 0)))
        h, w = image.shape[1], image.shape[2]
        dilated = hole
        for di in range(3):
            for dj in range(3):
                dilated = ops.maximum(dilated, padded[:, di:di + h, dj:dj + w])
        region = {"dilated": dilated, "hole": hole, "all": ops.ones_like(hole)}[tv_region]
        across = region[:, :, 1:] * region[:, :, :-1] * ops.abs(picture[:, :, 1:] - picture[:, :, :-1])
        down = region[:, 1:] * region[:, :-1] * ops.abs(picture[:, 1:] - picture[:, :-1])
        tv = (ops.sum(across, axis=(1, 2, 3)) + ops.sum(down, axis=(1, 2, 3))) / size
        return valid_weight * valid + hole_weight * hole_term + tv_weight * tv
    return my_liu_loss


def conv_liu_loss(y_true, y_pred):
    """Correct, written differently: max-pool dilation, differences and pairs by convolution, means."""
    image, mask = y_true[..., :3], y_true[..., 3:]
    error = ops.abs(image - y_pred)
    pixel = ops.mean(error * mask, axis=(1, 2, 3)) + 6.0 * ops.mean(error * (1.0 - mask), axis=(1, 2, 3))
    composite = image * mask + y_pred * (1.0 - mask)
    region = ops.max_pool(1.0 - mask, pool_size=(3, 3), strides=(1, 1), padding="same")
    along_w = np.array([-1.0, 1.0], np.float32).reshape(1, 2, 1, 1)
    along_h = along_w.reshape(2, 1, 1, 1)
    both_w = np.abs(along_w) * 0.5  # average of the two region values: 1 only when both are 1
    both_h = both_w.reshape(2, 1, 1, 1)
    tv = 0.0
    for difference, both in ((along_w, both_w), (along_h, both_h)):
        kernel = np.tile(difference, (1, 1, 3, 1))
        changes = ops.abs(ops.depthwise_conv(composite, kernel, padding="valid"))
        pairs = ops.cast(ops.conv(region, both, padding="valid") > 0.99, "float32")
        tv = tv + ops.sum(changes * pairs, axis=(1, 2, 3))
    size = ops.cast(ops.prod(ops.shape(image)[1:]), "float32")
    return pixel + 0.1 * tv / size


@pytest.mark.parametrize("student", [make_liu(), conv_liu_loss], ids=["slicing+where", "max-pool+conv"])
def test_check_liu_loss_accepts_correct_losses(student, capsys):
    assert pconv_unet.check_liu_loss(student) is True
    assert said(capsys) == "✓ correct\n"


@pytest.mark.parametrize("student, hint", [
    (make_liu(normalise="holes, safe"), "divide both pixel terms by H·W·C, the size of the image, Liu et al.'s"),
    (make_liu(normalise="holes"), "divide both pixel terms by H·W·C, the size of the image, Liu et al.'s"),
    (make_liu(hole_weight=1.0, valid_weight=6.0), "the weights are swapped"),
    (make_liu(tv_weight=0.0), "the total-variation term is missing"),
    (make_liu(tv_weight=1.0), "weighted 0.1, not 1"),
    (make_liu(tv_region="all"), "you took the TV over the whole image"),
    (make_liu(tv_of="output"), "take the TV of the composite"),
    (make_liu(tv_region="hole"), "the TV region is the holes DILATED by one pixel"),
    (make_liu(hole_weight=1.0, tv_weight=0.0), "this is the plain L1 loss"),
    (make_liu(hole_is=1.0), "the mask is 1 = valid, 0 = hole"),
    (make_liu(normalise="fraction"), "your loss is NaN for an image without holes"),
    (lambda y_true, y_pred: ops.mean(make_liu()(y_true, y_pred)), "return one loss per image, shape (N,)"),
])
def test_check_liu_loss_names_each_mistake(student, hint, capsys):
    assert pconv_unet.check_liu_loss(student) is False
    out = said(capsys)
    assert out.startswith("✗ ") and hint in out and out.count("\n") == 1


def test_check_liu_loss_wants_keras_ops_that_run_in_a_graph(capsys):
    right = make_liu()

    def with_numpy(y_true, y_pred):
        return np.asarray(right(y_true, y_pred)) + 0.0 * np.asarray(y_true).sum()

    assert pconv_unet.check_liu_loss(with_numpy) is False
    assert "inside a tf.function, as model.fit runs it" in said(capsys)


def test_check_liu_loss_not_attempted_raising_and_library(capsys):
    assert pconv_unet.check_liu_loss(None) is None
    assert "not attempted" in said(capsys)
    assert pconv_unet.check_liu_loss(lambda y_true, y_pred: None) is None
    assert "not attempted" in said(capsys)
    assert pconv_unet.check_liu_loss(lambda y_true, y_pred: y_true[..., 3] + y_pred) is False
    assert "raised" in said(capsys)

    codes = [f.__code__ for f in (losses.liu_loss, losses.liu_terms, losses.total_variation_in_region)]
    assert pconv_unet.check_liu_loss(losses.liu_loss) is False
    assert "calls course_lib's losses.liu_loss" in said(capsys)

    def with_library_tv(y_true, y_pred):
        image, mask = y_true[..., :3], y_true[..., 3:]
        pixel = ops.mean(ops.abs(y_pred - image) * (6.0 - 5.0 * mask), axis=(1, 2, 3))
        composite = mask * image + (1.0 - mask) * y_pred
        return pixel + 0.1 * losses.total_variation_in_region(composite, losses.dilate_holes(mask))

    assert pconv_unet.check_liu_loss(with_library_tv) is False
    assert "calls course_lib's losses.total_variation_in_region" in said(capsys)
    assert [f.__code__ for f in (losses.liu_loss, losses.liu_terms, losses.total_variation_in_region)] == codes


def test_the_liu_reference_agrees_with_hand_computed_values():
    # One 2x2 one-channel-wide example by hand: image 0, output 1 everywhere, one hole pixel (top left).
    y_true = np.zeros((1, 2, 2, 4), np.float32)
    y_true[..., 3] = 1.0
    y_true[0, 0, 0, 3] = 0.0
    y_pred = np.ones((1, 2, 2, 3), np.float32)
    # valid: 3 pixels x 3 channels x 1 = 9; hole: 3; TV of the composite over the dilated hole (all 4 pixels):
    # the pairs touching the top-left pixel differ by 1 in 3 channels: 2 pairs x 3 = 6.  Size H·W·C = 12.
    expected = (9.0 + 6.0 * 3.0 + 0.1 * 6.0) / 12.0
    assert training.liu_reference(y_true, y_pred) == pytest.approx([expected])
    assert training._liu_variant(y_true, y_pred) == pytest.approx([expected])
