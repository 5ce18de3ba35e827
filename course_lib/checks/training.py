"""How the training checks run a student's training code: notebook 05's step and loop, notebook 06's loss.

The checks themselves are :func:`course_lib.checks.vanilla_unet.check_train_step` (one step of gradient
descent, gradients clipped to a global norm of 1, returns the mean loss before the update),
:func:`course_lib.checks.vanilla_unet.check_train_epochs` (the loop around the step, returns the mean
loss of each epoch) and :func:`course_lib.checks.pconv_unet.check_liu_loss` (``L_valid + 6 L_hole +
0.1 L_tv`` per image).  Here: calling the student's code with the library switched off
(:func:`call_student`), a small fixed model with fixed data and a steep loss, and the judges that
compare the student's step, loop and loss with references and name the common mistakes.

References are written here (a tape for the gradients, then NumPy; plain loops for the loss), never with
:mod:`course_lib.step` or :mod:`course_lib.losses`, whose functions are switched off while the student's
code runs.  Conventions: images float32 in [0, 1], NHWC; masks (N, H, W, 1), 1 = valid, 0 = hole;
``y_true = concat([image, mask], -1)`` (N, H, W, 4).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Callable, NamedTuple, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from course_lib.checks.better_losses import liu_pixel_loss_reference, total_variation_reference
from course_lib.checks.feedback import ErrorLine, library_functions, matches, rel_error, switched_off, trapped_name


_SIZE = 8
LEARNING_RATE = 0.1
_CLIP_NORM = 1.0
TOL = 1e-5


# --------------------------------------------------------------------------------------
# Calling the student's code.
# --------------------------------------------------------------------------------------

class _Outcome(NamedTuple):
    answer: Any = None
    error: Exception | None = None
    delegated: str | None = None  # the name of the switched-off library function that the student's code called


def call_student(fn: Callable, args: Sequence, kwargs: dict | None = None, forbidden: Sequence[str] = ()) -> _Outcome:
    """Call ``fn(*args, **kwargs)`` with the ``forbidden`` library functions off and its printing swallowed."""
    called: list[str] = []
    try:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"), \
                switched_off(library_functions(forbidden), called):
            answer = fn(*args, **(kwargs or {}))
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        name = trapped_name(err)
        if name is None:
            return _Outcome(error=err)
        called.append(name)
    if called:
        return _Outcome(delegated=called[0])
    return _Outcome(answer=answer)


def raised(err: Exception, hint: str = "") -> str:
    first_line = (str(err).strip().splitlines() or [""])[0][:200]
    return ErrorLine(f"✗ your function raised {type(err).__name__}: {first_line}" + (f" ({hint})" if hint else ""))


def delegated(name: str, how: str) -> str:
    return (f"✗ your function calls course_lib's {name}, the library's version of what this exercise asks you "
            f"to write: write it yourself ({how})")


def not_a_function(fn) -> str:
    return (f"✗ expected a function, got {type(fn).__name__}: pass the function itself, without calling it "
            "(check(my_fn), not check(my_fn()))")


def to_array(value) -> np.ndarray | None:
    """``value`` as a float64 array, or None if it is not numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# A small fixed model, fixed data and a steep loss for the step and the loop.
# --------------------------------------------------------------------------------------

def tiny_model(seed: int, two_inputs: bool = False) -> keras.Model:
    """Two 3x3 Conv2D layers, weights drawn from ``seed`` (float32 whatever the global dtype policy).

    One input (N, 8, 8, 3), or with ``two_inputs`` a tuple (image (N, 8, 8, 3), mask (N, 8, 8, 1)).
    """
    image = keras.Input((_SIZE, _SIZE, 3))
    inputs, features = image, image
    if two_inputs:
        mask = keras.Input((_SIZE, _SIZE, 1))
        inputs, features = [image, mask], keras.layers.Concatenate(dtype="float32")([image, mask])
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="tanh", dtype="float32")(features)
    outputs = keras.layers.Conv2D(3, 3, padding="same", dtype="float32")(hidden)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def tiny_batch(seed: int, n: int = 4):
    """(inputs = image with white holes (n, 8, 8, 3), mask (n, 8, 8, 1), targets = concat([image, mask]))."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, _SIZE, _SIZE, 3)).astype("float32")
    masks = (rng.random((n, _SIZE, _SIZE, 1)) > 0.3).astype("float32")
    return images * masks + (1.0 - masks), masks, np.concatenate([images, masks], axis=-1)


def steep_loss(y_true, y_pred):
    """20 × a hole-weighted squared error, (N,): its gradient's global norm is in the hundreds, so clipping matters."""
    image, mask = y_true[..., :3], y_true[..., 3:]
    return 20.0 * ops.mean(ops.square(y_pred - image) * (1.0 + 5.0 * (1.0 - mask)), axis=(1, 2, 3))


def weight_values(model) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v), dtype=np.float64) for v in model.trainable_variables]


def _same_weights(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(matches(np.asarray(x), np.asarray(y), TOL) for x, y in zip(a, b))


def _largest_difference(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))


def _loss_and_gradients(model, inputs, targets):
    """The reference's forward and backward pass: (mean loss, per-image losses (N,), gradients), float64."""
    with tf.GradientTape() as tape:
        per_image = steep_loss(targets, model(inputs, training=True))
        loss = ops.mean(per_image)
    gradients = tape.gradient(loss, model.trainable_variables)
    return (float(loss), np.asarray(per_image, np.float64),
            [np.asarray(g, np.float64) for g in gradients])


# --------------------------------------------------------------------------------------
# The training step.
# --------------------------------------------------------------------------------------

def _global_clip(gradients):
    norm = np.sqrt(sum(np.sum(g ** 2) for g in gradients))
    return [g * min(1.0, _CLIP_NORM / norm) for g in gradients]


def _updates(before, gradients):
    """The weights after the right update and after each common wrong one: [(weights, hint or None)]."""
    def sgd(grads, sign=-1.0, times=1.0):
        return [w + sign * times * LEARNING_RATE * g for w, g in zip(before, grads)]

    clipped = _global_clip(gradients)
    per_tensor = [g * min(1.0, _CLIP_NORM / np.sqrt(np.sum(g ** 2))) for g in gradients]
    by_value = [np.clip(g, -_CLIP_NORM, _CLIP_NORM) for g in gradients]
    return [
        (sgd(clipped), None),
        (before, "the optimizer never applied the gradients (optimizer.apply(gradients, variables))"),
        (sgd(clipped, sign=1.0), "subtract: the optimizer minimises (pass the gradients of the loss themselves to "
                                 "optimizer.apply, not their negatives)"),
        (sgd(gradients), "clip the gradients to a global norm of 1 (tf.clip_by_global_norm) before applying them"),
        (sgd(per_tensor), "clip the GLOBAL norm of all gradients together, not each tensor "
                          "(tf.clip_by_global_norm(gradients, 1.0), not tf.clip_by_norm)"),
        (sgd(by_value), "clip the GLOBAL norm of all gradients together, not each tensor "
                        "(tf.clip_by_global_norm(gradients, 1.0), not a clip by value)"),
        (sgd(clipped, times=2.0), "the gradients were applied twice: call optimizer.apply once per step"),
    ]


def _judge_weights(before, after, gradients, where: str) -> str | None:
    """None when ``after`` is the reference update, else the line to print."""
    updates = _updates(before, gradients)
    for weights, hint in updates:
        if _same_weights(after, weights):
            return None if hint is None else f"✗ {hint}"
    expected = updates[0][0]
    return (f"✗ {where}the updated weights differ from the reference by up to "
            f"{_largest_difference(after, expected):.1e}: the update is weights − learning_rate · (gradients "
            "clipped to a global norm of 1), applied with the optimizer you were given")


def _judge_loss(got: np.ndarray, loss: float, per_image: np.ndarray, model, inputs, targets, where: str) -> str | None:
    """None when ``got`` is the mean loss before the update, else the line to print."""
    if got.size == 1 and matches(got.reshape(()), np.float64(loss), TOL):
        return None
    if got.shape == per_image.shape and matches(got, per_image, TOL):
        return ("✗ return one number, the batch's mean loss: average the per-image losses (ops.mean) before "
                "taking the gradient")
    if got.size != 1:
        return f"✗ {where}return the loss as one number (a scalar); got shape {got.shape}"
    got = got.reshape(())
    if matches(got, np.float64(per_image.sum()), TOL):
        return "✗ average the per-image losses (ops.mean) before taking the gradient: you summed them"
    after = float(ops.mean(steep_loss(targets, model(inputs, training=True))))
    if matches(got, np.float64(after), TOL):
        return "✗ return the loss of the forward pass, before the update (do not recompute it afterwards)"
    return (f"✗ {where}the returned loss is {float(got):.6g}, the reference {loss:.6g}: return the mean of "
            "loss_fn(targets, model(inputs, training=True)) over the batch")


def one_step(step_fn, model, inputs, targets, *, call: int, where: str) -> bool | None | str:
    """Run the student's step once and compare; True if right, None if not attempted, else the line to print."""
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    optimizer.build(model.trainable_variables)  # no variables get created inside a student's tf.function
    before = weight_values(model)
    loss, per_image, gradients = _loss_and_gradients(model, inputs, targets)
    outcome = call_student(step_fn, (model, optimizer, steep_loss, inputs, targets), forbidden=["step.train_step"])
    if outcome.delegated:
        return delegated(outcome.delegated, "tf.GradientTape, tf.clip_by_global_norm, optimizer.apply")
    if outcome.error is not None:
        if "No gradients provided" in str(outcome.error):
            return raised(outcome.error, "compute the model's output and the loss inside `with tf.GradientTape() "
                                         "as tape:`, the tape only sees what runs inside it")
        if isinstance(inputs, tuple):
            return raised(outcome.error, f"{where.rstrip(': ')}: pass `inputs` to the model unchanged")
        return raised(outcome.error)
    if outcome.answer is None:
        if call == 0:
            return None
        return f"✗ {where}your step returned None: every path must return the loss"
    got = to_array(outcome.answer)
    if got is None:
        return f"✗ your step returned a {type(outcome.answer).__name__}: return the loss, a scalar tensor or float"
    return (_judge_weights(before, weight_values(model), gradients, where)
            or _judge_loss(got, loss, per_image, model, inputs, targets, where)
            or True)


# --------------------------------------------------------------------------------------
# The epoch loop.
# --------------------------------------------------------------------------------------

def recording_step(record: list[float]) -> Callable:
    """A correct clipped SGD step that notes every loss it returns in ``record``."""
    def step(model, optimizer, loss_fn, inputs, targets):
        with tf.GradientTape() as tape:
            loss = ops.mean(loss_fn(targets, model(inputs, training=True)))
        gradients, _ = tf.clip_by_global_norm(tape.gradient(loss, model.trainable_variables), _CLIP_NORM)
        optimizer.apply(gradients, model.trainable_variables)
        record.append(float(loss))
        return loss
    return step


def tiny_dataset(n_batches: int, seed: int):
    inputs, _, targets = tiny_batch(seed, n=2 * n_batches)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(2)


def run_loop(loop_fn, dataset, epochs: int, seed: int):
    """Run ``loop_fn`` with a recording step on a fresh model: (outcome, losses the step returned, weights)."""
    model = tiny_model(seed)
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    record: list[float] = []
    outcome = call_student(loop_fn, (model, optimizer, steep_loss, dataset, epochs),
                           {"step": recording_step(record)}, forbidden=["step.train_epochs", "step.train_step"])
    return outcome, record, weight_values(model)


def reference_loop(model, optimizer, loss_fn, dataset, epochs, step):
    history = []
    for _ in range(epochs):
        losses = [float(step(model, optimizer, loss_fn, x, y)) for x, y in dataset]
        history.append(sum(losses) / len(losses))
    return history


def _epoch_values(record: Sequence[float], n_batches: int, epochs: int):
    """The record cut into epochs: (means, last batch losses, sums, running means over all epochs so far)."""
    epochs_of = [record[e * n_batches:(e + 1) * n_batches] for e in range(epochs)]
    return ([np.mean(e) for e in epochs_of], [e[-1] for e in epochs_of], [np.sum(e) for e in epochs_of],
            [np.mean(record[:(e + 1) * n_batches]) for e in range(epochs)])


def judge_loop(answer, record, weights, reference_weights, n_batches, epochs) -> str | None:
    calls = len(record)
    if calls == 0:
        return ("✗ use the step you were given: call step(model, optimizer, loss_fn, inputs, targets) for every "
                "batch")
    got = to_array(answer) if isinstance(answer, (list, tuple, np.ndarray, tf.Tensor)) else None
    if got is None or got.ndim != 1:
        if np.ndim(answer) == 0 and to_array(answer) is not None:
            return "✗ return a list with one mean loss per epoch, not one value"
        return f"✗ return a list of floats, one mean loss per epoch; got {type(answer).__name__}"
    if calls == n_batches and epochs > 1:
        return ("✗ your loop runs one epoch only: repeat the pass over the dataset `epochs` times "
                "(for epoch in range(epochs))")
    if calls != n_batches * epochs:
        return (f"✗ step was called {calls} times: call it once per batch of every epoch "
                f"({n_batches} batches × {epochs} epoch{'s' if epochs > 1 else ''} = {n_batches * epochs})")
    if not _same_weights(weights, reference_weights):
        return ("✗ the weights differ from the reference's: call step(model, optimizer, loss_fn, inputs, targets) "
                "on each (inputs, targets) batch of the dataset, in order")
    means, lasts, sums, running = _epoch_values(record, n_batches, epochs)
    if got.shape == (epochs,) and matches(got, np.asarray(means), TOL):
        return None
    if got.shape == (calls,) and matches(got, np.asarray(record), TOL):
        return "✗ return one value per epoch, the mean of its batch losses, not every batch's loss"
    candidates = [
        (lasts, "✗ you returned the last batch's loss of each epoch: return the epoch's MEAN loss (average the "
                "losses of all its batches)"),
        (sums, "✗ average the batch losses of each epoch (divide by the number of batches), do not just add them"),
        (running, "✗ start a new list of batch losses at the beginning of every epoch: each epoch's mean covers "
                  "only its own batches"),
    ]
    for wrong, hint in candidates:
        if got.shape == (epochs,) and matches(got, np.asarray(wrong), TOL):
            return hint
    if got.shape != (epochs,):
        return f"✗ return one mean loss per epoch: expected a list of {epochs} values, got {got.size}"
    return (f"✗ the returned list {np.round(got, 5).tolist()} differs from the epochs' mean losses "
            f"{np.round(means, 5).tolist()}")


# --------------------------------------------------------------------------------------
# Liu et al.'s loss.
# --------------------------------------------------------------------------------------

def _dilated_holes_reference(mask):
    """(H, W, 1) 1 = valid -> (H, W, 1): 1 where the 3x3 window around a pixel (inside the image) has a hole."""
    mask = np.asarray(mask, np.float64)[..., 0]
    h, w = mask.shape
    region = np.zeros((h, w, 1))
    for i in range(h):
        for j in range(w):
            region[i, j, 0] = float(np.any(mask[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] == 0))
    return region


def liu_reference(y_true, y_pred):
    """L_valid + 6 L_hole + 0.1 L_tv of each image, (N,), with plain loops (all terms divided by H·W·C)."""
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    values = []
    for target, output in zip(y_true, y_pred):
        image, mask = target[..., :3], target[..., 3:]
        composite = np.where(mask == 1, image, output)
        values.append(liu_pixel_loss_reference(image, output, mask)
                      + 0.1 * total_variation_reference(composite, _dilated_holes_reference(mask)))
    return np.array(values)


def _liu_variant(y_true, y_pred, *, weights=(1.0, 6.0, 0.1), per_region=(False, False), tv_of="composite",
                 tv_region="dilated", invert_mask=False):
    """Vectorised L_valid, L_hole, L_tv with one thing changed, for the hints.  (N,).

    ``weights``: (valid, hole, tv); ``per_region``: divide the (valid, hole) term by its own number of
    values instead of H·W·C (0 when there are none); ``tv_of``: "composite" or "output"; ``tv_region``:
    "dilated", "hole" or "all"; ``invert_mask``: read 1 as hole.
    """
    y_true = np.asarray(y_true, np.float64)
    output = np.asarray(y_pred, np.float64)
    image, mask = y_true[..., :3], y_true[..., 3:]
    if invert_mask:
        mask = 1.0 - mask
    hole = np.broadcast_to(1.0 - mask, image.shape)
    error = np.abs(output - image)
    size = np.prod(image.shape[1:])

    def term(region, own_count):
        total = (region * error).sum(axis=(1, 2, 3))
        count = region.sum(axis=(1, 2, 3)) if own_count else np.full(len(total), size)
        return np.divide(total, count, out=np.zeros_like(total), where=count > 0)

    padded = np.pad(1.0 - mask, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = mask.shape[1:3]
    dilated = np.max([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    region = {"dilated": dilated, "hole": 1.0 - mask, "all": np.ones_like(mask)}[tv_region]
    picture = mask * image + (1.0 - mask) * output if tv_of == "composite" else output
    tv = ((region[:, :, 1:] * region[:, :, :-1] * np.abs(picture[:, :, 1:] - picture[:, :, :-1])).sum(axis=(1, 2, 3))
          + (region[:, 1:] * region[:, :-1] * np.abs(picture[:, 1:] - picture[:, :-1])).sum(axis=(1, 2, 3))) / size
    return (weights[0] * term(1.0 - hole, per_region[0]) + weights[1] * term(hole, per_region[1])
            + weights[2] * tv)


_NORMALISATION_HINT = ("you divided by the number of hole (or valid) values: divide both pixel terms by H·W·C, the "
                       "size of the image, Liu et al.'s normalisation")

_LIU_MISTAKES = [
    (dict(per_region=(False, True)), _NORMALISATION_HINT),
    (dict(per_region=(True, True)), _NORMALISATION_HINT),
    (dict(weights=(6.0, 1.0, 0.1)), "the weights are swapped: the HOLE term (mask 0) gets the 6, the valid term 1"),
    (dict(invert_mask=True), "the mask is 1 = valid, 0 = hole: the hole term uses (1 − mask)"),
    (dict(weights=(1.0, 6.0, 0.0)), "the total-variation term is missing: add 0.1 · L_tv of the composite over "
                                    "the dilated holes"),
    (dict(weights=(1.0, 6.0, 1.0)), "the total-variation term is weighted 0.1, not 1"),
    (dict(tv_region="all"), "you took the TV over the whole image: only pairs of neighbours inside the holes "
                            "dilated by one pixel count"),
    (dict(tv_of="output"), "take the TV of the composite M·I_gt + (1 − M)·I_out, not of the raw output"),
    (dict(tv_region="hole"), "the TV region is the holes DILATED by one pixel (3x3), so that the seams between "
                             "hole and known pixels count too"),
    (dict(weights=(1.0, 1.0, 0.0)), "this is the plain L1 loss: weigh the hole pixels (mask 0) 6 times and add "
                                    "0.1 · L_tv"),
]


def liu_cases():
    """Two batches (y_true (N,H,W,4), y_pred (N,H,W,3)) float32, with an image without holes and one all hole."""
    rng = np.random.default_rng(90)
    cases = []
    for n, h, w, holes in ((4, 8, 8, [None, (2, 5, 1, 4), (0, 3, 4, 8), "all"]),
                           (3, 6, 10, [(1, 4, 2, 7), (3, 6, 0, 3), None])):
        masks = np.ones((n, h, w, 1), np.float32)
        for i, hole in enumerate(holes):
            if hole == "all":
                masks[i] = 0.0
            elif hole is not None:
                top, bottom, left, right = hole
                masks[i, top:bottom, left:right] = 0.0
        masks[1, -1, -1] = 0.0  # a lone hole pixel in a corner too
        images = rng.random((n, h, w, 3)).astype(np.float32)
        outputs = rng.random((n, h, w, 3)).astype(np.float32)
        cases.append((np.concatenate([images, masks], axis=-1), outputs))
    return cases


LIU_FORBIDDEN = ["losses.liu_loss", "losses.liu_terms", "losses.total_variation_in_region"]


def judge_liu(got: np.ndarray, y_true, y_pred) -> str | None:
    expected = liu_reference(y_true, y_pred)
    if matches(got, expected, TOL):
        return None
    if got.size == 1 and expected.size > 1:
        return "✗ return one loss per image, shape (N,): Keras averages over the batch"
    if got.shape != expected.shape:
        return f"✗ wrong shape: got {got.shape}, expected (N,) = {expected.shape}, one loss per image"
    finite = np.isfinite(got)
    if finite.any():
        for changes, hint in _LIU_MISTAKES:
            if matches(got[finite], _liu_variant(y_true, y_pred, **changes)[finite], TOL):
                return f"✗ {hint}"
    if not finite.all():
        no_hole = np.asarray(y_true)[..., 3].reshape(len(got), -1).min(axis=1) == 1
        if np.array_equal(~finite, no_hole):
            return ("✗ your loss is NaN for an image without holes (a division by zero): with no hole, L_hole and "
                    "L_tv are 0; divide by H·W·C, never by the number of hole pixels")
        return "✗ your loss has inf or nan where the expected loss does not (a division by zero?)"
    return (f"✗ wrong values: rel_error = {rel_error(got, expected):.1e} (should be < {TOL:.0e}); "
            "L_valid + 6 L_hole + 0.1 L_tv, all divided by H·W·C")
