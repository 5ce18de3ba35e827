"""Keeping TensorFlow's C++ start-up lines off the console.

While TensorFlow is imported and while it looks for GPUs, its C++ side writes a few lines
straight to file descriptor 2, before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does
not reach them (TensorFlow 2.21)::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796234853.590981 3559 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796234853.591291 3559 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    E0000 00:00:1796234913.629581 3765 cuda_platform.cc:52] failed call to cuInit: ...

:func:`stderr_to` sends descriptor 2 to a file for a while (``scripts/run_course.py`` keeps a
log of them); :func:`tensorflow_start_up_hidden` drops them and writes everything else back
(the command line). No TensorFlow here: this module only reads text.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["stderr_to", "tensorflow_start_up_hidden", "worth_showing"]

#: An INFO line of TensorFlow's C++ start-up, or absl's note that precedes them.
START_UP_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\).*|I\d{4} \d\d:\d\d:[\d.]+ .*)$")
#: TensorFlow's INFO line on a machine without NVIDIA's driver; the ERROR line that follows it there.
NO_DRIVER = "Could not find cuda drivers on your machine"
CUDA_INIT_FAILED = re.compile(r"^E\d{4} \d\d:\d\d:[\d.]+ .*failed call to cuInit")


@contextlib.contextmanager
def stderr_to(file):
    """Send this process's file descriptor 2 (not only ``sys.stderr``) to ``file``, an open file."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def worth_showing(lines):
    """``lines`` without the INFO start-up lines and, where TensorFlow found no NVIDIA driver (so a
    failed CUDA start is expected), without the cuInit ERROR line. Warnings, other errors and
    tracebacks stay, and so does a failed CUDA start on a machine that has a driver."""
    no_driver = any(NO_DRIVER in line for line in lines)
    return [line for line in lines
            if not START_UP_LOG_LINE.match(line) and not (no_driver and CUDA_INIT_FAILED.match(line))]


@contextlib.contextmanager
def tensorflow_start_up_hidden():
    """Import TensorFlow and look for GPUs inside this block: what they write to descriptor 2 goes
    to a temporary file, and afterwards the lines :func:`worth_showing` keeps are written back."""
    with tempfile.TemporaryFile() as captured:
        try:
            with stderr_to(captured):
                yield
        finally:
            captured.seek(0)
            kept = worth_showing(captured.read().decode(errors="replace").splitlines())
            if kept:
                print("\n".join(kept), file=sys.stderr)
