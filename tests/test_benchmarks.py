"""The benchmarks measure what they say: the layer shapes are the U-Net's, and the *floor* row computes
the same values as a partial convolution without its bias (so it is a fair lower bound).

``benchmarks/`` is a folder of scripts, not a package: its shared module is loaded from its file.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import keras
from course_lib.layers import PConv2D

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shapes():
    spec = importlib.util.spec_from_file_location("pconv_shapes", ROOT / "benchmarks" / "pconv_shapes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layer_specs_are_the_sixteen_partial_convolutions_of_the_source(shapes):
    specs = shapes.pconv_layer_specs()
    assert [s[0] for s in specs] == [f"conv{i}" for i in range(1, 16)] + ["decoder_output"]
    # 3x3 kernels and biases of these 16 layers plus the final 3x3 Conv2D from 3 to 3 channels give
    # the source's correct trainable count (its slides report 1,718,679 with the all-ones mask kernels).
    trainable = sum(3 * 3 * c_in * filters + filters for _, (_, _, c_in), _, filters, _, _ in specs)
    assert trainable + (3 * 3 * 3 * 3 + 3) == 859_863
    assert [s[5] for s in specs] == [False] + [True] * 15  # only conv1 sees the user's input


def test_random_mask_is_binary_with_an_all_hole_image_and_equal_channels(shapes):
    mask = shapes.random_mask(np.random.default_rng(0), 8, 16, 12, 5)
    assert mask.shape == (8, 16, 12, 5) and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert not mask[0].any()
    assert 0.5 < mask[1:].mean() < 0.9
    np.testing.assert_array_equal(mask, np.repeat(mask[..., :1], 5, axis=-1))


@pytest.mark.parametrize("strides, mask_channels", [(1, 1), (2, 1), (1, 4)])
def test_floor_equals_a_partial_convolution_without_bias(shapes, strides, mask_channels):
    rng = np.random.default_rng(strides + mask_channels)
    x = rng.normal(size=(3, 9, 8, 4)).astype("float32")
    mask = shapes.random_mask(rng, 3, 9, 8, mask_channels)
    x = x * mask[..., :1]  # 0 in the holes, as the layers after conv1 see it
    kwargs = dict(filters=6, kernel_size=3, strides=strides, padding="same")
    pconv = PConv2D(**kwargs, use_bias=False, input_holes_are_zero=True)
    expected, _ = pconv([x, mask])
    ratio = keras.ops.divide_no_nan(float(pconv.window_size), pconv.valid_count(mask))
    floor = shapes.ConvTimesRatio(ratio, **kwargs)
    floor(x)
    floor.kernel.assign(pconv.kernel)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(floor(x)), keras.ops.convert_to_numpy(expected),
                               rtol=1e-5, atol=1e-6)


def test_geometric_mean_against_hand_computed_values(shapes):
    assert shapes.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert shapes.geometric_mean([1.1]) == pytest.approx(1.1)


def test_spread_over_rounds_against_hand_computed_values(shapes):
    # two layers, three rounds: the per-round geometric means of pconv / conv are 2, 4 and 8
    samples = [{"conv": [1.0, 1.0, 1.0], "pconv": [1.0, 4.0, 16.0]},
               {"conv": [1.0, 2.0, 1.0], "pconv": [4.0, 8.0, 4.0]}]
    median, lower, upper = shapes.spread_over_rounds(samples, "pconv")
    assert median == pytest.approx(4.0)
    assert lower == pytest.approx(2.0) and upper == pytest.approx(8.0)
