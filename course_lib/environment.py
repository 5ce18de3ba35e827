"""Where a computation ran: the machine and the library versions, as one record for every output.

A training run's ``run.json`` (:mod:`course_lib.runs`, :mod:`course_lib.classifier`) and an
evaluation's ``results.json`` (:mod:`course_lib.evaluate`) both say what machine and which
libraries produced their numbers; they take the two records from here, so that both describe a
machine with the same keys::

    describe_machine()  -> {"cpu", "cpu_cores", "gpus", "gpu_count", "platform"}
    library_versions()  -> {"python", "course_lib", "numpy", "tensorflow", "keras",
                            "scikit-image", "opencv-python-headless", "matplotlib"}

Files written before this module existed describe an evaluation's machine as
``{"platform", "processor", "cpu_count", "gpu"}``; :func:`cpu_cores` reads both.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

import course_lib

#: Distributions whose versions are recorded, with the module each is imported as.
LIBRARIES = {"numpy": "numpy", "tensorflow": "tensorflow", "keras": "keras", "scikit-image": "skimage",
             "opencv-python-headless": "cv2", "matplotlib": "matplotlib"}


def cpu_name() -> str:
    """The CPU's model name (Linux: from ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> dict:
    """The CPU, its cores, the GPUs TensorFlow sees (names and count) and the operating system."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "gpus": [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus],
        "gpu_count": len(gpus),
        "platform": platform.platform(),
    }


def _version(distribution: str, module: str) -> str | None:
    """The installed version of ``distribution``; for one installed under another name (such as
    ``tensorflow-cpu``) the imported module's ``__version__``; None when it is missing."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(module), "__version__", None)


def library_versions() -> dict:
    """``{"python": "3.11.7", "course_lib": ..., <distribution>: version or None}`` for :data:`LIBRARIES`."""
    versions = {"python": platform.python_version(), "course_lib": course_lib.__version__}
    versions.update({name: _version(name, module) for name, module in LIBRARIES.items()})
    return versions


def cpu_cores(machine: dict) -> int | None:
    """The number of CPU cores a machine record gives (``cpu_cores``, or ``cpu_count`` in older files)."""
    return machine.get("cpu_cores", machine.get("cpu_count"))
