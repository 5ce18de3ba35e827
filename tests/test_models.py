"""Tests of course_lib.models: the source's parameter counts, layer by layer, and the inputs."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from course_lib import models, names
from course_lib.layers import PConv2D, SourcePConv2D


@pytest.fixture(scope="module")
def improved():
    return models.build_improved_unet()


@pytest.fixture(scope="module")
def networks(vanilla, pconv, improved):
    # the adversarial network has the improved one's architecture: the same model serves for both
    return {"vanilla": vanilla, "pconv": pconv, "improved": improved, "adversarial": improved}


def n_params(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def random_batch(n=2, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((n, size, size, 3)).astype("float32")
    masks = np.ones((n, size, size, 1), "float32")
    masks[:, 4:20, 8:14] = 0.0
    masks[1] = 0.0  # an image with no valid pixel at all
    return images, masks


# ----------------------------------------------------------------------------- parameter counts


def test_vanilla_unet_has_the_sources_parameter_count(vanilla):
    assert vanilla.count_params() == 7_760_931
    transposed = [l for l in vanilla.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [(l.filters, l.kernel_size, l.strides) for l in transposed] == [
        (f, (2, 2), (2, 2)) for f in (256, 128, 64, 32)
    ]
    convs = [l for l in vanilla.layers if type(l) is keras.layers.Conv2D]
    assert [l.filters for l in convs] == [32, 32, 64, 64, 128, 128, 256, 256, 512, 512,
                                          256, 256, 128, 128, 64, 64, 32, 32, 3]
    assert convs[-1].kernel_size == (3, 3) and convs[-1].activation.__name__ == "sigmoid"


def test_pconv_unet_has_859863_trainable_parameters_and_no_others(pconv):
    assert n_params(pconv.trainable_weights) == 859_863
    assert pconv.non_trainable_weights == []
    pconvs = [l for l in pconv.layers if isinstance(l, PConv2D)]
    assert n_params(l.kernel for l in pconvs) == 858_816
    assert n_params(l.bias for l in pconvs) == 963


def test_pconv_unet_layers_match_the_source(pconv):
    pconvs = [l for l in pconv.layers if isinstance(l, PConv2D)]
    assert [l.name for l in pconvs] == [f"conv{i}" for i in range(1, 16)] + ["decoder_output"]
    assert [tuple(l.kernel.shape[2:]) for l in pconvs] == [
        (3, 32), (32, 32), (32, 32), (32, 32), (32, 32), (32, 32), (32, 32), (32, 32),
        (64, 256), (256, 128), (160, 128), (128, 64), (96, 64), (64, 32), (64, 32), (32, 3),
    ]
    assert [l.strides[0] for l in pconvs] == [1, 2] * 4 + [1] * 8
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in pconv.layers)
    # The decoder's masks have one channel per feature channel (exact sum(M)).
    for layer in pconvs[8::2]:
        features, mask = layer.input
        assert mask.shape[-1] == features.shape[-1]
    assert pconv.get_layer("output").activation.__name__ == "sigmoid"


def test_source_layer_model_has_the_sources_1718679_parameters():
    model = models.build_pconv_unet(pconv_layer=SourcePConv2D)
    assert model.count_params() == 1_718_679 == 859_863 + 858_816
    assert model.inputs[1].shape[-1] == 3  # the source fed a 3-channel mask
    images, masks = random_batch()
    out = model([images * masks, np.repeat(masks, 3, -1)])
    assert out.shape == (2, 32, 32, 3)


def conv_params(kernel, c_in, c_out):
    return kernel * kernel * c_in * c_out + c_out


def test_improved_network_parameter_count_by_hand(improved):
    encoder = (conv_params(3, 4, 32) + conv_params(3, 32, 32)
               + sum(conv_params(3, a, b) + conv_params(3, b, b)
                     for a, b in ((32, 64), (64, 128), (128, 256)))
               + conv_params(3, 256, 256))  # the dilated bottleneck convolution
    decoder = sum(conv_params(2, a, b) + conv_params(3, b, b)
                  for a, b in ((256, 128), (128, 64), (64, 32)))
    correction = conv_params(3, 32, 3)
    assert improved.count_params() == encoder + decoder + correction == 2_129_507
    assert improved.count_params() < 3_000_000  # the budget


def test_untrained_improved_network_is_diffusion_inpainting(improved):
    """Its last layer starts at zero, so it starts as the classical diffusion fill."""
    from course_lib import classical

    images, masks = random_batch()  # a box hole, and an image that is all hole (-> 0.5 grey)
    out = np.asarray(improved(models.prepare_inputs("improved", images, masks)))
    reference = classical.inpaint_diffusion(images, masks)
    np.testing.assert_array_equal(out[masks[..., 0] == 1], images[masks[..., 0] == 1])
    # The same equation, iterated differently (coarse to fine, 16 steps a level): about one grey level apart.
    assert np.abs(out - reference)[masks[..., 0] == 0].mean() < 0.01
    assert np.abs(out - reference).max() < 0.05


def test_input_shape_errors():
    with pytest.raises(ValueError, match="multiples of 16"):
        models.build_vanilla_unet((30, 30, 3))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        models.build_pconv_unet((32, 32, 1))


# ----------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("name", names.MODEL_NAMES)
def test_outputs_are_images_in_0_1(name, networks):
    model = networks[name]
    images, masks = random_batch()
    out = np.asarray(model(models.prepare_inputs(name, images, masks)))
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1)) and np.all(np.isfinite(out))


def test_pconv_model_never_looks_at_hole_pixels(pconv):
    images, masks = random_batch()
    other = images.copy()
    other[masks[..., 0] == 0] = 0.123  # change only hole pixels
    out1 = pconv(models.prepare_inputs("pconv", images, masks))
    out2 = pconv([other, masks])  # holes not even zeroed: PConv2D masks them itself
    np.testing.assert_allclose(out1, out2, rtol=1e-5, atol=1e-6)


def test_build_model_by_name_is_deterministic():
    images, masks = random_batch()
    outputs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = models.build_model("pconv", input_shape=(16, 16, 3))
        inputs = models.prepare_inputs("pconv", images[:, :16, :16], masks[:, :16, :16])
        outputs.append(np.asarray(model(inputs)))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert models.build_model("vanilla", (16, 16, 3)).name == "vanilla_unet"
    with pytest.raises(ValueError, match="vanilla"):
        models.build_model("unet")


@pytest.mark.parametrize("name", names.MODEL_NAMES)
def test_save_and_load_round_trip(name, networks, tmp_path):
    model = networks[name]
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    inputs = models.prepare_inputs(name, *random_batch())
    np.testing.assert_array_equal(np.asarray(loaded(inputs)), np.asarray(model(inputs)))
    assert loaded.count_params() == model.count_params()


# ----------------------------------------------------------------------------- prepare_inputs


def test_prepare_inputs_by_hand():
    images = np.array([[[[0.2, 0.4, 0.6], [0.1, 0.0, 0.9]]]], "float32")  # (1, 1, 2, 3)
    masks = np.array([[[[1.0], [0.0]]]], "float32")  # second pixel is a hole
    vanilla = models.prepare_inputs("vanilla", images, masks)
    np.testing.assert_array_equal(vanilla, np.float32([[[[0.2, 0.4, 0.6], [1.0, 1.0, 1.0]]]]))
    masked, mask = models.prepare_inputs("pconv", images, masks)
    np.testing.assert_array_equal(masked, np.float32([[[[0.2, 0.4, 0.6], [0.0, 0.0, 0.0]]]]))
    np.testing.assert_array_equal(mask, masks)
    assert vanilla.dtype == masked.dtype == np.float32 and isinstance(masked, np.ndarray)


def test_prepare_inputs_inside_tf_data(pconv):
    images, masks = random_batch(n=4)
    for name in names.MODEL_NAMES:
        expected = models.prepare_inputs(name, images, masks)
        ds = tf.data.Dataset.from_tensor_slices((images, masks)).batch(2)
        ds = ds.map(lambda x, m, name=name: (models.prepare_inputs(name, x, m), x))  # (inputs, target)
        batches = [inputs for inputs, _ in ds]
        if name == "vanilla":
            np.testing.assert_allclose(np.concatenate(batches), expected)
        else:
            for i in range(2):
                np.testing.assert_allclose(np.concatenate([b[i] for b in batches]), expected[i])
            assert pconv(batches[0]).shape == (2, 32, 32, 3)


def test_mixed_precision_outputs_stay_float32():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = models.build_pconv_unet((16, 16, 3))
    finally:
        keras.config.set_dtype_policy(previous)
    images, masks = random_batch(size=16)
    out = model(models.prepare_inputs("pconv", images, masks))
    assert model.get_layer("conv1").compute_dtype == "float16"
    assert out.dtype == "float32" and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "images,masks,match",
    [
        (np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)), "mask\\[..., :1\\]"),
        (np.zeros((8, 8, 3)), np.zeros((8, 8, 1)), r"images\[None\]"),
        (np.zeros((2, 8, 8, 3)), np.full((2, 8, 8, 1), 0.5), "Binarise"),
        (np.full((2, 8, 8, 3), 255.0), np.ones((2, 8, 8, 1)), r"\[0, 1\]"),
        (np.full((2, 8, 8, 3), np.nan), np.ones((2, 8, 8, 1)), "NaN"),
    ],
)
def test_prepare_inputs_rejects_bad_numpy_inputs(images, masks, match):
    with pytest.raises(ValueError, match=match):
        models.prepare_inputs("pconv", images, masks)


def test_prepare_inputs_takes_masks_with_or_without_their_channel_axis():
    images, masks = np.zeros((2, 8, 8, 3)), np.ones((2, 8, 8, 1))
    masks[:, 3:5, 3:5] = 0
    with_axis = models.prepare_inputs("pconv", images, masks)
    without_axis = models.prepare_inputs("pconv", images, masks[..., 0])
    for a, b in zip(with_axis, without_axis):
        np.testing.assert_array_equal(a, b)


def test_prepare_inputs_rejects_unknown_names():
    with pytest.raises(ValueError, match="pconv"):
        models.prepare_inputs("gan", np.zeros((1, 8, 8, 3)), np.ones((1, 8, 8, 1)))
