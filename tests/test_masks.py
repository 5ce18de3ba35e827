"""Tests for course_lib.masks.

References are independent of the code under test: hole ratios are recounted by
hand, stroke masks are compared with the source material's own generator (legacy
``np.random`` + ``cv2.line``), boxes with hand-built arrays, and the evaluation set
with a checksum pinned here as a literal.
"""

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from course_lib import config, masks

# The evaluation masks' sha256, pinned: if it changes, results are no longer
# comparable with earlier ones.  Change it only on purpose (see scripts/make_eval_masks.py).
EVAL_MASKS_SHA256 = "a8ca17074a4f3ce06588796d7efcaea71cb14cecae4964737a86a2ad1c8fb12b"
EVAL_KEYS = ["0.01-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6", "strokes"]


def counted_hole_ratio(mask_batch):
    """Hole ratio by plain counting of zeros, per mask."""
    n, height, width = mask_batch.shape[:3]
    return np.array([np.sum(m == 0) / (height * width) for m in mask_batch])


def source_stroke_masks(n, seed):
    """The source material's mask generator, as it was written (legacy np.random, cv2)."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        mask = np.full((32, 32), 255, np.uint8)
        for _ in range(rng.randint(1, 10)):
            x1, x2 = rng.randint(1, 32), rng.randint(1, 32)
            y1, y2 = rng.randint(1, 32), rng.randint(1, 32)
            thickness = rng.randint(1, 3)
            cv2.line(mask, (x1, y1), (x2, y2), 1, thickness)
        out.append(mask == 255)  # True = valid
    return np.array(out, np.float32)[..., None]


# --------------------------------------------------------------------------- all families


@pytest.mark.parametrize("family", ["strokes", "irregular", "boxes"])
@pytest.mark.parametrize("size", [32, 48])
def test_shape_dtype_values(family, size):
    m = masks.make_masks(family, 7, size=size, seed=0)
    assert m.shape == (7, size, size, 1) and m.dtype == np.float32
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert np.all(counted_hole_ratio(m) > 0)  # every mask has a hole


@pytest.mark.parametrize("family", ["strokes", "irregular", "boxes"])
def test_same_seed_same_masks_other_seed_other_masks(family):
    first = masks.make_masks(family, 20, seed=5)
    np.testing.assert_array_equal(first, masks.make_masks(family, 20, seed=5))
    assert not np.array_equal(first, masks.make_masks(family, 20, seed=6))


def test_families_and_unknown_family():
    assert set(masks.MASK_FAMILIES) == {"strokes", "irregular", "boxes", "mixed"}
    with pytest.raises(ValueError, match=r"'blobs'.*boxes.*irregular.*mixed.*strokes"):
        masks.make_masks("blobs", 3)


def test_zero_masks_and_bad_counts():
    assert masks.stroke_masks(0).shape == (0, 32, 32, 1)
    with pytest.raises(ValueError, match="n must be >= 0"):
        masks.irregular_masks(-1)
    with pytest.raises(TypeError, match="n must be an int"):
        masks.box_masks(2.0)


# --------------------------------------------------------------------------- strokes


def test_strokes_match_the_source_generator_in_distribution():
    ours = counted_hole_ratio(masks.stroke_masks(3000, seed=0))
    source = counted_hole_ratio(source_stroke_masks(3000, seed=0))
    assert abs(ours.mean() - source.mean()) < 0.01
    np.testing.assert_allclose(np.percentile(ours, [10, 50, 90]), np.percentile(source, [10, 50, 90]), atol=0.02)
    assert ours.max() < 0.6  # nine 2-pixel lines cannot cover much more


def test_strokes_are_at_most_nine_connected_lines():
    for mask in masks.stroke_masks(300, seed=1)[..., 0]:
        holes = (mask == 0).astype(np.uint8)
        n_labels, _ = cv2.connectedComponents(holes, connectivity=8)
        assert 1 <= n_labels - 1 <= 9  # label 0 is the background


# --------------------------------------------------------------------------- irregular


@pytest.mark.parametrize("hole_range", [(0.01, 0.1), (0.1, 0.5), (0.5, 0.6), (0.25, 0.26)])
def test_irregular_hole_ratio_is_inside_the_range(hole_range):
    ratios = counted_hole_ratio(masks.irregular_masks(150, hole_range=hole_range, seed=2))
    lo, hi = hole_range
    assert np.all((ratios >= lo) & (ratios <= hi)), (ratios.min(), ratios.max())


def test_irregular_ratios_spread_over_the_range():
    ratios = counted_hole_ratio(masks.irregular_masks(300, hole_range=(0.1, 0.5), seed=3))
    assert ratios.min() < 0.2 and ratios.max() > 0.4


def test_irregular_default_range_is_0_1_to_0_5():
    ratios = counted_hole_ratio(masks.irregular_masks(100, seed=4))
    assert ratios.min() >= 0.1 and ratios.max() <= 0.5


@pytest.mark.parametrize("hole_range", [(0.5, 0.4), (-0.1, 0.2), (0.2, 1.5), (0.3001, 0.3002)])
def test_irregular_rejects_impossible_ranges(hole_range):
    with pytest.raises(ValueError, match="hole_range"):
        masks.irregular_masks(2, hole_range=hole_range)


# --------------------------------------------------------------------------- boxes


def test_random_boxes_are_single_filled_rectangles():
    for mask in masks.box_masks(200, seed=7)[..., 0]:
        rows, cols = np.nonzero(mask == 0)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert len(rows) == height * width  # the bounding box is all hole
        assert 4 <= height <= 16 and 4 <= width <= 16  # size // 8 .. size // 2


def test_fixed_box_size():
    for mask in masks.box_masks(50, box_size=(5, 7), seed=8)[..., 0]:
        rows, cols = np.nonzero(mask == 0)
        assert len(rows) == 35 and np.ptp(rows) == 4 and np.ptp(cols) == 6


@pytest.mark.parametrize("size", [32, 64])
def test_centered_box_is_the_context_encoder_square(size):
    expected = np.ones((size, size), np.float32)
    expected[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 0
    for mask in masks.box_masks(3, size=size, centered=True)[..., 0]:
        np.testing.assert_array_equal(mask, expected)


def test_box_size_out_of_range():
    with pytest.raises(ValueError, match="box_size"):
        masks.box_masks(2, box_size=40)


# --------------------------------------------------------------------------- hole_ratio, validate_masks


def test_hole_ratio_against_counting():
    binary = np.random.default_rng(0).integers(0, 2, size=(6, 9, 11)).astype(np.float32)
    expected = [np.sum(m == 0) / 99 for m in binary]
    for shaped in (binary, binary[..., None]):
        ratios = masks.hole_ratio(shaped)
        assert ratios.dtype == np.float64 and ratios.shape == (6,)
        np.testing.assert_allclose(ratios, expected)


def test_validate_adds_channel_and_converts():
    out = masks.validate_masks(np.ones((2, 8, 8), bool))
    assert out.shape == (2, 8, 8, 1) and out.dtype == np.float32 and np.all(out == 1)
    images = np.zeros((2, 8, 8, 3), np.float32)
    assert masks.validate_masks(np.zeros((2, 8, 8, 1)), images=images).shape == (2, 8, 8, 1)


def test_validate_rejects_non_binary_values_with_the_convention_and_fix():
    soft = np.full((1, 4, 4, 1), 0.7, np.float32)
    with pytest.raises(ValueError) as caught:
        masks.validate_masks(soft)
    message = str(caught.value)
    assert "1 = valid" in message and "0 = hole" in message
    assert "(mask > 0.5).astype('float32')" in message


def test_validate_hints_at_0_255_masks():
    with pytest.raises(ValueError, match=r"mask > 127"):
        masks.validate_masks(np.full((1, 4, 4), 255, np.uint8))


def test_validate_rejects_nan_and_bad_shapes():
    with pytest.raises(ValueError, match="NaN"):
        masks.validate_masks(np.full((1, 4, 4, 1), np.nan))
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\)"):
        masks.validate_masks(np.ones((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 1\)"):
        masks.validate_masks(np.ones((4, 4)))
    with pytest.raises(ValueError, match="do not match images"):
        masks.validate_masks(np.ones((2, 4, 4, 1)), images=np.ones((2, 5, 4, 3)))
    with pytest.raises(ValueError, match="do not match images"):
        masks.validate_masks(np.ones((3, 4, 4, 1)), images=np.ones((2, 4, 4, 3)))


# --------------------------------------------------------------------------- the evaluation set


@pytest.fixture(scope="module")
def eval_masks():
    return masks.load_eval_masks()


def test_eval_masks_keys_shapes_values(eval_masks):
    assert list(eval_masks) == EVAL_KEYS
    assert masks.eval_mask_names() == EVAL_KEYS
    for group in eval_masks.values():
        assert group.shape == (200, 32, 32, 1) and group.dtype == np.float32
        assert set(np.unique(group)) <= {0.0, 1.0}


def test_eval_masks_lie_in_their_bins(eval_masks):
    assert masks.EVAL_BINS == ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
    for key, (lo, hi) in zip(EVAL_KEYS, masks.EVAL_BINS):
        ratios = counted_hole_ratio(eval_masks[key])
        assert np.all((ratios >= lo) & (ratios <= hi)), key


def test_eval_masks_checksum_is_pinned(eval_masks):
    digest = hashlib.sha256()
    for key in EVAL_KEYS:
        digest.update(key.encode())
        digest.update(eval_masks[key][..., 0].astype(np.uint8).tobytes())
    assert digest.hexdigest() == EVAL_MASKS_SHA256
    assert masks.EVAL_MASKS_SHA256 == EVAL_MASKS_SHA256


#: The OpenCV major version whose drawing reproduces the shipped eval_masks.npz bit for bit.  OpenCV 4.10
#: and 4.12 draw the irregular groups differently (about 10-25 % of their pixels; the stroke group is
#: identical).  Every evaluation reads the shipped file, so scores do not depend on the version.
EVAL_MASKS_OPENCV_MAJOR = 5


needs_the_opencv_of_the_file = pytest.mark.skipif(
    int(cv2.__version__.split(".")[0]) != EVAL_MASKS_OPENCV_MAJOR,
    reason=f"eval_masks.npz is reproduced bit for bit by OpenCV {EVAL_MASKS_OPENCV_MAJOR}.x only "
           f"(here {cv2.__version__}); the evaluations read the shipped file either way")


@needs_the_opencv_of_the_file
def test_eval_masks_are_what_the_recipe_builds(eval_masks):
    built = masks.build_eval_masks()
    assert list(built) == EVAL_KEYS
    for key in EVAL_KEYS:
        np.testing.assert_array_equal(built[key], eval_masks[key])


def test_eval_mask_file_is_small_and_ships_in_the_package():
    path = config.REPO_ROOT / "course_lib" / "data" / "eval_masks.npz"
    assert masks.EVAL_MASKS_PATH == config.PACKAGE_DATA_DIR / "eval_masks.npz" == path
    assert path.stat().st_size < 200_000


@needs_the_opencv_of_the_file
def test_make_eval_masks_script_check_passes():
    script = config.REPO_ROOT / "scripts" / "make_eval_masks.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches" in result.stdout


def test_a_changed_eval_file_is_detected(tmp_path):
    with np.load(masks.EVAL_MASKS_PATH) as stored:
        groups = {key: stored[key].copy() for key in stored.files}
    groups["strokes"][0, 0, 0] ^= 1  # flip one pixel
    changed = tmp_path / "eval_masks.npz"
    np.savez_compressed(changed, **groups)
    with pytest.raises(ValueError, match="EVAL_MASKS_SHA256"):
        masks.load_eval_masks(changed)
    assert masks.load_eval_masks(changed, verify=False)["strokes"].shape == (200, 32, 32, 1)


def test_missing_eval_file_says_how_to_restore(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_eval_masks.py"):
        masks.load_eval_masks(tmp_path / "nope.npz")


def test_mixed_masks_are_half_strokes_half_large_irregular_holes():
    mixed = masks.mixed_masks(400, seed=3)
    assert mixed.shape == (400, 32, 32, 1) and mixed.dtype == np.float32
    ratios = (mixed == 0).mean(axis=(1, 2, 3))  # counted by hand, not with hole_ratio
    assert ratios.max() <= 0.6 + 1e-9
    # strokes rarely cover a quarter of the image; the irregular half spreads up to 0.6
    assert (ratios > 0.3).sum() > 60
    np.testing.assert_array_equal(mixed, masks.make_masks("mixed", 400, seed=3))
    assert not np.array_equal(mixed, masks.mixed_masks(400, seed=4))
