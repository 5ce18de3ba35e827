"""What notebook 04's layer check compares with: a partial convolution by the formula, its wrong variants, the cases.

:func:`pconv_reference` is Liu et al.'s formula as a float64 NumPy loop over the windows, written
independently of ``course_lib.layers``; :func:`layer_cases` are the inputs the notebook never shows;
:func:`close` compares a float32 layer's outputs with the reference; :func:`diagnose` names the mistake
of outputs that differ, by comparing them with the wrong variants (the source's bugs, a missing
rescaling, NaN from the holes, the padding rule, ...) computed from the same window sums.
The check itself is :func:`course_lib.checks.partial_convolution.check_pconv_layer`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from course_lib.checks.feedback import rel_error


# float32 layer against a float64 reference: |got - expected| <= RTOL·|expected| + ATOL·max(1, max|expected|).
RTOL = 1e-4
ATOL = 1e-5

# --------------------------------------------------------------------------------------
# The reference: the formula, one output pixel at a time, in float64.
# --------------------------------------------------------------------------------------

def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else (int(value[0]), int(value[1]))


def padding_and_size(size: int, k: int, s: int, padding: str, symmetric: bool = False) -> tuple[tuple[int, int], int]:
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
    pad_h, out_h = padding_and_size(x.shape[1], kh, sh, padding, symmetric)
    pad_w, out_w = padding_and_size(x.shape[2], kw, sw, padding, symmetric)
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

class Case(NamedTuple):
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


def layer_cases(seed: int = 303) -> list[Case]:
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
        cases.append(Case(x, mask, kernel, bias, s, padding, has_nan))
    return cases


# --------------------------------------------------------------------------------------
# Comparing.
# --------------------------------------------------------------------------------------

def close(got: np.ndarray, expected: np.ndarray, ignore: np.ndarray | None = None) -> bool:
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


def poisoned(case: Case, got: np.ndarray) -> np.ndarray | None:
    """Where NaN/inf from the holes of x reached the output (None when x had none): the NaN hint's business."""
    return ~np.isfinite(got) if case.has_nan else None


# --------------------------------------------------------------------------------------
# Diagnosing wrong values.
# --------------------------------------------------------------------------------------

def diagnose(cases: list[Case], outputs: list[tuple[np.ndarray, np.ndarray]],
             refs: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """The hint for outputs (x_out, mask_out) that do not all match the references, in the order of diagnosis."""
    sums = [_window_sums(c.x, c.mask, c.kernel, c.strides, c.padding) for c in cases]
    xs = [out[0] for out in outputs]
    x_ok = [close(got, ref[0]) for got, ref in zip(xs, refs)]
    m_ok = [close(out[1], ref[1]) for out, ref in zip(outputs, refs)]
    poison = [poisoned(c, got) for c, got in zip(cases, xs)]

    if not all(x_ok):
        variants = [_x_variants(s, c.bias, c.mask.shape[-1]) for s, c in zip(sums, cases)]

        def matches(name: str) -> bool:
            return all(any(close(got, form, ignore) for form in v[name])
                       for got, v, ignore in zip(xs, variants, poison))

        for name in ("bug1", "bug3"):
            if matches(name):
                return _X_HINTS[name]
        if any(p is not None and p.any() for p in poison) and all(
                close(got, ref[0], ignore) for got, ref, ignore in zip(xs, refs, poison)):
            return _X_HINTS["nan"]
        for name in ("unscaled", "unmasked", "scaled_bias", "counted_once"):
            if matches(name):
                return _X_HINTS[name]
        symmetric = [_symmetric_reference(c) if c.padding == "same" else ref[0] for c, ref in zip(cases, refs)]
        if all(close(got, sym, ignore) for got, sym, ignore in zip(xs, symmetric, poison)):
            return _X_HINTS["symmetric"]
        for case, got, ref in zip(cases, xs, refs):
            if not case.has_nan and not np.array_equal(np.isfinite(got), np.isfinite(ref[0])):
                return ("your output has NaN/inf where it should be finite, with " + case.description
                        + " (a division by zero? sum(M) = 0 in windows with no valid value: compute the ratio "
                          "with ops.divide_no_nan or ops.where(count > 0, ...))")

    if not all(m_ok):
        masks = [out[1] for out in outputs]
        for name in ("full_window", "inverted"):
            if all(close(got, _mask_variants(s)[name]) for got, s in zip(masks, sums)):
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


def _symmetric_reference(case: Case) -> np.ndarray:
    sums = _window_sums(case.x, case.mask, case.kernel, case.strides, case.padding, symmetric=True)
    valid = sums.count > 0
    return np.where(valid, sums.masked * _ratio(sums.size, sums.count) + np.asarray(case.bias, np.float64), 0.0)
