"""Tests of the network checks of course_lib.checks: the student's vanilla U-Net (notebook 05) and PConv U-Net (06).

Each check must pass two correct networks written differently from each other and from
course_lib.models (loops vs. unrolled code, Conv2D activations vs. separate activation layers,
BroadcastMask vs. a mask repeated by broadcasting), and reject each common mistake with its hint.
The wrong networks are the first correct one with one thing changed.
"""

import numpy as np
import pytest

import keras
from keras import layers as kl
from keras import ops

from course_lib import layers, models
from course_lib.checks import networks, pconv_unet, vanilla_unet
from course_lib.checks.feedback import CORRECT, NOT_ATTEMPTED


def _line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"a check prints exactly one line, got {out!r}"
    return out.strip()


# --- notebook 05: the vanilla U-Net ----------------------------------------------------------

def vanilla_loops(input_shape=(32, 32, 3), *, swap=False, skip_after_pool=False, skip_from_first=False,
                  no_skip=False, widths=(32, 64, 128, 256), bottleneck=True, transpose_kernel=2, transpose_strides=2,
                  output_activation="sigmoid", conv_activation="relu", ignore_shape=False):
    """A correct vanilla U-Net written with loops and a helper; each keyword makes one mistake."""
    def conv(filters, x):
        return kl.Conv2D(filters, 3, padding="same", activation=conv_activation)(x)

    inputs = keras.Input((32, 32, 3) if ignore_shape else input_shape)
    x, skips = inputs, []
    for f in widths:
        first = conv(f, x)
        second = conv(f, first)
        x = kl.MaxPooling2D(2)(second)
        skips.append(x if skip_after_pool else first if skip_from_first else second)
    if bottleneck:
        x = conv(512, conv(512, x))
    for f, skip in zip(reversed(widths), reversed(skips)):
        x = kl.Conv2DTranspose(f, transpose_kernel, strides=transpose_strides, padding="same")(x)
        if not no_skip:
            x = kl.Concatenate()([skip, x] if swap else [x, skip])
        x = conv(f, conv(f, x))
    outputs = kl.Conv2D(3, 3, padding="same", activation=output_activation)(x)
    return keras.Model(inputs, outputs)


def vanilla_unrolled(input_shape=(32, 32, 3)):
    """A correct vanilla U-Net unrolled, its conv pairs nested keras.Sequential blocks with separate ReLUs, its
    Conv2DTranspose layers with the default padding ("valid": the same output for a 2x2 kernel with stride 2)."""
    def pair(filters):
        return keras.Sequential([kl.Conv2D(filters, 3, padding="same"), kl.ReLU(),
                                 kl.Conv2D(filters, 3, padding="same"), kl.Activation("relu")])

    image = keras.Input(shape=input_shape)
    e1 = pair(32)(image)
    e2 = pair(64)(kl.MaxPooling2D()(e1))
    e3 = pair(128)(kl.MaxPooling2D()(e2))
    e4 = pair(256)(kl.MaxPooling2D()(e3))
    b = pair(512)(kl.MaxPooling2D()(e4))
    d4 = pair(256)(kl.concatenate([kl.Conv2DTranspose(256, (2, 2), strides=(2, 2))(b), e4]))
    d3 = pair(128)(kl.concatenate([kl.Conv2DTranspose(128, (2, 2), strides=(2, 2))(d4), e3]))
    d2 = pair(64)(kl.concatenate([kl.Conv2DTranspose(64, (2, 2), strides=(2, 2))(d3), e2]))
    d1 = pair(32)(kl.concatenate([kl.Conv2DTranspose(32, (2, 2), strides=(2, 2))(d2), e1]))
    logits = kl.Conv2D(3, (3, 3), padding="same")(d1)
    return keras.Model(image, kl.Activation("sigmoid")(logits))


@pytest.mark.parametrize("build", [vanilla_loops, vanilla_unrolled])
def test_vanilla_unet_accepts_two_different_correct_networks(build, capsys):
    assert vanilla_unet.check_vanilla_unet(build) is True
    assert _line(capsys) == CORRECT


@pytest.mark.parametrize("mistake, hint", [
    ({"no_skip": True}, "a missing skip connection (concatenate the encoder features)"),
    ({"swap": True}, "concatenate [upsampled, skip], upsampled first"),
    ({"skip_after_pool": True}, "BEFORE MaxPooling2D"),
    ({"skip_from_first": True}, "the skip is the SECOND Conv2D output"),
    ({"bottleneck": False}, "the bottleneck is missing"),
    ({"widths": (32, 32, 32, 32)}, "encoder level 2 (64 filters), first 3x3 Conv2D: expected Conv2D 3x3, 32 -> 64"),
    ({"transpose_kernel": 3}, "Conv2DTranspose(f, 2, strides=2): a 2x2 kernel"),
    ({"transpose_strides": 1}, "Conv2DTranspose needs strides=2"),
    ({"output_activation": None}, "the output Conv2D needs activation='sigmoid'"),
    ({"conv_activation": None}, "the 3x3 Conv2D layers need activation='relu'"),
    ({"ignore_shape": True}, "your model ignores input_shape"),
])
def test_vanilla_unet_names_each_mistake(mistake, hint, capsys):
    def build(input_shape=(32, 32, 3)):
        return vanilla_loops(input_shape, **mistake)

    assert vanilla_unet.check_vanilla_unet(build) is False
    line = _line(capsys)
    assert line.startswith("✗") and hint in line


def test_vanilla_unet_a_network_calling_the_library_is_refused(capsys):
    code = models.build_vanilla_unet.__code__
    assert vanilla_unet.check_vanilla_unet(lambda input_shape=(32, 32, 3): models.build_vanilla_unet(input_shape)) \
        is False
    assert "calls course_lib's models.build_vanilla_unet" in _line(capsys)
    assert vanilla_unet.check_vanilla_unet(lambda input_shape=(32, 32, 3): models.build_model("vanilla")) is False
    assert "calls course_lib's models.build_model" in _line(capsys)
    assert models.build_vanilla_unet.__code__ is code  # switched back on afterwards


def test_vanilla_unet_not_attempted_raising_and_not_a_function(capsys):
    assert vanilla_unet.check_vanilla_unet(lambda input_shape=(32, 32, 3): None) is None
    assert _line(capsys) == NOT_ATTEMPTED
    assert vanilla_unet.check_vanilla_unet(None) is None
    assert _line(capsys) == NOT_ATTEMPTED

    def broken(input_shape=(32, 32, 3)):
        raise TypeError("unsupported operand")

    assert vanilla_unet.check_vanilla_unet(broken) is False
    assert "raised TypeError: unsupported operand" in _line(capsys)
    assert vanilla_unet.check_vanilla_unet(vanilla_loops()) is False
    assert "pass the function itself" in _line(capsys)


def test_vanilla_variants_rewire_the_library_network():
    """The wrong variants the check compares with start from the library network's exact computation."""
    library = models.build_vanilla_unet()
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    weighted = networks.weighted_layers(library)
    right = vanilla_unet._vanilla_forward(weighted, images)
    assert networks.max_difference(right, library(images)) < 1e-6
    swapped = vanilla_unet._vanilla_forward(weighted, images, swap=True)
    assert networks.max_difference(swapped, right) > 1e-4


# --- notebook 06: the PConv U-Net ---------------------------------------------------------------

def pconv_loops(pconv_layer, input_shape=(32, 32, 3), *, swap=False, repeat_masks=True, encoder_filters=(32,) * 4,
                no_skip=False, input_mask_everywhere=False, upsample_mask=True, relu=True,
                output_activation="sigmoid", up_mask_only=False, ignore_shape=False, reuse_block_mask=False):
    """A correct PConv U-Net written with loops and BroadcastMask; each keyword makes one mistake."""
    if ignore_shape:
        input_shape = (32, 32, 3)
    image = keras.Input(input_shape)
    mask = keras.Input((*input_shape[:2], 1))

    def block(filters, strides, x, m):
        x, new_m = pconv_layer(filters, 3, strides=strides, padding="same")([x, mask if input_mask_everywhere else m])
        return (kl.ReLU()(x) if relu else x), new_m

    x, m, skips = image, mask, []
    for f in encoder_filters:
        skip_x, skip_m = block(f, 1, x, m)
        if reuse_block_mask:
            skip_m = m
        x, m = block(f, 2, skip_x, skip_m)
        skips.append((skip_x, skip_m))
    for (f1, f2), (skip_x, skip_m) in zip([(256, 128), (128, 64), (64, 32), (32, 3)], reversed(skips)):
        up_x = kl.UpSampling2D(2)(x)
        up_m = kl.UpSampling2D(2)(m) if upsample_mask else m
        features = [up_x] if no_skip else [skip_x, up_x]
        mask_parts = [up_m] if no_skip else [skip_m, up_m]
        if repeat_masks:
            mask_parts = [layers.BroadcastMask()([pm, px]) for pm, px in zip(mask_parts, features)]
        if swap:
            features, mask_parts = features[::-1], mask_parts[::-1]
        x = features[0] if no_skip else kl.Concatenate()(features)
        if up_mask_only:
            m = layers.BroadcastMask()([up_m, x])
        else:
            m = mask_parts[0] if no_skip else kl.Concatenate()(mask_parts)
        x, m = block(f1, 1, x, m)
        x, m = block(f2, 1, x, m)
    outputs = kl.Conv2D(3, 3, padding="same", activation=output_activation)(x)
    return keras.Model([image, mask], outputs)


class RepeatLike(kl.Layer):
    """A student's own BroadcastMask: the one-channel mask times ones shaped like the features."""

    def call(self, mask, features):
        return mask * ops.ones_like(features)


def pconv_helpers(pconv_layer, input_shape=(32, 32, 3)):
    """A correct PConv U-Net unrolled with helpers: separate Activation layers, masks repeated by broadcasting."""
    height, width, _ = input_shape
    inputs = [keras.Input((height, width, 3), name="image"), keras.Input((height, width, 1), name="mask")]

    def pconv_relu(filters, xm, strides=1):
        x, m = pconv_layer(filters, 3, strides=strides)(list(xm))
        return kl.Activation("relu")(x), m

    def decode(xm, skip, f1, f2):
        up = kl.UpSampling2D()(xm[0]), kl.UpSampling2D()(xm[1])
        x = kl.concatenate([skip[0], up[0]], axis=-1)
        m = kl.concatenate([RepeatLike()(skip[1], skip[0]), RepeatLike()(up[1], up[0])], axis=-1)
        return pconv_relu(f2, pconv_relu(f1, (x, m)))

    s1 = pconv_relu(32, inputs)
    s2 = pconv_relu(32, pconv_relu(32, s1, strides=2))
    s3 = pconv_relu(32, pconv_relu(32, s2, strides=2))
    s4 = pconv_relu(32, pconv_relu(32, s3, strides=2))
    x = pconv_relu(32, s4, strides=2)
    x = decode(x, s4, 256, 128)
    x = decode(x, s3, 128, 64)
    x = decode(x, s2, 64, 32)
    x = decode(x, s1, 32, 3)
    logits = kl.Conv2D(3, 3, padding="same")(x[0])
    return keras.Model(inputs, kl.Activation("sigmoid")(logits))


@pytest.mark.parametrize("build", [pconv_loops, pconv_helpers])
def test_pconv_unet_accepts_two_different_correct_networks(build, capsys):
    assert pconv_unet.check_pconv_unet(build) is True
    assert _line(capsys) == CORRECT


@pytest.mark.parametrize("mistake, hint", [
    ({"no_skip": True}, "a missing skip connection (concatenate the encoder features)"),
    ({"swap": True}, "concatenate [skip, upsampled], skip first"),
    ({"repeat_masks": False}, "repeat each mask over its features' channels before concatenating (BroadcastMask)"),
    ({"encoder_filters": (32, 64, 128, 256)}, "every encoder layer has 32 filters, the source's quirk"),
    ({"input_mask_everywhere": True}, "carry the mask"),
    ({"upsample_mask": False}, "upsample both the features and the mask"),
    ({"relu": False}, "apply a ReLU after every partial convolution"),
    ({"output_activation": None}, "the output Conv2D needs activation='sigmoid'"),
    ({"up_mask_only": True}, "the decoder's mask is the skip's mask and the upsampled mask"),
    ({"reuse_block_mask": True}, "carry the mask: give each partial convolution the mask returned by the previous"),
    ({"ignore_shape": True}, "your model ignores input_shape"),
])
def test_pconv_unet_names_each_mistake(mistake, hint, capsys):
    def build(pconv_layer, input_shape=(32, 32, 3)):
        return pconv_loops(pconv_layer, input_shape, **mistake)

    assert pconv_unet.check_pconv_unet(build) is False
    line = _line(capsys)
    assert line.startswith("✗") and hint in line


def test_pconv_unet_must_use_the_class_it_is_given(capsys):
    def ignores_the_class(pconv_layer, input_shape=(32, 32, 3)):
        return pconv_loops(layers.PConv2D, input_shape)

    assert pconv_unet.check_pconv_unet(ignores_the_class) is False
    assert "use the pconv_layer you were given" in _line(capsys)


def test_pconv_unet_a_network_calling_the_library_is_refused(capsys):
    def delegates(pconv_layer, input_shape=(32, 32, 3)):
        return models.build_pconv_unet(input_shape, pconv_layer=pconv_layer)

    code = models.build_pconv_unet.__code__
    assert pconv_unet.check_pconv_unet(delegates) is False
    assert "calls course_lib's models.build_pconv_unet" in _line(capsys)
    assert models.build_pconv_unet.__code__ is code


def test_pconv_unet_needs_the_mask_as_second_input(capsys):
    def image_only(pconv_layer, input_shape=(32, 32, 3)):
        full = pconv_loops(pconv_layer, input_shape)
        image = keras.Input(input_shape)
        return keras.Model(image, full([image, ops.ones_like(image[..., :1])]))

    assert pconv_unet.check_pconv_unet(image_only) is False
    assert "your model has 1 input, the source's two inputs, [masked image, mask]" in _line(capsys)


def test_pconv_unet_not_attempted_and_raising(capsys):
    assert pconv_unet.check_pconv_unet(lambda pconv_layer, input_shape=(32, 32, 3): None) is None
    assert _line(capsys) == NOT_ATTEMPTED

    def broken(pconv_layer, input_shape=(32, 32, 3)):
        return pconv_layer(32, 3)(keras.Input(input_shape))  # called on one tensor, not [x, m]

    assert pconv_unet.check_pconv_unet(broken) is False
    line = _line(capsys)
    assert "raised ValueError" in line and "x, m = pconv(...)([x, m])" in line


def test_pconv_variants_rewire_the_library_network():
    library = models.build_pconv_unet()
    images, masks = pconv_unet._holed_inputs(seed=1)
    weighted = networks.weighted_layers(library)
    right = pconv_unet._pconv_forward(weighted, images, masks)
    assert networks.max_difference(right, library([images, masks])) < 1e-6
    reused = pconv_unet._pconv_forward(weighted, images, masks, reuse_block_mask=True)
    assert networks.max_difference(reused, right) > 1e-4
