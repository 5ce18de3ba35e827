"""Partial convolution (Liu et al., 2018) as Keras 3 layers.

Three layers, all written with ``keras.ops`` only (they run on the TensorFlow, JAX and
PyTorch backends):

* :class:`PConv2D` -- the partial convolution of the paper, exactly;
* :class:`SourcePConv2D` -- a replica of the layer the source notebook used (the popular
  Keras port), *with its three bugs*, kept for teaching and for the benchmark;
* :class:`BroadcastMask` -- repeats a one-channel mask over the channels of a feature map,
  so that masks can be concatenated along with their features in a U-Net decoder.

Mask convention (everywhere in the course): float, **1 = valid pixel, 0 = hole**.

The formula, for one output pixel whose k_h x k_w x C_in input window is X with mask M::

    sum(1) = k_h * k_w * C_in                     (the size of a window)
    sum(M) = number of valid values in the window (counted over every channel)

    x' = W^T (X * M) * sum(1) / sum(M) + b        if sum(M) > 0
    x' = 0                                        otherwise
    m' = 1 if sum(M) > 0 else 0

In words: convolve only the valid pixels, and scale the result up by how much of the window
was missing, so that a half-empty window gives the same magnitude as a full one. The new
mask marks every pixel that saw at least one valid input: the holes shrink layer by layer.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import ops

from course_lib import validation

__all__ = ["PConv2D", "SourcePConv2D", "BroadcastMask"]


def _pair(value, name):
    """``3`` or ``(3, 3)`` -> ``(3, 3)``: a tuple of two positive ints."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints, got {value!r}; "
            f"pass for example {name}=3 or {name}=(3, 3)."
        )
    return tuple(int(v) for v in pair)


def _split_pair(layer, inputs):
    """Check that ``inputs`` is ``[features, mask]`` (shapes or tensors) and return both."""
    is_one_shape = isinstance(inputs, tuple) and all(d is None or isinstance(d, int) for d in inputs)
    if is_one_shape or not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        if is_one_shape or not isinstance(inputs, (list, tuple)):
            got = f"one tensor of shape {tuple(getattr(inputs, 'shape', inputs))}"
        else:
            got = f"a {type(inputs).__name__} of {len(inputs)} items"
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} must be called on a list of two tensors "
            f"[features, mask], got {got}; call it as layer([x, mask])."
        )
    return inputs[0], inputs[1]


def _check_shapes(layer, features_shape, mask_shape, mask_channels_ok):
    """Raise ValueError with a fix unless features/mask shapes fit ``layer``.

    ``mask_channels_ok`` is the tuple of accepted mask channel counts.
    """
    kind = type(layer).__name__
    if len(features_shape) != 4 or len(mask_shape) != 4:
        raise ValueError(
            f"{kind} {layer.name!r} expects 4-D tensors (N, H, W, C): got features "
            f"{tuple(features_shape)} and mask {tuple(mask_shape)}; add the missing axes "
            "(a single image needs x[None], a (N, H, W) mask needs mask[..., None])."
        )
    for axis, what in ((1, "height"), (2, "width")):
        f, m = features_shape[axis], mask_shape[axis]
        if f is not None and m is not None and f != m:
            raise ValueError(
                f"{kind} {layer.name!r}: features {what} {f} != mask {what} {m} "
                f"(features {tuple(features_shape)}, mask {tuple(mask_shape)}); the mask must "
                "have the same height and width as the features it masks."
            )
    if mask_shape[-1] not in mask_channels_ok:
        raise ValueError(
            f"{kind} {layer.name!r}: the mask has {mask_shape[-1]} channels but this layer "
            f"accepts {' or '.join(map(str, mask_channels_ok))} (features {tuple(features_shape)}); "
            "pass a one-channel mask (N, H, W, 1) or one with a channel per feature channel."
        )


@keras.saving.register_keras_serializable(package="course_lib")
class PConv2D(keras.layers.Layer):
    """Partial convolution (Liu et al., 2018), exactly as in the paper.

    Called on ``[x, mask]``, returns ``[x_out, mask_out]``::

        x        (N, H, W, C_in)       float (float32, or float16 under mixed precision)
        mask     (N, H, W, 1)          float, 1 = valid, 0 = hole; counts for every channel
              or (N, H, W, C_in)       one mask value per feature value
        x_out    (N, H', W', filters)  same dtype as x
        mask_out (N, H', W', 1)        0./1., always ONE channel

    For each output pixel, with sum(1) = k_h*k_w*C_in and sum(M) = the number of valid
    values in the window (a one-channel mask counts C_in times)::

        x_out = W^T (X*M) * sum(1)/sum(M) + b    and mask_out = 1   where sum(M) > 0
        x_out = 0                                and mask_out = 0   where sum(M) = 0

    What to notice:

    * The border counts as hole: with ``padding="same"`` the zero padding lowers sum(M), so
      border pixels are scaled up -- on a fully valid image this layer and a plain
      ``Conv2D`` with the same weights agree everywhere except on the border.
    * Holes give exactly 0, not the bias. There is no ``activation`` argument: apply the
      activation after the layer (``relu(0) = 0`` keeps the holes at 0).
    * The mask path has no weights and no gradient: it is a fixed function of the input
      mask (``ops.stop_gradient``). The only weights are ``kernel`` and ``bias``.
    * The mask update is cheap: the mask is summed over its channels, then one
      one-channel k x k window sum gives sum(M) for every output pixel at once (the source
      instead convolved it with a C_in x C_out all-ones kernel).
    * No division by zero: ratio = sum(1)/sum(M) is computed with ``divide_no_nan``
      (0 where sum(M) = 0), on a stopped-gradient count, and applied (with the bias) in
      float32 even under ``mixed_float16``, so forward and backward stay finite and holes
      give exactly 0.
    * Masks are expected to be binary (0./1.): sum(M) is then a whole number and
      ``min(sum(M), 1)`` is exactly the new mask.

    Args:
        filters: number of output channels C_out.
        kernel_size: int or (k_h, k_w).
        strides: int or (s_h, s_w).
        padding: ``"same"`` (TensorFlow's rule: for stride 2 the extra padding row/column
            goes at the bottom/right) or ``"valid"``.
        use_bias: add a bias to valid output pixels.
        input_holes_are_zero: promise that the features are already exactly 0 wherever the mask
            is 0 (true of the output of another ``PConv2D`` after a ReLU, and of everything
            built from it by upsampling and concatenation), so the layer skips zeroing them.
            The result is the same; the step costs a pass over the input and its gradient.
            Leave it False for a network's first layer: its input comes from the user and may
            hold anything, NaN included, in the holes.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: as in ``keras.layers.Conv2D``.
        **kwargs: ``name``, ``dtype``, ... as for any Keras layer.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        use_bias=True,
        input_holes_are_zero=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validation.check_positive_int("filters", filters, example=32)
        if str(padding).lower() not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = str(padding).lower()
        self.use_bias = bool(use_bias)
        self.input_holes_are_zero = bool(input_holes_are_zero)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def build(self, input_shape):
        features_shape, mask_shape = _split_pair(self, input_shape)
        channels = features_shape[-1]
        if channels is None:
            raise ValueError(
                f"PConv2D {self.name!r}: the number of feature channels must be known when "
                f"the layer is built, got features shape {tuple(features_shape)}; give the "
                "Input a fixed channel count, e.g. keras.Input((32, 32, 3))."
            )
        _check_shapes(self, features_shape, mask_shape, (1, channels))
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    @property
    def window_size(self):
        """sum(1) = k_h * k_w * C_in, the number of values in a full window (after build)."""
        return self.kernel_size[0] * self.kernel_size[1] * self.kernel.shape[2]

    def valid_count(self, mask):
        """sum(M) for every output pixel: ``(N, H, W, 1 or C_in)`` -> ``(N, H', W', 1)`` float32.

        A one-channel mask is window-summed with a kernel full of C_in (each valid pixel
        counts once per channel); a C_in-channel mask is first summed over its channels.
        """
        mask = ops.cast(mask, "float32")
        weight = float(self.kernel.shape[2])
        if mask.shape[-1] != 1:
            mask, weight = ops.sum(mask, axis=-1, keepdims=True), 1.0
        window = np.full((*self.kernel_size, 1, 1), weight, dtype="float32")
        return ops.conv(mask, window, strides=self.strides, padding=self.padding)

    def call(self, inputs):
        x, mask = _split_pair(self, inputs)
        channels = self.kernel.shape[2]
        if len(x.shape) == 4 and x.shape[-1] != channels:
            raise ValueError(
                f"PConv2D {self.name!r} was built for {channels} feature channels but got "
                f"features {tuple(x.shape)}; use a new layer for a different input."
            )
        _check_shapes(self, x.shape, mask.shape, (1, channels))
        mask = ops.stop_gradient(mask)

        count = self.valid_count(mask)                         # sum(M), float32, (N,H',W',1)
        new_mask = ops.minimum(count, 1.0)                     # 1 where sum(M) > 0, else 0
        ratio = ops.divide_no_nan(float(self.window_size), count)  # sum(1)/sum(M), 0 if sum(M)=0

        # where, not x * mask: a hole may hold NaN or inf (a dead detector pixel), and NaN * 0 = NaN.
        # By the formula the hole's contents must not matter at all.
        if self.input_holes_are_zero:
            known = x
        else:
            known = ops.where(ops.cast(mask, "float32") > 0.5, x, ops.zeros_like(x))
        out = ops.conv(known, self.kernel,
                       strides=self.strides, padding=self.padding)
        # The ratio can reach k*k*C_in and multiplies the activations: in float16 (largest value 65,504)
        # the product could overflow, so under mixed precision it is applied in float32.
        wide = "float32" if self.compute_dtype in ("float16", "bfloat16") else self.compute_dtype
        out = ops.cast(out, wide) * ops.cast(ratio, wide)      # holes: 0, not inf * 0
        if self.use_bias:
            # (out * ratio + b) * m' is out * ratio + b * m' (the ratio is 0 wherever m' is), with
            # one full-size pass fewer: the bias is added to every pixel, then the holes zeroed.
            out = (out + ops.cast(self.bias, wide)) * ops.cast(new_mask, wide)
        return [ops.cast(out, self.compute_dtype), ops.cast(new_mask, self.compute_dtype)]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            use_bias=self.use_bias,
            input_holes_are_zero=self.input_holes_are_zero,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class SourcePConv2D(keras.layers.Layer):
    """The source's partial convolution as the course reconstructs it, bugs included.

    The slides show the network's layer table, not the layer's code: 1,718,679 parameters for the
    U-Net, which is what a layer holding all-ones mask kernels as weights gives.  This replica follows a widely shared
    Keras port that does so; the course's reading, not the source's code.

    Kept to *show* what goes wrong; use :class:`PConv2D` for real work. Called on
    ``[x, mask]`` with ``x`` (N, H, W, C_in) and ``mask`` (N, H, W, C_in) (one mask value
    per feature value, 1 = valid), returns ``[x_out (N, H', W', filters),
    mask_out (N, H', W', filters)]``, the mask clipped to [0, 1] and repeated over the
    ``filters`` output channels. Its computation, line by line as in the port::

        x, mask  = zero-pad both by (k-1)//2 on every side, then convolve with 'valid'
        count    = conv(mask, mask_kernel)            # mask_kernel: ones(k, k, C_in, C_out)
        ratio    = k*k / (count + 1e-8)               # BUG 1: k*k, not k*k*C_in
        mask_out = clip(count, 0, 1)
        x_out    = conv(x * mask, kernel) * ratio * mask_out + bias   # BUG 3: bias in holes

    The three bugs, each checked in ``tests/test_layers.py``:

    1. **Wrong scale.** ``count`` sums the mask over all C_in channels, but the ratio uses
       the window size k*k of ONE channel: a fully valid window is multiplied by
       k*k / (k*k*C_in) = 1/C_in instead of 1 (1/3 on an RGB input, 1/32 after that).
    2. **A trainable mask kernel.** The all-ones ``mask_kernel`` is a trainable weight (in
       TF 2 Keras ``K.ones`` made a variable that the layer tracked): it counts in the
       parameter total and an optimiser changes it, so the "count" drifts away from a
       count. It is also C_in x C_out times larger than needed: the mask convolution costs
       as much as the image convolution.
    3. **Bias in the holes.** The bias is added after the multiplication by the new
       mask, so a window with no valid pixel outputs ``b`` instead of 0.

    Also notice: the explicit symmetric padding centres stride-2 windows on even pixels
    (TF's ``padding="same"`` centres them on odd ones), and under ``mixed_float16`` the
    ``1e-8`` rounds to 0 in float16, so hole windows compute inf * 0 = NaN.

    Args:
        filters, kernel_size, strides, use_bias, kernel_initializer, bias_initializer:
            as in :class:`PConv2D`. ``padding`` must be ``"same"`` (the source always
            padded by (k-1)//2).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if str(padding).lower() != "same":
            raise ValueError(
                f"SourcePConv2D only supports padding='same' (the source always padded by "
                f"(k-1)//2), got {padding!r}; use PConv2D for padding='valid'."
            )
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.window_size = self.kernel_size[0] * self.kernel_size[1]  # BUG 1: no C_in

    def build(self, input_shape):
        features_shape, mask_shape = _split_pair(self, input_shape)
        channels = features_shape[-1]
        _check_shapes(self, features_shape, mask_shape, (channels,))
        shape = (*self.kernel_size, channels, self.filters)
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer=self.kernel_initializer)
        # BUG 2: the all-ones mask kernel is a trainable weight.
        self.mask_kernel = self.add_weight(name="mask_kernel", shape=shape, initializer="ones")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )

    def call(self, inputs):
        x, mask = _split_pair(self, inputs)
        _check_shapes(self, x.shape, mask.shape, (self.kernel.shape[2],))
        p = (self.kernel_size[0] - 1) // 2
        q = (self.kernel_size[1] - 1) // 2
        pads = [(0, 0), (p, p), (q, q), (0, 0)]
        x, mask = ops.pad(x, pads), ops.pad(mask, pads)

        count = ops.conv(mask, self.mask_kernel, strides=self.strides, padding="valid")
        out = ops.conv(x * mask, self.kernel, strides=self.strides, padding="valid")
        ratio = self.window_size / (count + 1e-8)
        new_mask = ops.clip(count, 0.0, 1.0)
        out = out * (ratio * new_mask)
        if self.use_bias:
            out = out + self.bias  # BUG 3: also in hole windows
        return [out, new_mask]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="course_lib")
class BroadcastMask(keras.layers.Layer):
    """Repeat a one-channel mask over the channels of the features it belongs to.

    Called on ``[mask, features]``: ``mask`` (N, H, W, 1) and ``features`` (N, H, W, C)
    give the mask (N, H, W, C) (the same 0./1. value in every channel). A mask that
    already has C channels is returned unchanged.

    Why: a U-Net decoder concatenates two feature maps with different masks. Their
    concatenated mask must say, channel by channel, which values are valid, so that
    :class:`PConv2D` counts sum(M) = C_1 * (window sum of mask 1) + C_2 * (window sum of
    mask 2) -- exactly the formula. Concatenating two one-channel masks would count each
    map as one channel whatever its width.
    """

    def call(self, inputs):
        mask, features = _split_pair(self, inputs)
        channels = features.shape[-1]
        if mask.shape[-1] == channels:
            return mask
        if mask.shape[-1] != 1:
            raise ValueError(
                f"BroadcastMask {self.name!r}: mask {tuple(mask.shape)} must have 1 or "
                f"{channels} channels to match features {tuple(features.shape)}."
            )
        return ops.repeat(mask, channels, axis=-1)
