"""Shared pytest configuration, and the course's two source networks as fixtures (built once per module)."""

import pytest


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
