"""Shared pytest configuration."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: executes notebooks on a Jupyter kernel; part of the normal run (and of CI), "
        "deselect with -m 'not slow' for a quick local loop",
    )
