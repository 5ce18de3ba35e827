"""The checks of notebook 05 (the vanilla U-Net): its layers' parameters, the network, a training step and loop.

* :func:`check_unet_layer_params` -- the parameter count of every layer with weights, for any widths;
* :func:`check_vanilla_unet` -- ``build_fn(input_shape) -> keras.Model``, compared layer by layer and
  output by output with ``models.build_vanilla_unet`` (the machinery: :mod:`course_lib.checks.networks`);
* :func:`check_train_step` and :func:`check_train_epochs` -- one clipped gradient-descent step and the
  loop around it, on a small fixed model (the machinery: :mod:`course_lib.checks.training`).

Each check prints one line, returns True / False / None and never raises (:mod:`course_lib.checks.feedback`).
Images float32 in [0, 1], NHWC; masks (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import keras
import numpy as np
from keras import ops

from course_lib.checks.feedback import CORRECT, NOT_ATTEMPTED, ErrorLine, say
from course_lib.checks.networks import (INPUT_SHAPE, OTHER_SHAPES, TOLERANCE, call_builder, compare_structure,
                                        concat_sizes, diagnose, expect_function, guarded, is_transpose, kernel_io,
                                        max_difference, shape_problem, share_weights, weighted_layers, wrong_model)
from course_lib.checks.training import (LEARNING_RATE, delegated, judge_loop, not_a_function, one_step, raised,
                                        recording_step, reference_loop, run_loop, steep_loss, tiny_batch,
                                        tiny_dataset, tiny_model, weight_values)


# --------------------------------------------------------------------------------------
# The parameters of each layer.
# --------------------------------------------------------------------------------------

def _conv_params_reference(kernel_size, c_in, c_out, use_bias=True):
    return kernel_size * kernel_size * c_in * c_out + (c_out if use_bias else 0)


def _unet_layer_specs(widths: Sequence[int], c_in: int = 3, c_out: int = 3) -> list[tuple[int, int, int, str]]:
    """(kernel size, C_in, C_out, description) of every layer with weights of a vanilla U-Net, in Keras' order.

    ``widths``: the channels of each level, the last one the bottleneck's ((32, 64, 128, 256, 512) for the
    source's network).  Written out from the diagram, not from course_lib.models.
    """
    specs = []
    depth = len(widths) - 1
    for level, width in enumerate(widths):
        where = "the bottleneck" if level == depth else f"encoder level {level + 1}"
        specs += [(3, c_in, width, f"the first 3x3 Conv2D of {where}"),
                  (3, width, width, f"the second 3x3 Conv2D of {where}")]
        c_in = width
    for level in reversed(range(depth)):
        width = widths[level]
        where = f"decoder level {level + 1}"
        specs += [(2, widths[level + 1], width, f"the 2x2 Conv2DTranspose of {where}"),
                  (3, 2 * width, width, f"the first 3x3 Conv2D of {where}, after the concatenation"),
                  (3, width, width, f"the second 3x3 Conv2D of {where}")]
    specs.append((3, widths[0], c_out, "the output Conv2D (3 filters, RGB)"))
    return specs


def _layer_hint(answer: float, spec: tuple[int, int, int, str], widths: Sequence[int]) -> str | None:
    """A hint when one layer's count matches a common mistake."""
    k, c_in, c_out, what = spec
    if answer == k * k * c_in * c_out:
        return "its bias is missing (one per output channel)"
    if "Conv2DTranspose" in what:
        if answer == _conv_params_reference(3, c_in, c_out):
            return "a Conv2DTranspose here has a 2x2 kernel, not 3x3"
        if answer == _conv_params_reference(k, 2 * c_out, c_out):
            return (f"its input is the level below, with {c_in} channels: that is twice this level's width only "
                    f"when the widths double (these widths are {list(widths)})")
    if "concatenation" in what and answer == _conv_params_reference(k, c_in // 2, c_out):
        return "after the concatenation this convolution sees the upsampled AND the skip channels: 2 x width"
    return None


def check_unet_layer_params(student_fn: Callable[[Sequence[int]], Any], model=None) -> bool | None:
    """Check ``student_fn(widths) -> list``: the parameter count of every layer with weights of a vanilla U-Net.

    ``widths`` gives the channels of each level, the bottleneck's last: ``[32, 64, 128, 256, 512]`` is the
    source's network, and the check also tries other widths and depths (so a list copied from
    ``model.summary()`` does not pass).  Layers in Keras' order: two 3x3 convolutions per encoder level and
    in the bottleneck, then per decoder level (deepest first) a 2x2 Conv2DTranspose and two 3x3
    convolutions, then the 3x3 output convolution (3 filters).  With ``model`` (the Keras model of the
    first widths) the first answer is compared with ``model``'s own layers as well.
    """
    if not callable(student_fn):
        return say(False, f"✗ expected a function, got {type(student_fn).__name__}: pass the function itself, "
                          "without calling it (check(my_fn), not check(my_fn()))")
    cases = [(32, 64, 128, 256, 512), (8, 16, 32, 64, 128), (4, 8, 12), (5, 7, 11, 13, 17)]
    first = None
    for i, widths in enumerate(cases):
        try:
            answer = student_fn(list(widths))
        except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
            return say(False, ErrorLine(f"✗ your function raised {type(err).__name__}: {err}"))
        if answer is None:
            return say(None if i == 0 else False, NOT_ATTEMPTED if i == 0 else
                       f"✗ your function returned None for widths {list(widths)}: every path must return a list")
        try:
            got = [float(value) for value in answer]
        except (TypeError, ValueError):
            return say(False, f"✗ return a list of numbers, one per layer with weights; got {type(answer).__name__}")
        specs = _unet_layer_specs(widths)
        expected = [float(_conv_params_reference(k, c_in, c_out)) for k, c_in, c_out, _ in specs]
        if i == 0 and model is not None:
            counted = [float(layer.count_params()) for layer in model.layers if layer.count_params()]
            if counted != expected:
                return say(False, "✗ pass the vanilla U-Net of this notebook as model= "
                                  "(models.build_vanilla_unet())")
        if i == 0:
            first = got
        elif got == first:
            return say(False, f"✗ your function returns the same list for widths {list(widths)} as for "
                              f"{list(cases[0])}: compute each count from widths")
        if len(got) != len(expected):
            return say(False, f"✗ for widths {list(widths)} your list has {len(got)} entries, but the U-Net has "
                              f"{len(expected)} layers with weights: 2 convolutions per encoder level and in the "
                              "bottleneck, a Conv2DTranspose and 2 convolutions per decoder level, and the output "
                              "convolution")
        for index, (value, wanted, spec) in enumerate(zip(got, expected, specs)):
            if value != wanted:
                hint = _layer_hint(value, spec, widths)
                source = "the model's" if i == 0 and model is not None else "expected"
                return say(False, f"✗ widths {list(widths)}, layer {index + 1} ({spec[3]}): you have {value:,.0f}, "
                                  f"{source} {wanted:,.0f}" + (f": {hint}" if hint else ""))
    return say(True, CORRECT)


# --------------------------------------------------------------------------------------
# The network.
# --------------------------------------------------------------------------------------

_VANILLA_FORBIDDEN = ("models.build_vanilla_unet", "models.build_model")
#: He's gain (2): ReLU halves the variance, the kernels double it back.
_VANILLA_GAIN = 2.0
_ENCODER_WIDTHS = (32, 64, 128, 256)


def _vanilla_positions() -> list[str]:
    """The names of the 23 layers with weights of the vanilla U-Net, in order."""
    names = []
    for level, f in enumerate(_ENCODER_WIDTHS, start=1):
        names += [f"encoder level {level} ({f} filters), first 3x3 Conv2D",
                  f"encoder level {level} ({f} filters), second 3x3 Conv2D"]
    names += ["the bottleneck (512 filters), first 3x3 Conv2D", "the bottleneck (512 filters), second 3x3 Conv2D"]
    for level in reversed(range(1, 5)):
        f = _ENCODER_WIDTHS[level - 1]
        where = f"decoder level {level} ({f} filters)"
        names += [f"{where}, Conv2DTranspose", f"{where}, first 3x3 Conv2D (after the concatenation)",
                  f"{where}, second 3x3 Conv2D"]
    return names + ["the output Conv2D"]


_VANILLA_DECODER_FIRST_CONVS = (11, 14, 17, 20)


def _vanilla_layer_hint(index: int, difference: str, got, want) -> str:
    transpose = is_transpose(want)
    if difference == "kind":
        if index in (8, 9) and is_transpose(got):
            return "the bottleneck is missing: two Conv2D(512, 3, activation='relu') after the last MaxPooling2D"
        if transpose:
            return "each decoder level starts with Conv2DTranspose(f, 2, strides=2, padding='same')"
        return ("a layer is missing or extra before this one: the source's U-Net has only Conv2D and "
                "Conv2DTranspose layers with weights (no BatchNormalization, no Dense)")
    if difference == "kernel":
        if transpose:
            return "Conv2DTranspose(f, 2, strides=2): a 2x2 kernel"
        return "every Conv2D of the source's U-Net has a 3x3 kernel: Conv2D(f, 3, ...)"
    if difference == "c_in":
        _, got_in, _ = kernel_io(got)
        _, want_in, _ = kernel_io(want)
        if index in _VANILLA_DECODER_FIRST_CONVS and 2 * got_in == want_in:
            return "a missing skip connection (concatenate the encoder features)"
        return f"it receives {got_in} channels instead of {want_in}: check the layers before it"
    if difference == "c_out":
        return (f"this layer needs {kernel_io(want)[2]} filters (encoder 32, 64, 128, 256; bottleneck 512; "
                "decoder 256, 128, 64, 32; output 3)")
    if difference == "strides":
        if transpose:
            return "Conv2DTranspose needs strides=2 (it doubles the height and width)"
        return "the 3x3 convolutions have strides=1 (MaxPooling2D does the downsampling)"
    if difference == "padding":
        return "use padding='same' so that every convolution keeps the height and width"
    return "keep the bias (use_bias=True, the default)"


def _vanilla_error_hint(text: str) -> str | None:
    sizes = concat_sizes(text)
    if sizes is None or sizes[0] == sizes[1]:
        return None
    upsampled, skip = sizes
    if skip < upsampled:
        return ("the skip is half the size of the upsampled features: take the skip from the level's second "
                "Conv2D, BEFORE MaxPooling2D")
    return ("the upsampled features are half the size of the skip: Conv2DTranspose needs strides=2 (and if you "
            "concatenated [skip, upsampled], the skip was taken after MaxPooling2D)")


def _vanilla_forward(library_layers, images, *, swap=False, conv_activation="relu", output_activation="sigmoid",
                     skip_from_first=False, transpose_activation=None, average_pooling=False):
    """The vanilla U-Net's computation with the library layers' weights, wired with (at most) one mistake.

    ``images`` (N, H, W, 3) in [0, 1], holes white -> (N, H, W, 3). With no keyword the result is the library
    network's output; each keyword wires the network like a common wrong solution.
    """
    layers_ = iter(library_layers)

    def conv(x, activation=conv_activation):
        layer = next(layers_)
        y = ops.conv(x, layer.kernel, strides=layer.strides, padding=layer.padding) + layer.bias
        return keras.activations.get(activation)(y)

    pool = ops.average_pool if average_pooling else ops.max_pool
    x, skips = ops.convert_to_tensor(images), []
    for _ in range(4):
        first = conv(x)
        second = conv(first)
        skips.append(first if skip_from_first else second)
        x = pool(second, 2, strides=2, padding="valid")
    x = conv(conv(x))
    for skip in reversed(skips):
        upsampled = keras.activations.get(transpose_activation)(next(layers_)(x))
        x = ops.concatenate([skip, upsampled] if swap else [upsampled, skip], axis=-1)
        x = conv(conv(x))
    return conv(x, output_activation)


_VANILLA_MISTAKES = (
    ({"swap": True}, "concatenate [upsampled, skip], upsampled first (the course's weights expect that order)"),
    ({"output_activation": None}, "the output Conv2D needs activation='sigmoid' (images in [0, 1])"),
    ({"output_activation": "relu"}, "the output needs a sigmoid, not a ReLU (images in [0, 1])"),
    ({"conv_activation": None}, "the 3x3 Conv2D layers need activation='relu' (all but the output layer)"),
    ({"skip_from_first": True}, "the skip is the SECOND Conv2D output of each encoder level (just before "
                                "MaxPooling2D), not the first"),
    ({"transpose_activation": "relu"}, "the Conv2DTranspose layers have no activation in the source's U-Net"),
    ({"average_pooling": True}, "downsample with MaxPooling2D(2), not average pooling"),
)

_VANILLA_GENERIC = ("check the activations (ReLU after every 3x3 Conv2D, sigmoid at the output, none on "
                    "Conv2DTranspose), the skips (each level's second Conv2D, before pooling) and the "
                    "concatenation order [upsampled, skip]")


def _white_holes(seed: int, n: int = 2) -> np.ndarray:
    """(n, 32, 32, 3) random images in [0, 1] with rectangular holes painted white (1.0)."""
    rng = np.random.default_rng(seed)
    images = rng.random((n, *INPUT_SHAPE)).astype(np.float32)
    for i in range(n):
        top, left = rng.integers(0, 16, size=2)
        images[i, top:top + 12, left:left + 14] = 1.0
    return images


def check_vanilla_unet(build_fn: Callable[..., Any]) -> bool | None:
    """Check ``build_fn(input_shape=(32, 32, 3)) -> keras.Model``: the source's vanilla U-Net.

    The model takes the masked image (N, H, W, 3) in [0, 1] (holes painted white) and returns the
    inpainted image (N, H, W, 3) in [0, 1]. It must have the library network's layers with weights
    (23, 7,760,931 parameters for 32x32 RGB), take ``input_shape`` into account, and with the same
    weights compute the same output (to 1e-5). Prints one line; returns True, False or None.
    """
    started = expect_function(build_fn)
    if started is not True:
        return started
    return guarded(lambda: _check_vanilla(build_fn))


def _check_vanilla(build_fn) -> bool | None:
    from course_lib import models

    library = models.build_vanilla_unet(INPUT_SHAPE)
    model, problem = call_builder(build_fn, (), {"input_shape": INPUT_SHAPE}, _VANILLA_FORBIDDEN, _vanilla_error_hint)
    if problem:
        return say(False, problem)
    if model is None:
        return say(None, NOT_ATTEMPTED)
    problem = wrong_model(model, 1)
    if problem:
        return say(False, problem)
    images = _white_holes(seed=404)
    if not model.weights:
        model(images)  # a subclassed model creates its weights on the first call
    want, got = weighted_layers(library), weighted_layers(model)
    problem = compare_structure(got, want, _vanilla_positions(), lambda g, w: isinstance(g, type(w)),
                                _vanilla_layer_hint)
    if problem:
        return say(False, problem)
    if model.count_params() != library.count_params():
        return say(False, f"✗ your model has {model.count_params():,} parameters, the source's "
                          f"{library.count_params():,}: remove the weights that are not in its layers")
    for shape in OTHER_SHAPES:
        other, problem = call_builder(build_fn, (), {"input_shape": shape}, _VANILLA_FORBIDDEN, _vanilla_error_hint)
        if problem or other is None:
            return say(False, problem or f"✗ your function returned None for input_shape={shape}")
        problem = shape_problem(other, [shape], shape, np.zeros((1, *shape), np.float32))
        if problem:
            return say(False, f"✗ {problem}")
    share_weights(want, got, seed=4, gain=_VANILLA_GAIN)
    expected = library(images)
    output = model(images)
    if max_difference(output, expected) < TOLERANCE:
        return say(True, CORRECT)
    mistakes = [(lambda kw=kw: _vanilla_forward(want, images, **kw), hint) for kw, hint in _VANILLA_MISTAKES]
    return say(False, diagnose(output, expected, mistakes, _VANILLA_GENERIC))


# --------------------------------------------------------------------------------------
# The training step and the epoch loop.
# --------------------------------------------------------------------------------------

def check_train_step(step_fn: Callable | None) -> bool | None:
    """Check ``step_fn(model, optimizer, loss_fn, inputs, targets) -> loss``: one clipped gradient-descent step.

    The step must run ``model(inputs, training=True)`` under a ``tf.GradientTape``, take the mean over the
    batch of ``loss_fn(targets, outputs)`` ((N,) -> scalar), clip the gradients of
    ``model.trainable_variables`` to a global norm of 1, apply them with ``optimizer.apply`` and return the
    loss of that forward pass (before the update).  Checked on a small two-convolution model with
    ``keras.optimizers.SGD(learning_rate=0.1)``: two steps on a one-input model (N, 8, 8, 3), one on a
    two-input model (``inputs = (image, mask)``), against a reference that takes the tape's gradients and
    does the clipping and the update in NumPy.
    """
    if step_fn is None:
        return say(None, NOT_ATTEMPTED)
    if not callable(step_fn):
        return say(False, not_a_function(step_fn))
    model = tiny_model(seed=20)
    two_input_model = tiny_model(seed=21, two_inputs=True)
    (x1, _, y1), (x2, _, y2), (x3, m3, y3) = tiny_batch(22), tiny_batch(23), tiny_batch(24)
    runs = [(model, x1, y1, ""), (model, x2, y2, "on the second step: "),
            (two_input_model, (x3, m3), y3, "with a two-input model, inputs = (image, mask): ")]
    for call, (net, inputs, targets, where) in enumerate(runs):
        verdict = one_step(step_fn, net, inputs, targets, call=call, where=where)
        if verdict is None:
            return say(None, NOT_ATTEMPTED)
        if verdict is not True:
            return say(False, verdict)
    return say(True, CORRECT)


def check_train_epochs(fit_fn: Callable | None) -> bool | None:
    """Check ``fit_fn(model, optimizer, loss_fn, dataset, epochs, step) -> list``: the loop around a training step.

    For each of ``epochs`` epochs, call ``step(model, optimizer, loss_fn, inputs, targets)`` on every
    ``(inputs, targets)`` batch of ``dataset`` and return the list of each epoch's mean loss.  Checked on a
    tf.data dataset of 3 batches for 2 epochs (and of 2 batches for 1 epoch), with a reference step passed
    as ``step``; the model's weights and the returned list are compared with a reference loop's.
    """
    if fit_fn is None:
        return say(None, NOT_ATTEMPTED)
    if not callable(fit_fn):
        return say(False, not_a_function(fit_fn))
    for n_batches, epochs, seed in ((3, 2, 30), (2, 1, 31)):
        dataset = tiny_dataset(n_batches, seed)
        reference_model = tiny_model(seed)
        reference_loop(reference_model, keras.optimizers.SGD(learning_rate=LEARNING_RATE), steep_loss, dataset,
                       epochs, recording_step([]))
        outcome, record, weights = run_loop(fit_fn, dataset, epochs, seed)
        if outcome.delegated == "step.train_step":
            return say(False, "✗ use the step you were given (the `step` argument), not course_lib's "
                              "step.train_step: call step(model, optimizer, loss_fn, inputs, targets)")
        if outcome.delegated:
            return say(False, delegated(outcome.delegated, "two for loops around step(...)"))
        if outcome.error is not None:
            return say(False, raised(outcome.error))
        if outcome.answer is None or (isinstance(outcome.answer, (list, tuple)) and not outcome.answer):
            if not record:  # the exercise's skeleton: nothing run, nothing (or an empty list) returned
                return say(None, NOT_ATTEMPTED)
            return say(False, "✗ your loop returned None: return the list of the epochs' mean losses")
        verdict = judge_loop(outcome.answer, record, weights, weight_values(reference_model), n_batches, epochs)
        if verdict is not None:
            return say(False, verdict)
    return say(True, CORRECT)
