"""Shared pytest configuration, and the course's two source networks as fixtures (built once per module)."""

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


def work_unit(nodeid: str) -> str:
    """The tests that must run on one worker, in their order, named by what they share.

    Every notebook under nbval: one unit (a notebook's cells share a kernel, and a notebook may read what an
    earlier one trained in ``COURSE_OUTPUT_DIR``). A test file: one unit (its tests share module-scoped
    fixtures: a built site, a trained run), unless it is in :data:`SPREAD`, whose tests are units each.
    """
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        return "notebooks under nbval"
    return nodeid if path in SPREAD else path


def _weight(item) -> int:
    """0 for a notebook cell under nbval, 1 for a test that runs a notebook, 2 for other long work, 3 else."""
    if item.path.suffix == ".ipynb":
        return 0
    if item.get_closest_marker("slow"):
        return 1
    return 2 if item.get_closest_marker("long") else 3


def pytest_collection_modifyitems(items):
    """The longest work first (stable: the order within each weight is kept), so that under pytest-xdist no
    worker is left with a notebook while the others are idle."""
    items[:] = sorted(items, key=_weight)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which may not be installed
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` (``scripts/run_tests.py``) with the course's units (:func:`work_unit`), handed out
    in collection order (with ``--no-loadscope-reorder``)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CourseUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return work_unit(nodeid)

    return CourseUnits(config, log)


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
