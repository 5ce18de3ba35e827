"""The classical methods (course_lib.classical, .patch_inpainting, .database_inpainting) against OpenCV and
scikit-image called directly, brute-force loops and exact solutions.

Masks are built by hand here (course convention: 1 = valid, 0 = hole), so these tests do not
depend on course_lib.masks.
"""

import cv2
import numpy as np
import pytest
from skimage.restoration import inpaint_biharmonic as skimage_inpaint_biharmonic

from course_lib import classical, database_inpainting, evaluate, patch_inpainting


def _images(n=3, size=32, seed=0):
    """Smooth random colour images, float32 (n, size, size, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, size // 4, size // 4, 3))
    smooth = coarse.repeat(4, axis=1).repeat(4, axis=2)
    return np.clip(smooth + rng.normal(0, 0.03, smooth.shape), 0, 1).astype(np.float32)


def _masks(n=3, size=32, seed=0):
    """Random boxes and a stroke-like band as holes, float32 (n, size, size, 1), 1 = valid."""
    rng = np.random.default_rng(seed)
    masks = np.ones((n, size, size, 1), np.float32)
    for i in range(n):
        top, left = rng.integers(0, size - 10, 2)
        masks[i, top:top + 10, left:left + 8] = 0
        masks[i, :, (3 * i) % size] = 0            # a one-pixel-wide vertical line
    return masks


# ----------------------------------------------------------------------- shared contract
@pytest.mark.parametrize("name", list(evaluate.CLASSICAL_METHODS))
def test_every_method_keeps_known_pixels_and_returns_float32_in_range(name):
    images, masks = _images(), _masks()
    filled = evaluate.CLASSICAL_METHODS[name](images, masks)
    assert filled.shape == images.shape and filled.dtype == np.float32
    assert filled.min() >= 0 and filled.max() <= 1
    known = masks[..., 0] == 1
    np.testing.assert_array_equal(filled[known], images[known])
    assert np.any(filled[~known] != images[~known])          # the holes were actually filled


@pytest.mark.parametrize("name", list(evaluate.CLASSICAL_METHODS))
def test_no_hole_gives_the_image_back_and_all_hole_gives_gray(name):
    images = _images(n=2)
    masks = np.ones((2, 32, 32, 1), np.float32)
    masks[1] = 0
    filled = evaluate.CLASSICAL_METHODS[name](images, masks)
    np.testing.assert_array_equal(filled[0], images[0])
    np.testing.assert_allclose(filled[1], 0.5)


@pytest.mark.parametrize("name", ["mean fill", "diffusion", "telea"])
def test_masks_without_channel_axis_are_accepted(name):
    images, masks = _images(n=2), _masks(n=2)
    method = evaluate.CLASSICAL_METHODS[name]
    np.testing.assert_array_equal(method(images, masks[..., 0]), method(images, masks))


def test_method_names():
    assert list(evaluate.CLASSICAL_METHODS) == ["mean fill", "diffusion", "telea", "navier-stokes", "biharmonic",
                                                "patch"]
    assert list(classical.SMOOTHING_METHODS) == list(evaluate.CLASSICAL_METHODS)[:5]


# ----------------------------------------------------------------------- mean fill
def test_mean_fill_by_hand():
    image = np.array(
        [[[0.0, 0.2, 1.0], [0.4, 0.2, 0.0]],
         [[0.8, 0.2, 0.5], [0.9, 0.9, 0.9]]], dtype=np.float32)[None]
    mask = np.array([[1, 1], [1, 0]], dtype=np.float32).reshape(1, 2, 2, 1)
    filled = classical.inpaint_mean(image, mask)
    np.testing.assert_allclose(filled[0, 1, 1], [(0.0 + 0.4 + 0.8) / 3, 0.2, (1.0 + 0.0 + 0.5) / 3], rtol=1e-6)


# ----------------------------------------------------------------------- diffusion
def _diffusion_step_brute_force(u, known, dt):
    """One step, pixel by pixel: neighbours outside the image are replaced by the pixel itself."""
    n, h, w, c = u.shape
    out = u.copy()
    for b in range(n):
        for y in range(h):
            for x in range(w):
                if known[b, y, x, 0]:
                    continue
                for ch in range(c):
                    centre = u[b, y, x, ch]
                    neighbours = [
                        u[b, y - 1, x, ch] if y > 0 else centre,
                        u[b, y + 1, x, ch] if y < h - 1 else centre,
                        u[b, y, x - 1, ch] if x > 0 else centre,
                        u[b, y, x + 1, ch] if x < w - 1 else centre,
                    ]
                    out[b, y, x, ch] = centre + dt * (sum(neighbours) - 4 * centre)
    return out


@pytest.mark.parametrize("dt", [0.25, 0.1])
def test_diffusion_step_matches_a_per_pixel_loop(dt):
    rng = np.random.default_rng(3)
    u = rng.random((2, 7, 9, 3))
    known = (rng.random((2, 7, 9, 1)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(classical.diffusion_step(u, known, dt), _diffusion_step_brute_force(u, known, dt))


def test_diffusion_between_two_colours_is_linear_interpolation():
    # Rows 0-1 are colour a, rows 8-9 colour b, rows 2-7 a hole spanning the whole width.
    # No flow through the left/right borders, so the steady state depends on the row only:
    # u'' = 0 between row 1 (= a) and row 8 (= b), a straight line.
    a, b = np.array([0.1, 0.5, 0.9]), np.array([0.7, 0.2, 0.3])
    image = np.zeros((1, 10, 6, 3), np.float32)
    image[0, :2], image[0, 8:] = a, b
    mask = np.ones((1, 10, 6, 1), np.float32)
    mask[0, 2:8] = 0
    filled = classical.inpaint_diffusion(image, mask, n_iter=5000, tol=1e-9)
    rows = np.arange(10)[:, None]
    expected = a + (b - a) * np.clip((rows - 1) / 7, 0, 1)            # (10, 3)
    np.testing.assert_allclose(filled[0], np.broadcast_to(expected[:, None, :], (10, 6, 3)), atol=1e-5)


def test_converged_diffusion_is_harmonic_in_the_hole():
    images, masks = _images(n=2, seed=4), _masks(n=2, seed=4)
    filled = classical.inpaint_diffusion(images, masks, n_iter=20000, tol=1e-8).astype(np.float64)
    padded = np.pad(filled, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    laplacian = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
                 - 4 * filled)
    hole = masks[..., 0] == 0
    assert np.abs(laplacian[hole]).max() < 1e-4
    assert np.abs(laplacian[~hole]).max() > 1e-2          # the known pixels are not harmonic


def test_diffusion_refuses_an_unstable_time_step():
    with pytest.raises(ValueError, match="0.25"):
        classical.inpaint_diffusion(_images(n=1), _masks(n=1), dt=0.3)


# ----------------------------------------------------------------------- library wrappers
def _to_uint8(images):
    return np.round(images * 255).astype(np.uint8)


@pytest.mark.parametrize("method, flag", [(classical.inpaint_telea, cv2.INPAINT_TELEA),
                                          (classical.inpaint_ns, cv2.INPAINT_NS)])
@pytest.mark.parametrize("radius", [3, 5])
def test_opencv_wrappers_match_opencv(method, flag, radius):
    images, masks = _images(), _masks()
    filled = method(images, masks, radius=radius)
    for i in range(len(images)):
        hole = (masks[i, ..., 0] == 0).astype(np.uint8)          # OpenCV: nonzero = hole
        reference = cv2.inpaint(_to_uint8(images[i]), hole, radius, flag).astype(np.float32) / 255
        reference = np.where(masks[i] == 1, images[i], reference)
        np.testing.assert_array_equal(filled[i], reference)


def test_biharmonic_matches_scikit_image():
    images, masks = _images(), _masks()
    filled = classical.inpaint_biharmonic(images, masks)
    for i in range(len(images)):
        hole = masks[i, ..., 0] == 0                              # scikit-image: True = hole
        reference = skimage_inpaint_biharmonic(images[i].astype(np.float64), hole, channel_axis=-1)
        reference = np.where(masks[i] == 1, images[i], reference).astype(np.float32)
        np.testing.assert_array_equal(filled[i], reference)


# ----------------------------------------------------------------------- input checks
@pytest.mark.parametrize("name", list(evaluate.CLASSICAL_METHODS))
def test_bad_inputs_are_refused_with_a_fix(name):
    method = evaluate.CLASSICAL_METHODS[name]
    images, masks = _images(n=1), _masks(n=1)
    with pytest.raises(ValueError, match=r"\[None\]"):
        method(images[0], masks)
    with pytest.raises(ValueError, match="match"):
        method(images, masks[:, :16])
    with pytest.raises(ValueError, match="only 0 and 1"):
        method(images, masks * 0.5)
    with pytest.raises(ValueError, match="/ 255"):
        method(_to_uint8(images), masks)
    with pytest.raises(ValueError, match="255"):
        method(images * 255, masks)
    with_nan = images.copy()
    with_nan[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        method(with_nan, masks)


# ----------------------------------------------------------------------- patch-based (Criminisi)
def _texture(kind, size=32):
    """Two-colour periodic textures, float32 (1, size, size, 3): the truth a patch method can copy."""
    yy, xx = np.mgrid[:size, :size]
    pattern = (xx // 3) % 2 == 0 if kind == "stripes" else (xx // 4 + yy // 4) % 2 == 0
    return np.where(pattern[..., None], [0.9, 0.8, 0.2], [0.1, 0.2, 0.6]).astype(np.float32)[None]


def _box_mask(size, top, left, height, width):
    mask = np.ones((1, size, size, 1), np.float32)
    mask[0, top:top + height, left:left + width] = 0
    return mask


def _hole_psnr(truth, filled, mask):
    hole = mask[..., 0] == 0
    mse = np.mean((truth[hole].astype(np.float64) - filled[hole]) ** 2)
    return np.inf if mse == 0 else 10 * np.log10(1 / mse)


@pytest.mark.parametrize("kind", ["stripes", "checkerboard"])
def test_patch_copying_reproduces_a_periodic_texture_where_biharmonic_blurs(kind):
    truth, mask = _texture(kind), _box_mask(32, 10, 11, 10, 10)
    filled = patch_inpainting.inpaint_patch(truth, mask)
    np.testing.assert_array_equal(filled, truth)
    assert _hole_psnr(truth, classical.inpaint_biharmonic(truth, mask), mask) < 15      # what diffusion gets


def _masked_ssd_by_loop(image, known, target, weight, patch_size):
    """{(y, x) centre of every fully known patch: sum weight * (target - patch)^2}, one patch at a time."""
    r = patch_size // 2
    height, width = known.shape
    ssd = {}
    for y in range(r, height - r):
        for x in range(r, width - r):
            if known[y - r:y + r + 1, x - r:x + r + 1].all():
                patch = image[y - r:y + r + 1, x - r:x + r + 1].astype(np.float64)
                ssd[(y, x)] = float((weight[..., None] * (target - patch) ** 2).sum())
    return ssd


@pytest.mark.parametrize("patch_size", [3, 5])
def test_vectorised_patch_search_chooses_what_a_loop_chooses(patch_size):
    rng = np.random.default_rng(patch_size)
    image = rng.random((12, 14, 3)).astype(np.float32)
    known = np.ones((12, 14), bool)
    known[rng.integers(0, 12, 6), rng.integers(0, 14, 6)] = False
    sources = patch_inpainting._SourcePatches(image, known, patch_size)
    assert 3 <= len(sources) < (12 - patch_size + 1) * (14 - patch_size + 1)     # some patches left out
    for _ in range(5):
        target = rng.random((patch_size, patch_size, 3))
        weight = (rng.random((patch_size, patch_size)) > 0.4).astype(np.float64)
        by_loop = _masked_ssd_by_loop(image, known, target, weight, patch_size)
        assert sorted(by_loop) == sorted(map(tuple, sources.centres.tolist()))
        np.testing.assert_allclose(sources.ssd(target, weight), [by_loop[tuple(c)] for c in sources.centres.tolist()])
        assert tuple(sources.centres[sources.best(target, weight)]) == min(by_loop, key=by_loop.get)


def test_among_equally_good_source_patches_the_nearest_wins():
    image = np.full((12, 14, 3), 0.3, np.float32)
    image[2, 3] = image[9, 10] = 0.8                   # patches holding these differ from the flat ones
    known = np.ones((12, 14), bool)
    sources = patch_inpainting._SourcePatches(image, known, 3)
    target = np.full((3, 3, 3), 0.3)
    weight = np.zeros((3, 3))
    weight[0] = 1                                       # only the top row of the target is known
    by_loop = _masked_ssd_by_loop(image, known, target, weight, 3)
    smallest = min(by_loop.values())
    tied = [c for c in sorted(by_loop) if by_loop[c] <= smallest + 1e-9]
    assert len(tied) > 10
    for centre in [(6, 7), (1, 12), (10, 1)]:
        nearest = min(tied, key=lambda c: (c[0] - centre[0]) ** 2 + (c[1] - centre[1]) ** 2)
        assert tuple(sources.centres[sources.best(target, weight, centre=centre)]) == nearest


def _edge_image():
    """16 x 16: dark left half, bright right half (a vertical edge between columns 7 and 8), and a
    hole of rows 5-10, columns 3-12 that cuts the edge."""
    image = np.full((1, 16, 16, 3), 0.1, np.float32)
    image[:, :, 8:] = 0.9
    return image, _box_mask(16, 5, 3, 6, 10)


def _confidence_by_loop(known, y, x, r):
    """Criminisi's initial confidence: the share of known pixels among the patch's pixels inside the image."""
    height, width = known.shape
    inside = [(j, i) for j in range(y - r, y + r + 1) for i in range(x - r, x + r + 1)
              if 0 <= j < height and 0 <= i < width]
    return sum(known[j, i] for j, i in inside) / len(inside)


def test_the_data_term_starts_where_the_edge_enters_the_hole_and_confidence_alone_at_a_corner():
    image, mask = _edge_image()
    known = mask[0, ..., 0] == 1
    _, with_data = patch_inpainting._patch_fill_one(image[0], known, 5, data_term=True)
    _, without = patch_inpainting._patch_fill_one(image[0], known, 5, data_term=False)
    # Confidence alone: the first target is the front pixel whose patch is the most known (a corner).
    hole = ~known
    front = [(y, x) for y, x in zip(*np.nonzero(hole))
             if any(known[y + dy, x + dx] for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)))]
    confidence = {p: _confidence_by_loop(known, *p, 2) for p in front}
    assert confidence[without[0]] == max(confidence.values())
    assert without[0] in {(5, 3), (5, 12), (10, 3), (10, 12)}
    # With the data term: a target on the top or bottom side whose patch holds the edge.
    assert with_data[0][0] in (5, 10) and 6 <= with_data[0][1] <= 9
    assert with_data != without


def test_patch_continues_a_straight_edge_through_the_hole():
    image, mask = _edge_image()
    filled = patch_inpainting.inpaint_patch(image, mask)
    np.testing.assert_array_equal(filled, image)
    assert np.abs(classical.inpaint_biharmonic(image, mask) - image).max() > 0.1


def test_the_data_term_continues_a_diagonal_line_that_confidence_alone_breaks():
    yy, xx = np.mgrid[:32, :32]
    image = np.where((np.abs(yy - xx) <= 1)[..., None], [0.9, 0.9, 0.9], [0.2, 0.2, 0.2]).astype(np.float32)[None]
    mask = _box_mask(32, 10, 10, 12, 12)
    np.testing.assert_array_equal(patch_inpainting.inpaint_patch(image, mask), image)
    without = patch_inpainting.inpaint_patch(image, mask, data_term=False)
    assert _hole_psnr(image, without, mask) < 30


def test_patch_keeps_known_pixels_is_deterministic_and_stays_in_range():
    images, masks = _images(n=2, seed=5), _masks(n=2, seed=5)
    first = patch_inpainting.inpaint_patch(images, masks, patch_size=7)
    np.testing.assert_array_equal(first, patch_inpainting.inpaint_patch(images, masks, patch_size=7))
    known = masks[..., 0] == 1
    np.testing.assert_array_equal(first[known], images[known])
    assert first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1
    # Every hole pixel holds a colour that occurs among the image's known pixels (it was copied).
    for i in range(2):
        known_colours = {tuple(c) for c in images[i][known[i]].tolist()}
        assert {tuple(c) for c in first[i][~known[i]].tolist()} <= known_colours


def test_patch_falls_back_to_diffusion_when_no_patch_is_entirely_known():
    images = _images(n=2, size=8, seed=6)
    masks = np.ones((2, 8, 8, 1), np.float32)
    masks[:, ::3, :] = 0                           # every 5 x 5 patch holds a hole row
    filled = patch_inpainting.inpaint_patch(images, masks)
    for i in range(2):                             # diffusion stops when its whole batch has converged
        np.testing.assert_array_equal(filled[i], classical.inpaint_diffusion(images[i:i + 1], masks[i:i + 1])[0])


def test_patch_handles_no_hole_and_all_hole_and_refuses_bad_inputs():
    images = _images(n=2)
    masks = np.ones((2, 32, 32, 1), np.float32)
    masks[1] = 0
    filled = patch_inpainting.inpaint_patch(images, masks)
    np.testing.assert_array_equal(filled[0], images[0])
    np.testing.assert_array_equal(filled[1], np.full_like(images[1], 0.5))
    with_nan = images.copy()
    with_nan[0, 0, 0, 0] = np.nan
    for bad_images, bad_masks, message in [(with_nan, masks, "NaN"), (images[:0], masks[:0], "empty"),
                                           (images, masks * 255, "0/255")]:
        with pytest.raises(ValueError, match=message):
            patch_inpainting.inpaint_patch(bad_images, bad_masks)


@pytest.mark.parametrize("patch_size", [4, 1, 0, 5.0, True])
def test_patch_refuses_a_patch_size_that_has_no_centre(patch_size):
    with pytest.raises(ValueError, match="odd integer"):
        patch_inpainting.inpaint_patch(_images(n=1), _masks(n=1), patch_size=patch_size)


# ----------------------------------------------------------------------- from a database of images
def _database(m=40, size=8, seed=7):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (m, size, size, 3), dtype=np.uint8)


def _random_masks(n, size, seed, hole=0.4):
    rng = np.random.default_rng(seed)
    masks = (rng.random((n, size, size, 1)) > hole).astype(np.float32)
    masks[:, 0, 0] = 0                              # at least one hole and one known pixel each
    masks[:, -1, -1] = 1
    return masks


@pytest.mark.parametrize("as_float, chunk, block", [(False, 1024, 256), (True, 1024, 256), (False, 7, 2)])
def test_nearest_images_are_those_of_a_loop_over_the_database(as_float, chunk, block, monkeypatch):
    monkeypatch.setattr(database_inpainting, "_DATABASE_CHUNK", chunk)      # small: the search runs chunk by chunk
    monkeypatch.setattr(database_inpainting, "_QUERY_BLOCK", block)
    database = _database()
    queries = _database(m=5, seed=8).astype(np.float32) / 255
    masks = _random_masks(5, 8, seed=9)
    given = database.astype(np.float32) / 255 if as_float else database
    indices, distances = database_inpainting.nearest_images(queries, masks, given, k=4)
    reference = database.astype(np.float32) / 255
    for i in range(5):
        by_loop = [float((masks[i] * (queries[i].astype(np.float64) - reference[j]) ** 2).sum())
                   for j in range(len(database))]
        expected = sorted(range(len(database)), key=lambda j: (by_loop[j], j))[:4]
        assert indices[i].tolist() == expected
        np.testing.assert_allclose(distances[i], [by_loop[j] for j in expected], rtol=1e-6)


def test_an_image_of_the_database_finds_itself_and_its_hole_is_ignored():
    database = _database().astype(np.float32) / 255
    query, mask = database[[7]], _random_masks(1, 8, seed=10)
    database[3] = np.where(mask[0] == 1, database[7], 1 - database[7])      # same known pixels, other hole
    indices, distances = database_inpainting.nearest_images(query, mask, database, k=3)
    assert indices[0, :2].tolist() == [3, 7] and distances[0, :2].tolist() == [0, 0]
    assert distances[0, 2] > 0
    filled = database_inpainting.inpaint_database(database[[7]], mask, np.delete(database, 3, axis=0), k=1)
    np.testing.assert_allclose(filled, database[[7]], atol=1e-6)          # its own hole, from itself


def test_database_fills_by_mean_by_matched_colour_and_by_poisson_blending():
    rng = np.random.default_rng(11)
    truth = rng.uniform(0.2, 0.6, (1, 12, 12, 3)).astype(np.float32)
    mask = _box_mask(12, 3, 4, 5, 5)
    cols = np.mgrid[:12, :12][1]
    brighter = truth + np.float32(0.1)                                     # a constant colour offset
    lit = truth + (0.02 * cols)[None, ..., None].astype(np.float32)        # a linear lighting ramp
    hole = mask[..., 0] == 0
    for neighbour, matched_exact in ((brighter, True), (lit, False)):
        database = np.concatenate([neighbour, rng.random((5, 12, 12, 3)).astype(np.float32)])
        fills = {fill: database_inpainting.inpaint_database(truth, mask, database, k=1, fill=fill)
                 for fill in database_inpainting.DATABASE_FILLS}
        np.testing.assert_allclose(fills["mean"][hole], neighbour[hole], atol=1e-6)
        np.testing.assert_allclose(fills["poisson"][hole], truth[hole], atol=5e-3)
        if matched_exact:
            np.testing.assert_allclose(fills["matched"][hole], truth[hole], atol=1e-6)
        else:                                                  # a ramp is not a constant: matching leaves it
            assert np.abs(fills["matched"][hole] - truth[hole]).max() > 0.02


def test_database_keeps_known_pixels_stays_in_range_and_handles_no_hole_and_all_hole():
    images = _database(m=4, seed=12).astype(np.float32) / 255
    masks = _random_masks(4, 8, seed=13, hole=0.6)
    masks[2], masks[3] = 1, 0
    database = _database(m=30, seed=14)
    for fill in database_inpainting.DATABASE_FILLS:
        filled = database_inpainting.inpaint_database(images, masks, database, k=3, fill=fill)
        assert filled.dtype == np.float32 and 0 <= filled.min() and filled.max() <= 1
        known = masks[..., 0] == 1
        np.testing.assert_array_equal(filled[known], images[known])
        np.testing.assert_array_equal(filled[2], images[2])
        np.testing.assert_array_equal(filled[3], np.full_like(images[3], 0.5))
        again = database_inpainting.inpaint_database(images, masks, database, k=3, fill=fill)
        np.testing.assert_array_equal(filled, again)


def test_make_database_method_is_a_two_argument_method_equal_to_inpaint_database():
    images, masks, database = _database(m=3, seed=15) / np.float32(255), _random_masks(3, 8, seed=16), _database()
    method = database_inpainting.make_database_method(database, k=2, fill="matched")
    np.testing.assert_array_equal(method(images, masks),
                                  database_inpainting.inpaint_database(images, masks, database, k=2, fill="matched"))
    with pytest.raises(ValueError, match="same size"):
        method(_images(n=1), _masks(n=1))


def test_database_refuses_bad_databases_and_arguments_with_a_fix():
    images, masks = _images(n=1), _masks(n=1)
    database = _database(m=10, size=32)
    with_nan = database / np.float32(255)
    with_nan[0, 0, 0, 0] = np.nan
    for bad, message in [(with_nan, "NaN"), (database * 1.0, "255"), (database[..., 0], "complete images"),
                         (database[:0], "empty"), (_database(m=10, size=8), "same size")]:
        with pytest.raises(ValueError, match=message):
            database_inpainting.inpaint_database(images, masks, bad)
    with pytest.raises(ValueError, match="between 1 and"):
        database_inpainting.inpaint_database(images, masks, database, k=11)
    with pytest.raises(ValueError, match="choose one of"):
        database_inpainting.inpaint_database(images, masks, database, fill="median")
    with pytest.raises(ValueError, match="NaN"):
        database_inpainting.make_database_method(with_nan)
    # The images and masks get the checks of every other method.
    nan_images = images.copy()
    nan_images[0, 0, 0, 0] = np.nan
    for bad_images, bad_masks, message in [(nan_images, masks, "NaN"), (images[:0], masks[:0], "empty"),
                                           (images, masks * 255, "0/255")]:
        with pytest.raises(ValueError, match=message):
            database_inpainting.inpaint_database(bad_images, bad_masks, database)
