"""Feedback for the two network exercises: notebook 05's vanilla U-Net, notebook 06's PConv U-Net.

Both checks follow :mod:`course_lib.checks`: they print one line and return ``True``
("✓ correct"), ``False`` ("✗ <what to fix>") or ``None`` (not attempted), and never raise.

How a network is checked:

1. **Built with the library switched off.** While the student's function runs,
   ``models.build_vanilla_unet`` / ``models.build_pconv_unet`` and ``models.build_model`` raise,
   so a function that only calls them gets "✗ ... calls course_lib's ...".
2. **Structure, layer by layer.** The layers that hold weights (nested models and layers
   flattened, in the order Keras lists them) are compared with the library network's: the
   kind of layer, the kernel shape, strides and padding. The first difference is named by
   its position ("decoder level 4, first 3x3 Conv2D") with a hint for the usual mistakes.
   Then the parameter count, and the model is built again for other input shapes.
3. **Function.** The same random weights go into the library network and, layer by layer,
   into the student's; both run on a few masked images and must agree to 1e-5. When they
   do not, the student's output is compared with the library network wired with one
   common mistake (concatenation order, missing activations, ...) to name it.

Conventions: images float32 in [0, 1], NHWC; masks float32 (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Sequence

import numpy as np

import keras
from keras import ops

from course_lib.checks import (_ANSI, CORRECT, NOT_ATTEMPTED, _error_text, _ErrorLine, _library_functions, _say,
                               _switched_off)

__all__ = ["check_pconv_unet", "check_vanilla_unet"]

#: Largest absolute difference allowed between the student's output and the library's (outputs in [0, 1]).
TOLERANCE = 1e-5

#: The input shape the exercises use, and two more that a network must also accept.
INPUT_SHAPE = (32, 32, 3)
OTHER_SHAPES = ((64, 64, 3), (32, 48, 3))

_SHAPE = re.compile(r"\((?:None|\d+), (\d+), (\d+), (\d+)\)")


# --------------------------------------------------------------------------------------
# Shared machinery.
# --------------------------------------------------------------------------------------

@contextlib.contextmanager
def _exact_arithmetic():
    """Run the block on the CPU under the float32 dtype policy.

    A notebook may have left mixed precision on, and on a GPU convolutions may run in TF32 with an
    algorithm chosen per call: either would blur a comparison at 1e-5. The networks built here are
    thrown away afterwards, so where their weights live does not matter.
    """
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy("float32")
    try:
        with keras.device("cpu:0"):
            yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def _raised(err: BaseException, hint: str | None) -> str:
    if hint:
        return _ErrorLine(f"✗ your function raised {type(err).__name__}: {hint} (the error: {_error_text(err)})")
    return _ErrorLine(f"✗ your function raised {type(err).__name__}: {_error_text(err)}")


def _signature_hint(text: str) -> str | None:
    if "unexpected keyword argument" in text and "input_shape" in text:
        return "your function must take the argument input_shape and build its keras.Input with it"
    return None


def _build(build_fn: Callable, args: tuple, kwargs: dict, forbidden: Sequence[str],
           error_hint: Callable[[str], str | None]) -> tuple[Any, str | None]:
    """Call ``build_fn(*args, **kwargs)`` with the library's builders switched off.

    Returns ``(model, None)``, or ``(None, the ✗ line)`` when it raised or called a switched-off builder.
    """
    called: list[str] = []
    model = None
    try:
        with _switched_off(_library_functions(forbidden), called):
            model = build_fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        text = " ".join(_ANSI.sub("", str(err)).split())
        return None, _raised(err, _signature_hint(text) or error_hint(text))
    if called:
        return None, (f"✗ your function calls course_lib's {called[0]}, the library's version of this exercise: "
                      "build the network yourself from keras.layers")
    return model, None


def _sublayers(layer) -> list:
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _weighted_layers(layer) -> list:
    """The layers of ``layer`` that hold weights themselves, nested models and layers flattened, in order."""
    found = []
    for sub in _sublayers(layer):
        if _sublayers(sub):
            found += _weighted_layers(sub)
        elif sub.weights:
            found.append(sub)
    return found


def _is_transpose(layer) -> bool:
    return isinstance(layer, keras.layers.Conv2DTranspose)


def _kernel_io(layer) -> tuple[int, int, int] | None:
    """(kernel size, C_in, C_out) of a convolution-like layer, else None (Conv2DTranspose stores (k, k, out, in))."""
    shape = tuple(layer.weights[0].shape)
    if len(shape) != 4:
        return None
    k, _, a, b = shape
    return (k, b, a) if _is_transpose(layer) else (k, a, b)


def _describe(layer) -> str:
    """``"Conv2D 3x3, 64 -> 32 channels"``, or just the class name for a layer that is not a convolution."""
    io = _kernel_io(layer)
    name = type(layer).__name__
    if io is None:
        return name
    k, c_in, c_out = io
    return f"{name} {k}x{k}, {c_in} -> {c_out} channels"


def _pair(value) -> tuple | None:
    if value is None:
        return None
    return (value, value) if isinstance(value, int) else tuple(value)


def _first_difference(got, want, same_kind: Callable[[Any], bool]) -> str | None:
    """What differs between a student's layer and the library's: ``"kind"``, ``"kernel"``, ``"c_in"``, ``"c_out"``,
    ``"strides"``, ``"padding"``, ``"weights"`` (e.g. a missing bias) or None."""
    if not same_kind(got):
        return "kind"
    got_io, want_io = _kernel_io(got), _kernel_io(want)
    if got_io is None:
        return "kind"
    for index, what in enumerate(("kernel", "c_in", "c_out")):
        if got_io[index] != want_io[index]:
            return what
    if tuple(got.weights[0].shape) != tuple(want.weights[0].shape):
        return "kernel"
    if _pair(getattr(got, "strides", None)) != _pair(want.strides):
        return "strides"
    # Windows that tile the input (a 2x2 kernel with stride 2) need no padding: "valid" and "same" agree there.
    tiles = _pair(getattr(got, "strides", None)) == tuple(got.weights[0].shape[:2])
    if str(getattr(got, "padding", "same")).lower() != str(want.padding).lower() and not tiles:
        return "padding"
    if [tuple(w.shape) for w in got.weights] != [tuple(w.shape) for w in want.weights]:
        return "weights"
    return None


def _compare_structure(got_layers, want_layers, positions, same_kind, hint) -> str | None:
    """The ✗ line for the first layer that differs, or None. ``hint(index, difference, got, want)`` -> str."""
    for index, (got, want) in enumerate(zip(got_layers, want_layers)):
        difference = _first_difference(got, want, lambda layer: same_kind(layer, want))
        if difference:
            return (f"✗ {positions[index]}: expected {_describe(want)}, got {_describe(got)}: "
                    f"{hint(index, difference, got, want)}")
    n_got, n_want = len(got_layers), len(want_layers)
    if n_got < n_want:
        return (f"✗ your network has {n_got} layers with weights, the source's {n_want}: after "
                f"{positions[n_got - 1] if n_got else 'the input'} it misses {positions[n_got]} "
                f"({_describe(want_layers[n_got])})")
    if n_got > n_want:
        return (f"✗ your network has {n_got} layers with weights, the source's {n_want}: "
                f"{_describe(got_layers[n_want])} after {positions[-1]} is one too many")
    return None


def _n_values(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def _random_weights(layer, rng: np.random.Generator, gain: float) -> list[np.ndarray]:
    """Normal kernels of variance gain / fan_in and small random biases.

    The gain is chosen per network so that activations stay of order 1 through it (the sigmoid
    neither flat nor saturated), and every wiring mistake moves the output far more than the tolerance.
    """
    values = []
    for weight in layer.weights:
        shape = tuple(weight.shape)
        if len(shape) == 4:
            fan_in = shape[3] if _is_transpose(layer) else shape[0] * shape[1] * shape[2]
            values.append(rng.normal(0.0, np.sqrt(gain / fan_in), shape).astype(np.float32))
        else:
            values.append(rng.normal(0.0, 0.1, shape).astype(np.float32))
    return values


def _share_weights(library_layers, student_layers, seed: int, gain: float) -> None:
    """Give each library layer random weights and its student counterpart the same ones."""
    rng = np.random.default_rng(seed)
    for want, got in zip(library_layers, student_layers):
        values = _random_weights(want, rng, gain)
        want.set_weights(values)
        got.set_weights(values)


def _as_array(outputs) -> np.ndarray:
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
        outputs = outputs[0]
    return np.asarray(ops.convert_to_numpy(outputs), dtype=np.float64)


def _max_difference(a, b) -> float:
    a, b = _as_array(a), _as_array(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)))


def _shape_fits(declared, wanted) -> bool:
    declared = tuple(declared)
    return len(declared) == len(wanted) and all(d is None or d == w for d, w in zip(declared, wanted))


def _symbolic(model, what: str) -> list | None:
    """``model.inputs`` or ``model.outputs`` of a functional model; None for a subclassed one."""
    try:
        tensors = getattr(model, what)
    except (AttributeError, ValueError):
        return None
    return list(tensors) if tensors is not None else None


def _shape_problem(model, input_shapes: Sequence[tuple], output_shape: tuple, sample) -> str | None:
    """Why ``model`` does not fit the input shapes (without N), or None. ``sample``: inputs to run when undeclared."""
    inputs, outputs = _symbolic(model, "inputs"), _symbolic(model, "outputs")
    if inputs is not None and outputs is not None:
        if any(not _shape_fits(x.shape[1:], s) for x, s in zip(inputs, input_shapes)):
            declared = ", ".join(str(tuple(x.shape[1:])) for x in inputs)
            return (f"built with input_shape={input_shapes[0]}, your model's input is {declared}: your model "
                    "ignores input_shape, build its keras.Input from it")
        if len(outputs) == 1 and not _shape_fits(outputs[0].shape[1:], output_shape):
            return (f"for input_shape={input_shapes[0]} your model's output is {tuple(outputs[0].shape[1:])}, expected "
                    f"{output_shape}: the output must have the input's height and width (padding='same' everywhere)")
        if all(None not in tuple(x.shape[1:]) for x in outputs):
            return None
    got = _as_array(model(sample)).shape[1:]
    if got != tuple(output_shape):
        return (f"for input_shape={input_shapes[0]} your model outputs {got}, expected {output_shape}: "
                "build the network from input_shape, with padding='same' everywhere")
    return None


def _concat_sizes(text: str) -> tuple[int, int] | None:
    """The heights of the two tensors a failed Concatenate got, from Keras's message, else None."""
    if "concatenat" not in text.lower():
        return None
    shapes = _SHAPE.findall(text)
    if len(shapes) != 2:
        return None
    return int(shapes[0][0]), int(shapes[1][0])


def _check_function(build_fn) -> bool | None:
    """True if ``build_fn`` can be called to build a network; else the result, None or False (printed)."""
    if build_fn is None:
        return _say(None, NOT_ATTEMPTED)
    if not callable(build_fn) or isinstance(build_fn, keras.layers.Layer):
        return _say(False, f"✗ expected a function, got {type(build_fn).__name__}: pass the function itself, "
                           "without calling it (check(my_fn), not check(my_fn()))")
    return True


def _check_model(model, n_inputs: int) -> str | None:
    """Why ``model`` is not a keras.Model with ``n_inputs`` inputs and one output, or None."""
    if not isinstance(model, keras.Model):
        return f"✗ your function returned a {type(model).__name__}: return the keras.Model"
    inputs, outputs = _symbolic(model, "inputs"), _symbolic(model, "outputs")
    if inputs is not None and len(inputs) != n_inputs:
        expected = "one input, the masked image" if n_inputs == 1 else "two inputs, [masked image, mask]"
        return f"✗ your model has {len(inputs)} input{'s' * (len(inputs) != 1)}, the source's {expected}"
    if outputs is not None and len(outputs) != 1:
        return f"✗ your model has {len(outputs)} outputs: it must have one, the inpainted image (N, H, W, 3)"
    return None


def _diagnose(got, expected, mistakes: Sequence[tuple[Callable[[], Any], str]], generic: str) -> str:
    """The ✗ line for an output ``got`` that differs from ``expected``: the first wrong variant's hint it matches."""
    difference = _max_difference(got, expected)
    if not np.isfinite(difference):
        return f"✗ your model's output has shape {_as_array(got).shape}, expected {_as_array(expected).shape}"
    for variant, hint in mistakes:
        if _max_difference(got, variant()) < TOLERANCE:
            return f"✗ {hint}"
    return f"✗ with the library's weights your output differs by up to {difference:.2g}: {generic}"


def _guarded(check: Callable[[], bool | None]) -> bool | None:
    """Run ``check`` exactly (:func:`_exact_arithmetic`); report anything it raises (the student's model may fail
    anywhere) as ✗."""
    try:
        with _exact_arithmetic():
            return check()
    except Exception as err:  # noqa: BLE001 -- a check never raises
        return _say(False, _ErrorLine(f"✗ running your model raised {type(err).__name__}: {_error_text(err)}"))


# --------------------------------------------------------------------------------------
# Notebook 05: the vanilla U-Net.
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
    transpose = _is_transpose(want)
    if difference == "kind":
        if index in (8, 9) and _is_transpose(got):
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
        _, got_in, _ = _kernel_io(got)
        _, want_in, _ = _kernel_io(want)
        if index in _VANILLA_DECODER_FIRST_CONVS and 2 * got_in == want_in:
            return "a missing skip connection (concatenate the encoder features)"
        return f"it receives {got_in} channels instead of {want_in}: check the layers before it"
    if difference == "c_out":
        return (f"this layer needs {_kernel_io(want)[2]} filters (encoder 32, 64, 128, 256; bottleneck 512; "
                "decoder 256, 128, 64, 32; output 3)")
    if difference == "strides":
        if transpose:
            return "Conv2DTranspose needs strides=2 (it doubles the height and width)"
        return "the 3x3 convolutions have strides=1 (MaxPooling2D does the downsampling)"
    if difference == "padding":
        return "use padding='same' so that every convolution keeps the height and width"
    return "keep the bias (use_bias=True, the default)"


def _vanilla_error_hint(text: str) -> str | None:
    sizes = _concat_sizes(text)
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
    started = _check_function(build_fn)
    if started is not True:
        return started
    return _guarded(lambda: _check_vanilla(build_fn))


def _check_vanilla(build_fn) -> bool | None:
    from course_lib import models

    library = models.build_vanilla_unet(INPUT_SHAPE)
    model, problem = _build(build_fn, (), {"input_shape": INPUT_SHAPE}, _VANILLA_FORBIDDEN, _vanilla_error_hint)
    if problem:
        return _say(False, problem)
    if model is None:
        return _say(None, NOT_ATTEMPTED)
    problem = _check_model(model, 1)
    if problem:
        return _say(False, problem)
    images = _white_holes(seed=404)
    if not model.weights:
        model(images)  # a subclassed model creates its weights on the first call
    want, got = _weighted_layers(library), _weighted_layers(model)
    problem = _compare_structure(got, want, _vanilla_positions(), lambda g, w: isinstance(g, type(w)),
                                 _vanilla_layer_hint)
    if problem:
        return _say(False, problem)
    if model.count_params() != library.count_params():
        return _say(False, f"✗ your model has {model.count_params():,} parameters, the source's "
                           f"{library.count_params():,}: remove the weights that are not in its layers")
    for shape in OTHER_SHAPES:
        other, problem = _build(build_fn, (), {"input_shape": shape}, _VANILLA_FORBIDDEN, _vanilla_error_hint)
        if problem or other is None:
            return _say(False, problem or f"✗ your function returned None for input_shape={shape}")
        problem = _shape_problem(other, [shape], shape, np.zeros((1, *shape), np.float32))
        if problem:
            return _say(False, f"✗ {problem}")
    _share_weights(want, got, seed=4, gain=_VANILLA_GAIN)
    expected = library(images)
    output = model(images)
    if _max_difference(output, expected) < TOLERANCE:
        return _say(True, CORRECT)
    mistakes = [(lambda kw=kw: _vanilla_forward(want, images, **kw), hint) for kw, hint in _VANILLA_MISTAKES]
    return _say(False, _diagnose(output, expected, mistakes, _VANILLA_GENERIC))


# --------------------------------------------------------------------------------------
# Notebook 06: the partial-convolution U-Net.
# --------------------------------------------------------------------------------------

_PCONV_FORBIDDEN = ("models.build_pconv_unet", "models.build_model")
#: Smaller than He's 2: the partial convolutions scale windows with few valid values up by sum(1)/sum(M),
#: and with gain 2 the almost-all-hole test image drives the output's pre-activation to ~1e4 (a saturated sigmoid).
_PCONV_GAIN = 1.0
_DECODER_FILTERS = ((256, 128), (128, 64), (64, 32), (32, 3))
_SKIP_CHANNELS = 32


def _pconv_positions() -> list[str]:
    """The names of the 17 layers with weights of the PConv U-Net, in order."""
    names = []
    for block in range(1, 5):
        names += [f"encoder block {block}, first partial convolution",
                  f"encoder block {block}, second partial convolution (strides=2)"]
    for block, (f1, f2) in enumerate(_DECODER_FILTERS, start=1):
        where = f"decoder block {block} ({f1}, {f2})"
        names += [f"{where}, first partial convolution (after the concatenation)",
                  f"{where}, second partial convolution"]
    return names + ["the output Conv2D"]


def _pconv_layer_hint(index: int, difference: str, got, want) -> str:
    encoder, output = index < 8, index == 16
    if difference == "kind":
        if output:
            return "the network ends with a plain Conv2D(3, 3, activation='sigmoid', padding='same')"
        if _kernel_io(got) is None:
            return ("a layer is missing or extra before this one: 8 partial convolutions in the encoder, "
                    "8 in the decoder")
        return "use the pconv_layer you were given (called on [x, m]) for every layer but the output Conv2D"
    if difference == "kernel":
        return "every layer has a 3x3 kernel"
    if difference == "c_in":
        _, got_in, _ = _kernel_io(got)
        _, want_in, _ = _kernel_io(want)
        if index in (8, 10, 12, 14) and got_in == want_in - _SKIP_CHANNELS:
            return "a missing skip connection (concatenate the encoder features)"
        return f"it receives {got_in} channels instead of {want_in}: check the layers and concatenation before it"
    if difference == "c_out":
        if encoder:
            return "every encoder layer has 32 filters, the source's quirk"
        if output:
            return "the output Conv2D has 3 filters (RGB)"
        return "the decoder blocks' filters are (256, 128), (128, 64), (64, 32), (32, 3)"
    if difference == "strides":
        if encoder and index % 2:
            return "the second partial convolution of each encoder block has strides=2"
        return "only the second partial convolution of each encoder block has strides=2, the others 1"
    if difference == "padding":
        return "use padding='same'"
    return "keep the bias (use_bias=True, the default)"


_MASK_CHANNELS = re.compile(r"the mask has (\d+) channels but this layer accepts")
_MASK_HEIGHT = re.compile(r"features height (\d+) != mask height (\d+)")


def _pconv_error_hint(text: str) -> str | None:
    channels = _MASK_CHANNELS.search(text)
    if channels:
        if channels.group(1) == "2":
            return "repeat each mask over its features' channels before concatenating (BroadcastMask)"
        return ("give each partial convolution the mask returned by the previous one, and after a concatenation "
                "the masks repeated over their features' channels and concatenated in the same order")
    heights = _MASK_HEIGHT.search(text)
    if heights:
        features, mask = map(int, heights.groups())
        if mask > features:
            return ("carry the mask: give each partial convolution the mask returned by the previous one "
                    "(x, m = pconv(...)([x, m])), not the input mask")
        return "upsample the mask too (UpSampling2D(2)), like the features"
    if "must be called on a list of two tensors" in text:
        return "call each partial convolution on [x, m] and unpack both outputs: x, m = pconv(...)([x, m])"
    sizes = _concat_sizes(text)
    if sizes is None or sizes[0] == sizes[1]:
        return None
    skip, upsampled = sizes
    if upsampled < skip:
        return ("the upsampled half is smaller than the skip: upsample both the features and the mask with "
                "UpSampling2D(2) before concatenating")
    return ("the skip is half the size of the upsampled features: the skips are the FIRST partial convolution "
            "of each encoder block, before the stride-2 one")


def _pconv_forward(library_layers, image, mask, *, swap=False, relu=True, output_activation="sigmoid",
                   upsampled_mask_only=False, reuse_block_mask=False):
    """The PConv U-Net's computation with the library layers' weights, wired with (at most) one mistake.

    ``image`` (N, H, W, 3) in [0, 1] with holes at 0, ``mask`` (N, H, W, 1), 1 = valid -> (N, H, W, 3).
    Every partial convolution's input is zeroed in its holes first, as a PConv2D built without
    ``input_holes_are_zero`` does (the library network promises zeros there; a miswired one may break it).
    """
    pconvs, final = library_layers[:16], library_layers[16]
    activation = ops.relu if relu else (lambda t: t)

    def spread(m, x):
        return m if m.shape[-1] == x.shape[-1] else ops.repeat(m, x.shape[-1], axis=-1)

    def pconv(index, x, m):
        x = ops.where(spread(m, x) > 0.5, x, ops.zeros_like(x))
        x, m = pconvs[index]([x, m])
        return activation(x), m

    def upsample(t):
        return ops.repeat(ops.repeat(t, 2, axis=1), 2, axis=2)

    x, m, skips = ops.convert_to_tensor(image), ops.convert_to_tensor(mask), []
    for block in range(4):
        skip_x, skip_m = pconv(2 * block, x, m)
        if reuse_block_mask:
            skip_m = m
        x, m = pconv(2 * block + 1, skip_x, skip_m)
        skips.append((skip_x, skip_m))
    for block, (skip_x, skip_m) in enumerate(reversed(skips)):
        parts = [(skip_x, skip_m), (upsample(x), upsample(m))]
        if swap:
            parts.reverse()
        x = ops.concatenate([p for p, _ in parts], axis=-1)
        if upsampled_mask_only:
            m = spread(upsample(m), x)
        else:
            m = ops.concatenate([spread(pm, px) for px, pm in parts], axis=-1)
        x, m = pconv(8 + 2 * block, x, m)
        x, m = pconv(9 + 2 * block, x, m)
    y = ops.conv(x, final.kernel, strides=final.strides, padding=final.padding) + final.bias
    return keras.activations.get(output_activation)(y)


_PCONV_MISTAKES = (
    ({"swap": True}, "concatenate [skip, upsampled], skip first, for the features and the masks alike (the "
                     "course's weights expect that order)"),
    ({"relu": False}, "apply a ReLU after every partial convolution (PConv2D has no activation argument)"),
    ({"output_activation": None}, "the output Conv2D needs activation='sigmoid' (images in [0, 1])"),
    ({"output_activation": "relu"}, "the output needs a sigmoid, not a ReLU (images in [0, 1])"),
    ({"upsampled_mask_only": True}, "the decoder's mask is the skip's mask and the upsampled mask, each repeated "
                                    "over its features' channels, concatenated like the features"),
    ({"reuse_block_mask": True}, "carry the mask: give each partial convolution the mask returned by the previous "
                                 "one (x, m = pconv(...)([x, m])), also inside an encoder block"),
)

_PCONV_GENERIC = ("check the ReLU after every partial convolution, the sigmoid at the output, the skips (the first "
                  "partial convolution of each encoder block), the masks (carried from layer to layer, upsampled, "
                  "repeated over their features' channels) and the concatenation order [skip, upsampled]")


def _holed_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three (32, 32, 3) images with holes at 0 and their masks (N, 32, 32, 1), 1 = valid.

    The holes are large (one mask is almost all hole), so that they survive into the deep layers
    and every mask mistake changes the output.
    """
    rng = np.random.default_rng(seed)
    masks = np.ones((3, 32, 32, 1), np.float32)
    masks[0, 5:27, 3:25] = 0.0
    masks[1] = (rng.random((32, 32, 1)) > 0.7).astype(np.float32)
    masks[2] = 0.0
    masks[2, 20:26, 4:10] = 1.0
    images = rng.random((3, *INPUT_SHAPE)).astype(np.float32) * masks
    return images, masks


def _count(layers_, cls) -> int:
    return sum(isinstance(layer, cls) for layer in layers_)


def check_pconv_unet(build_fn: Callable[..., Any]) -> bool | None:
    """Check ``build_fn(pconv_layer, input_shape=(32, 32, 3)) -> keras.Model``: the source's PConv U-Net.

    ``pconv_layer`` is a partial-convolution class (here ``layers.PConv2D`` and a subclass of it),
    ``pconv_layer(filters, kernel_size, strides=1, padding="same", name=...)`` called on ``[x, m]``.
    The model takes ``[masked image (N, H, W, 3) in [0, 1], mask (N, H, W, 1), 1 = valid]`` and returns
    the inpainted image (N, H, W, 3) in [0, 1]. It must have 16 partial convolutions of the class passed
    in and an output Conv2D with the library network's kernel shapes (859,863 trainable parameters for
    32x32 RGB), take ``input_shape`` into account, and with the same weights compute the same output on
    images with holes (to 1e-5). Prints one line; returns True, False or None.
    """
    started = _check_function(build_fn)
    if started is not True:
        return started
    return _guarded(lambda: _check_pconv(build_fn))


def _check_pconv(build_fn) -> bool | None:
    from course_lib import layers, models

    class ProbePConv2D(layers.PConv2D):
        """A PConv2D only this check knows: the network built with it must be made of it."""

    library = models.build_pconv_unet(INPUT_SHAPE)
    model, problem = _build(build_fn, (layers.PConv2D,), {"input_shape": INPUT_SHAPE}, _PCONV_FORBIDDEN,
                            _pconv_error_hint)
    if problem:
        return _say(False, problem)
    if model is None:
        return _say(None, NOT_ATTEMPTED)
    problem = _check_model(model, 2)
    if problem:
        return _say(False, problem)
    images, masks = _holed_inputs(seed=505)
    inputs = _symbolic(model, "inputs")
    if inputs is not None and (inputs[0].shape[-1] != 3 or inputs[1].shape[-1] != 1):
        return _say(False, f"✗ your model's inputs are {[tuple(x.shape[1:]) for x in inputs]}: the masked image "
                           "(H, W, 3) first, then the mask (H, W, 1)")
    if not model.weights:
        model([images, masks])  # a subclassed model creates its weights on the first call
    want, got = _weighted_layers(library), _weighted_layers(model)

    def same_kind(layer, wanted):
        if isinstance(wanted, layers.PConv2D):
            return isinstance(layer, layers.PConv2D)
        return isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, layers.PConv2D)

    problem = _compare_structure(got, want, _pconv_positions(), same_kind, _pconv_layer_hint)
    if problem:
        return _say(False, problem)
    trainable, wanted = _n_values(model.trainable_weights), _n_values(library.trainable_weights)
    if trainable != wanted:
        return _say(False, f"✗ your model has {trainable:,} trainable parameters, the source's {wanted:,}")
    shape = OTHER_SHAPES[0]
    other, problem = _build(build_fn, (ProbePConv2D,), {"input_shape": shape}, _PCONV_FORBIDDEN, _pconv_error_hint)
    if problem or other is None:
        return _say(False, problem or f"✗ your function returned None for input_shape={shape}")
    sample = [np.zeros((1, *shape), np.float32), np.ones((1, *shape[:2], 1), np.float32)]
    if not other.weights:
        other(sample)
    n_probe = _count(_weighted_layers(other), ProbePConv2D)
    if n_probe != 16:
        return _say(False, f"✗ built with another partial-convolution class, your network has {n_probe} layers of "
                           "it instead of 16: use the pconv_layer you were given, not layers.PConv2D itself")
    problem = _shape_problem(other, [shape, (*shape[:2], 1)], shape, sample)
    if problem:
        return _say(False, f"✗ {problem}")
    _share_weights(want, got, seed=5, gain=_PCONV_GAIN)
    expected = library([images, masks])
    output = model([images, masks])
    if _max_difference(output, expected) < TOLERANCE:
        return _say(True, CORRECT)
    mistakes = [(lambda kw=kw: _pconv_forward(want, images, masks, **kw), hint) for kw, hint in _PCONV_MISTAKES]
    return _say(False, _diagnose(output, expected, mistakes, _PCONV_GENERIC))
