"""Images that are not CIFAR-10, in CIFAR-10's format: crops of scikit-image's sample photographs, and folders.

The networks learn from CIFAR-10 (:mod:`course_lib.data`); these functions bring other images to the same
format, uint8 (N, size, size, 3), so that ``course_lib.evaluate.evaluate(images=...)`` can score them:
:func:`sample_photographs` (random crops of :data:`PHOTOGRAPHS`, shrunk with anti-aliasing by
:func:`shrink`) and :func:`load_image_folder` (your own PNG and JPEG files).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_lib import validation

#: scikit-image's sample photographs that :func:`sample_photographs` crops: they ship inside the
#: package (``skimage.data``), so no download is needed.  Colour: astronaut ... hubble_deep_field;
#: grey (three equal channels): camera ... gravel.  Left out: the medical and microscopy images,
#: scans of text, and the synthetic ones (checkerboard, colour wheel, logo, horse silhouette).
PHOTOGRAPHS: tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field",
    "camera", "coins", "moon", "clock", "brick", "grass", "gravel",
)

#: The file endings :func:`load_image_folder` reads (in any case).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")

#: :func:`photograph_crops` draws square crops of side ``k * size``, ``k`` from 2 to this.
MAX_SHRINK = 16


class PhotoCrop(NamedTuple):
    """Where a crop of :func:`sample_photographs` comes from: ``photo[top:top + side, left:left + side]``."""

    photograph: str
    top: int
    left: int
    side: int


def as_rgb_uint8(image) -> np.ndarray:
    """A grey ``(H, W)``, ``(H, W, 1)``, RGB or RGBA uint8 image as RGB uint8 ``(H, W, 3)``.

    Grey becomes three equal channels (the networks expect RGB); an alpha channel is dropped.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image (0..255), got dtype {image.dtype}.")
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2:
        raise ValueError(f"expected a grey (H, W) or colour (H, W, 3) image, got shape {image.shape}.")
    return np.repeat(image[..., None], 3, axis=-1)


def shrink(image, size: int) -> np.ndarray:
    """Resize ``image`` to ``size x size`` with anti-aliasing: each output pixel averages the input
    pixels it covers (area interpolation, ``cv2.INTER_AREA``).

    When the sides are ``k`` times ``size``, that is exactly the mean of each ``k x k`` block.
    Taking one pixel in ``k`` instead (``image[::k, ::k]``) would alias: fine detail, such as
    stripes or texture, turns into false, coarser patterns.

    Args:
        image: uint8 ``(H, W, 3)``; a non-square image is squashed (crop it first to keep its shape).
        size: the output side, in pixels.

    Returns:
        uint8 ``(size, size, 3)``, each value rounded to the nearest whole level (halves up).
    """
    size = validation.check_positive_int("size", size, example=32)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"shrink expects a uint8 (H, W, 3) image, got {image.dtype} {image.shape}.")
    height, width, channels = image.shape
    if height % size == 0 and width % size == 0:  # whole blocks: their exact mean
        blocks = image.reshape(size, height // size, size, width // size, channels)
        resized = blocks.mean(axis=(1, 3), dtype=np.float64)
    else:
        import cv2  # a dependency of course_lib; imported here, as whole blocks do not need it

        resized = cv2.resize(image.astype(np.float64), (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(np.floor(resized + 0.5), 0, 255).astype(np.uint8)  # to the nearest level, halves up


def photograph(name: str) -> np.ndarray:
    """One of :data:`PHOTOGRAPHS` as RGB uint8 ``(H, W, 3)``, read from scikit-image's own files (offline)."""
    if name not in PHOTOGRAPHS:
        raise ValueError(f"Unknown photograph {name!r}: choose from {list(PHOTOGRAPHS)}.")
    import skimage.data

    # "motorcycle" is the left view of skimage.data.stereo_motorcycle(); the others have their own function.
    image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)()
    return as_rgb_uint8(image)


def photograph_crops(n: int, size: int = 32, seed: int = 0, photographs=None) -> list[PhotoCrop]:
    """Where the ``n`` crops of :func:`sample_photographs` come from.

    Crop ``i`` is taken from photograph ``photographs[i % P]`` (each photograph in turn, so each
    gives the same number of crops, give or take one); its side is ``k * size`` with ``k`` drawn
    from 2 to :data:`MAX_SHRINK` (at most the photograph's shorter side), its corner uniformly.  The
    draws depend only on ``seed``, crop after crop, so the first ``m`` crops of a larger ``n`` are
    the ``m`` crops of ``n = m``.

    Args:
        n: number of crops.
        size: the side the crops are shrunk to.
        seed: chooses the crops.
        photographs: names from :data:`PHOTOGRAPHS` (default: all of them).

    Returns:
        ``n`` :class:`PhotoCrop` (photograph, top, left, side).
    """
    n = validation.check_positive_int("n", n, example=300)
    size = validation.check_positive_int("size", size, example=32)
    names = list(PHOTOGRAPHS if photographs is None else photographs)
    if not names:
        raise ValueError(f"photographs is empty: pass names from {list(PHOTOGRAPHS)}, or None for all.")
    shapes = {name: photograph(name).shape[:2] for name in dict.fromkeys(names)}
    for name, (height, width) in shapes.items():
        if min(height, width) < size:
            raise ValueError(f"size={size} is larger than photograph {name!r} ({height} x {width}); "
                             "choose a smaller size.")
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        name = names[i % len(names)]
        height, width = shapes[name]
        largest = min(MAX_SHRINK, min(height, width) // size)
        side = size * int(rng.integers(min(2, largest), largest + 1))
        top, left = (int(rng.integers(0, extent - side + 1)) for extent in (height, width))
        crops.append(PhotoCrop(name, top, left, side))
    return crops


def sample_photographs(n: int, size: int = 32, seed: int = 0, photographs=None) -> np.ndarray:
    """``n`` random square crops of scikit-image's sample photographs, shrunk to ``size x size``.

    Images that are *not* CIFAR-10, for testing what the networks learnt beyond it.  Each crop
    (:func:`photograph_crops`: side 2 to 16 times ``size``, each photograph in turn) is shrunk
    with anti-aliasing (:func:`shrink`: the mean of each block of pixels).  Reproducible for a seed.

    Returns:
        uint8 ``(n, size, size, 3)``, RGB; grey photographs as three equal channels.
    """
    crops = photograph_crops(n, size, seed, photographs)
    full = {name: photograph(name) for name in dict.fromkeys(crop.photograph for crop in crops)}
    return np.stack([shrink(full[c.photograph][c.top:c.top + c.side, c.left:c.left + c.side], size)
                     for c in crops])


def _read_image_file(path: Path) -> np.ndarray:
    import cv2

    # imdecode of the bytes, not imread: imread cannot open some non-ASCII paths and gives no reason when it fails.
    # IMREAD_COLOR: 3 channels, 8 bits (grey replicated, alpha dropped, 16-bit scaled), EXIF orientation applied.
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR) if path.stat().st_size else None
    if image is None:
        raise ValueError(f"Cannot read {path} as an image: the file is empty, damaged or not really a "
                         f"{path.suffix} file. Remove it from the folder or replace it with an intact PNG or JPEG.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_image_folder(path, size: int = 32, *, crop: bool = True) -> np.ndarray:
    """Every PNG and JPEG image of a folder, as a batch the networks can take.

    Args:
        path: a folder; its files ending in .png, .jpg or .jpeg (any case) are read, in the order of
            their names; other files and subfolders are ignored.
        size: the side of the output images (the course's networks take 32).
        crop: ``True``: cut the largest centred square out of each image first (its shapes keep
            their proportions); ``False``: squash the whole image to a square.

    Returns:
        uint8 ``(N, size, size, 3)``, RGB: grey images as three equal channels, an alpha channel
        dropped, shrunk with anti-aliasing (:func:`shrink`).

    Raises:
        FileNotFoundError: the folder does not exist (or is a file).
        ValueError: it holds no PNG or JPEG file, or a file that cannot be read as an image.
    """
    size = validation.check_positive_int("size", size, example=32)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder at {folder}" + (" (it is a file)" if folder.exists() else "")
                                + ": pass a folder of PNG or JPEG images.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        others = sum(1 for p in folder.iterdir() if p.is_file())
        raise ValueError(f"No PNG or JPEG image in {folder} ({others} other file(s)); put .png, .jpg or "
                         ".jpeg files there.")
    images = []
    for file in files:
        image = _read_image_file(file)
        if crop:
            height, width = image.shape[:2]
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            image = image[top:top + side, left:left + side]
        images.append(shrink(image, size))
    return np.stack(images)
