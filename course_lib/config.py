"""Where things live and which run profile is in force: the one place that reads the environment.

Environment variables
---------------------
``COURSE_PROFILE``     ``ci`` | ``cpu`` | ``full``; unset: ``full`` with a GPU, ``cpu`` without.
``COURSE_DATA_DIR``    a folder holding ``cifar-10-python.tar.gz`` or ``cifar-10-batches-py/``.
``COURSE_OUTPUT_DIR``  where course runs write models and results (default: ``build/`` in a
                       checkout of the repository, ``./course-output`` after a plain install).
``COURSE_VERDICTS``    a file to which every exercise check appends its verdict, one JSON line
                       (set by ``python -m course_lib grade``; see ``course_lib.checks.feedback``).

The small files that ship with the course (the evaluation masks, the pretrained networks and the
records of their training) are package data in ``course_lib/data/``, so they are found wherever
``course_lib`` is installed: a checkout, site-packages, Colab, ``pip install --target``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import os
from pathlib import Path

#: The folder holding ``course_lib/``: in a checkout the repository root (with ``data/``, ``notebooks/``),
#: after a plain install the site-packages folder.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: True when course_lib runs from a checkout of the repository (also an editable install).
IN_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()

#: Small files that ship inside the package: ``eval_masks.npz`` and ``pretrained/<name>/``.
#: importlib.resources finds them wherever course_lib was imported from.  setuptools installs the
#: package unpacked (never zipped), so the Traversable it returns is a real folder and Path() of it
#: gives the plain path that np.load and friends want.
PACKAGE_DATA_DIR = Path(importlib.resources.files("course_lib") / "data")

#: Where a checkout keeps CIFAR-10 (``data/``); None after a plain install.
CHECKOUT_DATA_DIR = REPO_ROOT / "data" if IN_CHECKOUT else None


#: Images in CIFAR-10's training and test splits.
CIFAR10_TRAIN_SPLIT = 50_000
CIFAR10_TEST_SPLIT = 10_000


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes of one kind of run.

    ``n_train``/``n_test`` of ``None`` mean the whole split.
    """

    name: str
    n_train: int | None
    n_val: int
    n_test: int | None
    epochs: int
    batch_size: int
    description: str

    @property
    def training_images(self) -> int:
        """How many images a CIFAR-10 run of this profile trains on: ``n_train``, or for ``None`` the
        training split's 50,000 less the ``n_val`` held out to validate."""
        return CIFAR10_TRAIN_SPLIT - self.n_val if self.n_train is None else self.n_train

    def describe(self) -> str:
        """One readable line for a notebook's set-up cell, e.g. ``run profile 'ci': 256 training images
        (64 more held out to validate), 2 epochs of batch 32, 200 test images``."""
        test = f"all {CIFAR10_TEST_SPLIT:,}" if self.n_test is None else f"{self.n_test:,}"
        return (f"run profile {self.name!r}: {self.training_images:,} training images ({self.n_val:,} more held out "
                f"to validate), {self.epochs} epochs of batch {self.batch_size}, {test} test images")


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        "ci", n_train=256, n_val=64, n_test=200, epochs=2, batch_size=32,
        description="a few hundred images: checks that everything runs, in seconds",
    ),
    "cpu": Profile(
        "cpu", n_train=10_000, n_val=1_000, n_test=1_000, epochs=8, batch_size=32,
        description="10,000 images, 8 epochs: on a 2-core CPU about 4 min (pconv), 6 min (improved), "
        "16 min (vanilla)",
    ),
    "full": Profile(
        "full", n_train=None, n_val=5_000, n_test=None, epochs=20, batch_size=32,
        description="the source's 20 epochs of batch 32 on the 45,000 training images not held out: for a GPU "
        "(a 2-core CPU takes 40 min for pconv, about 1 h for improved, about 3 h for vanilla)",
    ),
}


@functools.lru_cache(maxsize=1)
def has_gpu() -> bool:
    """True when TensorFlow sees at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def profile_name(name: str | None = None) -> str:
    """The profile to use: ``name`` if given, else ``$COURSE_PROFILE``, else by hardware."""
    chosen = name or os.environ.get("COURSE_PROFILE") or ("full" if has_gpu() else "cpu")
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(
            f"Unknown profile {chosen!r}: choose one of {sorted(PROFILES)} "
            "(set COURSE_PROFILE or pass profile=...)."
        )
    return chosen


def get_profile(name: str | None = None) -> Profile:
    """The :class:`Profile` in force (see :func:`profile_name`)."""
    return PROFILES[profile_name(name)]


def data_search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for CIFAR-10, in order: ``data_dir``, ``$COURSE_DATA_DIR``, a checkout's ``data/``."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    if os.environ.get("COURSE_DATA_DIR"):
        dirs.append(Path(os.environ["COURSE_DATA_DIR"]).expanduser())
    if CHECKOUT_DATA_DIR is not None:
        dirs.append(CHECKOUT_DATA_DIR)
    return dirs


def output_root() -> Path:
    """``$COURSE_OUTPUT_DIR``, else ``build/`` in a checkout, else ``course-output/`` in the working folder."""
    if os.environ.get("COURSE_OUTPUT_DIR"):
        return Path(os.environ["COURSE_OUTPUT_DIR"]).expanduser()
    # After a plain install REPO_ROOT is site-packages: never write there.
    return REPO_ROOT / "build" if IN_CHECKOUT else Path.cwd() / "course-output"


def verdicts_file() -> Path | None:
    """``$COURSE_VERDICTS``: where the exercise checks append their verdicts, or None (unset: nowhere)."""
    path = os.environ.get("COURSE_VERDICTS")
    return Path(path).expanduser() if path else None


def output_dir(*parts: str) -> Path:
    """A folder under :func:`output_root`, created if missing."""
    path = output_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
