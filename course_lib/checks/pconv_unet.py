"""The checks of notebook 06 (the PConv U-Net): how the holes shrink, the network, Liu et al.'s loss.

* :func:`check_update_mask` and :func:`check_layers_to_close` -- the new mask of a stride-1 3x3
  partial convolution, and how many such layers close a stripe hole;
* :func:`check_pconv_unet` -- ``build_fn(pconv_layer, input_shape) -> keras.Model``, compared layer by
  layer and output by output with ``models.build_pconv_unet`` (the machinery: :mod:`course_lib.checks.networks`);
* :func:`check_liu_loss` -- ``L_valid + 6 L_hole + 0.1 L_tv`` per image (the references and hints:
  :mod:`course_lib.checks.training`).

Each check prints one line, returns True / False / None and never raises (:mod:`course_lib.checks.feedback`).
Images float32 in [0, 1], NHWC; masks (N, H, W, 1), 1 = valid, 0 = hole.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from course_lib.checks.feedback import CORRECT, NOT_ATTEMPTED, matches, run_check, say, seeded_rng
from course_lib.checks.networks import (INPUT_SHAPE, OTHER_SHAPES, TOLERANCE, call_builder, compare_structure,
                                        concat_sizes, diagnose, expect_function, guarded, kernel_io, max_difference,
                                        n_values, shape_problem, share_weights, symbolic, weighted_layers,
                                        wrong_model)
from course_lib.checks.training import (LIU_FORBIDDEN, TOL, call_student, delegated, judge_liu, liu_cases,
                                        liu_reference, not_a_function, raised, to_array)


# --------------------------------------------------------------------------------------
# How the holes shrink.
# --------------------------------------------------------------------------------------

def _update_mask_reference(mask, kernel_size):
    mask = np.asarray(mask, np.float64)
    h, w = mask.shape
    r = kernel_size // 2
    out = np.zeros_like(mask)
    for i in range(h):
        for j in range(w):
            window = mask[max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1]
            out[i, j] = 1.0 if window.sum() > 0 else 0.0
    return out


def check_update_mask(student_fn: Callable[[np.ndarray, int], Any]) -> bool | None:
    """Check ``student_fn(mask (H,W) 0/1, kernel_size odd) -> (H,W)``: m' of a stride-1 'same' PConv2D."""
    rng = seeded_rng(50)
    stripe = np.ones((9, 9), np.float32)
    stripe[3:6] = 0.0
    cases = [
        ((rng.random((8, 8)) > 0.7).astype(np.float32), 3),
        ((rng.random((6, 10)) > 0.85).astype(np.float32), 3),
        ((rng.random((9, 7)) > 0.9).astype(np.float32), 5),
        (stripe, 3),
        (np.zeros((4, 4), np.float32), 3),
    ]

    def eroded(mask, k):
        mask = np.asarray(mask, np.float64)
        return 1.0 - _update_mask_reference(1.0 - mask, k)

    mistakes = [
        (eroded, "you shrank the VALID region: m' is 1 where the window contains at least one valid pixel "
                 "(the holes shrink, the valid region grows)"),
        (lambda mask, k: _update_mask_reference(mask, k)[..., None],
         "values are right, but return an (H, W) array (drop the channel axis)"),
        (lambda mask, k: np.asarray(mask, np.float64), "you returned the mask unchanged"),
    ]
    return run_check(student_fn, cases, _update_mask_reference, mistakes=mistakes, tol=1e-9)


def check_layers_to_close(student_fn: Callable[[int], Any]) -> bool | None:
    """Check ``student_fn(height) -> int``: stride-1 3×3 PConv layers that close a stripe hole ``height`` rows tall."""
    cases = [(h,) for h in (1, 2, 3, 4, 5, 8, 11)]
    mistakes = [
        (lambda h: h, "each layer eats one row from BOTH sides of the stripe (top and bottom)"),
        (lambda h: h // 2, "close, but an odd height needs one more layer: round up, (height + 1) // 2"),
        (lambda h: h // 2 + 1, "that is one layer too many for even heights: (height + 1) // 2"),
    ]
    return run_check(student_fn, cases, lambda h: (h + 1) // 2, mistakes=mistakes, tol=1e-9)


# --------------------------------------------------------------------------------------
# The network.
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
        if kernel_io(got) is None:
            return ("a layer is missing or extra before this one: 8 partial convolutions in the encoder, "
                    "8 in the decoder")
        return "use the pconv_layer you were given (called on [x, m]) for every layer but the output Conv2D"
    if difference == "kernel":
        return "every layer has a 3x3 kernel"
    if difference == "c_in":
        _, got_in, _ = kernel_io(got)
        _, want_in, _ = kernel_io(want)
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
    sizes = concat_sizes(text)
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
    started = expect_function(build_fn)
    if started is not True:
        return started
    return guarded(lambda: _check_pconv(build_fn))


def _check_pconv(build_fn) -> bool | None:
    from course_lib import layers, models

    class ProbePConv2D(layers.PConv2D):
        """A PConv2D only this check knows: the network built with it must be made of it."""

    library = models.build_pconv_unet(INPUT_SHAPE)
    model, problem = call_builder(build_fn, (layers.PConv2D,), {"input_shape": INPUT_SHAPE}, _PCONV_FORBIDDEN,
                                  _pconv_error_hint)
    if problem:
        return say(False, problem)
    if model is None:
        return say(None, NOT_ATTEMPTED)
    problem = wrong_model(model, 2)
    if problem:
        return say(False, problem)
    images, masks = _holed_inputs(seed=505)
    inputs = symbolic(model, "inputs")
    if inputs is not None and (inputs[0].shape[-1] != 3 or inputs[1].shape[-1] != 1):
        return say(False, f"✗ your model's inputs are {[tuple(x.shape[1:]) for x in inputs]}: the masked image "
                          "(H, W, 3) first, then the mask (H, W, 1)")
    if not model.weights:
        model([images, masks])  # a subclassed model creates its weights on the first call
    want, got = weighted_layers(library), weighted_layers(model)

    def same_kind(layer, wanted):
        if isinstance(wanted, layers.PConv2D):
            return isinstance(layer, layers.PConv2D)
        return isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, layers.PConv2D)

    problem = compare_structure(got, want, _pconv_positions(), same_kind, _pconv_layer_hint)
    if problem:
        return say(False, problem)
    trainable, wanted = n_values(model.trainable_weights), n_values(library.trainable_weights)
    if trainable != wanted:
        return say(False, f"✗ your model has {trainable:,} trainable parameters, the source's {wanted:,}")
    shape = OTHER_SHAPES[0]
    other, problem = call_builder(build_fn, (ProbePConv2D,), {"input_shape": shape}, _PCONV_FORBIDDEN,
                                  _pconv_error_hint)
    if problem or other is None:
        return say(False, problem or f"✗ your function returned None for input_shape={shape}")
    sample = [np.zeros((1, *shape), np.float32), np.ones((1, *shape[:2], 1), np.float32)]
    if not other.weights:
        other(sample)
    n_probe = _count(weighted_layers(other), ProbePConv2D)
    if n_probe != 16:
        return say(False, f"✗ built with another partial-convolution class, your network has {n_probe} layers of "
                          "it instead of 16: use the pconv_layer you were given, not layers.PConv2D itself")
    problem = shape_problem(other, [shape, (*shape[:2], 1)], shape, sample)
    if problem:
        return say(False, f"✗ {problem}")
    share_weights(want, got, seed=5, gain=_PCONV_GAIN)
    expected = library([images, masks])
    output = model([images, masks])
    if max_difference(output, expected) < TOLERANCE:
        return say(True, CORRECT)
    mistakes = [(lambda kw=kw: _pconv_forward(want, images, masks, **kw), hint) for kw, hint in _PCONV_MISTAKES]
    return say(False, diagnose(output, expected, mistakes, _PCONV_GENERIC))


# --------------------------------------------------------------------------------------
# Liu et al.'s loss.
# --------------------------------------------------------------------------------------

def check_liu_loss(loss_fn: Callable | None) -> bool | None:
    """Check ``loss_fn(y_true (N,H,W,4), y_pred (N,H,W,3)) -> (N,)``: Liu et al.'s loss without the VGG terms.

    ``y_true = concat([image, mask], -1)``, mask 1 = valid, 0 = hole.  Per image,
    ``L_valid + 6 L_hole + 0.1 L_tv`` where ``L_valid = sum |M·(I_out − I_gt)|``, ``L_hole = sum
    |(1 − M)·(I_out − I_gt)|`` and ``L_tv`` = the L1 differences of the composite ``M·I_gt + (1 − M)·I_out``
    between neighbours both inside the holes dilated by one pixel (3x3), each divided by H·W·C.  Compared
    with a NumPy loop on float32 tensors (8x8 and 6x10, an image without hole and one all hole), then once
    inside a ``tf.function`` as ``model.fit`` runs it.
    """
    if loss_fn is None:
        return say(None, NOT_ATTEMPTED)
    if not callable(loss_fn):
        return say(False, not_a_function(loss_fn))
    cases = liu_cases()
    for i, (y_true, y_pred) in enumerate(cases):
        outcome = call_student(loss_fn, (ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)),
                               forbidden=LIU_FORBIDDEN)
        if outcome.delegated:
            return say(False, delegated(outcome.delegated, "with keras.ops"))
        if outcome.error is not None:
            return say(False, raised(outcome.error))
        if outcome.answer is None:
            if i == 0:
                return say(None, NOT_ATTEMPTED)
            return say(False, f"✗ your loss returned None for test case {i + 1}: every path must return a value")
        got = to_array(outcome.answer)
        if got is None:
            return say(False, f"✗ your loss returned a {type(outcome.answer).__name__}: return a tensor of shape "
                              "(N,)")
        verdict = judge_liu(got, y_true, y_pred)
        if verdict is not None:
            return say(False, verdict)
    y_true, y_pred = cases[0]
    outcome = call_student(tf.function(loss_fn), (ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)),
                           forbidden=LIU_FORBIDDEN)
    got = None if outcome.error is not None else to_array(outcome.answer)
    if outcome.delegated:
        return say(False, delegated(outcome.delegated, "with keras.ops"))
    if got is None or not matches(got, liu_reference(y_true, y_pred), TOL):
        problem = f"raised {type(outcome.error).__name__}" if outcome.error is not None else "gives other values"
        return say(False, f"✗ your loss {problem} inside a tf.function, as model.fit runs it: use keras.ops only "
                          "(no NumPy, no .numpy(), no Python if on tensor values)")
    return say(True, CORRECT)
