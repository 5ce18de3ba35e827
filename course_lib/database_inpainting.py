"""Inpainting from a database of images (after Hays & Efros 2007): fill a hole by copying, not smoothing.

Two families of the literature fill a hole by copying rather than smoothing.  *Patch-based*
(:mod:`course_lib.patch_inpainting`) copies patches of the image's own known part; *from a database of
images* (:func:`inpaint_database`, here) copies from the most similar images of a database.  Both are
called "exemplar-based" in the literature.  The database method takes the database as a third
argument, so it is not in :data:`course_lib.evaluate.CLASSICAL_METHODS`; :func:`make_database_method`
binds one and returns a ``method(images, masks)`` like every method of :mod:`course_lib.classical`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from course_lib import classical, fill_common, validation

#: Database images converted to float per matrix product, and queries searched together:
#: they bound the memory of a search (a few tens of MB), whatever the sizes.
_DATABASE_CHUNK = 1024
_QUERY_BLOCK = 256

#: The ways :func:`inpaint_database` can fill a hole from the neighbours.
DATABASE_FILLS = ("mean", "matched", "poisson")


def _check_database(database) -> np.ndarray:
    """``database`` as uint8 or float32 (M, H, W, 3), or an error saying how to fix it."""
    try:
        return validation.check_images(database, name="database", uint8="keep")
    except ValueError as error:
        raise ValueError(
            f"{error} The database is a batch of complete images (M, H, W, 3): uint8 0..255 or "
            "float in [0, 1], e.g. CIFAR-10's training images."
        ) from None


def _check_same_size(database: np.ndarray, images: np.ndarray) -> None:
    if database.shape[1:3] != images.shape[1:3]:
        raise ValueError(
            f"database images are {database.shape[1]} x {database.shape[2]} but the images to inpaint are "
            f"{images.shape[1]} x {images.shape[2]}; the database must hold images of the same size."
        )


def _database_chunks(database: np.ndarray):
    """Yield (start, float32 (c, H*W*3) in [0, 1]) for consecutive chunks of the database.

    uint8 chunks are converted into one reused buffer: converting the whole 45,000-image
    database at once would take 550 MB and, because of the page faults, longer.
    """
    n = len(database)
    buffer = np.empty((min(n, _DATABASE_CHUNK), int(np.prod(database.shape[1:]))), np.float32)
    for start in range(0, n, _DATABASE_CHUNK):
        chunk = database[start:start + _DATABASE_CHUNK].reshape(-1, buffer.shape[1])
        out = buffer[:len(chunk)]
        if chunk.dtype == np.uint8:
            np.multiply(chunk, np.float32(1 / 255), out=out)
        else:
            out[...] = chunk
        yield start, out


def _masked_distances_exact(images, known, database, candidates) -> np.ndarray:
    """``sum known * (x - y)^2`` for each query and each of its candidates: float64 (N, L)."""
    images = images.astype(np.float64)
    distances = np.empty(candidates.shape)
    for j in range(candidates.shape[1]):
        difference = _as_float(database[candidates[:, j]]) - images              # (N, H, W, 3)
        distances[:, j] = (difference ** 2 * known).sum(axis=(1, 2, 3))
    return distances


def _as_float(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float64 [0, 1] (as ``x.astype(float32) / 255``); float -> float64."""
    if images.dtype == np.uint8:
        return (images.astype(np.float32) / np.float32(255)).astype(np.float64)
    return images.astype(np.float64)


def nearest_images(images, masks, database, *, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` database images closest to each image on its KNOWN pixels.

    Distance: ``||m * (x - y)||^2 = sum m x^2 - 2 sum (m x) y + sum m y^2`` over pixels and
    channels (m = the image's mask, 1 = valid): the hole is ignored.  For the whole batch the
    last two terms are two matrix products with the database, chunk by chunk; the first is
    the same for every candidate.  The few best candidates of that float32 search are then
    re-ranked by the distance computed directly in float64, so the order is exact (ties: the
    lower database index first).

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        database: (M, H, W, 3), uint8 0..255 or float in [0, 1].
        k: neighbours per image, 1 <= k <= M.

    Returns:
        ``(indices, distances)``: int64 (N, k) database indices, nearest first, and float64
        (N, k) masked squared distances.
    """
    images, known = fill_common.check_inputs(images, masks)
    database = _check_database(database)
    _check_same_size(database, images)
    return _nearest_images(images, known, database, _check_k(k, len(database)))


def _check_k(k, n_database: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_database:
        raise ValueError(f"k={k!r} must be an integer between 1 and the database size ({n_database}).")
    return int(k)


def _nearest_images(images, known, database, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_images` on checked inputs (``known`` bool (N, H, W, 1))."""
    blocks = [_nearest_images_block(images[start:start + _QUERY_BLOCK], known[start:start + _QUERY_BLOCK],
                                    database, k)
              for start in range(0, len(images), _QUERY_BLOCK)]
    return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def _nearest_images_block(images, known, database, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_nearest_images` for a block of queries, one pass over the database."""
    n = len(images)
    weights = np.broadcast_to(known, images.shape).reshape(n, -1).astype(np.float32)   # m, (N, H*W*3)
    weighted = weights * images.reshape(n, -1)                                          # m x
    n_keep = min(len(database), 2 * k + 8)                      # candidates re-ranked exactly below
    best_d = np.full((n, 0), np.inf, np.float32)
    best_i = np.zeros((n, 0), np.int64)
    squares = np.empty((min(len(database), _DATABASE_CHUNK), weights.shape[1]), np.float32)
    for start, chunk in _database_chunks(database):
        np.square(chunk, out=squares[:len(chunk)])
        # sum m x^2 is the same for every candidate of a query: left out of the ranking.
        d = weights @ squares[:len(chunk)].T                                   # sum m y^2, (N, c)
        d -= 2 * (weighted @ chunk.T)                                          # - 2 sum m x y
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(chunk)), d.shape)], axis=1)
        if all_d.shape[1] > n_keep:
            keep = np.argpartition(all_d, n_keep - 1, axis=1)[:, :n_keep]
            all_d, all_i = np.take_along_axis(all_d, keep, 1), np.take_along_axis(all_i, keep, 1)
        best_d, best_i = all_d, all_i
    exact = _masked_distances_exact(images, known, database, best_i)
    order = np.lexsort((best_i, exact), axis=1)[:, :k]
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(exact, order, 1)


def _fill_from_neighbours(images, known, base, fill: str) -> np.ndarray:
    """Fill each image's hole from its neighbours; float (N, H, W, 3), not yet clipped or pasted.

    ``base``: the mean of each image's neighbours, float (N, H, W, 3): all three fills (see
    :func:`inpaint_database`) start from it.
    """
    if fill == "mean":
        return base
    if fill == "matched":
        # Shifting each neighbour by its own per-channel offset and averaging = shifting the mean.
        offset = fill_common.known_mean_colour(images, known) - fill_common.known_mean_colour(base, known)  # (N, 3)
        return base + offset[:, None, None, :]
    # Poisson: the hole gets the neighbours' mean plus the harmonic interpolation of the
    # residual (image - mean) known around it, so the fill meets the known pixels without a
    # seam while keeping the neighbours' detail.  The residual lies in [-1, 1]; diffusion is
    # linear, so it runs on (residual + 1) / 2, which the method's [0, 1] check accepts.
    residual = np.where(known, images - base, 0.0)
    smooth = classical.inpaint_diffusion((residual + 1) / 2, known.astype(np.float32)) * 2 - 1
    return base + smooth


def _inpaint_database_checked(images, known, database, k: int, fill: str) -> np.ndarray:
    """:func:`inpaint_database` on checked inputs (``known`` bool (N, H, W, 1))."""
    n_known = known.sum(axis=(1, 2, 3))
    to_fill = (n_known > 0) & (n_known < known[0].size)
    filled = images.copy()
    filled[n_known == 0] = fill_common.ALL_HOLE_FILL
    if to_fill.any():
        queries, query_known = images[to_fill], known[to_fill]
        indices, _ = _nearest_images(queries, query_known, database, k)
        base = sum(_as_float(database[indices[:, j]]) for j in range(k)) / k   # neighbours' mean
        filled[to_fill] = np.clip(_fill_from_neighbours(queries, query_known, base, fill), 0, 1)
    return fill_common.paste_known(images, filled, known)


def _check_fill(fill) -> str:
    if fill not in DATABASE_FILLS:
        raise ValueError(f"fill={fill!r}: choose one of {list(DATABASE_FILLS)}.")
    return fill


def inpaint_database(images, masks, database, *, k: int = 5, fill: str = "poisson") -> np.ndarray:
    """Inpainting from a database of images (after Hays & Efros 2007, "Scene completion using
    millions of photographs"): look the image up instead of interpolating it.

    For each image, the ``k`` database images nearest on its KNOWN pixels
    (:func:`nearest_images`: masked squared distance, three matrix products for the whole
    batch, no loop over the database) fill the hole:

    * ``fill="mean"``: the hole gets the mean of the k neighbours;
    * ``fill="matched"``: the same after shifting each neighbour's colour, per channel, so that
      its mean over the known pixels equals the image's (brightness/colour matching);
    * ``fill="poisson"`` (default): the neighbours' mean plus the harmonic interpolation
      (:func:`course_lib.classical.inpaint_diffusion`) of the residual image - mean known around the hole: the fill
      joins the known pixels without a seam (Poisson blending, as Hays & Efros do).

    Poisson blending is the default because it scores best of the three by hole PSNR on CIFAR-10 with
    the evaluation masks (``benchmarks/README.md``, ``bench_classical.py``; the test images are never in the
    database): the neighbours' mean alone has the right layout but the wrong details and a visible seam.
    k = 5 because more neighbours average out more of what is particular to each, and add little.

    A database of 45,000 tiny images rarely holds the same scene, so the neighbours give the
    rough layout and colours, and the blending does most of the work at the seam; Hays & Efros
    used two million photographs (and a semantic descriptor to find them) to find scenes that
    truly match.

    Args:
        images: float (N, H, W, 3) in [0, 1].
        masks: (N, H, W, 1), 1 = valid, 0 = hole.
        database: (M, H, W, 3) complete images, uint8 0..255 or float in [0, 1].
        k: neighbours per image, 1 <= k <= M.
        fill: ``"mean"``, ``"matched"`` or ``"poisson"``.

    Returns:
        float32 (N, H, W, 3) in [0, 1], known pixels unchanged; an image without a hole comes
        back unchanged, one without a known pixel flat 0.5 gray.
    """
    _check_fill(fill)
    images, known = fill_common.check_inputs(images, masks)
    database = _check_database(database)
    _check_same_size(database, images)
    return _inpaint_database_checked(images, known, database, _check_k(k, len(database)), fill)


def make_database_method(database, *, k: int = 5, fill: str = "poisson") -> Callable[..., np.ndarray]:
    """:func:`inpaint_database` with its database bound: a ``method(images, masks)`` like every
    other classical method (for :mod:`course_lib.evaluate`).

    The database is checked once, here, not at every call; a uint8 database is kept as it is,
    not copied (a float one is kept as float32).
    """
    _check_fill(fill)
    database = _check_database(database)
    k = _check_k(k, len(database))

    def database_method(images, masks) -> np.ndarray:
        images, known = fill_common.check_inputs(images, masks)
        _check_same_size(database, images)
        return _inpaint_database_checked(images, known, database, k, fill)

    database_method.__name__ = "inpaint_database"
    database_method.__doc__ = (f"inpaint_database(images, masks, <database of {len(database)} images>, "
                               f"k={k}, fill={fill!r})")
    return database_method
