"""The course's inpainting networks: the source's two, layer by layer, and one beyond it.

* ``"vanilla"`` -- :func:`build_vanilla_unet`: a plain U-Net that sees the image with its
  holes painted white, and must guess which pixels are holes.
* ``"pconv"`` -- :func:`build_pconv_unet`: a U-Net of partial convolutions that also gets
  the mask, and never looks at hole pixels.
* ``"improved"`` -- :func:`build_improved_unet`: a *hybrid*: the course's own diffusion fill,
  then a U-Net that sees the fill and the mask and learns only the correction.

All output images float32 in [0, 1] (float32 also under mixed precision),
shape (N, H, W, 3), with H and W multiples of 16 (four halvings). :func:`prepare_inputs`
turns images and masks into what each network takes. Mask convention: float, 1 = valid
pixel, 0 = hole.
"""

from __future__ import annotations

import numpy as np

import keras
from keras import layers
from keras import ops

from course_lib import names, validation
from course_lib.hybrid_layers import CorrectFill, DiffusionFill
from course_lib.layers import BroadcastMask, PConv2D, SourcePConv2D

__all__ = [
    "block_table",
    "build_improved_unet",
    "build_model",
    "build_pconv_unet",
    "build_vanilla_unet",
    "constant_channels",
    "prepare_inputs",
]

#: Filters of the vanilla U-Net's encoder levels (the decoder mirrors them) and bottleneck.
VANILLA_FILTERS = (32, 64, 128, 256)
VANILLA_BOTTLENECK = 512

#: Initial bias of the PConv U-Net's last PConv2D (``decoder_output``), see :func:`build_pconv_unet`.
DECODER_OUTPUT_BIAS = 0.5

#: The PConv U-Net's decoder blocks: (filters of the first, of the second PConv2D).
PCONV_DECODER_FILTERS = ((256, 128), (128, 64), (64, 32), (32, 3))


def _check_input_shape(input_shape, model):
    """``(H, W, 3)`` with H, W multiples of 16 -> a tuple of ints, else ValueError."""
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] != 3 or any(s is None or s <= 0 or s % 16 for s in shape[:2]):
        raise ValueError(
            f"{model} needs input_shape=(H, W, 3) with H and W multiples of 16 (four 2x "
            f"downsamplings), got {input_shape!r}; e.g. input_shape=(32, 32, 3)."
        )
    return shape


def _conv_relu(filters):
    return layers.Conv2D(filters, 3, padding="same", activation="relu")


def _output_layer():
    """Conv2D(3, 3, sigmoid): images in [0, 1]. Computed in float32 even under mixed
    precision (Keras's advice for the last layer), so outputs and losses stay float32."""
    return layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="output", dtype="float32")


def build_vanilla_unet(input_shape=(32, 32, 3)):
    """The source's plain U-Net: 7,760,931 parameters for 32x32 RGB images.

    Input: the masked image (N, H, W, 3) float32 in [0, 1], holes painted white (see
    :func:`prepare_inputs`). Output: the inpainted image (N, H, W, 3) in [0, 1].

    Encoder: 4 levels of [Conv2D(f, 3, relu) x 2, MaxPooling2D(2)], f = 32, 64, 128, 256;
    bottleneck: Conv2D(512, 3, relu) x 2; decoder: 4 levels of [Conv2DTranspose(f, 2,
    strides=2), concatenate with the encoder level's last conv output, Conv2D(f, 3, relu)
    x 2], f = 256, 128, 64, 32; output: Conv2D(3, 3, sigmoid). All 'same' padding.

    The network has no idea where the holes are except from their white colour: it must
    both find and fill them.
    """
    shape = _check_input_shape(input_shape, "build_vanilla_unet")
    inputs = keras.Input(shape, name="masked_image")
    x, skips = inputs, []
    for f in VANILLA_FILTERS:
        x = _conv_relu(f)(_conv_relu(f)(x))
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_relu(VANILLA_BOTTLENECK)(_conv_relu(VANILLA_BOTTLENECK)(x))
    for f, skip in zip(reversed(VANILLA_FILTERS), reversed(skips)):
        x = layers.Conv2DTranspose(f, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = _conv_relu(f)(_conv_relu(f)(x))
    outputs = _output_layer()(x)
    return keras.Model(inputs, outputs, name="vanilla_unet")


def build_pconv_unet(input_shape=(32, 32, 3), *, pconv_layer=PConv2D):
    """The source's partial-convolution U-Net: 859,863 parameters, all trainable.

    Inputs: ``(masked image, mask)``, the image (N, H, W, 3) float32 in [0, 1] with holes
    at 0 and the mask (N, H, W, 1), 1 = valid (see :func:`prepare_inputs`; a list works
    too). Output: the inpainted image (N, H, W, 3) in [0, 1].

    Encoder, 4 blocks: PConv2D(32, 3) -> relu, PConv2D(32, 3, strides=2) -> relu (layers
    ``conv1`` ... ``conv8``): every encoder layer has 32 filters, the only widths that give the
    source's reported 1,718,679 parameters (its slides do not show the code). Decoder, 4 blocks
    with (f1, f2) = (256, 128), (128, 64), (64, 32), (32, 3): UpSampling2D(2) of features and
    mask, concatenate [skip, upsampled] (features and masks alike), PConv2D(f1, 3) -> relu,
    PConv2D(f2, 3) -> relu; the skips are the first PConv of each encoder block (``conv7``,
    ``conv5``, ``conv3``, ``conv1``), the layers ``conv9`` ... ``conv15`` and
    ``decoder_output``. Then Conv2D(3, 3, sigmoid).

    Initialisation: Keras' defaults (Glorot-uniform kernels, zero biases), except that
    ``decoder_output`` starts with biases of :data:`DECODER_OUTPUT_BIAS` (0.5), which keeps
    its three ReLU channels alive (``tests/test_recipes.py`` checks it in a real run).

    Masks in the decoder: our :class:`PConv2D` returns a one-channel mask, but the
    concatenated features have C_skip + C_up channels. Each mask is repeated over its
    features' channels (:class:`BroadcastMask`) before the concatenation, so the next
    layer counts valid *values* exactly as in the formula. (Its cost is small: the
    repeated mask is the size of the features it masks.)

    Parameter count -- why the source reported 1,718,679 and this model has 859,863:
    the 16 image kernels hold 858,816 weights, the biases 963 and the final Conv2D 84,
    in all 859,863. A layer that also keeps, in every PConv layer, an all-ones mask kernel of
    the same shape as its image kernel, tracked as a (trainable!) weight, adds another
    858,816, and 859,863 + 858,816 = 1,718,679 (the slides do not show the source's layer;
    a popular Keras port of partial convolution does exactly this). Build with
    ``pconv_layer=SourcePConv2D`` to get the source's model (it takes a 3-channel mask).

    Args:
        input_shape: (H, W, 3), H and W multiples of 16.
        pconv_layer: the partial-convolution class, :class:`PConv2D` or
            :class:`SourcePConv2D` (which takes and returns masks with one channel per
            feature channel, so the model's mask input then has 3 channels).
    """
    shape = _check_input_shape(input_shape, "build_pconv_unet")
    source_style = isinstance(pconv_layer, type) and issubclass(pconv_layer, SourcePConv2D)
    mask_channels = shape[-1] if source_style else 1
    image = keras.Input(shape, name="masked_image")
    mask = keras.Input((*shape[:2], mask_channels), name="mask")

    def pconv_relu(filters, strides, name, x, m):
        # decoder_output has only 3 ReLU channels; one whose input drifts below zero everywhere
        # outputs 0, gets no gradient and never comes back (with the hole-weighted loss they
        # died within an epoch).  A bias of DECODER_OUTPUT_BIAS starts them well inside the
        # active region: an initial value, not a change of the architecture.
        bias = DECODER_OUTPUT_BIAS if name == "decoder_output" else 0.0
        # After conv1 every PConv2D's input is built from PConv2D outputs after a ReLU (by
        # upsampling and concatenation), so it is 0 in the holes already: no need to zero it.
        speed_up = {} if source_style or name == "conv1" else {"input_holes_are_zero": True}
        x, m = pconv_layer(filters, 3, strides=strides, padding="same", name=name,
                           bias_initializer=keras.initializers.Constant(bias), **speed_up)([x, m])
        return layers.ReLU()(x), m

    x, m, skips = image, mask, []
    for block in range(4):
        skip_x, skip_m = pconv_relu(32, 1, f"conv{2 * block + 1}", x, m)
        x, m = pconv_relu(32, 2, f"conv{2 * block + 2}", skip_x, skip_m)
        skips.append((skip_x, skip_m))

    names = iter([f"conv{i}" for i in range(9, 16)] + ["decoder_output"])
    for (f1, f2), (skip_x, skip_m) in zip(PCONV_DECODER_FILTERS, reversed(skips)):
        up_x, up_m = layers.UpSampling2D(2)(x), layers.UpSampling2D(2)(m)
        x = layers.Concatenate()([skip_x, up_x])
        m = layers.Concatenate()(
            [BroadcastMask()([skip_m, skip_x]), BroadcastMask()([up_m, up_x])]
        )
        x, m = pconv_relu(f1, 1, next(names), x, m)
        x, m = pconv_relu(f2, 1, next(names), x, m)
    outputs = _output_layer()(x)
    return keras.Model([image, mask], outputs, name="pconv_unet")


#: The improved network's encoder widths, one per resolution (32, 16, 8, 4 for CIFAR-10).
IMPROVED_FILTERS = (32, 64, 128, 256)


def build_improved_unet(input_shape=(32, 32, 3)):
    """The course's hybrid network: diffusion fill + a U-Net that learns the correction. 2,129,507 parameters.

    Inputs: ``(masked image, mask)`` as for ``"pconv"`` (image (N, H, W, 3) float32 in [0, 1]
    with holes at 0, mask (N, H, W, 1), 1 = valid). Output: (N, H, W, 3) float32 in [0, 1],
    the known pixels exactly the input's.

    1. :class:`~course_lib.hybrid_layers.DiffusionFill` fills the holes the classical way
       (no weights).
    2. A U-Net sees ``concat([fill, mask])`` (4 channels): the fill has no holes, so plain
       convolutions work, and the mask tells them which pixels are guesses. Encoder: 4 levels
       of widths 32, 64, 128, 256, each a stride-2 3x3 convolution (except the first) and a
       3x3 convolution, ReLU; at the coarsest level a third, dilated (rate 2) convolution so
       that the bottleneck sees the whole image. Decoder: per level a 2x2 transposed
       convolution, the encoder's features *added* (cheaper than concatenated), a 3x3
       convolution. Last, a 3x3 convolution to 3 channels that starts at zero.
    3. :class:`~course_lib.hybrid_layers.CorrectFill` adds that correction to the fill (in
       logit space, so the result stays in [0, 1]) and pastes the known pixels back.

    Because the last layer starts at zero, the untrained network *is* diffusion inpainting,
    and training can only move it from there.
    """
    shape = _check_input_shape(input_shape, "build_improved_unet")
    image = keras.Input(shape, name="masked_image")
    mask = keras.Input((*shape[:2], 1), name="mask")
    fill = DiffusionFill(name="diffusion_fill", dtype="float32")([image, mask])
    x = layers.Concatenate(name="fill_and_mask")([fill, mask])

    skips = []
    for level, f in enumerate(IMPROVED_FILTERS):
        if level:
            x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
        else:
            x = _conv_relu(f)(x)
        x = _conv_relu(f)(x)
        skips.append(x)
    x = layers.Conv2D(IMPROVED_FILTERS[-1], 3, padding="same", dilation_rate=2,
                      activation="relu", name="bottleneck_dilated")(x)
    for f, skip in zip(reversed(IMPROVED_FILTERS[:-1]), reversed(skips[:-1])):
        x = layers.Conv2DTranspose(f, 2, strides=2, padding="same")(x)
        x = _conv_relu(f)(layers.Add()([x, skip]))
    correction = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros",
                               name="correction", dtype="float32")(x)
    outputs = CorrectFill(name="output", dtype="float32")([fill, correction, image, mask])
    return keras.Model([image, mask], outputs, name="improved_unet")


def constant_channels(model, inputs, *, layer=None, relu=False, tolerance=1e-6):
    """The channels of ``model``'s output (or of layer ``layer``'s) that do not vary at all.

    A channel that takes the same value at every pixel of every image in ``inputs`` carries no
    information: for a ReLU layer it is *dead* (its pre-activation is below zero everywhere, so
    it outputs 0 and gets no gradient again).  Use it after training to check that no layer
    collapsed.

    Args:
        model: a ``keras.Model``.
        inputs: what the model takes (e.g. :func:`prepare_inputs`), a batch of several images.
        layer: a layer name; its (first) output is checked. ``None``: the model's output.
        relu: apply ``max(x, 0)`` first (for layers followed by a ReLU, such as the PConv
            U-Net's ``decoder_output``).
        tolerance: spread (max - min) at or below which a channel counts as constant.

    Returns:
        A sorted list of channel indices (empty when every channel varies).
    """
    probe = model if layer is None else keras.Model(model.input, model.get_layer(layer).output)
    values = probe(inputs)
    if isinstance(values, (list, tuple)):
        values = values[0]  # PConv2D returns [features, mask]
    values = np.asarray(values, dtype=np.float32)
    if relu:
        values = np.maximum(values, 0.0)
    flat = values.reshape(-1, values.shape[-1])
    spread = flat.max(axis=0) - flat.min(axis=0)
    return [int(c) for c in np.flatnonzero(spread <= tolerance)]


def _first_shape(tensors):
    """The shape (without the batch axis) of a layer's first input or output tensor."""
    first = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
    return tuple(first.shape[1:])


def _layer_sizes(layer):
    """(spatial size of the first input, of the first output, output shape): None where unknown.

    The spatial size is the height of a 4-D tensor (N, H, W, C); a layer called more than once
    has no single input or output, and counts as unknown.
    """
    try:
        in_shape = () if isinstance(layer, keras.layers.InputLayer) else _first_shape(layer.input)
        out_shape = _first_shape(layer.output)
    except (AttributeError, ValueError):
        return None, None, None
    size = lambda shape: shape[0] if len(shape) == 3 else None  # noqa: E731
    return size(in_shape), size(out_shape), out_shape


def _format_shape(shape):
    return "×".join("?" if d is None else str(d) for d in shape)


def _weighted_layer_kinds(block_layers):
    """'Conv2DTranspose, 2 Conv2D': the classes of the layers with weights, runs counted, in order."""
    runs = []
    for layer in block_layers:
        if not layer.weights:
            continue
        kind = type(layer).__name__
        if runs and runs[-1][0] == kind:
            runs[-1][1] += 1
        else:
            runs.append([kind, 1])
    return ", ".join(kind if n == 1 else f"{n} {kind}" for kind, n in runs)


def block_table(model):
    """A compact table of a U-Net-like model, one row per block: Markdown, readable as plain text.

    Blocks follow the spatial size. A layer with weights that keeps it belongs to the block of
    that size, a layer that shrinks it (a pooling, a stride-2 convolution) to the block of its
    input size, and a layer that enlarges it (an upsampling, a transposed convolution) to the
    block of its output size; a layer without weights that keeps the size (a ReLU, a
    concatenation) stays in the current block. The first enlarging layer ends the encoder and
    starts the decoder. The
    encoder's last block is called the bottleneck when it is smaller than every decoder block.
    The layers that produce the model's outputs get a row of their own, ``output``.

    Columns: the block; its output shape (that of its last layer with weights, the features
    for a layer that also returns a mask; without the batch axis); the layers with weights,
    by class; its parameters (``layer.count_params()`` summed). Below: the model's total
    (``model.count_params()``) and its trainable parameters.

    Args:
        model: a functional ``keras.Model`` (built from ``keras.Input``), such as those of
            :func:`build_model`.

    Returns:
        str: a Markdown table; ``print`` it.
    """
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise TypeError(
            f"block_table needs a functional keras.Model built from keras.Input, got "
            f"{type(model).__name__}; e.g. block_table(models.build_model('vanilla'))."
        )
    output_layers = {id(t._keras_history.operation) for t in model.outputs}
    blocks, phase, size = [], "encoder", None  # blocks: [phase, size, layers]
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        in_size, out_size, _ = _layer_sizes(layer)
        if id(layer) in output_layers:
            blocks.append(["output", out_size, [layer]])
            continue
        if in_size is not None and out_size is not None and out_size > in_size:
            phase, size = "decoder", out_size
        elif in_size is not None and out_size is not None and out_size < in_size:
            size = in_size
        elif layer.weights or not blocks:
            size = out_size
        else:  # a layer without weights that keeps the size (a ReLU, a concatenation): no new block
            size = blocks[-1][1]
        if blocks and blocks[-1][0] == phase and blocks[-1][1] == size:
            blocks[-1][2].append(layer)
        else:
            blocks.append([phase, size, [layer]])

    decoder_sizes = [s for p, s, _ in blocks if p == "decoder" and s is not None]
    encoder = [i for i, (p, _, _) in enumerate(blocks) if p == "encoder"]
    rows = [("input", ", ".join(_format_shape(t.shape[1:]) for t in model.inputs), "", "")]
    for index, (phase, size, block_layers) in enumerate(blocks):
        name = phase
        if (encoder and index == encoder[-1] and decoder_sizes and size is not None
                and size < min(decoder_sizes)):
            name = "bottleneck"
        if size is not None and phase != "output":
            name += f" {size}×{size}"
        weighted = [layer for layer in block_layers if layer.weights] or block_layers
        shape = _layer_sizes(weighted[-1])[2]
        rows.append((name, "?" if shape is None else _format_shape(shape),
                     _weighted_layer_kinds(block_layers), f"{sum(l.count_params() for l in block_layers):,}"))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    rows += [("total", "", "", f"{model.count_params():,}"), ("trainable", "", "", f"{trainable:,}")]

    header = ("block", "output shape", "layers with weights", "parameters")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(4)]
    line = lambda row: "| " + " | ".join(  # noqa: E731
        cell.rjust(w) if c == 3 else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 1) + ("-" if c < 3 else ":") for c, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def build_model(name, input_shape=(32, 32, 3)):
    """A fresh, uncompiled model by name: ``"vanilla"``, ``"pconv"``, ``"improved"`` or ``"adversarial"``.

    ``"adversarial"`` has the improved network's architecture (it is that network fine-tuned
    against a discriminator, :mod:`course_lib.adversarial`), so it takes the same inputs.
    """
    names.check_model_name(name)
    builders = {"vanilla": build_vanilla_unet, "pconv": build_pconv_unet,
                "improved": build_improved_unet, "adversarial": build_improved_unet}
    return builders[name](input_shape)


def _validate_numpy(images, masks):
    """Float32 copies of NumPy ``images``/``masks`` after :mod:`course_lib.validation`'s checks."""
    images = validation.check_images(images)
    return images, validation.check_masks(masks, images=images)


def prepare_inputs(name, images, masks):
    """What model ``name`` takes, from clean images and their masks.

    Args:
        name: ``"vanilla"``, ``"pconv"`` or ``"improved"``.
        images: (N, H, W, 3) float in [0, 1] -- NumPy arrays or tensors (also inside a
            ``tf.data`` map function).
        masks: (N, H, W, 1) float, 1 = valid, 0 = hole.

    Returns:
        ``"vanilla"``: the masked image ``images * masks + (1 - masks)``, (N, H, W, 3):
        holes are painted white (1.0), so the network must tell a hole from a white pixel
        by itself. ``"pconv"`` and ``"improved"``: the pair
        ``(images * masks, masks)``: holes at 0, plus the mask itself (a tuple, which ``model(...)``, ``model.fit`` and
        ``tf.data`` all accept). Float32; NumPy in, NumPy out.

    NumPy inputs (or lists) are checked -- shapes, masks binary, images in [0, 1] -- and
    raise ValueError; tensors are only cast to float32 (no checks inside a graph).
    """
    names.check_model_name(name)
    if ops.is_tensor(images) or ops.is_tensor(masks):
        images, masks = ops.cast(images, "float32"), ops.cast(masks, "float32")
    else:
        images, masks = _validate_numpy(images, masks)
    known = images * masks
    if name == "vanilla":
        return known + (1.0 - masks)
    return known, masks  # a tuple: in tf.data a list would be stacked into one tensor
