"""The check of notebook 04's last exercise: the student's partial-convolution Keras layer ``MyPConv2D``.

The student writes ``class MyPConv2D(keras.layers.Layer)`` with ``__init__(filters, kernel_size,
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
with :func:`set_kernel_and_bias` and compares its outputs with :func:`pconv_reference`, the formula
as a float64 NumPy loop written independently of ``course_lib.layers``.  Why a dedicated check: a
layer can be wrong in ways a single window never shows (the scale with C_in channels, the bias in
the holes, NaN in the holes, the padding rule, a mask kernel that trains), and each such mistake
has its own hint.  Like every ``checks.check_*`` it prints one line, returns True / False / None and
never raises; a layer that is, subclasses or wraps ``layers.PConv2D`` does not pass.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, NamedTuple

import numpy as np

import keras

from course_lib import layers
from course_lib.checks import (CORRECT, NOT_ATTEMPTED, _error_text, _ErrorLine, _say, _switched_off, _trapped_name,
                               rel_error)

__all__ = ["set_kernel_and_bias", "pconv_reference", "check_pconv_layer", "model_problem"]

# float32 layer against a float64 reference: |got - expected| <= RTOL·|expected| + ATOL·max(1, max|expected|).
RTOL = 1e-4
ATOL = 1e-5


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
# The reference: the formula, one output pixel at a time, in float64.
# --------------------------------------------------------------------------------------

def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else (int(value[0]), int(value[1]))


def _padding(size: int, k: int, s: int, padding: str, symmetric: bool = False) -> tuple[tuple[int, int], int]:
    """((before, after), output size) along one axis.

    "same" is TensorFlow's rule: ceil(size / s) outputs, the odd padding row/column at the end.
    ``symmetric`` pads (k-1)//2 on both sides instead (the source's layer; a wrong variant here).
    """
    if padding == "valid":
        return (0, 0), (size - k) // s + 1
    if symmetric:
        p = (k - 1) // 2
        return (p, p), (size + 2 * p - k) // s + 1
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return (total // 2, total - total // 2), out


class _WindowSums(NamedTuple):
    masked: np.ndarray     # Wᵀ(X⊙M), (N, H', W', C_out), the holes zeroed whatever they hold
    unmasked: np.ndarray   # Wᵀ X, the holes' contents included (NaN stays NaN)
    count: np.ndarray      # sum(M), (N, H', W', 1), a one-channel mask counted C_in times
    size: int              # sum(1) = k_h·k_w·C_in
    area: int              # k_h·k_w


def _window_sums(x, mask, kernel, strides=1, padding="same", *, symmetric=False) -> _WindowSums:
    """The pieces of the formula for every output pixel, by a loop over the windows (float64)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    padding = str(padding).lower()
    if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
        raise ValueError(f"x must be (N, H, W, C_in) and kernel (k, k, C_in, C_out), got {x.shape} and {kernel.shape}.")
    mask = np.asarray(mask, np.float64)
    if mask.ndim != 4 or mask.shape[:3] != x.shape[:3] or mask.shape[3] not in (1, x.shape[3]):
        raise ValueError(f"mask must be (N, H, W, 1) or (N, H, W, C_in) for x {x.shape}, got {mask.shape}.")
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}.")
    mask = np.broadcast_to(mask, x.shape)        # a one-channel mask counts for every channel
    (kh, kw), (sh, sw) = kernel.shape[:2], _pair(strides)
    pad_h, out_h = _padding(x.shape[1], kh, sh, padding, symmetric)
    pad_w, out_w = _padding(x.shape[2], kw, sw, padding, symmetric)
    pads = ((0, 0), pad_h, pad_w, (0, 0))        # the frame is padded with holes
    known = np.pad(np.where(mask > 0, x, 0.0), pads)
    raw, m = np.pad(x, pads), np.pad(mask, pads)

    n, c_out = x.shape[0], kernel.shape[3]
    masked = np.zeros((n, out_h, out_w, c_out))
    unmasked = np.zeros((n, out_h, out_w, c_out))
    count = np.zeros((n, out_h, out_w, 1))
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(out_h):
            for j in range(out_w):
                rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                masked[:, i, j] = np.tensordot(known[:, rows, cols], kernel, axes=3)
                unmasked[:, i, j] = np.tensordot(raw[:, rows, cols], kernel, axes=3)
                count[:, i, j, 0] = m[:, rows, cols].sum(axis=(1, 2, 3))
    return _WindowSums(masked, unmasked, count, kh * kw * x.shape[3], kh * kw)


def _ratio(numerator, count):
    """numerator / sum(M), 0 where sum(M) = 0."""
    return np.divide(numerator, count, out=np.zeros_like(count), where=count > 0)


def pconv_reference(x, mask, kernel, bias, strides=1, padding="same"):
    """Partial convolution (Liu et al., 2018) by the formula, in plain NumPy float64.

    x (N, H, W, C_in) (the holes' contents are ignored, NaN included); mask (N, H, W, 1) or
    (N, H, W, C_in), 1 = valid, 0 = hole; kernel (k_h, k_w, C_in, C_out); bias (C_out,);
    strides an int or a pair; padding "same" (TensorFlow's rule: the odd padding row/column at the
    bottom/right) or "valid", the padding counting as hole.

    Returns (x_out (N, H', W', C_out), mask_out (N, H', W', 1)), float64: for each window,
    x' = Wᵀ(X⊙M)·sum(1)/sum(M) + b and m' = 1 if sum(M) > 0, else x' = 0 and m' = 0,
    with sum(1) = k_h·k_w·C_in and sum(M) counting a one-channel mask C_in times.
    """
    sums = _window_sums(x, mask, kernel, strides, padding)
    valid = sums.count > 0
    x_out = np.where(valid, sums.masked * _ratio(sums.size, sums.count) + np.asarray(bias, np.float64), 0.0)
    return x_out, valid.astype(np.float64)


# --------------------------------------------------------------------------------------
# The wrong variants the hints name, computed from the same window sums.
# --------------------------------------------------------------------------------------

def _x_variants(sums: _WindowSums, bias, mask_channels: int) -> dict[str, list[np.ndarray]]:
    """Wrong x_out of each named mistake; a mistake may have several forms (holes 0 or b)."""
    b = np.asarray(bias, np.float64)
    valid = sums.count > 0
    ratio = _ratio(sums.size, sums.count)
    channels = sums.size // sums.area
    counted_once = sums.count / channels if mask_channels == 1 else sums.count   # a 1-channel mask counted once
    bug1 = sums.masked * _ratio(sums.area, sums.count) + b
    unscaled = sums.masked + b
    with np.errstate(invalid="ignore"):
        unmasked = sums.unmasked * ratio + b
    return {
        "bug1": [np.where(valid, bug1, 0.0), bug1],                 # with or without bug 3 as well
        "bug3": [sums.masked * ratio + b],
        "unscaled": [np.where(valid, unscaled, 0.0), unscaled],
        "unmasked": [np.where(valid, unmasked, 0.0), unmasked],
        "scaled_bias": [np.where(valid, (sums.masked + b) * ratio, 0.0)],
        "counted_once": [np.where(valid, sums.masked * _ratio(sums.size, counted_once) + b, 0.0)],
    }


_X_HINTS = {
    "bug1": "your ratio uses sum(1) = k·k: it must be k·k·C_in, every value of the window over all channels "
            "(the source's bug 1: your outputs are 1/C_in of the right ones)",
    "bug3": "windows with no valid value must output 0, not the bias (the source's bug 3): add the bias only "
            "where sum(M) > 0, e.g. (conv · ratio + b) · m'",
    "nan": "your output has NaN/inf where x had NaN/inf in its holes: NaN·0 = NaN, so zero the holes with "
           "ops.where(mask > 0, x, 0) instead of multiplying x by the mask",
    "unscaled": "the sum is not rescaled: multiply Wᵀ(X⊙M) by sum(1)/sum(M) before adding the bias",
    "unmasked": "the holes are not masked out: convolve X⊙M (x with its holes zeroed, ops.where(mask > 0, x, 0)), "
                "not x itself",
    "scaled_bias": "the bias is rescaled too: multiply only Wᵀ(X⊙M) by sum(1)/sum(M), then add the bias",
    "counted_once": "with a one-channel mask your outputs are C_in times too large: such a mask counts for "
                    "every channel, so sum(M) = C_in × its window sum",
    "symmetric": "stride-2 windows sit on the wrong pixels: padding='same' follows TensorFlow's rule (the odd "
                 "padding row/column goes at the bottom/right), so use ops.conv(..., padding=self.padding) "
                 "rather than padding (k-1)//2 on both sides",
}

_MASK_HINTS = {
    "full_window": "your new mask is 1 only where the whole window is valid: m' = 1 where the window holds at "
                   "least ONE valid value (sum(M) > 0), so the holes shrink layer by layer",
    "inverted": "your new mask is inverted: m' = 1 (valid) where sum(M) > 0, and 0 where the window saw no "
                "valid value",
}


def _mask_variants(sums: _WindowSums) -> dict[str, np.ndarray]:
    valid = (sums.count > 0).astype(np.float64)
    return {"full_window": (sums.count >= sums.size).astype(np.float64), "inverted": 1.0 - valid}


# --------------------------------------------------------------------------------------
# The test cases: inputs the notebook never shows.
# --------------------------------------------------------------------------------------

class _Case(NamedTuple):
    x: np.ndarray          # (N, H, W, C_in) float32
    mask: np.ndarray       # (N, H, W, 1 or C_in) float32, 1 = valid
    kernel: np.ndarray     # (k, k, C_in, filters) float32
    bias: np.ndarray       # (filters,) float32
    strides: int
    padding: str
    has_nan: bool          # NaN / inf in the holes of x

    @property
    def kernel_size(self) -> int:
        return self.kernel.shape[0]

    @property
    def filters(self) -> int:
        return self.kernel.shape[3]

    @property
    def description(self) -> str:
        channels = self.mask.shape[-1]
        mask = "a one-channel mask" if channels == 1 else f"a mask of {channels} channels"
        nan = ", NaN/inf in the holes of x" if self.has_nan else ""
        return f"kernel {self.kernel_size}, stride {self.strides}, padding {self.padding!r}, {mask}{nan}"


# kernel, stride, padding, x shape (N, H, W, C_in), filters, mask channels, NaN/inf in the holes.
# Heights of 10 make the stride-2 "same" padding asymmetric (k - 2 rows: the odd one at the bottom).
_CASE_SPECS = [
    (3, 1, "same", (2, 9, 7, 3), 4, 1, False),
    (5, 2, "same", (2, 10, 7, 3), 2, 3, True),
    (7, 1, "valid", (2, 11, 9, 2), 3, 1, False),
    (3, 2, "same", (2, 10, 7, 2), 3, 1, True),
    (5, 1, "valid", (2, 9, 8, 2), 2, 2, False),
    (7, 2, "same", (2, 10, 9, 3), 2, 3, False),
]


def _case_mask(rng, shape, channels, k) -> np.ndarray:
    """Image 0: pinholes and a block hole larger than a window; image 1: all hole but a 2x2 corner."""
    n, h, w, _ = shape
    base = (rng.random((n, h, w, 1)) > 0.25).astype(np.float32)
    base[0, 1:min(h - 1, k + 2), 1:min(w - 1, k + 1)] = 0.0
    base[1] = 0.0
    base[1, -2:, -2:] = 1.0
    if channels == 1:
        return base
    mask = base * (rng.random((n, h, w, channels)) > 0.3)   # channels differ from one another
    mask[1, -1, -1, 0] = 1.0
    return mask.astype(np.float32)


def _cases(seed: int = 303) -> list[_Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for k, s, padding, shape, filters, channels, has_nan in _CASE_SPECS:
        mask = _case_mask(rng, shape, channels, k)
        x = rng.random(shape).astype(np.float32)
        if has_nan:
            hole = np.broadcast_to(mask, shape) == 0
            x[hole] = np.nan
            x[hole & (rng.random(shape) < 0.2)] = np.inf
        kernel = rng.normal(0.0, 0.5, (k, k, shape[3], filters)).astype(np.float32)
        bias = (rng.uniform(0.5, 1.5, filters) * rng.choice([-1.0, 1.0], filters)).astype(np.float32)
        cases.append(_Case(x, mask, kernel, bias, s, padding, has_nan))
    return cases


# --------------------------------------------------------------------------------------
# Comparing.
# --------------------------------------------------------------------------------------

def _close(got: np.ndarray, expected: np.ndarray, ignore: np.ndarray | None = None) -> bool:
    """Same shape, inf/nan in the same places, and equal up to float32 round-off (outside ``ignore``)."""
    if got.shape != expected.shape:
        return False
    if ignore is not None:
        got, expected = got[~ignore], expected[~ignore]
    finite = np.isfinite(expected)
    if not np.array_equal(np.isfinite(got), finite) or not np.array_equal(got[~finite], expected[~finite],
                                                                          equal_nan=True):
        return False
    got, expected = got[finite], expected[finite]
    if got.size == 0:
        return True
    scale = max(1.0, float(np.max(np.abs(expected))))
    return bool(np.all(np.abs(got - expected) <= RTOL * np.abs(expected) + ATOL * scale))


def _poisoned(case: _Case, got: np.ndarray) -> np.ndarray | None:
    """Where NaN/inf from the holes of x reached the output (None when x had none): the NaN hint's business."""
    return ~np.isfinite(got) if case.has_nan else None


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


def _check_trainable(layer, case: _Case, name: str) -> None:
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


def _check_outputs(answer, case: _Case, ctor: str) -> tuple[np.ndarray, np.ndarray]:
    """The two outputs as float64 arrays of the right shapes; raise _Fail with a hint otherwise."""
    if not isinstance(answer, (list, tuple)) or len(answer) != 2:
        got = (f"one tensor of shape {tuple(answer.shape)}" if hasattr(answer, "shape")
               else f"a {type(answer).__name__}" + (f" of {len(answer)} items" if isinstance(answer, (list, tuple))
                                                   else ""))
        raise _Fail(f"✗ call must return a list of two tensors [x_out, mask_out], yours returned {got}")
    try:
        x_out, mask_out = _to_numpy(answer[0]), _to_numpy(answer[1])
    except Exception as err:  # noqa: BLE001
        raise _Fail(f"✗ {ctor}([x, mask]) returned something that is not a pair of tensors ({_error_text(err)})")
    n, h, w, _ = case.x.shape
    k, s = case.kernel_size, case.strides
    out_h, out_w = _padding(h, k, s, case.padding)[1], _padding(w, k, s, case.padding)[1]
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


def _run_case(layer_class, case: _Case, index: int, name: str):
    """Build the student's layer for ``case``, give it the case's weights, return its two outputs."""
    k, s, p = case.kernel_size, case.strides, case.padding
    ctor = f"{name}({case.filters}, {k}, strides={s}, padding={p!r})"
    try:
        layer = layer_class(case.filters, k, strides=s, padding=p)
    except Exception as err:  # noqa: BLE001 -- the student's code may raise anything
        if _trapped_name(err):
            raise _delegation(name, "it calls it")
        raise _Fail(_ErrorLine(f"✗ {ctor} raised {type(err).__name__}: {_error_text(err)}{_raise_hint(err, 'init')}"))
    inputs = [case.x.copy(), case.mask.copy()]
    try:
        answer = layer(inputs)
    except Exception as err:  # noqa: BLE001
        if _trapped_name(err):
            raise _delegation(name, "it calls one")
        raise _Fail(_ErrorLine(f"✗ {ctor}([x, mask]) raised {type(err).__name__}: {_error_text(err)} (with "
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
        if _trapped_name(err):
            raise _delegation(name, "it calls one")
        raise _Fail(_ErrorLine(f"✗ {ctor}([x, mask]) raised {type(err).__name__}: {_error_text(err)} (on its second "
                               f"call, after set_kernel_and_bias, with {case.description})"))
    return _check_outputs(answer, case, ctor)


def model_problem(layer_class) -> str | None:
    """Why a layer that passes :func:`check_pconv_layer` would still fail inside a functional ``keras.Model``
    (as notebook 06's U-Net uses it), or None when it works there.

    The check calls the layer on arrays; a model first calls it on symbolic tensors whose batch size is
    None, then runs it as a compiled graph, where ``.numpy()`` and ``x.shape``-based broadcasting fail.
    """
    case = _cases()[0]
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
        return (f"inside a keras.Model it raises {type(err).__name__}: {_error_text(err)[:200]} (a model calls it first "
                "on tensors whose batch size is None: build shapes with ops.shape(x) or ops.ones_like(x), and use "
                "keras.ops only, no .numpy())")
    if not (_close(got[0], ref[0], _poisoned(case, got[0])) and _close(got[1], ref[1])):
        return "inside a keras.Model it gives other values than on arrays: use keras.ops only, no .numpy()"
    return None


# --------------------------------------------------------------------------------------
# Diagnosing wrong values.
# --------------------------------------------------------------------------------------

def _diagnose(cases: list[_Case], outputs: list[tuple[np.ndarray, np.ndarray]],
              refs: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """The hint for outputs (x_out, mask_out) that do not all match the references, in the order of diagnosis."""
    sums = [_window_sums(c.x, c.mask, c.kernel, c.strides, c.padding) for c in cases]
    xs = [out[0] for out in outputs]
    x_ok = [_close(got, ref[0]) for got, ref in zip(xs, refs)]
    m_ok = [_close(out[1], ref[1]) for out, ref in zip(outputs, refs)]
    poison = [_poisoned(c, got) for c, got in zip(cases, xs)]

    if not all(x_ok):
        variants = [_x_variants(s, c.bias, c.mask.shape[-1]) for s, c in zip(sums, cases)]

        def matches(name: str) -> bool:
            return all(any(_close(got, form, ignore) for form in v[name])
                       for got, v, ignore in zip(xs, variants, poison))

        for name in ("bug1", "bug3"):
            if matches(name):
                return _X_HINTS[name]
        if any(p is not None and p.any() for p in poison) and all(
                _close(got, ref[0], ignore) for got, ref, ignore in zip(xs, refs, poison)):
            return _X_HINTS["nan"]
        for name in ("unscaled", "unmasked", "scaled_bias", "counted_once"):
            if matches(name):
                return _X_HINTS[name]
        symmetric = [_symmetric_reference(c) if c.padding == "same" else ref[0] for c, ref in zip(cases, refs)]
        if all(_close(got, sym, ignore) for got, sym, ignore in zip(xs, symmetric, poison)):
            return _X_HINTS["symmetric"]
        for case, got, ref in zip(cases, xs, refs):
            if not case.has_nan and not np.array_equal(np.isfinite(got), np.isfinite(ref[0])):
                return ("your output has NaN/inf where it should be finite, with " + case.description
                        + " (a division by zero? sum(M) = 0 in windows with no valid value: compute the ratio "
                          "with ops.divide_no_nan or ops.where(count > 0, ...))")

    if not all(m_ok):
        masks = [out[1] for out in outputs]
        for name in ("full_window", "inverted"):
            if all(_close(got, _mask_variants(s)[name]) for got, s in zip(masks, sums)):
                return _MASK_HINTS[name]
        if any(np.any((got != 0) & (got != 1)) for got in masks):
            return ("your new mask has values other than 0 and 1: m' = 1 where sum(M) > 0, else 0 "
                    "(e.g. ops.minimum(count, 1.0) for a binary mask, or ops.cast(count > 0, x.dtype))")

    ok = [a and b for a, b in zip(x_ok, m_ok)]
    one_channel = [i for i, c in enumerate(cases) if c.mask.shape[-1] == 1]
    first_wrong = ok.index(False)
    case = cases[first_wrong]
    what = "x_out" if not x_ok[first_wrong] else "mask_out"
    got = outputs[first_wrong][0 if what == "x_out" else 1]
    expected = refs[first_wrong][0 if what == "x_out" else 1]
    err = rel_error(np.nan_to_num(got, posinf=1e30, neginf=-1e30), expected)
    if all(ok[i] for i in one_channel):
        channels = case.mask.shape[-1]
        return (f"with a mask of C_in channels (one value per feature value) your {what} is wrong ({case.description}: "
                f"rel_error = {err:.1e}), though it is right with one-channel masks: sum(M) counts every valid value "
                f"of the window over all {channels} channels (sum the mask over its channels, then window-sum it), "
                "and X⊙M uses each channel's own mask value")
    return f"wrong values of {what} for {case.description}: rel_error = {err:.1e}"


def _symmetric_reference(case: _Case) -> np.ndarray:
    sums = _window_sums(case.x, case.mask, case.kernel, case.strides, case.padding, symmetric=True)
    valid = sums.count > 0
    return np.where(valid, sums.masked * _ratio(sums.size, sums.count) + np.asarray(case.bias, np.float64), 0.0)


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
        return _say(None, NOT_ATTEMPTED)
    try:
        name = _check_class(layer_class)
        cases = _cases()
        outputs = []
        # The check prints one line: Keras' warnings about a broken layer would bury it.  A trap that
        # fires is caught in _run_case (the student's call raised it), so the list stays unused.
        with np.errstate(all="ignore"), warnings.catch_warnings(), _full_float32(), \
                _switched_off(_LIBRARY_METHODS, []):
            warnings.simplefilter("ignore")
            for index, case in enumerate(cases):
                outputs.append(_run_case(layer_class, case, index, name))
        refs = [pconv_reference(c.x, c.mask, c.kernel, c.bias, c.strides, c.padding) for c in cases]
        if all(_close(got[0], ref[0]) and _close(got[1], ref[1]) for got, ref in zip(outputs, refs)):
            return _say(True, CORRECT)
        return _say(False, "✗ " + _diagnose(cases, outputs, refs))
    except _Fail as fail:
        return _say(fail.result, fail.args[0])  # the line itself: an _ErrorLine stays one
    except Exception as err:  # noqa: BLE001 -- a check never raises
        return _say(False, _ErrorLine(f"✗ the check could not run your layer: {type(err).__name__}: "
                                      f"{_error_text(err)}"))
