"""The checks of notebook 04 (partial convolution): one window by hand, then the student's Keras layer.

One window (k, k, C_in) of a partial convolution: :func:`check_mask_update` (m'),
:func:`check_scaling_ratio` (sum(1)/sum(M)) and :func:`check_pconv_window` (x').

The layer: the student writes ``class MyPConv2D(keras.layers.Layer)`` with ``__init__(filters, kernel_size,
strides=1, padding="same", **kwargs)``, ``build([features_shape, mask_shape])`` and
``call([x, mask]) -> [x_out, mask_out]``::

    x        (N, H, W, C_in)        float32 (the holes may hold anything, NaN included)
    mask     (N, H, W, 1)           float32, 1 = valid, 0 = hole; counts for every channel
          or (N, H, W, C_in)        one mask value per feature value
    x_out    (N, H', W', filters)   x' = Wᵀ(X⊙M)·sum(1)/sum(M) + b where sum(M) > 0, else 0
    mask_out (N, H', W', 1)         m' = 1 where sum(M) > 0, else 0

with sum(1) = k·k·C_in, and the padding ("same", TensorFlow's rule, or "valid") counting as hole.

:func:`check_pconv_layer` builds the student's layer on inputs the notebook never shows (kernels 3, 5
and 7, strides 1 and 2, "same" and "valid", one- and C_in-channel masks, windows with no valid value,
NaN and inf in the holes, sizes that make the stride-2 padding asymmetric), gives it known weights
with :func:`set_kernel_and_bias` and compares its outputs with
:func:`course_lib.checks.pconv_reference.pconv_reference`, the formula as a float64 NumPy loop written
independently of ``course_lib.layers``.  Why a dedicated check: a layer can be wrong in ways a single
window never shows (the scale with C_in channels, the bias in the holes, NaN in the holes, the padding
rule, a mask kernel that trains), and each such mistake has its own hint.  Like every check it prints
one line, returns True / False / None and never raises; a layer that is, subclasses or wraps
``layers.PConv2D`` does not pass.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, Callable

import numpy as np

import keras

from course_lib import layers
from course_lib.checks.feedback import (CORRECT, NOT_ATTEMPTED, ErrorLine, error_text, run_check, say, seeded_rng,
                                        switched_off, trapped_name)
from course_lib.checks.pconv_reference import (Case, close, diagnose, layer_cases, padding_and_size, pconv_reference,
                                               poisoned)


__all__ = ["check_mask_update", "check_scaling_ratio", "check_pconv_window", "check_pconv_layer",
           "set_kernel_and_bias", "model_problem"]


# --------------------------------------------------------------------------------------
# One window of a partial convolution.
# --------------------------------------------------------------------------------------

def _window_cases(seed: int):
    """Mask windows (k, k, C_in): fully valid, fully hole, and partly valid."""
    rng = seeded_rng(seed)
    full = np.ones((3, 3, 4), np.float32)
    empty = np.zeros((3, 3, 4), np.float32)
    partial = (rng.random((3, 3, 4)) > 0.6).astype(np.float32)
    partial[1, 1, 0] = 1.0
    single = np.zeros((5, 5, 1), np.float32)
    single[4, 0, 0] = 1.0
    channel = np.ones((3, 3, 2), np.float32)
    channel[..., 1] = 0.0
    return [(full,), (empty,), (partial,), (single,), (channel,)]


def _mask_update_reference(m_window):
    return np.float64(np.sum(m_window) > 0)


def check_mask_update(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(m_window (k,k,C_in)) -> float``: m' = 1 if the window sees any valid value, else 0."""
    mistakes = [
        (lambda m: np.float64(np.all(np.asarray(m) > 0)),
         "m' is 1 when the window sees AT LEAST ONE valid value (sum(M) > 0), not only when all are valid"),
        (lambda m: np.float64(np.sum(m)), "return 0 or 1, not the number of valid values"),
    ]
    return run_check(student_fn, _window_cases(14), _mask_update_reference, mistakes=mistakes)


def _scaling_ratio_reference(m_window):
    m = np.asarray(m_window, np.float64)
    total = m.sum()
    return np.float64(m.size / total if total > 0 else 0.0)


def check_scaling_ratio(student_fn: Callable[[np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(m_window (k,k,C_in)) -> float``: sum(1)/sum(M) over the k·k·C_in window, 0 if sum(M) = 0."""

    def source_bug(m):
        m = np.asarray(m, np.float64)
        total = m.sum()
        return np.float64(m.shape[0] * m.shape[1] / total if total > 0 else 0.0)

    def inverted(m):
        m = np.asarray(m, np.float64)
        return np.float64(m.sum() / m.size)

    mistakes = [
        (source_bug, "you divided k·k by sum(M): sum(1) counts every value of the window, k·k·C_in (this is "
                     "exactly the source's bug 1)"),
        (inverted, "the ratio is upside down: sum(1) / sum(M), which is ≥ 1"),
    ]

    return run_check(student_fn, _window_cases(15), _scaling_ratio_reference, mistakes=mistakes)


def _pconv_window_reference(x_window, m_window, kernel, bias):
    x = np.asarray(x_window, np.float64)
    m = np.asarray(m_window, np.float64)
    w = np.asarray(kernel, np.float64)
    b = np.asarray(bias, np.float64)
    total = m.sum()
    if total == 0:
        return np.zeros_like(b)
    out = np.zeros_like(b)
    for c_out in range(w.shape[-1]):
        out[c_out] = np.sum(w[..., c_out] * x * m) * (m.size / total) + b[c_out]
    return out


def check_pconv_window(student_fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any]) -> bool | None:
    """Check ``student_fn(x_window (k,k,C_in), m_window (k,k,C_in), kernel (k,k,C_in,C_out), bias (C_out,)) -> (C_out,)``.

    One output pixel of a partial convolution: Wᵀ(X⊙M)·sum(1)/sum(M) + b if sum(M) > 0, else 0.
    """
    rng = seeded_rng(16)
    cases = []
    for (m,) in _window_cases(17):
        k, _, c_in = m.shape
        x = rng.random(m.shape).astype(np.float32)
        cases.append((x, m, rng.normal(0, 0.5, (k, k, c_in, 3)).astype(np.float32),
                      rng.normal(0, 0.5, 3).astype(np.float32)))

    def bias_in_holes(x, m, w, b):
        total = np.sum(m)
        if total == 0:
            return np.asarray(b, np.float64)
        return _pconv_window_reference(x, m, w, b)

    def unscaled(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        return np.einsum("ijc,ijco->o", np.asarray(x, np.float64) * m, np.asarray(w, np.float64)) + b

    def unmasked(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        s = np.asarray(m, np.float64).size / np.sum(m)
        return np.einsum("ijc,ijco->o", np.asarray(x, np.float64), np.asarray(w, np.float64)) * s + b

    def scaled_bias(x, m, w, b):
        if np.sum(m) == 0:
            return np.zeros(len(b))
        s = np.asarray(m, np.float64).size / np.sum(m)
        return (np.einsum("ijc,ijco->o", np.asarray(x, np.float64) * m, np.asarray(w, np.float64)) + b) * s

    mistakes = [
        (bias_in_holes, "a window with no valid value must output 0, not the bias (this is the source's bug 3)"),
        (unscaled, "the sum is not rescaled: multiply Wᵀ(X⊙M) by sum(1)/sum(M)"),
        (unmasked, "multiply the inputs by the mask (X⊙M) before the weighted sum, so holes contribute nothing"),
        (scaled_bias, "only Wᵀ(X⊙M) is rescaled: add the bias after multiplying by sum(1)/sum(M)"),
    ]
    return run_check(student_fn, cases, _pconv_window_reference, mistakes=mistakes)


# --------------------------------------------------------------------------------------
# Giving a layer known weights.
# --------------------------------------------------------------------------------------

def _describe_weights(weights) -> str:
    return ", ".join(f"{w.name} {tuple(int(d) for d in w.shape)}" for w in weights) or "none"


def _find_weight(layer, shape: tuple, what: str):
    """The one trainable weight of ``layer`` with this shape (preferring one named ``what``), else ValueError."""
    found = [w for w in layer.trainable_weights if tuple(int(d) for d in w.shape) == shape]
    if len(found) > 1:
        named = [w for w in found if w.name == what]
        found = named if len(named) == 1 else found
    if len(found) != 1:
        problem = "no" if not found else f"{len(found)}"
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} has {problem} trainable weights of the {what}'s shape "
            f"{shape} (its trainable weights: {_describe_weights(layer.trainable_weights)}); it needs exactly "
            f"one {what} of that shape (and a fixed mask kernel, if any, must not be trainable)."
        )
    return found[0]


def set_kernel_and_bias(layer, kernel, bias) -> None:
    """Give a BUILT partial-convolution layer this kernel and bias, whatever its weights are called.

    ``layer``: the student's layer or ``layers.PConv2D``, already built (called once, or ``build`` run).
    ``kernel``: array (k, k, C_in, filters); ``bias``: array (filters,).  Among
    ``layer.trainable_weights`` the 4-D one of the kernel's shape and the 1-D one of the bias's shape
    are assigned, in whatever order ``add_weight`` created them.

    Raises ValueError (saying which trainable weights the layer has) when the layer is not built or
    has no such weight, or several (when several share a shape, the one named "kernel"/"bias" is used).
    """
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 4 or bias.ndim != 1:
        raise ValueError(f"kernel must be 4-D (k, k, C_in, filters) and bias 1-D (filters,), got shapes "
                         f"{kernel.shape} and {bias.shape}.")
    if not layer.trainable_weights:
        raise ValueError(f"{type(layer).__name__} {layer.name!r} has no trainable weights: build it first "
                         "(call it once on [x, mask], or layer.build([x.shape, mask.shape])).")
    kernel_weight = _find_weight(layer, kernel.shape, "kernel")
    bias_weight = _find_weight(layer, bias.shape, "bias")
    kernel_weight.assign(kernel.astype(kernel_weight.dtype))
    bias_weight.assign(bias.astype(bias_weight.dtype))


# --------------------------------------------------------------------------------------
# Running the student's layer.
# --------------------------------------------------------------------------------------

class _Fail(Exception):
    """Stops the check with one line to print (and the value to return)."""

    def __init__(self, message: str, result: bool | None = False):
        super().__init__(message)
        self.result = result


def _raise_hint(err: BaseException, during: str) -> str:
    text = str(err)
    if during == "init" and isinstance(err, TypeError) and ("argument" in text or "keyword" in text):
        return ("; __init__ must accept (filters, kernel_size, strides=1, padding='same', **kwargs) and pass "
                "**kwargs to super().__init__(**kwargs)")
    convention = re.search(r"positional argument|required argument|values to unpack|not subscriptable|"
                           r"unexpected keyword", text)
    if during == "call" and convention:
        return ("; the layer is called as layer([x, mask]): build gets [features_shape, mask_shape], call gets "
                "inputs = [x, mask] (x, mask = inputs) and returns [x_out, mask_out]")
    return ""


def _delegation(name: str, how: str) -> _Fail:
    return _Fail(f"✗ {name} uses course_lib's layers.PConv2D ({how}): write the partial convolution yourself, "
                 "with keras.ops, in a class derived from keras.layers.Layer")


def _holds_library_layer(layer) -> bool:
    try:
        inner = list(layer._flatten_layers(include_self=False))
    except Exception:  # noqa: BLE001 -- a private Keras API; fall back on the attributes
        inner = []
    inner += [v for v in vars(layer).values() if isinstance(v, keras.layers.Layer)]
    return any(isinstance(sub, layers.PConv2D) for sub in inner)


def _to_numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _check_trainable(layer, case: Case, name: str) -> None:
    """Exactly a kernel (k, k, C_in, filters) and a bias (filters,) train; raise _Fail otherwise."""
    kernel_shape, bias_shape = case.kernel.shape, case.bias.shape
    weights = layer.trainable_weights
    shapes = [tuple(int(d) for d in w.shape) for w in weights]
    found = _describe_weights(weights)
    for shape, what in ((kernel_shape, "kernel"), (bias_shape, "bias")):
        if shape not in shapes:
            frozen = any(tuple(int(d) for d in w.shape) == shape for w in layer.non_trainable_weights)
            fix = (f"your {what} is not trainable: drop trainable=False" if frozen else
                   f"create it in build with self.add_weight(shape={shape}, ...)")
            raise _Fail(f"✗ {name} has no trainable {what} of shape {shape} (its trainable weights: {found}): {fix}")
    extras = list(weights)
    for shape in (kernel_shape, bias_shape):
        extras.pop(next(i for i, w in enumerate(extras) if tuple(int(d) for d in w.shape) == shape))
    if extras:
        raise _Fail(f"✗ {name} trains {_describe_weights(extras)} besides the kernel and the bias: an all-ones mask "
                    "kernel must stay fixed (the source's bug 2): create it with self.add_weight(..., "
                    "trainable=False) or use a constant such as ops.ones(...)")


def _check_outputs(answer, case: Case, ctor: str) -> tuple[np.ndarray, np.ndarray]:
    """The two outputs as float64 arrays of the right shapes; raise _Fail with a hint otherwise."""
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        got = (f"one tensor of shape {tuple(answer.shape)}" if hasattr(answer, "shape")
               else f"a {type(answer).__name__}" + (f" of {len(answer)} items" if isinstance(answer, (list, tuple))
                                                   else ""))
        raise _Fail(f"✗ call must return a list of two tensors [x_out, mask_out], yours returned {got}")
    try:
        x_out, mask_out = _to_numpy(answer[0]), _to_numpy(answer[1])
    except Exception as err:  # noqa: BLE001
        raise _Fail(f"✗ {ctor}([x, mask]) returned something that is not a pair of tensors ({error_text(err)})")
    n, h, w, _ = case.x.shape
    k, s = case.kernel_size, case.strides
    out_h, out_w = padding_and_size(h, k, s, case.padding)[1], padding_and_size(w, k, s, case.padding)[1]
    want_x, want_m = (n, out_h, out_w, case.filters), (n, out_h, out_w, 1)
    where = f" ({case.description})"
    if x_out.shape == want_m and mask_out.shape == want_x and want_x != want_m:
        raise _Fail(f"✗ the outputs are swapped: return [x_out, mask_out], not [mask_out, x_out]{where}")
    if x_out.shape != want_x:
        hint = ""
        if x_out.shape[1:3] == (h, w) and s > 1:
            hint = ": it is not strided, pass strides=self.strides to ops.conv"
        elif x_out.shape[1:3] != (out_h, out_w):
            hint = f": the padding is wrong, pass padding=self.padding to ops.conv (here {case.padding!r})"
        raise _Fail(f"✗ x_out has shape {x_out.shape}, expected (N, H', W', filters) = {want_x}{where}{hint}")
    if mask_out.shape != want_m:
        if mask_out.shape == case.mask.shape:
            hint = ("you returned the input mask unchanged? m' = 1 where the window holds a valid value, "
                    "computed with the layer's strides and padding")
        elif mask_out.shape[1:3] != (out_h, out_w):
            hint = "compute it with the same strides and padding as x_out"
        elif mask_out.ndim == 4 and mask_out.shape[-1] == case.filters:
            hint = (f"the new mask is the same for every filter, so it has ONE channel (the source repeated it "
                    f"over the {case.filters} filters)")
        else:
            hint = "the new mask has ONE channel: sum the mask over its channels before the window sum"
        raise _Fail(f"✗ mask_out has shape {mask_out.shape}, expected (N, H', W', 1) = {want_m}{where}: {hint}")
    return x_out, mask_out


def _run_case(layer_class, case: Case, index: int, name: str):
    """Build the student's layer for ``case``, give it the case's weights, return its two outputs."""
    k, s, p = case.kernel_size, case.strides, case.padding
    ctor = f"{name}({case.filters}, {k}, strides={s}, padding={p!r})"
    try:
        layer = layer_class(case.filters, k, strides=s, padding=p)
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        if trapped_name(err):
            raise _delegation(name, "it calls it")
        raise _Fail(ErrorLine(f"✗ {ctor} raised {type(err).__name__}: {error_text(err)}{_raise_hint(err, 'init')}"))
    inputs = [case.x.copy(), case.mask.copy()]
    try:
        answer = layer(inputs)
    except Exception as err:  # noqa: BLE001
        if trapped_name(err):
            raise _delegation(name, "it calls one")
        raise _Fail(ErrorLine(f"✗ {ctor}([x, mask]) raised {type(err).__name__}: {error_text(err)} (with "
                              f"{case.description}){_raise_hint(err, 'call')}"))
    if _holds_library_layer(layer):
        raise _delegation(name, "it holds one")
    if answer is None or (isinstance(answer, (list, tuple)) and all(a is None for a in answer)):
        if index == 0:
            raise _Fail(NOT_ATTEMPTED, None)
        raise _Fail(f"✗ {ctor}([x, mask]) returned None with {case.description}: every path of call must return "
                    "[x_out, mask_out]")
    if isinstance(answer, (list, tuple)) and any(a is None for a in answer):
        which = "x_out" if answer[0] is None else "mask_out"
        raise _Fail(f"✗ your call returned None as {which}: finish the code that computes it")
    _check_trainable(layer, case, name)
    try:
        set_kernel_and_bias(layer, case.kernel, case.bias)
        answer = layer([case.x.copy(), case.mask.copy()])
    except Exception as err:  # noqa: BLE001
        if trapped_name(err):
            raise _delegation(name, "it calls one")
        raise _Fail(ErrorLine(f"✗ {ctor}([x, mask]) raised {type(err).__name__}: {error_text(err)} (on its second "
                              f"call, after set_kernel_and_bias, with {case.description})"))
    return _check_outputs(answer, case, ctor)


def model_problem(layer_class) -> str | None:
    """Why a layer that passes :func:`check_pconv_layer` would still fail inside a functional ``keras.Model``
    (as notebook 06's U-Net uses it), or None when it works there.

    The check calls the layer on arrays; a model first calls it on symbolic tensors whose batch size is
    None, then runs it as a compiled graph, where ``.numpy()`` and ``x.shape``-based broadcasting fail.
    """
    case = layer_cases()[0]
    ref = pconv_reference(case.x, case.mask, case.kernel, case.bias, case.strides, case.padding)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, mask = keras.Input(case.x.shape[1:]), keras.Input(case.mask.shape[1:])
            layer = layer_class(case.filters, case.kernel_size, strides=case.strides, padding=case.padding)
            model = keras.Model([x, mask], layer([x, mask]))
            set_kernel_and_bias(layer, case.kernel, case.bias)
            got = [np.asarray(a, np.float64) for a in model.predict([case.x, case.mask], verbose=0)]
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        return (f"inside a keras.Model it raises {type(err).__name__}: {error_text(err)[:200]} (a model calls it first "
                "on tensors whose batch size is None: build shapes with ops.shape(x) or ops.ones_like(x), and use "
                "keras.ops only, no .numpy())")
    if not (close(got[0], ref[0], poisoned(case, got[0])) and close(got[1], ref[1])):
        return "inside a keras.Model it gives other values than on arrays: use keras.ops only, no .numpy()"
    return None


# --------------------------------------------------------------------------------------
# The check.
# --------------------------------------------------------------------------------------

def _check_class(layer_class) -> str:
    """The class's name; raise _Fail unless it is a keras Layer subclass of the student's own."""
    if isinstance(layer_class, keras.layers.Layer):
        raise _Fail("✗ pass the class itself, not a layer made from it: check_pconv_layer(MyPConv2D), "
                    "not check_pconv_layer(MyPConv2D(...))")
    if not isinstance(layer_class, type):
        raise _Fail(f"✗ expected a class (a subclass of keras.layers.Layer), got a {type(layer_class).__name__}: "
                    "pass your class MyPConv2D itself")
    name = layer_class.__name__
    if not issubclass(layer_class, keras.layers.Layer):
        raise _Fail(f"✗ {name} is not a Keras layer: declare it as class {name}(keras.layers.Layer)")
    if issubclass(layer_class, layers.PConv2D):
        raise _delegation(name, "it subclasses it")
    return name


@contextlib.contextmanager
def _full_float32():
    """Convolutions in true float32 while the check runs, then the previous setting back.

    On Ampere and later GPUs TensorFlow (and JAX, and cuDNN under PyTorch) compute float32
    convolutions in TF32 by default, a 10-bit mantissa: a correct layer would miss the tolerance.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        enabled = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(enabled)
    elif backend == "jax":
        import jax

        with jax.default_matmul_precision("float32"):
            yield
    elif backend == "torch":
        import torch

        allowed = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32 = allowed
    else:
        yield


# The library layer's methods that a student's layer must not reach (its __init__ uses super(): a closure,
# whose code cannot be swapped; subclassing is caught by issubclass instead).
_LIBRARY_METHODS = [(layers.PConv2D.call, "layers.PConv2D"), (layers.PConv2D.build, "layers.PConv2D"),
                    (layers.PConv2D.valid_count, "layers.PConv2D")]


def check_pconv_layer(layer_class: Any) -> bool | None:
    """Check the student's partial-convolution layer class (notebook 04): prints one line, never raises.

    ``layer_class(filters, kernel_size, strides=..., padding=...)`` called on ``[x, mask]`` (x
    (N, H, W, C_in) float32, mask (N, H, W, 1) or (N, H, W, C_in), 1 = valid, 0 = hole) must return
    ``[x_out (N, H', W', filters), mask_out (N, H', W', 1)]`` as :func:`pconv_reference` computes them
    (float32 round-off allowed), train exactly a kernel (k, k, C_in, filters) and a bias (filters,), and
    neither be, subclass nor use ``layers.PConv2D``.

    Returns True ("✓ correct"), False ("✗ <hint>") or None (not attempted: ``layer_class`` is None, or
    the layer's call returns None or [None, None]).
    """
    if layer_class is None:
        return say(None, NOT_ATTEMPTED)
    try:
        name = _check_class(layer_class)
        cases = layer_cases()
        outputs = []
        # The check prints one line: Keras' warnings about a broken layer would bury it.  A trap that
        # fires is caught in _run_case (the student's call raised it), so the list stays unused.
        with np.errstate(all="ignore"), warnings.catch_warnings(), _full_float32(), \
                switched_off(_LIBRARY_METHODS, []):
            warnings.simplefilter("ignore")
            for index, case in enumerate(cases):
                outputs.append(_run_case(layer_class, case, index, name))
        refs = [pconv_reference(c.x, c.mask, c.kernel, c.bias, c.strides, c.padding) for c in cases]
        if all(close(got[0], ref[0]) and close(got[1], ref[1]) for got, ref in zip(outputs, refs)):
            return say(True, CORRECT)
        return say(False, "✗ " + diagnose(cases, outputs, refs))
    except _Fail as fail:
        return say(fail.result, fail.args[0])  # the line itself: an ErrorLine stays one
    except Exception as err:  # noqa: BLE001 -- a check never raises
        return say(False, ErrorLine(f"✗ the check could not run your layer: {type(err).__name__}: "
                                    f"{error_text(err)}"))
