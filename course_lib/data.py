"""CIFAR-10: find it, read it safely, cache it, and pick reproducible subsets.

Images that are not CIFAR-10, in the same format, come from :mod:`course_lib.photographs`.

The dataset is the official *python version* of CIFAR-10
(``cifar-10-python.tar.gz``, 163 MiB).  Inside the archive, the folder
``cifar-10-batches-py/`` holds six pickled "batches": ``data_batch_1`` ..
``data_batch_5`` (10,000 training images each) and ``test_batch`` (10,000 test
images).  Each batch is a dict with

* ``b"data"``: uint8 array ``(10000, 3072)``; one row per image, 1024 red values,
  then 1024 green, then 1024 blue, each plane row by row (32 x 32);
* ``b"labels"``: list of 10,000 ints in ``0..9`` (see :data:`CLASS_NAMES`).

:func:`load_cifar10` looks for the archive (or its extracted folder) in the
folders of :func:`course_lib.config.data_search_dirs` and in the Keras cache,
downloads it through Keras when none is found, and returns NHWC uint8 images.

Two safety/speed points a reader may wonder about:

* ``pickle`` can run arbitrary code while loading.  The batches are read with
  :class:`_CifarUnpickler`, which only lets through the few numpy names a batch
  needs, so a tampered file fails instead of running anything.
* Decompressing and decoding 60,000 images takes a few seconds, so the decoded
  arrays are kept in ``~/.cache/course_lib/`` as an uncompressed ``.npz`` and
  reused on the next call (keyed by a fingerprint of the archive).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import socket
import tarfile
import zlib
import threading
import urllib.parse
import urllib.request
import warnings
import zipfile
from pathlib import Path

import numpy as np

from course_lib import config, validation

__all__ = [
    "CLASS_NAMES",
    "CIFAR10_URL",
    "DamagedDatasetError",
    "DatasetNotFoundError",
    "class_balanced_indices",
    "images_to_float",
    "load_cifar10",
]

#: The ten CIFAR-10 classes; label ``k`` is ``CLASS_NAMES[k]``.
CLASS_NAMES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

#: Where the official archive is downloaded from.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: sha256 of the official archive (the value Keras' own CIFAR-10 loader checks).
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

ARCHIVE_NAME = "cifar-10-python.tar.gz"
BATCHES_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"

#: Seconds to wait for a connection to the download server before giving up.
NETWORK_TIMEOUT_S = 3.0

# Bump when the cache layout changes, so old cache files are ignored.
_CACHE_FORMAT = "v1"


class DatasetNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither on disk nor downloadable; the message says where to put it."""


# --------------------------------------------------------------------------- public API


def load_cifar10(data_dir=None, *, n_train=None, n_test=None, seed=0):
    """Load CIFAR-10 as NHWC uint8 images and int64 labels.

    Args:
        data_dir: optional folder (str or PathLike) holding ``cifar-10-python.tar.gz`` or
            ``cifar-10-batches-py/``.  Searched first; then ``$COURSE_DATA_DIR``, the repository's
            ``data/``, the Keras cache (``~/.keras/datasets``); if all miss, the archive is
            downloaded into the Keras cache.
        n_train, n_test: size of a class-balanced random subset of each split (``None``: the whole
            split).  See :func:`class_balanced_indices`.
        seed: chooses the subset; the same seed gives the same images.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x_*`` uint8 ``(N, 32, 32, 3)``, values 0..255,
        RGB, NHWC; ``y_*`` int64 ``(N,)``, values 0..9 (names in :data:`CLASS_NAMES`).  Images keep
        the official file order (``data_batch_1`` .. ``data_batch_5``, then ``test_batch``), also
        inside a subset.

    Raises:
        DatasetNotFoundError: no local copy and no connection to the download server.
        DamagedDatasetError: (a ValueError) the local copy is truncated or damaged: the message names
            the file and says to delete it.
        ValueError, TypeError: bad ``n_train``/``n_test``, or a tampered archive.
    """
    source = _find_local_copy(data_dir) or _download(data_dir)
    (x_train, y_train), (x_test, y_test) = _load_full(source)
    return (
        _subset(x_train, y_train, n_train, seed=seed, split="train"),
        _subset(x_test, y_test, n_test, seed=seed, split="test"),
    )


def _subset(images, labels, n, *, seed, split):
    if n is None:
        return images, labels  # no fancy indexing: that would copy 150 MB for nothing
    keep = class_balanced_indices(labels, n, seed=seed, split=split)
    return images[keep], labels[keep]


def class_balanced_indices(labels, n=None, *, seed=0, split="split"):
    """Indices of a reproducible, class-balanced subset of ``labels``, in increasing order.

    Every class gets ``n // n_classes`` images; the ``n % n_classes`` left over go
    one each to the first classes (class 0, 1, ...).  Inside each class the images
    are a random draw that depends only on ``seed``, so a smaller subset is
    contained in a larger one with the same seed.

    Args:
        labels: int array ``(N,)``.
        n: subset size, ``1 <= n <= N``; ``None`` returns ``arange(N)``.
        seed: chooses the draw.
        split: name used in error messages (``"train"``, ``"test"``).

    Returns:
        int64 array ``(n,)``, sorted, so the subset keeps the original order.
    """
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels))
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n_{split} must be an int or None, got {n!r}; pass e.g. n_{split}=1000.")
    if not 1 <= n <= len(labels):
        raise ValueError(
            f"n_{split}={n} is out of range: the {split} split has {len(labels)} images; "
            f"pass 1 <= n_{split} <= {len(labels)}, or None for all of them."
        )
    classes = np.unique(labels)
    per_class = np.full(len(classes), n // len(classes))
    per_class[: n % len(classes)] += 1

    rng = np.random.default_rng(seed)
    chosen = []
    for cls, count in zip(classes, per_class):
        members = np.flatnonzero(labels == cls)
        if count > len(members):
            raise ValueError(
                f"n_{split}={n} needs {count} images of class {cls}, but the {split} split has "
                f"only {len(members)}; ask for fewer images."
            )
        # A full permutation (not rng.choice(count)) draws the same numbers whatever
        # `count` is, which is what makes smaller subsets nest inside larger ones.
        chosen.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def images_to_float(x):
    """uint8 images (0..255) -> float32 in [0, 1]; float images in [0, 1] pass through as float32.

    Any shape works (usually ``(N, 32, 32, 3)``).  Other dtypes, NaN and float values outside
    [0, 1] are refused (:func:`course_lib.validation.check_values`).
    """
    return validation.check_values(x, uint8="scale")


# --------------------------------------------------------------------------- finding the files


def _keras_datasets_dir() -> Path:
    """Where ``keras.utils.get_file`` keeps datasets (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def _candidate_dirs(data_dir) -> list[Path]:
    """The folders searched, in order: the course's (config) folders, then the Keras cache."""
    keras_dir = _keras_datasets_dir()
    # keras.datasets.cifar10.load_data() extracts into this subfolder.
    return [*config.data_search_dirs(data_dir), keras_dir, keras_dir / "cifar-10-batches-py-target"]


def _is_batches_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH))


def _find_local_copy(data_dir) -> Path | None:
    """The first extracted ``cifar-10-batches-py/`` folder or archive found, else ``None``."""
    for folder in _candidate_dirs(data_dir):
        if _is_batches_folder(folder / BATCHES_FOLDER):
            return folder / BATCHES_FOLDER  # faster to read than the archive
        if (folder / ARCHIVE_NAME).is_file():
            return folder / ARCHIVE_NAME
    return None


def _network_available(host: str, timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """True if a TCP connection to ``host`` (or the HTTPS proxy) opens within ``timeout`` seconds.

    The connection runs in a daemon thread because ``socket.create_connection``'s
    timeout does not cover the DNS lookup, which can hang on a machine without network.
    """
    port = 443
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 80

    connected = []

    def try_connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            connected.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=try_connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(connected)


def _not_found_message(data_dir, reason: str) -> str:
    searched = "\n".join(f"  {folder}" for folder in _candidate_dirs(data_dir))
    return (
        f"CIFAR-10 was not found on this machine and could not be downloaded ({reason}).\n"
        f"Put {ARCHIVE_NAME} (from {CIFAR10_URL}), or its extracted folder "
        f"{BATCHES_FOLDER}/, in one of the folders searched:\n{searched}\n"
        "or set the environment variable COURSE_DATA_DIR to the folder that holds it "
        "(for example COURSE_DATA_DIR=../shared/data), or pass data_dir=... ."
    )


def _download(data_dir) -> Path:
    """Download the archive into the Keras cache; raise DatasetNotFoundError if impossible."""
    host = urllib.parse.urlsplit(CIFAR10_URL).hostname
    if not _network_available(host, NETWORK_TIMEOUT_S):
        raise DatasetNotFoundError(
            _not_found_message(data_dir, f"no connection to {host} within {NETWORK_TIMEOUT_S:g} s")
        )
    import keras  # imported here: it pulls in TensorFlow, which plain loading does not need

    try:
        path = keras.utils.get_file(fname=ARCHIVE_NAME, origin=CIFAR10_URL, file_hash=CIFAR10_SHA256)
    except Exception as error:  # Keras wraps every network failure in a bare Exception
        raise DatasetNotFoundError(_not_found_message(data_dir, f"download failed: {error}")) from None
    return Path(path)


# --------------------------------------------------------------------------- reading the batches


def _reconstruct_function():
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1_encode(text, encoding):
    """Stands in for ``_codecs.encode``: Python 3 writes ``bytes`` in pickle protocol 2 as
    ``_codecs.encode(text, "latin1")``; only that one use is let through."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected _codecs.encode(..., {encoding!r}) in a CIFAR-10 batch")
    return text.encode("latin1")


class UnsafePickleError(pickle.UnpicklingError):
    """A "CIFAR-10" batch that asks to call something other than numpy's array builders."""


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, strings and lists, and nothing else.

    A pickle names the functions it calls to rebuild objects; ``find_class``
    decides which names are allowed.  A CIFAR-10 batch needs only these: the
    official files (Python 2) name ``numpy.core`` or, re-pickled by numpy 2,
    ``numpy._core``; batches written by Python 3 with protocol 2 also name
    ``_codecs.encode``.
    """

    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")  # the official batches were pickled by Python 2
        self.source = source
        self.allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct_function(),
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct_function(),
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): _latin1_encode,
        }

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise UnsafePickleError(
                f"Refusing to load {self.source}: it asks to call {module}.{name}, but a CIFAR-10 "
                "batch only contains numpy arrays, lists and strings. The file is not the official "
                f"CIFAR-10 and may try to run code: delete it and get {ARCHIVE_NAME} from {CIFAR10_URL}."
            )
        return self.allowed[(module, name)]


def _decode_batch(file, source: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> uint8 images ``(N, 32, 32, 3)`` and int64 labels ``(N,)``."""
    batch = _CifarUnpickler(file, source).load()
    if not isinstance(batch, dict):
        raise ValueError(f"{source} is not a CIFAR-10 batch (no dict inside); download the archive again.")
    batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
    try:
        data = np.asarray(batch["data"])
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except KeyError as missing:
        raise ValueError(f"{source} has no {missing} entry; download the archive again.") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(
            f"{source} holds data {data.dtype} {data.shape} and {len(labels)} labels; expected uint8 "
            "(N, 3072) and N labels. Download the archive again."
        )
    # Each row is three 32x32 planes (R, G, B): (N, 3, 32, 32) -> (N, 32, 32, 3).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _read_batches_from_folder(folder: Path) -> dict:
    batches = {}
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        with open(folder / name, "rb") as file:
            batches[name] = _decode_batch(file, str(folder / name))
    return batches


def _read_batches_from_archive(archive: Path) -> dict:
    """Decode the batches straight from the .tar.gz, without extracting anything to disk."""
    wanted = {f"{BATCHES_FOLDER}/{name}": name for name in (*TRAIN_BATCHES, TEST_BATCH)}
    batches = {}
    # "r|gz" reads the archive as a stream, in one pass (no seeking back through the gzip).
    with tarfile.open(archive, mode="r|gz") as tar:
        for member in tar:
            name = wanted.get(member.name.removeprefix("./"))
            if name is not None and member.isfile():
                batches[name] = _decode_batch(tar.extractfile(member), f"{archive}:{member.name}")
    missing = sorted(set(wanted.values()) - set(batches))
    if missing:
        raise ValueError(f"{archive} lacks {missing}; it is incomplete: download it again from {CIFAR10_URL}.")
    return batches


class DamagedDatasetError(ValueError):
    """The local CIFAR-10 copy cannot be read: a truncated download, a damaged file."""


def _decode_source(source: Path):
    try:
        batches = _read_batches_from_folder(source) if source.is_dir() else _read_batches_from_archive(source)
    except UnsafePickleError:
        raise  # not damage: a file that tries to run code, and its message says so
    except (tarfile.TarError, pickle.UnpicklingError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DamagedDatasetError(
            f"{source} is damaged and cannot be read ({type(error).__name__}: {error}). Delete it and run "
            f"again to download a fresh copy (or put an intact cifar-10-python.tar.gz from {CIFAR10_URL} there)."
        ) from None
    x_train = np.concatenate([batches[name][0] for name in TRAIN_BATCHES])
    y_train = np.concatenate([batches[name][1] for name in TRAIN_BATCHES])
    x_test, y_test = batches[TEST_BATCH]
    return (x_train, y_train), (x_test, y_test)


# --------------------------------------------------------------------------- the decoded-array cache


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "course_lib"


def _fingerprint(source: Path) -> str:
    """A short hash of the size and first MiB of each file of ``source`` (cheap, content-based)."""
    files = [source] if source.is_file() else [source / n for n in (*TRAIN_BATCHES, TEST_BATCH)]
    digest = hashlib.sha256(_CACHE_FORMAT.encode())
    for path in files:
        digest.update(str(path.stat().st_size).encode())
        with open(path, "rb") as file:
            digest.update(file.read(1 << 20))
    return digest.hexdigest()[:16]


def _read_cache(path: Path):
    try:
        with np.load(path) as cached:
            arrays = [cached[key] for key in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing or damaged: rebuild it
        return None
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def _write_cache(path: Path, x_train, y_train, x_test, y_test) -> None:
    """Write atomically (temporary file, then rename) so a parallel reader never sees half a file."""
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        warnings.warn(f"could not cache CIFAR-10 in {path.parent} ({error}); the next load decodes it again.")


def _load_full(source: Path):
    cache_path = _cache_dir() / f"cifar10-{_fingerprint(source)}.npz"
    cached = _read_cache(cache_path)
    if cached is not None:
        return cached
    (x_train, y_train), (x_test, y_test) = _decode_source(source)
    _write_cache(cache_path, x_train, y_train, x_test, y_test)
    return (x_train, y_train), (x_test, y_test)
