"""Tests of course_lib.layers against brute-force NumPy references of the formulas.

The references loop over output pixels in float64 and pad explicitly, independently of
Keras: PConv2D with TensorFlow's 'same' rule, SourcePConv2D with the source's symmetric
(k-1)//2 padding.
"""

import inspect
import math

import numpy as np
import pytest
import tensorflow as tf

import keras
from course_lib import layers
from course_lib.layers import BroadcastMask, PConv2D, SourcePConv2D
from course_lib.models import build_pconv_unet

# ----------------------------------------------------------------------------- references


def same_padding(size, k, s):
    """(before, after) zero padding of TensorFlow's padding='same'."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def windows(x, mask, k, s, pads):
    """Yield (b, i, j, x window, mask window) over a zero-padded (N, H, W, C) pair."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    mp = np.pad(mask, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out_h = (xp.shape[1] - k[0]) // s[0] + 1
    out_w = (xp.shape[2] - k[1]) // s[1] + 1
    for b in range(x.shape[0]):
        for i in range(out_h):
            for j in range(out_w):
                rows = slice(i * s[0], i * s[0] + k[0])
                cols = slice(j * s[1], j * s[1] + k[1])
                yield b, i, j, xp[b, rows, cols], mp[b, rows, cols]


def reference_pconv(x, mask, kernel, bias, strides=(1, 1), padding="same"):
    """Liu et al.'s partial convolution by loops, float64. Mask (N,H,W,1) or (N,H,W,C)."""
    x = x.astype("float64")
    mask = np.broadcast_to(mask, x.shape).astype("float64")
    kernel, bias = kernel.astype("float64"), bias.astype("float64")
    k, c_out = kernel.shape[:2], kernel.shape[3]
    if padding == "same":
        pads = (same_padding(x.shape[1], k[0], strides[0]), same_padding(x.shape[2], k[1], strides[1]))
    else:
        pads = ((0, 0), (0, 0))
    window_size = k[0] * k[1] * x.shape[3]
    results = {}
    for b, i, j, xw, mw in windows(x, mask, k, strides, pads):
        valid = mw.sum()
        if valid > 0:
            value = np.tensordot(xw * mw, kernel, axes=3) * window_size / valid + bias
            results[b, i, j] = (value, 1.0)
        else:
            results[b, i, j] = (np.zeros(c_out), 0.0)
    return _assemble(results, x.shape[0], c_out)


def reference_source_pconv(x, mask, kernel, mask_kernel, bias, strides=(1, 1)):
    """The source's layer by loops, float64: symmetric padding, k*k scale, bias everywhere."""
    x, mask = x.astype("float64"), mask.astype("float64")
    k = kernel.shape[:2]
    pads = (((k[0] - 1) // 2,) * 2, ((k[1] - 1) // 2,) * 2)
    results = {}
    for b, i, j, xw, mw in windows(x, mask, k, strides, pads):
        count = np.tensordot(mw, mask_kernel, axes=3)  # (C_out,)
        ratio = k[0] * k[1] / (count + 1e-8) * np.clip(count, 0, 1)
        results[b, i, j] = (np.tensordot(xw * mw, kernel, axes=3) * ratio + bias, np.clip(count, 0, 1))
    return _assemble(results, x.shape[0], kernel.shape[3], mask_channels=kernel.shape[3])


def _assemble(results, n, c_out, mask_channels=1):
    out_h = max(i for _, i, _ in results) + 1
    out_w = max(j for _, _, j in results) + 1
    out = np.zeros((n, out_h, out_w, c_out))
    new_mask = np.zeros((n, out_h, out_w, mask_channels))
    for (b, i, j), (value, m) in results.items():
        out[b, i, j], new_mask[b, i, j] = value, m
    return out, new_mask


# ----------------------------------------------------------------------------- helpers


def random_case(rng, n, h, w, c, k, mask_channels, hole=True):
    """Features in [-1, 1], a random binary mask with a large hole (fully-hole windows)."""
    x = rng.uniform(-1, 1, (n, h, w, c)).astype("float32")
    mask = (rng.random((n, h, w, mask_channels)) > 0.4).astype("float32")
    if hole:
        mask[:, : k + 2, : k + 2, :] = 0.0  # larger than a window, even with stride 2
    return x, mask


def make_pconv(filters, k, strides, padding, channels, mask_channels, rng, **kwargs):
    """A built PConv2D with random (known) kernel and bias."""
    layer = PConv2D(filters, k, strides=strides, padding=padding, **kwargs)
    layer.build([(None, None, None, channels), (None, None, None, mask_channels)])
    weights = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return layer, weights


def assert_close(actual, expected, rtol=1e-5):
    expected = np.asarray(expected)
    atol = rtol * max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(np.asarray(actual, dtype="float64"), expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def mixed_precision():
    """Switch the global dtype policy to mixed_float16 for one test, then restore it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# ----------------------------------------------------------------------------- PConv2D formula

CASES = [  # (n, h, w, c_in, filters, k, strides, padding, mask_channels)
    (2, 9, 11, 3, 4, 3, 1, "same", 1),
    (2, 9, 11, 3, 4, 3, 2, "same", 1),
    (1, 10, 8, 2, 3, 3, 2, "same", 2),
    (2, 12, 12, 4, 2, 5, 1, "same", 4),
    (1, 13, 12, 3, 2, 5, 2, "same", 1),
    (1, 14, 14, 2, 3, 7, 1, "same", 1),
    (1, 15, 16, 2, 2, 7, 2, "same", 2),
    (2, 9, 10, 3, 4, 3, 1, "valid", 1),
    (1, 11, 11, 3, 3, 3, 2, "valid", 3),
    (1, 12, 13, 2, 2, 5, (1, 2), "valid", 1),
    (1, 14, 14, 2, 2, 7, 1, "valid", 2),
]


@pytest.mark.parametrize("n,h,w,c,filters,k,s,padding,mc", CASES)
def test_pconv_matches_bruteforce_reference(rng, n, h, w, c, filters, k, s, padding, mc):
    x, mask = random_case(rng, n, h, w, c, k, mc)
    layer, (kernel, bias) = make_pconv(filters, k, s, padding, c, mc, rng)
    out, new_mask = layer([x, mask])
    strides = s if isinstance(s, tuple) else (s, s)
    ref_out, ref_mask = reference_pconv(x, mask, kernel, bias, strides, padding)
    assert (ref_mask == 0).any() and (ref_mask == 1).any(), "the case must mix holes and valid windows"
    assert out.shape == ref_out.shape and new_mask.shape == ref_mask.shape
    np.testing.assert_array_equal(new_mask, ref_mask)
    assert_close(out, ref_out)
    assert np.all(np.asarray(out)[ref_mask[..., 0] == 0] == 0.0), "holes must be exactly 0"


@pytest.mark.parametrize("mc", [1, 3])
def test_hole_contents_do_not_matter_not_even_nan_or_inf(rng, mc):
    """By the formula only valid values enter: NaN or inf in a hole (a dead pixel) changes nothing."""
    x, mask = random_case(rng, 2, 10, 10, 3, 3, mc)
    layer, (kernel, bias) = make_pconv(4, 3, 1, "same", 3, mc, rng)
    hole = np.broadcast_to(mask, x.shape) == 0
    poisoned = x.copy()
    poisoned[hole] = np.nan
    poisoned[0][hole[0]] = np.inf
    out, _ = layer([poisoned, mask])
    ref_out, _ = reference_pconv(np.where(hole, 0.0, x), mask, kernel, bias, (1, 1), "same")
    assert np.all(np.isfinite(np.asarray(out)))
    assert_close(out, ref_out)


def test_one_channel_mask_counts_for_every_channel(rng):
    x, mask = random_case(rng, 2, 8, 8, 5, 3, 1)
    layer, _ = make_pconv(3, 3, 1, "same", 5, 1, rng)
    out_one, mask_one = layer([x, mask])
    out_all, mask_all = layer([x, np.repeat(mask, 5, axis=-1)])
    assert_close(out_one, np.asarray(out_all, dtype="float64"))
    np.testing.assert_array_equal(mask_one, mask_all)


def test_all_hole_input_gives_exact_zeros(rng):
    x = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    layer, _ = make_pconv(4, 3, 2, "same", 3, 1, rng)
    out, new_mask = layer([x, np.zeros((2, 8, 8, 1), "float32")])
    assert np.all(np.asarray(out) == 0.0) and np.all(np.asarray(new_mask) == 0.0)


def test_all_valid_equals_conv2d_inside_and_rescales_the_border(rng):
    x = rng.uniform(-1, 1, (2, 10, 10, 3)).astype("float32")
    ones = np.ones((2, 10, 10, 1), "float32")
    for padding in ("valid", "same"):
        layer, weights = make_pconv(4, 3, 1, padding, 3, 1, rng)
        conv = keras.layers.Conv2D(4, 3, padding=padding)
        conv.build((None, 10, 10, 3))
        conv.set_weights(weights)
        out, new_mask = (np.asarray(t) for t in layer([x, ones]))
        expected = np.asarray(conv(x))
        assert np.all(new_mask == 1.0)
        if padding == "valid":
            assert_close(out, expected)
            continue
        assert_close(out[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1])
        # Border: the zero padding is a hole, so (conv - b) is scaled by 9 / (valid pixels).
        count = np.full((10, 10), 9.0)
        count[[0, -1], :] = 6.0
        count[:, [0, -1]] = 6.0
        count[[0, 0, -1, -1], [0, -1, 0, -1]] = 4.0
        bias = weights[1]
        assert_close(out, (expected - bias) * (9.0 / count)[None, :, :, None] + bias)
        assert not np.allclose(out[:, 0], expected[:, 0])


def test_output_shapes_and_dtypes(rng):
    x, mask = random_case(rng, 2, 16, 12, 3, 3, 1)
    out, new_mask = PConv2D(5, 3, strides=2)([x, mask])
    assert out.shape == (2, 8, 6, 5) and new_mask.shape == (2, 8, 6, 1)
    assert out.dtype == "float32" and new_mask.dtype == "float32"
    out, new_mask = PConv2D(5, (3, 5), padding="valid")([x, np.repeat(mask, 3, -1)])
    assert out.shape == (2, 14, 8, 5) and new_mask.shape == (2, 14, 8, 1)


def test_new_mask_shrinks_holes(rng):
    mask = np.ones((1, 12, 12, 1), "float32")
    mask[:, 3:9, 3:9] = 0
    x = rng.random((1, 12, 12, 2)).astype("float32")
    layer = PConv2D(2, 3)
    _, m1 = layer([x, mask])
    assert np.asarray(m1)[0, 4:8, 4:8, 0].sum() == 0 and np.asarray(m1)[0, 3, 3:9, 0].all()


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "features,mask,match",
    [
        ((1, 8, 8, 3), (1, 8, 8, 2), "channels"),
        ((1, 8, 8, 3), (1, 8, 6, 1), "width"),
        ((1, 8, 8, 3), (1, 6, 8, 1), "height"),
        ((1, 8, 8, 3), (8, 8, 1), "4-D"),
    ],
)
def test_shape_errors_explain_the_fix(features, mask, match):
    with pytest.raises(ValueError, match=match):
        PConv2D(2, 3)([np.zeros(features, "float32"), np.zeros(mask, "float32")])


def test_call_errors():
    layer = PConv2D(2, 3)
    with pytest.raises(ValueError, match=r"\[features, mask\]"):
        layer(np.zeros((1, 8, 8, 3), "float32"))
    layer([np.zeros((1, 8, 8, 3), "float32"), np.ones((1, 8, 8, 1), "float32")])
    with pytest.raises(ValueError, match="built for 3 feature channels"):
        layer([np.zeros((1, 8, 8, 4), "float32"), np.ones((1, 8, 8, 1), "float32")])
    with pytest.raises(ValueError, match="padding"):
        PConv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="kernel_size"):
        PConv2D(2, (3, 3, 3))


# ----------------------------------------------------------------------------- mask path


def test_only_kernel_and_bias_are_weights():
    layer = PConv2D(4, 3)
    layer.build([(None, 8, 8, 3), (None, 8, 8, 1)])
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["kernel", "bias"]
    assert layer.non_trainable_weights == []
    assert layer.count_params() == 3 * 3 * 3 * 4 + 4
    no_bias = PConv2D(4, 3, use_bias=False)
    no_bias.build([(None, 8, 8, 3), (None, 8, 8, 3)])
    assert [w.path.split("/")[-1] for w in no_bias.weights] == ["kernel"]


def test_no_gradient_flows_into_the_mask(rng):
    x, mask = random_case(rng, 2, 8, 8, 3, 3, 1)
    x, mask = tf.constant(x), tf.constant(mask)
    layer = PConv2D(4, 3)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(mask)
        out, new_mask = layer([x, mask])
        loss = tf.reduce_sum(out**2) + tf.reduce_sum(new_mask)
    grad = tape.gradient(loss, mask)
    assert grad is None or np.all(np.asarray(grad) == 0)
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_optimizer_steps_leave_the_mask_path_unchanged(rng):
    x, mask = random_case(rng, 2, 8, 8, 3, 3, 1)
    layer = PConv2D(4, 3, strides=2)
    _, mask_before = layer([x, mask])
    optimizer = keras.optimizers.SGD(0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            out, _ = layer([x, mask])
            loss = tf.reduce_mean((out - 1.0) ** 2)
        optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights))
    kernel, bias = layer.get_weights()
    out, mask_after = layer([x, mask])
    np.testing.assert_array_equal(mask_after, mask_before)
    assert_close(out, reference_pconv(x, mask, kernel, bias, (2, 2))[0])


def test_layer_uses_keras_ops_only():
    """A quick static guard, also where JAX is not installed; tests/test_jax_backend.py runs the layers on JAX for real."""
    source = inspect.getsource(layers)
    assert "tensorflow" not in source and "tf." not in source


# ----------------------------------------------------------------------------- mixed precision


def test_mixed_precision_holes_are_zero_and_finite(mixed_precision, rng):
    x, mask = random_case(rng, 2, 10, 10, 3, 3, 1)
    layer = PConv2D(4, 3, strides=2)
    x, mask = tf.constant(x), tf.constant(mask)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out, new_mask = layer([x, mask])
        loss = tf.reduce_sum(tf.cast(out, "float32") ** 2)
    assert out.dtype == "float16" and layer.kernel.dtype == "float32"
    out, new_mask = np.asarray(out), np.asarray(new_mask)
    holes = new_mask[..., 0] == 0
    assert holes.any() and np.all(out[holes] == 0) and np.all(np.isfinite(out))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    assert all(np.all(np.isfinite(np.asarray(g, dtype="float32"))) for g in grads)
    kernel, bias = layer.get_weights()
    expected = reference_pconv(np.asarray(x), np.asarray(mask), kernel, bias, (2, 2))[0]
    np.testing.assert_allclose(out, expected, rtol=2e-2, atol=2e-2 * np.abs(expected).max())


def test_mixed_precision_counts_above_float16_integers(mixed_precision, rng):
    # sum(1) = 3*3*300 = 2700 > 2048: in float16 the counts would not be exact integers.
    x, mask = random_case(rng, 1, 6, 6, 300, 3, 1, hole=False)
    layer = PConv2D(2, 3)
    out, new_mask = layer([x, mask])
    kernel, bias = layer.get_weights()
    ref_out, ref_mask = reference_pconv(x, mask, kernel, bias)
    np.testing.assert_array_equal(new_mask, ref_mask)
    atol = 2e-2 * np.abs(ref_out).max()
    np.testing.assert_allclose(np.asarray(out, "float32"), ref_out, rtol=2e-2, atol=atol)


# ----------------------------------------------------------------------------- serialisation


def test_get_config_round_trip():
    layer = PConv2D(7, (3, 5), strides=2, padding="valid", use_bias=False,
                    kernel_regularizer="l2", name="p")
    clone = PConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert keras.saving.get_registered_name(PConv2D) == "course_lib>PConv2D"
    assert keras.saving.get_registered_name(SourcePConv2D) == "course_lib>SourcePConv2D"


# ----------------------------------------------------------------------------- the source's layer


def make_source(filters, k, strides, channels, rng, bias=True):
    layer = SourcePConv2D(filters, k, strides=strides, use_bias=bias)
    layer.build([(None, None, None, channels), (None, None, None, channels)])
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    layer.kernel.assign(kernel)
    if bias:
        layer.bias.assign(rng.normal(size=(filters,)).astype("float32"))
    return layer


@pytest.mark.parametrize("k,s", [(3, 1), (3, 2), (5, 2)])
def test_source_layer_replicates_the_source_formula(rng, k, s):
    x, mask = random_case(rng, 2, 10, 10, 3, k, 3)
    layer = make_source(4, k, s, 3, rng)
    out, new_mask = layer([x, mask])
    ref_out, ref_mask = reference_source_pconv(
        x, mask, layer.kernel.numpy(), layer.mask_kernel.numpy(), layer.bias.numpy(), (s, s)
    )
    assert new_mask.shape[-1] == 4  # one mask channel per output channel
    np.testing.assert_array_equal(new_mask, ref_mask)
    assert_close(out, ref_out)


def test_source_bug1_fully_valid_windows_are_scaled_by_one_over_c_in(rng):
    c_in = 3
    x = rng.uniform(-1, 1, (1, 8, 8, c_in)).astype("float32")
    ones = np.ones_like(x)
    source = make_source(4, 3, 1, c_in, rng, bias=False)
    pconv, _ = make_pconv(4, 3, 1, "same", c_in, c_in, rng, use_bias=False)
    pconv.set_weights([source.kernel.numpy()])
    correct = np.asarray(pconv([x, ones])[0])[:, 1:-1, 1:-1]
    buggy = np.asarray(source([x, ones])[0])[:, 1:-1, 1:-1]
    assert_close(buggy, correct / c_in, rtol=1e-4)


def test_source_bug2_the_mask_kernel_is_trained(rng):
    x, mask = random_case(rng, 2, 8, 8, 3, 3, 3)
    layer = make_source(4, 3, 1, 3, rng)
    assert any("mask_kernel" in w.path for w in layer.trainable_weights)
    assert layer.count_params() == 2 * 3 * 3 * 3 * 4 + 4
    with tf.GradientTape() as tape:
        out, _ = layer([x, mask])
        loss = tf.reduce_mean(out**2)
    grads = tape.gradient(loss, layer.trainable_weights)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, layer.trainable_weights))
    assert not np.allclose(layer.mask_kernel.numpy(), 1.0), "an optimiser step changed the 'all-ones' kernel"


def test_source_bug3_holes_output_the_bias(rng):
    layer = make_source(4, 3, 1, 3, rng)
    x = rng.uniform(-1, 1, (1, 8, 8, 3)).astype("float32")
    out, new_mask = layer([x, np.zeros_like(x)])
    assert np.all(np.asarray(new_mask) == 0)
    np.testing.assert_allclose(np.asarray(out), np.broadcast_to(layer.bias.numpy(), out.shape))


def test_source_layer_rejects_one_channel_masks():
    with pytest.raises(ValueError, match="channels"):
        SourcePConv2D(2, 3)([np.zeros((1, 8, 8, 3), "float32"), np.ones((1, 8, 8, 1), "float32")])


def test_source_layer_gives_nan_in_holes_under_mixed_precision(mixed_precision, rng):
    # Not one of the three bugs, but worth seeing: 1e-8 rounds to 0 in float16.
    layer = make_source(2, 3, 1, 3, rng)
    x = rng.uniform(-1, 1, (1, 8, 8, 3)).astype("float32")
    mask = np.ones_like(x)
    mask[:, :4, :4] = 0
    out = np.asarray(layer([x, mask])[0])
    assert np.isnan(out[0, 1, 1]).all() and np.isfinite(out[0, 6, 6]).all()


# ----------------------------------------------------------------------------- BroadcastMask


def test_broadcast_mask_repeats_one_channel_and_passes_full_masks(rng):
    mask = (rng.random((2, 4, 4, 1)) > 0.5).astype("float32")
    features = np.zeros((2, 4, 4, 5), "float32")
    out = np.asarray(BroadcastMask()([mask, features]))
    np.testing.assert_array_equal(out, np.repeat(mask, 5, axis=-1))
    full = np.repeat(mask, 5, axis=-1)
    np.testing.assert_array_equal(np.asarray(BroadcastMask()([full, features])), full)
    with pytest.raises(ValueError, match="channels"):
        BroadcastMask()([np.ones((2, 4, 4, 2), "float32"), features])


def test_concatenated_masks_count_valid_values_exactly(rng):
    # The decoder pattern: two feature maps with different one-channel masks.
    x1, m1 = random_case(rng, 1, 8, 8, 2, 3, 1)
    x2, m2 = random_case(rng, 1, 8, 8, 5, 3, 1, hole=False)
    x = np.concatenate([x1, x2], -1)
    mask = np.concatenate([BroadcastMask()([m1, x1]), BroadcastMask()([m2, x2])], -1)
    layer, (kernel, bias) = make_pconv(3, 3, 1, "same", 7, 7, rng)
    out, new_mask = layer([x, mask])
    per_channel = np.concatenate([np.repeat(m1, 2, -1), np.repeat(m2, 5, -1)], -1)
    ref_out, ref_mask = reference_pconv(x, per_channel, kernel, bias)
    np.testing.assert_array_equal(new_mask, ref_mask)
    assert_close(out, ref_out)


# ----------------------------------------------------------------------------- input_holes_are_zero


def test_skipping_the_zeroing_is_exact_when_the_holes_are_zero(rng):
    x, mask = random_case(rng, 2, 9, 9, 5, 3, 1)
    x = x * mask  # the promise: features are 0 wherever the mask is 0
    checked = PConv2D(4, 3)
    trusting = PConv2D(4, 3, input_holes_are_zero=True)
    checked([x, mask]), trusting([x, mask])
    trusting.set_weights(checked.get_weights())
    for a, b in zip(checked([x, mask]), trusting([x, mask])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert PConv2D.from_config(trusting.get_config()).input_holes_are_zero


def test_the_unet_keeps_the_promise_of_input_holes_are_zero(rng):
    # Every layer built with input_holes_are_zero=True must really get 0 in its holes, even when
    # the network's input holds NaN there (conv1 zeroes it; ReLU, upsampling and concatenation keep 0).
    model = build_pconv_unet((16, 16, 3))
    trusting = [layer for layer in model.layers if isinstance(layer, PConv2D) and layer.input_holes_are_zero]
    assert [layer.name for layer in model.layers if isinstance(layer, PConv2D) and not layer.input_holes_are_zero] == ["conv1"]
    probe = keras.Model(model.inputs, [tensor for layer in trusting for tensor in layer.input])
    images = rng.random((3, 16, 16, 3)).astype("float32")
    masks = (rng.random((3, 16, 16, 1)) > 0.2).astype("float32")
    masks[:, 2:13, 3:14] = 0  # a big hole survives several layers
    images[masks[..., 0] == 0] = np.nan
    values = probe.predict([images, masks], verbose=0)
    layers_with_holes = 0
    for layer, features, layer_mask in zip(trusting, values[0::2], values[1::2]):
        holes = np.broadcast_to(layer_mask == 0, features.shape)
        layers_with_holes += bool(holes.any())
        assert np.all(features[holes] == 0), layer.name
    assert layers_with_holes >= 3  # not vacuous: the first layers and the decoder's skips see holes
