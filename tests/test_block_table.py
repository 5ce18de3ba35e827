"""course_lib.models.block_table: one row per block, parameters that add up to Keras' count, known shapes."""

import keras
import numpy as np
import pytest

from course_lib import layers, models


def conv_params(k, c_in, c_out):
    """Weights and biases of a k x k convolution (plain or transposed), by the formula."""
    return k * k * c_in * c_out + c_out


def parse(table):
    """{block: (output shape, layers with weights, parameters as int or None)} and the row order."""
    lines = table.splitlines()
    rows = {}
    for line in lines[2:]:
        assert line.startswith("| ") and line.endswith(" |"), line
        cells = [cell.strip() for cell in line[2:-2].split(" | ")]
        assert len(cells) == 4, line
        rows[cells[0]] = (cells[1], cells[2], int(cells[3].replace(",", "")) if cells[3] else None)
    return rows, list(rows)


def test_vanilla_blocks_shapes_and_parameters_by_the_formula(vanilla):
    rows, order = parse(models.block_table(vanilla))
    assert order == ["input", "encoder 32×32", "encoder 16×16", "encoder 8×8", "encoder 4×4", "bottleneck 2×2",
                     "decoder 4×4", "decoder 8×8", "decoder 16×16", "decoder 32×32", "output", "total", "trainable"]
    assert rows["input"][0] == "32×32×3"
    widths = [3, 32, 64, 128, 256]
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        size = 32 * 32 // c_out
        assert rows[f"encoder {size}×{size}"] == (f"{size}×{size}×{c_out}", "2 Conv2D",
                                                  conv_params(3, c_in, c_out) + conv_params(3, c_out, c_out))
    assert rows["bottleneck 2×2"] == ("2×2×512", "2 Conv2D", conv_params(3, 256, 512) + conv_params(3, 512, 512))
    for below, c_out in zip([512, 256, 128, 64], [256, 128, 64, 32]):
        size = 32 * 32 // c_out
        expected = conv_params(2, below, c_out) + conv_params(3, 2 * c_out, c_out) + conv_params(3, c_out, c_out)
        assert rows[f"decoder {size}×{size}"] == (f"{size}×{size}×{c_out}", "Conv2DTranspose, 2 Conv2D", expected)
    assert rows["output"] == ("32×32×3", "Conv2D", conv_params(3, 32, 3))
    assert rows["total"][2] == rows["trainable"][2] == vanilla.count_params() == 7_760_931
    blocks = [rows[name][2] for name in order[1:-2]]
    assert sum(blocks) == vanilla.count_params()


def test_pconv_blocks_follow_the_stride_two_layers(pconv):
    rows, order = parse(models.block_table(pconv))
    assert rows["input"][0] == "32×32×3, 32×32×1"
    assert "bottleneck 2×2" not in rows  # the 2 x 2 features come out of conv8, in the 4 x 4 block
    assert [rows[f"encoder {s}×{s}"][0] for s in (32, 16, 8, 4)] == ["16×16×32", "8×8×32", "4×4×32", "2×2×32"]
    assert rows["encoder 32×32"][1:] == ("2 PConv2D", conv_params(3, 3, 32) + conv_params(3, 32, 32))
    assert rows["decoder 4×4"] == ("4×4×128", "2 PConv2D", conv_params(3, 64, 256) + conv_params(3, 256, 128))
    assert rows["decoder 32×32"][0] == "32×32×3"
    assert rows["output"] == ("32×32×3", "Conv2D", conv_params(3, 3, 3))
    assert rows["total"][2] == rows["trainable"][2] == pconv.count_params() == 859_863
    assert sum(rows[name][2] for name in order[1:-2]) == 859_863


def test_source_layer_counts_its_mask_kernels():
    source = models.build_pconv_unet(pconv_layer=layers.SourcePConv2D)
    rows, _ = parse(models.block_table(source))
    assert rows["total"][2] == source.count_params() == 1_718_679
    assert rows["encoder 32×32"][1] == "2 SourcePConv2D"


def test_trainable_row_leaves_out_non_trainable_weights_and_a_small_unet_has_its_blocks():
    image = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(image)
    x = keras.layers.BatchNormalization()(x)        # 4 + 4 trainable, 4 + 4 non-trainable
    skip = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(2)(skip)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Concatenate()([x, skip])
    out = keras.layers.Conv2D(3, 1, name="out")(x)
    model = keras.Model(image, out)
    rows, order = parse(models.block_table(model))
    assert order == ["input", "encoder 8×8", "bottleneck 4×4", "decoder 8×8", "output", "total", "trainable"]
    assert rows["encoder 8×8"] == ("8×8×4", "Conv2D, BatchNormalization", conv_params(3, 3, 4) + 16)
    assert rows["bottleneck 4×4"] == ("4×4×8", "Conv2D", conv_params(3, 4, 8))
    assert rows["decoder 8×8"] == ("8×8×12", "", 0)  # no weights: the shape of its last layer
    assert rows["output"] == ("8×8×3", "Conv2D", conv_params(1, 12, 3))
    assert rows["total"][2] == model.count_params() == 112 + 16 + 296 + 39
    assert rows["trainable"][2] == model.count_params() - 8
    assert int(sum(np.prod(w.shape) for w in model.trainable_weights)) == rows["trainable"][2]


def test_plain_text_without_escape_codes_and_aligned(vanilla):
    table = models.block_table(vanilla)
    assert "\x1b" not in table
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1  # every row padded to the same width
    assert lines[1].replace("|", "").replace("-", "").replace(":", "") == ""


def test_refuses_what_is_not_a_functional_model():
    with pytest.raises(TypeError, match="functional keras.Model"):
        models.block_table(keras.layers.Conv2D(3, 3))
