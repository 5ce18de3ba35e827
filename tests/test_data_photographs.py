"""Images that are not CIFAR-10: scikit-image's sample photographs and folders of PNG/JPEG files."""

import numpy as np
import pytest
import skimage.data
from PIL import Image

from course_lib import photographs


def _block_mean(image, size):
    """The reference shrink, by hand: the rounded mean of each k x k block (k = side / size)."""
    k = image.shape[0] // size
    blocks = image.astype(np.float64).reshape(size, k, size, k, image.shape[-1])
    return np.floor(blocks.mean(axis=(1, 3)) + 0.5).astype(np.uint8)


def test_a_crop_of_the_astronaut_computed_by_hand():
    crops = photographs.photograph_crops(4, size=16, seed=3, photographs=("astronaut",))
    images = photographs.sample_photographs(4, size=16, seed=3, photographs=("astronaut",))
    astronaut = skimage.data.astronaut()
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8
    for crop, image in zip(crops, images):
        assert crop.photograph == "astronaut" and crop.side % 16 == 0 and 2 <= crop.side // 16 <= photographs.MAX_SHRINK
        assert crop.top + crop.side <= 512 and crop.left + crop.side <= 512
        by_hand = _block_mean(astronaut[crop.top:crop.top + crop.side, crop.left:crop.left + crop.side], 16)
        np.testing.assert_array_equal(image, by_hand)


def test_grey_photographs_become_three_equal_channels():
    images = photographs.sample_photographs(3, seed=1, photographs=("camera", "moon"))
    assert images.shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 1])
    np.testing.assert_array_equal(images[..., 0], images[..., 2])
    crop = photographs.photograph_crops(1, seed=1, photographs=("camera",))[0]
    camera = skimage.data.camera()[crop.top:crop.top + crop.side, crop.left:crop.left + crop.side]
    np.testing.assert_array_equal(images[0, ..., 0], _block_mean(camera[..., None], 32)[..., 0])


def test_the_sample_is_reproducible_nested_and_varied():
    first, again = photographs.sample_photographs(26, seed=5), photographs.sample_photographs(26, seed=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(photographs.sample_photographs(7, seed=5), first[:7])  # a prefix of a larger sample
    assert not np.array_equal(photographs.sample_photographs(26, seed=6), first)
    crops = photographs.photograph_crops(26, seed=5)
    assert [c.photograph for c in crops] == list(photographs.PHOTOGRAPHS) * 2  # each photograph in turn
    assert len({c.side for c in crops}) > 3
    assert len({image.tobytes() for image in first}) == 26


def test_every_photograph_loads_offline_as_rgb():
    for name in photographs.PHOTOGRAPHS:
        image = photographs.photograph(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3 and min(image.shape[:2]) >= 64


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be"),
    ({"n": 2, "size": 1.5}, "size must be"),
    ({"n": 2, "photographs": ("lena",)}, "Unknown photograph 'lena'"),
    ({"n": 2, "photographs": ()}, "photographs is empty"),
    ({"n": 2, "size": 400, "photographs": ("chelsea",)}, "larger than photograph 'chelsea'"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        photographs.sample_photographs(**kwargs)


def test_shrink_is_the_block_mean_and_does_not_alias():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    np.testing.assert_array_equal(photographs.shrink(image, 32), _block_mean(image, 32))
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: finer than a 32 x 32 image can show
    shrunk = photographs.shrink(stripes, 32)
    assert np.all(np.abs(shrunk.astype(int) - 128) <= 1)  # their average grey, not black or white stripes
    assert np.array_equal(np.unique(stripes[::2, ::2]), [255])  # what taking one pixel in two would give


def _write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)


def test_a_folder_written_with_pil_reads_back(tmp_path):
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)       # centre crop: columns 32..95
    grey = rng.integers(0, 256, (32, 32), dtype=np.uint8)            # already 32 x 32, grey
    rgba = rng.integers(0, 256, (96, 96, 4), dtype=np.uint8)         # alpha dropped
    _write(tmp_path / "a_wide.png", wide)
    _write(tmp_path / "b_grey.PNG", grey)
    _write(tmp_path / "c_rgba.png", rgba)
    Image.fromarray(wide[:, :64].copy()).save(tmp_path / "d_photo.jpg", quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "ignored.png", wide)

    images = photographs.load_image_folder(tmp_path)
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], _block_mean(wide[:, 32:96], 32))
    np.testing.assert_array_equal(images[1], np.repeat(grey[..., None], 3, axis=-1))
    np.testing.assert_array_equal(images[2], _block_mean(rgba[..., :3], 32))
    # JPEG is lossy: compare with the block mean of what PIL decodes (another decoder: up to a grey level or so)
    decoded = np.asarray(Image.open(tmp_path / "d_photo.jpg").convert("RGB"))
    assert np.abs(images[3].astype(int) - _block_mean(decoded, 32)).max() <= 2

    squashed = photographs.load_image_folder(tmp_path, size=16, crop=False)
    assert squashed.shape == (4, 16, 16, 3)
    expected = wide.astype(np.float64).reshape(16, 4, 16, 8, 3).mean(axis=(1, 3))  # 4 x 8 blocks of the whole image
    np.testing.assert_array_equal(squashed[0], np.floor(expected + 0.5).astype(np.uint8))


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="No folder at .*missing"):
        photographs.load_image_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="it is a file"):
        photographs.load_image_folder(tmp_path / "file.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"No PNG or JPEG image in .*empty \(1 other file"):
        photographs.load_image_folder(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    _write(broken / "good.png", np.zeros((32, 32, 3), np.uint8))
    (broken / "bad.jpg").write_bytes(b"this is not a JPEG")
    with pytest.raises(ValueError, match=r"Cannot read .*bad\.jpg as an image"):
        photographs.load_image_folder(broken)
    with pytest.raises(ValueError, match="Cannot read .*file.png"):
        photographs.load_image_folder(tmp_path)  # the empty file.png


def _area_weights(n_in, n_out):
    """(n_out, n_in): the share of output pixel i that input pixel j covers (the definition of area averaging)."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        for j in range(n_in):
            weights[i, j] = max(0.0, min(j + 1, (i + 1) * scale) - max(j, i * scale)) / scale
    return weights


def test_shrink_by_a_fraction_averages_the_area_each_pixel_covers():
    image = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    rows, columns = _area_weights(50, 32), _area_weights(70, 32)
    expected = np.einsum("ih,hwc,jw->ijc", rows, image.astype(np.float64), columns)
    assert np.abs(photographs.shrink(image, 32).astype(float) - expected).max() <= 0.5 + 1e-6
