"""How the two network checks test a student's Keras network: notebook 05's vanilla U-Net, notebook 06's PConv U-Net.

The checks themselves are :func:`course_lib.checks.vanilla_unet.check_vanilla_unet` and
:func:`course_lib.checks.pconv_unet.check_pconv_unet`; like every check they print one line and return
``True`` ("✓ correct"), ``False`` ("✗ <what to fix>") or ``None`` (not attempted), and never raise.

How a network is checked:

1. **Built with the library switched off** (:func:`call_builder`). While the student's function runs,
   ``models.build_vanilla_unet`` / ``models.build_pconv_unet`` and ``models.build_model`` raise,
   so a function that only calls them gets "✗ ... calls course_lib's ...".
2. **Structure, layer by layer** (:func:`compare_structure`). The layers that hold weights (nested
   models and layers flattened, in the order Keras lists them) are compared with the library network's:
   the kind of layer, the kernel shape, strides and padding. The first difference is named by
   its position ("decoder level 4, first 3x3 Conv2D") with a hint for the usual mistakes.
   Then the parameter count, and the model is built again for other input shapes (:func:`shape_problem`).
3. **Function** (:func:`share_weights`, :func:`diagnose`). The same random weights go into the library
   network and, layer by layer, into the student's; both run on a few masked images and must agree to
   1e-5. When they do not, the student's output is compared with the library network wired with one
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

from course_lib.checks.feedback import (ANSI, NOT_ATTEMPTED, ErrorLine, error_text, library_functions, say,
                                        switched_off)


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
        return ErrorLine(f"✗ your function raised {type(err).__name__}: {hint} (the error: {error_text(err)})")
    return ErrorLine(f"✗ your function raised {type(err).__name__}: {error_text(err)}")


def _signature_hint(text: str) -> str | None:
    if "unexpected keyword argument" in text and "input_shape" in text:
        return "your function must take the argument input_shape and build its keras.Input with it"
    return None


def call_builder(build_fn: Callable, args: tuple, kwargs: dict, forbidden: Sequence[str],
                 error_hint: Callable[[str], str | None]) -> tuple[Any, str | None]:
    """Call ``build_fn(*args, **kwargs)`` with the library's builders switched off.

    Returns ``(model, None)``, or ``(None, the ✗ line)`` when it raised or called a switched-off builder.
    """
    called: list[str] = []
    model = None
    try:
        with switched_off(library_functions(forbidden), called):
            model = build_fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        text = " ".join(ANSI.sub("", str(err)).split())
        return None, _raised(err, _signature_hint(text) or error_hint(text))
    if called:
        return None, (f"✗ your function calls course_lib's {called[0]}, the library's version of this exercise: "
                      "build the network yourself from keras.layers")
    return model, None


def _sublayers(layer) -> list:
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    return list(layer._flatten_layers(include_self=False, recursive=False))


def weighted_layers(layer) -> list:
    """The layers of ``layer`` that hold weights themselves, nested models and layers flattened, in order."""
    found = []
    for sub in _sublayers(layer):
        if _sublayers(sub):
            found += weighted_layers(sub)
        elif sub.weights:
            found.append(sub)
    return found


def is_transpose(layer) -> bool:
    return isinstance(layer, keras.layers.Conv2DTranspose)


def kernel_io(layer) -> tuple[int, int, int] | None:
    """(kernel size, C_in, C_out) of a convolution-like layer, else None (Conv2DTranspose stores (k, k, out, in))."""
    shape = tuple(layer.weights[0].shape)
    if len(shape) != 4:
        return None
    k, _, a, b = shape
    return (k, b, a) if is_transpose(layer) else (k, a, b)


def _describe(layer) -> str:
    """``"Conv2D 3x3, 64 -> 32 channels"``, or just the class name for a layer that is not a convolution."""
    io = kernel_io(layer)
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
    got_io, want_io = kernel_io(got), kernel_io(want)
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


def compare_structure(got_layers, want_layers, positions, same_kind, hint) -> str | None:
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


def n_values(weights) -> int:
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
            fan_in = shape[3] if is_transpose(layer) else shape[0] * shape[1] * shape[2]
            values.append(rng.normal(0.0, np.sqrt(gain / fan_in), shape).astype(np.float32))
        else:
            values.append(rng.normal(0.0, 0.1, shape).astype(np.float32))
    return values


def share_weights(library_layers, student_layers, seed: int, gain: float) -> None:
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


def max_difference(a, b) -> float:
    a, b = _as_array(a), _as_array(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)))


def _shape_fits(declared, wanted) -> bool:
    declared = tuple(declared)
    return len(declared) == len(wanted) and all(d is None or d == w for d, w in zip(declared, wanted))


def symbolic(model, what: str) -> list | None:
    """``model.inputs`` or ``model.outputs`` of a functional model; None for a subclassed one."""
    try:
        tensors = getattr(model, what)
    except (AttributeError, ValueError):
        return None
    return list(tensors) if tensors is not None else None


def shape_problem(model, input_shapes: Sequence[tuple], output_shape: tuple, sample) -> str | None:
    """Why ``model`` does not fit the input shapes (without N), or None. ``sample``: inputs to run when undeclared."""
    inputs, outputs = symbolic(model, "inputs"), symbolic(model, "outputs")
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


def concat_sizes(text: str) -> tuple[int, int] | None:
    """The heights of the two tensors a failed Concatenate got, from Keras's message, else None."""
    if "concatenat" not in text.lower():
        return None
    shapes = _SHAPE.findall(text)
    if len(shapes) != 2:
        return None
    return int(shapes[0][0]), int(shapes[1][0])


def expect_function(build_fn) -> bool | None:
    """True if ``build_fn`` can be called to build a network; else the result, None or False (printed)."""
    if build_fn is None:
        return say(None, NOT_ATTEMPTED)
    if not callable(build_fn) or isinstance(build_fn, keras.layers.Layer):
        return say(False, f"✗ expected a function, got {type(build_fn).__name__}: pass the function itself, "
                          "without calling it (check(my_fn), not check(my_fn()))")
    return True


def wrong_model(model, n_inputs: int) -> str | None:
    """Why ``model`` is not a keras.Model with ``n_inputs`` inputs and one output, or None."""
    if not isinstance(model, keras.Model):
        return f"✗ your function returned a {type(model).__name__}: return the keras.Model"
    inputs, outputs = symbolic(model, "inputs"), symbolic(model, "outputs")
    if inputs is not None and len(inputs) != n_inputs:
        expected = "one input, the masked image" if n_inputs == 1 else "two inputs, [masked image, mask]"
        return f"✗ your model has {len(inputs)} input{'s' * (len(inputs) != 1)}, the source's {expected}"
    if outputs is not None and len(outputs) != 1:
        return f"✗ your model has {len(outputs)} outputs: it must have one, the inpainted image (N, H, W, 3)"
    return None


def diagnose(got, expected, mistakes: Sequence[tuple[Callable[[], Any], str]], generic: str) -> str:
    """The ✗ line for an output ``got`` that differs from ``expected``: the first wrong variant's hint it matches."""
    difference = max_difference(got, expected)
    if not np.isfinite(difference):
        return f"✗ your model's output has shape {_as_array(got).shape}, expected {_as_array(expected).shape}"
    for variant, hint in mistakes:
        if max_difference(got, variant()) < TOLERANCE:
            return f"✗ {hint}"
    return f"✗ with the library's weights your output differs by up to {difference:.2g}: {generic}"


def guarded(check: Callable[[], bool | None]) -> bool | None:
    """Run ``check`` exactly (:func:`_exact_arithmetic`); report anything it raises (the student's model may fail
    anywhere) as ✗."""
    try:
        with _exact_arithmetic():
            return check()
    except Exception as err:  # noqa: BLE001 -- a check never raises
        return say(False, ErrorLine(f"✗ running your model raised {type(err).__name__}: {error_text(err)}"))
