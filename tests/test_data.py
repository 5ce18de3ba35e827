"""Tests for course_lib.data.

The parser is checked on tiny fake CIFAR-10 archives written here in the official
format (pickled dicts, protocol 2, rows of R, G, B planes), whose expected NHWC
images are built pixel by pixel from the format's description.  One test reads the
real (shared) copy when it is present.
"""

import os
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from course_lib import config, data

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
PER_BATCH = 30  # images per fake batch: 150 train, 30 test


def nhwc_to_rows(images):
    """(N, 32, 32, 3) images -> (N, 3072) rows of the format: the red plane, then green, then blue."""
    planes = [images[:, :, :, channel].reshape(len(images), 32 * 32) for channel in range(3)]
    return np.concatenate(planes, axis=1)


def make_fake_images(seed=0):
    """Expected NHWC images and labels of the six fake batches, in file order."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(6 * PER_BATCH, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(6 * PER_BATCH) % 10  # 3 images per class in each batch
    return images, labels


def pickled_batch(images, labels, name):
    rows = nhwc_to_rows(images)
    batch = {
        b"batch_label": name.encode(),
        b"labels": [int(label) for label in labels],
        b"data": rows,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    return pickle.dumps(batch, protocol=2)


def write_fake_cifar(folder, *, as_archive=True, seed=0, replace=None):
    """Write a fake CIFAR-10 (archive or extracted folder) in ``folder``; return expected arrays.

    ``replace`` maps a batch name to raw bytes to store instead of the real batch.
    """
    images, labels = make_fake_images(seed)
    payloads = {}
    for k, name in enumerate(BATCH_NAMES):
        part = slice(k * PER_BATCH, (k + 1) * PER_BATCH)
        payloads[name] = pickled_batch(images[part], labels[part], name)
    payloads.update(replace or {})

    batches_dir = Path(folder) / f"staging-{seed}" / "cifar-10-batches-py"
    batches_dir.mkdir(parents=True)
    for name, payload in payloads.items():
        (batches_dir / name).write_bytes(payload)
    if as_archive:
        with tarfile.open(Path(folder) / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(batches_dir, arcname="cifar-10-batches-py")
    else:
        batches_dir.rename(Path(folder) / "cifar-10-batches-py")
    n_train = 5 * PER_BATCH
    return (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real dataset anywhere: empty search folders, HOME (cache) and KERAS_HOME in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(empty))
    monkeypatch.setattr(config, "CHECKOUT_DATA_DIR", empty)
    return tmp_path


@pytest.mark.parametrize("as_archive", [True, False], ids=["archive", "extracted"])
def test_reads_fake_cifar_in_file_order_and_nhwc(isolated, as_archive):
    folder = isolated / "cifar"
    folder.mkdir()
    (x_exp, y_exp), (xt_exp, yt_exp) = write_fake_cifar(folder, as_archive=as_archive)

    (x_train, y_train), (x_test, y_test) = data.load_cifar10(folder)

    assert x_train.shape == (150, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (30, 32, 32, 3) and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    np.testing.assert_array_equal(x_train, x_exp)
    np.testing.assert_array_equal(y_train, y_exp)
    np.testing.assert_array_equal(x_test, xt_exp)
    np.testing.assert_array_equal(y_test, yt_exp)


def test_channel_layout_of_single_bytes(isolated):
    """Byte 1024 + 32*2 + 5 of a row is the green value of pixel (row 2, column 5), etc."""
    folder = isolated / "cifar"
    (folder / "cifar-10-batches-py").mkdir(parents=True)
    for k, name in enumerate(BATCH_NAMES):
        rows = np.zeros((10, 3072), np.uint8)
        rows[0, 1024 + 32 * 2 + 5] = 200  # green of pixel (2, 5) of the batch's first image
        rows[0, 2048 + 31] = 77  # blue of pixel (0, 31)
        rows[9, 32 * 31] = k + 1  # red of pixel (31, 0) of the last image: which batch
        batch = {b"data": rows, b"labels": list(range(10))}
        (folder / "cifar-10-batches-py" / name).write_bytes(pickle.dumps(batch, protocol=2))

    (x_train, _), (x_test, _) = data.load_cifar10(folder)

    for first in (x_train[0], x_train[40], x_test[0]):
        assert first[2, 5, 1] == 200 and first[0, 31, 2] == 77 and np.count_nonzero(first) == 2
    assert [int(x_train[k * 10 + 9, 31, 0, 0]) for k in range(5)] == [1, 2, 3, 4, 5]
    assert x_test[9, 31, 0, 0] == 6


def test_data_dir_first_then_course_data_dir(isolated, monkeypatch):
    first, second = isolated / "first", isolated / "second"
    first.mkdir()
    second.mkdir()
    (x_first, _), _ = write_fake_cifar(first, seed=1)
    (x_second, _), _ = write_fake_cifar(second, seed=2)
    monkeypatch.setenv("COURSE_DATA_DIR", str(second))

    np.testing.assert_array_equal(data.load_cifar10(first)[0][0], x_first)
    np.testing.assert_array_equal(data.load_cifar10()[0][0], x_second)


def test_keras_cache_is_searched(isolated):
    keras_datasets = isolated / "home" / ".keras" / "datasets"
    keras_datasets.mkdir(parents=True)
    (x_exp, _), _ = write_fake_cifar(keras_datasets)
    np.testing.assert_array_equal(data.load_cifar10()[0][0], x_exp)


def test_decoded_arrays_are_cached_and_the_cache_follows_the_file(isolated, monkeypatch):
    folder = isolated / "cifar"
    folder.mkdir()
    (x_exp, _), _ = write_fake_cifar(folder, seed=1)
    data.load_cifar10(folder)
    cache_files = list((isolated / "home" / ".cache" / "course_lib").glob("*.npz"))
    assert len(cache_files) == 1

    def must_not_decode(source):
        raise AssertionError("decoded again although a cache exists")

    decode = data._decode_source
    monkeypatch.setattr(data, "_decode_source", must_not_decode)
    np.testing.assert_array_equal(data.load_cifar10(folder)[0][0], x_exp)

    # A different archive in the same place must not be served from the old cache.
    monkeypatch.setattr(data, "_decode_source", decode)
    (x_new, _), _ = write_fake_cifar(folder, seed=2)
    np.testing.assert_array_equal(data.load_cifar10(folder)[0][0], x_new)


def test_damaged_cache_is_rebuilt(isolated):
    folder = isolated / "cifar"
    folder.mkdir()
    (x_exp, _), _ = write_fake_cifar(folder)
    data.load_cifar10(folder)
    (cache_file,) = (isolated / "home" / ".cache" / "course_lib").glob("*.npz")
    cache_file.write_bytes(b"PK\x03\x04 truncated")
    np.testing.assert_array_equal(data.load_cifar10(folder)[0][0], x_exp)


class RunsCommand:
    """Pickles into a call of os.system(command): what a malicious batch would contain."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("as_archive", [True, False], ids=["archive", "extracted"])
def test_a_batch_that_would_run_code_is_refused(isolated, as_archive):
    marker = isolated / "pwned"
    evil = pickle.dumps({b"data": RunsCommand(f"touch {marker}"), b"labels": []}, protocol=2)
    folder = isolated / "cifar"
    folder.mkdir()
    write_fake_cifar(folder, as_archive=as_archive, replace={"data_batch_3": evil})

    with pytest.raises(pickle.UnpicklingError, match=r"Refusing to load .*data_batch_3.*system"):
        data.load_cifar10(folder)
    assert not marker.exists()


def test_missing_dataset_fails_fast_with_instructions(isolated, monkeypatch):
    # ".invalid" never resolves (RFC 2606): the real reachability check runs and fails.
    monkeypatch.setattr(data, "CIFAR10_URL", "https://cifar10.invalid/cifar-10-python.tar.gz")
    monkeypatch.setattr(data, "NETWORK_TIMEOUT_S", 1.0)
    empty_data_dir = isolated / "nothing_here"
    empty_data_dir.mkdir()

    start = time.perf_counter()
    with pytest.raises(data.DatasetNotFoundError) as caught:
        data.load_cifar10(empty_data_dir)
    assert time.perf_counter() - start < 5.0

    message = str(caught.value)
    assert "cifar-10-python.tar.gz" in message and "COURSE_DATA_DIR" in message
    assert str(empty_data_dir) in message and str(isolated / "empty") in message
    assert isinstance(caught.value, FileNotFoundError)


def test_network_check_is_used_before_keras(isolated, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "_network_available", lambda host, timeout: calls.append(host) or False)
    with pytest.raises(data.DatasetNotFoundError, match="no connection to www.cs.toronto.edu"):
        data.load_cifar10()
    assert calls == ["www.cs.toronto.edu"]


# --------------------------------------------------------------------------- subsets


def test_subset_is_class_balanced_sorted_and_reproducible(isolated):
    folder = isolated / "cifar"
    folder.mkdir()
    (x_all, y_all), (xt_all, yt_all) = write_fake_cifar(folder)

    (x, y), (xt, yt) = data.load_cifar10(folder, n_train=25, n_test=10, seed=3)

    # 25 = 2 per class + 5 left over for classes 0..4.
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [3] * 5 + [2] * 5)
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), [1] * 10)
    # Each chosen image is one of the originals, and they keep the file order.
    positions = [int(np.flatnonzero((x_all == image).all(axis=(1, 2, 3)))[0]) for image in x]
    assert positions == sorted(positions) and len(set(positions)) == 25
    np.testing.assert_array_equal(y, y_all[positions])

    (x_again, _), _ = data.load_cifar10(folder, n_train=25, n_test=10, seed=3)
    (x_other, _), _ = data.load_cifar10(folder, n_train=25, n_test=10, seed=4)
    np.testing.assert_array_equal(x_again, x)
    assert not np.array_equal(x_other, x)


def test_subset_indices_nest_and_do_not_depend_on_the_other_split():
    labels = np.repeat(np.arange(10), 50)
    small = data.class_balanced_indices(labels, 40, seed=7)
    large = data.class_balanced_indices(labels, 200, seed=7)
    assert set(small) <= set(large)
    assert small.dtype == np.int64 and np.all(np.diff(small) > 0)
    np.testing.assert_array_equal(data.class_balanced_indices(labels, None), np.arange(500))


@pytest.mark.parametrize("n", [0, -1, 151])
def test_subset_size_out_of_range(isolated, n):
    folder = isolated / "cifar"
    folder.mkdir()
    write_fake_cifar(folder)
    with pytest.raises(ValueError, match=r"n_train=.* the train split has 150 images"):
        data.load_cifar10(folder, n_train=n)


def test_subset_size_must_be_an_int():
    with pytest.raises(TypeError, match="n_test must be an int"):
        data.class_balanced_indices(np.arange(10), 2.5, split="test")


# --------------------------------------------------------------------------- small helpers


def test_images_to_float():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    out = data.images_to_float(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(data.images_to_float(np.array([0.5], np.float64)), [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.images_to_float(np.array([3.0, 200.0]))
    with pytest.raises(ValueError, match="nan"):
        data.images_to_float(np.array([np.nan]))
    with pytest.raises(TypeError, match="uint8"):
        data.images_to_float(np.array([1, 2], dtype=np.int64))


def test_class_names():
    assert data.CLASS_NAMES[0] == "airplane" and data.CLASS_NAMES[9] == "truck"
    assert len(data.CLASS_NAMES) == 10


# --------------------------------------------------------------------------- the real dataset


def shared_data_dir():
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"])
    return config.REPO_ROOT.parent / "shared" / "data"


@pytest.mark.skipif(
    not (shared_data_dir() / "cifar-10-python.tar.gz").is_file(),
    reason=f"no CIFAR-10 archive in {shared_data_dir()} (set COURSE_DATA_DIR to the folder holding it)",
)
def test_real_cifar10_shapes_and_class_balance():
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(shared_data_dir())
    assert x_train.shape == (50_000, 32, 32, 3) and x_test.shape == (10_000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_train), [5_000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1_000] * 10)
    # Natural images, not noise or a constant: a mid-grey average with real spread.
    sample = x_train[::100].astype(np.float32)
    assert 80 < sample.mean() < 160 and sample.std() > 40


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_archive_names_the_file_and_says_to_delete_it(isolated, damage):
    folder = isolated / "cifar"
    folder.mkdir()
    write_fake_cifar(folder, as_archive=True)
    archive = folder / data.ARCHIVE_NAME
    content = archive.read_bytes()
    archive.write_bytes(content[: len(content) // 2] if damage == "truncated" else b"not a tar.gz" * 100)
    with pytest.raises(data.DamagedDatasetError, match=r"damaged.*Delete it and run again") as caught:
        data.load_cifar10(folder)
    assert str(archive) in str(caught.value)


def test_the_command_line_turns_a_damaged_archive_into_one_line(isolated, monkeypatch, tmp_path):
    import subprocess
    import sys

    folder = isolated / "cifar"
    folder.mkdir()
    write_fake_cifar(folder, as_archive=True)
    archive = folder / data.ARCHIVE_NAME
    archive.write_bytes(archive.read_bytes()[:5000])
    env = {**os.environ, "COURSE_DATA_DIR": str(folder), "HOME": str(isolated)}
    done = subprocess.run([sys.executable, "-m", "course_lib", "train", "--model", "pconv", "--profile", "ci",
                           "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Delete it and run again" in done.stderr
