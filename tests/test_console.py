"""``course_lib.console``: TensorFlow's start-up lines hidden, everything else kept.

The samples in ``tests/data/tensorflow_start_up/`` are real: each is what one TensorFlow of the tested
range wrote to stderr while it started on a machine without a GPU (``scripts/capture_tensorflow_start_up.py``).
"""

import os
from pathlib import Path

import pytest

from course_lib import console
from course_lib.console import LOG_LINE, tensorflow_start_up_hidden

CAPTURED = sorted((Path(__file__).parent / "data" / "tensorflow_start_up").glob("tensorflow-*-cpu.txt"))

START_UP = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796234853.590981    3559 port.cc:153] oneDNN custom operations are on.\n")
NO_DRIVER = "I0000 00:00:1796234853.591291    3559 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
CUINIT = "E0000 00:00:1796234913.629581    3765 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
OTHER = "E0000 00:00:1796234853.591291    3559 cuda.cc:31] a real error\nUserWarning: something a user should read\n"
DATED_REAL_ERROR = "2025-03-28 11:01:16.100000: E tensorflow/core/framework/op_kernel.cc:1830] a real error\n"


def _shown(capfd, written: str) -> str:
    with tensorflow_start_up_hidden():
        os.write(2, written.encode())  # as TensorFlow's C++ code writes: to the descriptor, not sys.stderr
    return capfd.readouterr().err


def test_a_capture_of_each_tested_tensorflow_is_there():
    versions = {path.name.split("-")[1].rsplit(".", 1)[0] for path in CAPTURED}
    assert {"2.16", "2.19", "2.21"} <= versions, versions  # the lowest allowed, Colab's, the main one


@pytest.mark.parametrize("path", CAPTURED, ids=lambda path: path.stem)
def test_real_start_up_output_is_hidden_whole_and_a_real_error_after_it_is_not(capfd, monkeypatch, path):
    monkeypatch.setattr(console, "no_nvidia_driver", lambda: True)
    captured = path.read_text()
    assert captured.strip(), f"{path.name} is empty"
    assert _shown(capfd, captured) == ""
    assert _shown(capfd, captured + OTHER) == OTHER
    assert _shown(capfd, captured + DATED_REAL_ERROR) == DATED_REAL_ERROR


@pytest.mark.parametrize("path", CAPTURED, ids=lambda path: path.stem)
def test_every_captured_line_matches_the_pattern_that_cleans_stored_outputs(path):
    lines = path.read_text().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), [line for line in lines if not LOG_LINE.match(line)]


def test_lines_that_are_not_tensorflow_logs_do_not_match_the_pattern():
    assert not any(LOG_LINE.match(line) for line in ("UserWarning: something a user should read",
                                                     "Epoch 1/8", "I am a sentence, not a log line: 2025"))


@pytest.mark.parametrize("written, driver, shown", [
    (START_UP + OTHER, True, OTHER),
    (START_UP + NO_DRIVER + CUINIT + OTHER, True, OTHER),  # TensorFlow says there is no driver: expected
    (START_UP + CUINIT + OTHER, False, OTHER),  # no driver installed, TensorFlow's INFO line came earlier
    (START_UP + CUINIT + OTHER, True, CUINIT + OTHER),  # a driver that fails to start: worth seeing
])
def test_the_failed_cuda_start_is_hidden_only_without_a_driver(capfd, monkeypatch, written, driver, shown):
    monkeypatch.setattr(console, "no_nvidia_driver", lambda: not driver)
    assert _shown(capfd, written) == shown
