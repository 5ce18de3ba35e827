"""course_lib.environment: one record of the machine and the versions, for run.json and results.json alike."""

import importlib.metadata
import os
import platform
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import environment, reporting, runs

ROOT = Path(__file__).resolve().parents[1]


def test_the_machine_is_described_as_the_standard_library_and_tensorflow_see_it():
    machine = environment.describe_machine()
    assert set(machine) == {"cpu", "cpu_cores", "gpus", "gpu_count", "platform"}
    assert machine["cpu_cores"] == os.cpu_count()
    assert machine["platform"] == platform.platform()
    assert machine["gpu_count"] == len(machine["gpus"]) == len(tf.config.list_physical_devices("GPU"))
    assert isinstance(machine["cpu"], str) and machine["cpu"]


def test_versions_are_those_of_the_imported_libraries():
    versions = environment.library_versions()
    assert versions["python"] == sys.version.split()[0]
    assert versions["numpy"] == np.__version__ and versions["keras"] == keras.__version__
    assert set(versions) == {"python", "course_lib", *environment.LIBRARIES}


def test_a_library_installed_under_another_name_or_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "renamed_module", types.SimpleNamespace(__version__="9.9"))
    monkeypatch.setattr(environment, "LIBRARIES", {"no-such-distribution": "renamed_module",
                                                   "another-missing-one": "never_imported"})
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("no-such-distribution")
    versions = environment.library_versions()
    assert versions["no-such-distribution"] == "9.9"  # e.g. tensorflow-cpu: the module says its version
    assert versions["another-missing-one"] is None


def test_a_training_run_records_the_same_machine_plus_its_strategy():
    hardware = runs.describe_hardware(tf.distribute.get_strategy())
    assert {key: hardware[key] for key in environment.describe_machine()} == environment.describe_machine()
    assert hardware["strategy"] == "_DefaultDistributionStrategy" and hardware["replicas"] == 1


@pytest.mark.parametrize("machine, cores", [
    ({"cpu": "x", "cpu_cores": 16}, 16),                                    # written now
    ({"platform": "Linux", "processor": "x86_64", "cpu_count": 2, "gpu": False}, 2),  # results.json before
    ({}, None),
])
def test_cores_are_read_from_new_and_old_records(machine, cores):
    assert environment.cpu_cores(machine) == cores


@pytest.mark.parametrize("path", sorted((ROOT / "results").rglob("results.json")), ids=str)
def test_the_stored_results_still_read(path):
    results = reporting.load_results(path)
    assert f"on {environment.cpu_cores(results['metadata']['machine'])} CPU cores" in reporting.time_table_markdown(results)
