"""Tests of course_lib.checks.partial_convolution's layer check: the check of notebook 04's MyPConv2D layer.

``pconv_reference`` is compared with ``layers.PConv2D`` (float64) and with values computed by hand.
Two student layers written independently of each other and of ``layers.PConv2D`` must pass; each
plausible wrong layer (a small variant of a correct one) must get its own hint.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

from course_lib import layers  # noqa: E402
from course_lib.checks.feedback import CORRECT, NOT_ATTEMPTED  # noqa: E402
from course_lib.checks.partial_convolution import check_pconv_layer, set_kernel_and_bias  # noqa: E402
from course_lib.checks.pconv_reference import pconv_reference  # noqa: E402


# --- pconv_reference ----------------------------------------------------------------------

@pytest.mark.parametrize("k, strides, padding, shape, mask_channels", [
    (3, 1, "same", (2, 7, 6, 3), 1),
    (3, 2, "same", (1, 8, 7, 2), 2),
    (5, 2, "valid", (2, 11, 9, 3), 1),
])
def test_reference_agrees_with_the_library_layer_in_float64(k, strides, padding, shape, mask_channels):
    rng = np.random.default_rng(k + strides)
    x = rng.random(shape)
    mask = (rng.random(shape[:3] + (mask_channels,)) > 0.4).astype(np.float64)
    mask[0, :k + 1, :k + 1] = 0.0                               # windows with no valid value
    kernel, bias = rng.normal(size=(k, k, shape[3], 4)), rng.normal(size=4)
    layer = layers.PConv2D(4, k, strides=strides, padding=padding, dtype="float64")
    layer.build([x.shape, mask.shape])
    layer.set_weights([kernel, bias])
    want_x, want_m = (np.asarray(t) for t in layer([x, mask]))
    got_x, got_m = pconv_reference(x, mask, kernel, bias, strides, padding)
    assert got_x.shape == want_x.shape and got_m.shape == want_m.shape
    # the layer computes sum(M) and the ratio in float32 even in float64 mode: round-off ~1e-7
    np.testing.assert_allclose(got_x, want_x, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got_m, want_m)
    assert (got_m == 0).any() and (got_m == 1).any()


def test_reference_hand_computed_values():
    x = np.ones((1, 3, 3, 2))
    mask = np.zeros((1, 3, 3, 1))
    mask[0, 0, :] = 1.0                                          # 3 valid pixels, 2 channels each
    kernel, bias = np.ones((3, 3, 2, 1)), np.array([0.5])
    out, new_mask = pconv_reference(x, mask, kernel, bias, padding="valid")
    # sum(M) = 6, Wᵀ(X⊙M) = 6, sum(1) = 18: 6 · 18/6 + 0.5
    assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == pytest.approx(18.5)
    assert new_mask[0, 0, 0, 0] == 1.0

    out, new_mask = pconv_reference(np.ones((1, 3, 3, 2)), np.ones((1, 3, 3, 1)), kernel, bias)
    # "same": a corner window sees 4 pixels (8 values): 8 · 18/8 + 0.5; the centre 18 + 0.5
    assert out[0, 0, 0, 0] == pytest.approx(18.5) and out[0, 1, 1, 0] == pytest.approx(18.5)

    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    one = np.ones((1, 3, 3, 1))
    out, _ = pconv_reference(x, one, np.ones((3, 3, 1, 1)), np.zeros(1))
    # top-left window holds 1, 2, 4, 5 (4 of 9 values): 12 · 9/4 = 27
    assert out[0, 0, 0, 0] == pytest.approx(27.0)

    holes = np.zeros((1, 3, 3, 1))
    x[0, 1, 1, 0] = np.nan                                       # ignored: it is a hole
    out, new_mask = pconv_reference(x, holes, np.ones((3, 3, 1, 1)), np.array([2.0]))
    assert np.all(out == 0.0) and np.all(new_mask == 0.0)


def test_reference_stride_2_same_puts_the_odd_padding_row_at_the_bottom():
    x = np.arange(4.0).reshape(1, 4, 1, 1)                       # rows 0, 1, 2, 3
    kernel = np.zeros((3, 1, 1, 1))
    kernel[0] = 1.0                                              # picks the window's top row
    out, _ = pconv_reference(x, np.ones_like(x), kernel, np.zeros(1), strides=2)
    # 4 rows, k 3, stride 2: pad 1 row in all, at the bottom: windows start at rows 0 and 2
    np.testing.assert_allclose(out[0, :, 0, 0], [0.0, 2.0 * 3 / 2])   # second window: rows 2, 3 + pad


# --- set_kernel_and_bias ------------------------------------------------------------------

def test_set_kernel_and_bias_on_the_library_layer():
    layer = layers.PConv2D(2, 3)
    layer.build([(1, 5, 5, 3), (1, 5, 5, 1)])
    kernel, bias = np.full((3, 3, 3, 2), 0.25, np.float32), np.array([1.0, -1.0], np.float32)
    set_kernel_and_bias(layer, kernel, bias)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    np.testing.assert_array_equal(layer.bias.numpy(), bias)


class BiasFirst(keras.layers.Layer):
    """Weights created bias first, under names of the student's own; a fixed mask kernel of the same shape."""

    def build(self, input_shape):
        self.b = self.add_weight(shape=(3,), name="offset")
        self.ones = self.add_weight(shape=(3, 3, 2, 3), initializer="ones", trainable=False, name="ones")
        self.w = self.add_weight(shape=(3, 3, 2, 3), name="weights")

    def call(self, inputs):
        return inputs


def test_set_kernel_and_bias_finds_the_weights_whatever_their_order_and_names():
    layer = BiasFirst()
    layer.build([(1, 4, 4, 2), (1, 4, 4, 1)])
    kernel, bias = np.arange(54, dtype=np.float32).reshape(3, 3, 2, 3), np.array([7.0, 8.0, 9.0], np.float32)
    set_kernel_and_bias(layer, kernel, bias)
    np.testing.assert_array_equal(layer.w.numpy(), kernel)
    np.testing.assert_array_equal(layer.b.numpy(), bias)
    assert np.all(layer.ones.numpy() == 1.0)                     # the fixed kernel is left alone


def test_set_kernel_and_bias_says_what_it_found():
    with pytest.raises(ValueError, match="build it first"):
        set_kernel_and_bias(BiasFirst(), np.zeros((3, 3, 2, 3)), np.zeros(3))
    layer = BiasFirst()
    layer.build([(1, 4, 4, 2), (1, 4, 4, 1)])
    with pytest.raises(ValueError, match=r"no trainable weights of the kernel's shape \(5, 5, 2, 3\).*weights"):
        set_kernel_and_bias(layer, np.zeros((5, 5, 2, 3)), np.zeros(3))
    source = layers.SourcePConv2D(3, 3)
    source.build([(1, 4, 4, 2), (1, 4, 4, 2)])                   # kernel and mask_kernel share a shape: the
    set_kernel_and_bias(source, np.ones((3, 3, 2, 3)), np.zeros(3))   # one named "kernel" is chosen
    np.testing.assert_array_equal(source.kernel.numpy(), 1.0)


# --- correct student layers ---------------------------------------------------------------

class ConvCount(keras.layers.Layer):
    """Correct: ops.conv of X⊙M, and sum(M) from a one-channel all-ones window sum of the channel-summed mask.

    The hooks (known, count, ratio, output, new_mask) let the wrong variants below change one step.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="same", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.k, self.strides, self.padding = filters, kernel_size, strides, padding

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.channels = features_shape[-1]
        self.kernel = self.add_weight(shape=(self.k, self.k, self.channels, self.filters), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def conv(self, value, kernel):
        return ops.conv(value, kernel, strides=self.strides, padding=self.padding)

    def known(self, x, mask):
        return ops.where(mask > 0, x, 0.0)

    def count(self, mask):
        full = ops.broadcast_to(mask, (*mask.shape[:3], self.channels))
        return self.conv(ops.sum(full, axis=-1, keepdims=True), ops.ones((self.k, self.k, 1, 1)))

    def ratio(self, count):
        return ops.divide_no_nan(float(self.k * self.k * self.channels), count)

    def output(self, conv, ratio, new_mask):
        return (conv * ratio + self.bias) * new_mask

    def new_mask(self, count):
        return ops.cast(count > 0, "float32")

    def call(self, inputs):
        x, mask = inputs
        count = self.count(mask)
        new_mask = self.new_mask(count)
        conv = self.conv(self.known(x, mask), self.kernel)
        return [self.output(conv, self.ratio(count), new_mask), new_mask]


class DepthwiseCount(keras.layers.Layer):
    """Correct, written differently: bias created first, a fixed (k, k, C_in, 1) ones kernel held as a
    non-trainable weight and applied with a depthwise convolution, the holes chosen by ops.where."""

    def __init__(self, filters, kernel_size, strides=1, padding="same", **kwargs):
        super().__init__(**kwargs)
        self.filters, self.size, self.step, self.pad = filters, kernel_size, strides, padding

    def build(self, input_shape):
        c_in = input_shape[0][-1]
        self.b = self.add_weight(shape=(self.filters,), name="b")
        self.ones = self.add_weight(shape=(self.size, self.size, c_in, 1), initializer="ones", trainable=False,
                                    name="window")
        self.w = self.add_weight(shape=(self.size, self.size, c_in, self.filters), name="w")

    def call(self, inputs):
        x, mask = inputs
        valid = ops.cast(mask > 0.5, x.dtype) * ops.ones_like(x)           # one mask value per feature value
        per_channel = ops.depthwise_conv(valid, self.ones, strides=self.step, padding=self.pad)
        count = ops.sum(per_channel, axis=-1, keepdims=True)
        window = float(np.prod(self.ones.shape))
        summed = ops.conv(ops.where(valid > 0, x, ops.zeros_like(x)), self.w, strides=self.step, padding=self.pad)
        out = ops.where(count > 0, summed * window / ops.maximum(count, 1.0) + self.b, 0.0)
        return out, ops.where(count > 0, 1.0, 0.0)


@pytest.mark.parametrize("layer_class", [ConvCount, DepthwiseCount])
def test_correct_layers_pass(layer_class, capsys):
    assert check_pconv_layer(layer_class) is True
    assert capsys.readouterr().out.strip() == CORRECT


def test_the_library_layer_is_switched_back_on_after_the_check(capsys):
    check_pconv_layer(ConvCount)
    x, mask = np.ones((1, 4, 4, 1), np.float32), np.ones((1, 4, 4, 1), np.float32)
    assert np.asarray(layers.PConv2D(1, 3)([x, mask])[1]).shape == (1, 4, 4, 1)


class RecordsTF32(ConvCount):
    seen = []

    def call(self, inputs):
        import tensorflow as tf

        RecordsTF32.seen.append(tf.config.experimental.tensor_float_32_execution_enabled())
        return super().call(inputs)


@pytest.mark.parametrize("enabled", [True, False])
def test_tf32_is_off_while_the_check_runs_and_restored_after(enabled, capsys):
    # On Ampere+ GPUs TF32 convolutions (10-bit mantissa) would make a correct layer miss the tolerance.
    import tensorflow as tf

    before = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(enabled)
    try:
        RecordsTF32.seen = []
        assert check_pconv_layer(RecordsTF32) is True
        assert RecordsTF32.seen and not any(RecordsTF32.seen)
        assert tf.config.experimental.tensor_float_32_execution_enabled() is enabled
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(before)


# --- not attempted, raises, not a layer, delegation ---------------------------------------

class Unattempted(ConvCount):
    def call(self, inputs):
        x_out, mask_out = None, None
        return [x_out, mask_out]


class ReturnsNothing(ConvCount):
    def call(self, inputs):
        pass


@pytest.mark.parametrize("layer_class", [None, Unattempted, ReturnsNothing])
def test_not_attempted(layer_class, capsys):
    assert check_pconv_layer(layer_class) is None
    assert capsys.readouterr().out.strip() == NOT_ATTEMPTED


class TwoArguments(ConvCount):
    def call(self, x, mask):
        return super().call([x, mask])


class Raises(ConvCount):
    def ratio(self, count):
        raise ZeroDivisionError("my own bug")


def test_a_raising_layer_is_reported(capsys):
    assert check_pconv_layer(TwoArguments) is False
    out = capsys.readouterr().out
    assert "TwoArguments(4, 3, strides=1, padding='same')([x, mask]) raised TypeError: " in out
    assert "called as layer([x, mask])" in out
    assert check_pconv_layer(Raises) is False
    out = capsys.readouterr().out
    assert "raised ZeroDivisionError" in out and "my own bug" in out and len(out.strip().splitlines()) == 1


class NoKwargs(ConvCount):
    def __init__(self, filters, kernel_size):
        super().__init__(filters, kernel_size)


def test_an_init_without_strides_is_reported(capsys):
    assert check_pconv_layer(NoKwargs) is False
    out = capsys.readouterr().out
    assert "NoKwargs(4, 3, strides=1, padding='same') raised TypeError" in out and "**kwargs" in out


def test_not_a_layer_class(capsys):
    assert check_pconv_layer(ConvCount(4, 3)) is False
    assert "pass the class itself" in capsys.readouterr().out
    assert check_pconv_layer(lambda filters, k, **kw: None) is False
    assert "expected a class" in capsys.readouterr().out

    class Plain:
        pass

    assert check_pconv_layer(Plain) is False
    assert "class Plain(keras.layers.Layer)" in capsys.readouterr().out


class Subclass(layers.PConv2D):
    pass


class Wrapper(keras.layers.Layer):
    def __init__(self, filters, kernel_size, strides=1, padding="same", **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.PConv2D(filters, kernel_size, strides=strides, padding=padding)

    def call(self, inputs):
        return self.inner(inputs)


class CallsInside(ConvCount):
    def call(self, inputs):
        return layers.PConv2D(self.filters, self.k, strides=self.strides, padding=self.padding)(inputs)


@pytest.mark.parametrize("layer_class, how", [(Subclass, "subclasses"), (Wrapper, "calls one"),
                                              (CallsInside, "calls one")])
def test_using_the_library_layer_fails(layer_class, how, capsys):
    assert check_pconv_layer(layer_class) is False
    out = capsys.readouterr().out
    assert "uses course_lib's layers.PConv2D" in out and how in out


# --- the named mistakes -------------------------------------------------------------------

class TrainableMaskKernel(ConvCount):
    def build(self, input_shape):
        super().build(input_shape)
        self.mask_kernel = self.add_weight(shape=(self.k, self.k, self.channels, self.filters),
                                           initializer="ones", name="mask_kernel")


class ReturnsOnlyFeatures(ConvCount):
    def call(self, inputs):
        return super().call(inputs)[0]


class MaskPerFilter(ConvCount):
    def new_mask(self, count):
        return ops.repeat(ops.cast(count > 0, "float32"), self.filters, axis=-1)

    def output(self, conv, ratio, new_mask):
        return (conv * ratio + self.bias) * new_mask[..., :1]


class MaskUnchanged(ConvCount):
    def call(self, inputs):
        return [super().call(inputs)[0], inputs[1]]


class FrozenKernel(ConvCount):
    def build(self, input_shape):
        self.channels = input_shape[0][-1]
        self.kernel = self.add_weight(shape=(self.k, self.k, self.channels, self.filters), trainable=False)
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros")


class Swapped(ConvCount):
    def call(self, inputs):
        return super().call(inputs)[::-1]


class FeaturesNotStrided(ConvCount):
    def call(self, inputs):
        x, mask = inputs
        count = self.count(mask)
        conv = ops.conv(self.known(x, mask), self.kernel, padding=self.padding)
        return [conv, self.new_mask(count)]


class MaskNotStrided(ConvCount):
    def call(self, inputs):
        x_out, _ = super().call(inputs)
        count = ops.conv(ops.sum(ops.broadcast_to(inputs[1], inputs[0].shape), axis=-1, keepdims=True),
                         ops.ones((self.k, self.k, 1, 1)), padding=self.padding)
        return [x_out, self.new_mask(count)]


class NoneWhenValid(ConvCount):
    def call(self, inputs):
        return None if self.padding == "valid" else super().call(inputs)


class MaskNotDone(ConvCount):
    def call(self, inputs):
        return [super().call(inputs)[0], None]


class SourceScale(ConvCount):                          # bug 1: sum(1) = k·k
    def ratio(self, count):
        return ops.divide_no_nan(float(self.k * self.k), count)


class BiasInHoles(ConvCount):                          # bug 3
    def output(self, conv, ratio, new_mask):
        return conv * ratio * new_mask + self.bias


class MultipliesByMask(ConvCount):                     # NaN · 0 = NaN
    def known(self, x, mask):
        return x * mask


class Unscaled(ConvCount):
    def output(self, conv, ratio, new_mask):
        return (conv + self.bias) * new_mask


class Unmasked(ConvCount):
    def known(self, x, mask):
        return x


class ScaledBias(ConvCount):
    def output(self, conv, ratio, new_mask):
        return (conv + self.bias) * ratio


class SymmetricPadding(ConvCount):                     # the source's explicit (k-1)//2 padding
    def conv(self, value, kernel):
        if self.padding == "valid":
            return super().conv(value, kernel)
        p = (self.k - 1) // 2
        value = ops.pad(value, [(0, 0), (p, p), (p, p), (0, 0)])
        return ops.conv(value, kernel, strides=self.strides, padding="valid")


class DividesByZero(ConvCount):
    def ratio(self, count):
        return float(self.k * self.k * self.channels) / count


class FullWindowMask(ConvCount):
    def new_mask(self, count):
        return ops.cast(count >= self.k * self.k * self.channels, "float32")

    def output(self, conv, ratio, new_mask):
        return (conv * ratio + self.bias) * ops.cast(ratio > 0, "float32")


class InvertedMask(ConvCount):
    def call(self, inputs):
        x_out, new_mask = super().call(inputs)
        return [x_out, 1.0 - new_mask]


class FractionMask(ConvCount):
    def call(self, inputs):
        x_out, _ = super().call(inputs)
        return [x_out, self.count(inputs[1]) / float(self.k * self.k * self.channels)]


class FirstChannelOnly(ConvCount):                     # right with one-channel masks only
    def count(self, mask):
        return self.channels * self.conv(mask[..., :1], ops.ones((self.k, self.k, 1, 1)))


class OneChannelCountedOnce(ConvCount):                # sum(M) from a 1-channel mask without the C_in
    def count(self, mask):
        return self.conv(ops.sum(mask, axis=-1, keepdims=True), ops.ones((self.k, self.k, 1, 1)))


class RandomMaskKernel(ConvCount):
    def build(self, input_shape):
        super().build(input_shape)
        self.window = self.add_weight(shape=(self.k, self.k, 1, 1), initializer="glorot_uniform",
                                      trainable=False, name="window")

    def count(self, mask):
        full = ops.broadcast_to(mask, (*mask.shape[:3], self.channels))
        return self.conv(ops.sum(full, axis=-1, keepdims=True), self.window)


@pytest.mark.parametrize("layer_class, hint", [
    (TrainableMaskKernel, "trains mask_kernel (3, 3, 3, 4) besides the kernel and the bias"),
    (ReturnsOnlyFeatures, "must return a list of two tensors [x_out, mask_out], yours returned one tensor"),
    (MaskPerFilter, "the same for every filter, so it has ONE channel"),
    (MaskUnchanged, "returned the input mask unchanged"),
    (FrozenKernel, "(4,)): your kernel is not trainable: drop trainable=False"),
    (Swapped, "the outputs are swapped"),
    (FeaturesNotStrided, "it is not strided, pass strides=self.strides"),
    (MaskNotStrided, "mask_out has shape (2, 10, 7, 1), expected (N, H', W', 1) = (2, 5, 4, 1)"),
    (NoneWhenValid, "returned None with kernel 7, stride 1, padding 'valid'"),
    (MaskNotDone, "returned None as mask_out"),
    (SourceScale, "(the source's bug 1"),
    (BiasInHoles, "not the bias (the source's bug 3)"),
    (MultipliesByMask, "ops.where(mask > 0, x, 0) instead of multiplying"),
    (Unscaled, "the sum is not rescaled"),
    (Unmasked, "the holes are not masked out"),
    (ScaledBias, "the bias is rescaled too"),
    (SymmetricPadding, "stride-2 windows sit on the wrong pixels"),
    (DividesByZero, "a division by zero"),
    (FullWindowMask, "1 only where the whole window is valid"),
    (InvertedMask, "your new mask is inverted"),
    (FractionMask, "values other than 0 and 1"),
    (FirstChannelOnly, "with a mask of C_in channels"),
    (OneChannelCountedOnce, "with a one-channel mask your outputs are C_in times too large"),
    (RandomMaskKernel, "wrong values of x_out for kernel 3, stride 1, padding 'same', a one-channel mask"),
])
def test_each_mistake_gets_its_hint(layer_class, hint, capsys):
    assert check_pconv_layer(layer_class) is False
    out = capsys.readouterr().out
    assert out.startswith("✗") and len(out.strip().splitlines()) == 1
    assert hint in out


class SourceBugs1And3(SourceScale):                    # the source's layer with its mask kernel fixed
    def output(self, conv, ratio, new_mask):
        return conv * ratio * new_mask + self.bias


class Bug1AndNaN(SourceScale):
    def known(self, x, mask):
        return x * mask


class SourceBugs1To3(SourceBugs1And3):                 # the source's three bugs
    def build(self, input_shape):
        super().build(input_shape)
        self.mask_kernel = self.add_weight(shape=(self.k, self.k, self.channels, self.filters), initializer="ones")


def test_hints_follow_the_order_of_diagnosis(capsys):
    assert check_pconv_layer(SourceBugs1To3) is False
    assert "source's bug 2" in capsys.readouterr().out
    assert check_pconv_layer(SourceBugs1And3) is False
    assert "source's bug 1" in capsys.readouterr().out
    assert check_pconv_layer(Bug1AndNaN) is False
    assert "source's bug 1" in capsys.readouterr().out


class EagerOnly(ConvCount):
    """Right on arrays, but it turns a tensor into NumPy: no symbolic tensor or graph can do that."""

    def ratio(self, count):
        count = np.asarray(count)
        return np.where(count > 0, self.k * self.k * self.channels / np.maximum(count, 1.0), 0.0).astype(np.float32)


def test_model_problem_says_why_a_correct_layer_would_fail_in_a_model(capsys):
    from course_lib.checks.partial_convolution import model_problem

    assert check_pconv_layer(EagerOnly) is True                   # right on arrays: the exercise is solved
    assert "no .numpy()" in model_problem(EagerOnly)
    assert "batch size is None" in model_problem(ConvCount)      # broadcast_to a shape holding None
    assert model_problem(DepthwiseCount) is None
    assert model_problem(layers.PConv2D) is None
