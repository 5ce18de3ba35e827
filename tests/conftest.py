"""Shared pytest configuration, and the course's two source networks as fixtures (built once per module)."""

from pathlib import Path

import pytest

#: Test files whose tests are independent enough to run on different workers of pytest-xdist: each tests one
#: notebook (a module-scoped fixture, such as the browser test's JupyterLab, then starts once per worker).
SPREAD = ("tests/browser/test_jupyterlab.py", "tests/test_solutions.py")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: executes notebooks on a Jupyter kernel; part of the normal run (and of CI), "
        "deselect with -m 'not slow' for a quick local loop",
    )
    config.addinivalue_line(
        "markers",
        "long: five seconds or more of work other than a notebook (a training run, a study, a command in a "
        "subprocess); the main environment runs them, the version environments of scripts/run_version_tests.py "
        "run the rest",
    )


def _weight(item) -> int:
    """0 for a notebook cell under nbval, 1 for a test that runs a notebook, 2 for other long work, 3 else."""
    if item.path.suffix == ".ipynb":
        return 0
    if item.get_closest_marker("slow"):
        return 1
    return 2 if item.get_closest_marker("long") else 3


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker reads the groups
def pytest_collection_modifyitems(config, items):
    """The longest work first, and, under pytest-xdist (``scripts/run_tests.py``: ``--dist loadgroup``), one
    group per test file, all notebooks under nbval in one group.

    Longest first so that no worker is left with a notebook while the others are idle. A notebook's cells
    share one kernel, and a notebook may read what an earlier one trained (``COURSE_OUTPUT_DIR``), so the
    notebooks run on one worker in their order; the tests of one file share its module-scoped fixtures (a
    built site, a trained run), so they stay together unless the file is in :data:`SPREAD`.
    """
    items[:] = sorted(items, key=_weight)  # stable: the order within each weight is kept
    if not config.pluginmanager.hasplugin("xdist"):
        return
    root = Path(str(config.rootpath))
    for item in items:
        where = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else str(item.path)
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group("notebooks"))
        elif where not in SPREAD:
            item.add_marker(pytest.mark.xdist_group(where))


@pytest.fixture(scope="module")
def vanilla():
    """The vanilla U-Net of course_lib.models, freshly built."""
    from course_lib import models

    return models.build_vanilla_unet()


@pytest.fixture(scope="module")
def pconv():
    """The PConv U-Net of course_lib.models, freshly built."""
    from course_lib import models

    return models.build_pconv_unet()
