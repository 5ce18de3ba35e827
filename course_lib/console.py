"""Keeping TensorFlow's C++ start-up lines off the console.

While TensorFlow is imported and while it looks for GPUs, its C++ side writes a few lines
straight to file descriptor 2, before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does
not reach them.  TensorFlow 2.20 and later write absl's format::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796234853.590981 3559 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796234853.591291 3559 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    E0000 00:00:1796234913.629581 3765 cuda_platform.cc:52] failed call to cuInit: ...

and earlier versions (2.16 to 2.19) their own, with a date::

    2025-03-28 11:01:13.862193: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to register cuFFT factory: ...
    2025-03-28 11:01:13.972394: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is optimized ...
    To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.

:func:`stderr_to` sends descriptor 2 to a file for a while (``scripts/run_course.py`` keeps a
log of them); :func:`tensorflow_start_up_hidden` drops them and writes everything else back
(the command line); :func:`start_tensorflow_quietly` does that for a notebook's kernel, where
the lines would show as a red stderr box under the first cell that imports TensorFlow.
TensorFlow is imported only by that function: the rest of this module only reads text.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["LOG_LINE", "is_start_up_noise", "start_tensorflow_quietly", "stderr_to", "tensorflow_start_up_hidden",
           "worth_showing"]

#: The level letter (I, W, E, F) and message of a line of TensorFlow's C++ log, in either format.
_LEVEL_AND_MESSAGE = (r"(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:[\d.]+ +\d+ "
                      r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<dated>[IWEF]) )\S+:\d+\] (?P<message>.*)")
#: Any line of TensorFlow's C++ log, or a note of its start-up (what stored notebook outputs never keep).
LOG_LINE = re.compile(r"^(?:WARNING: All log messages before absl::InitializeLog\(\).*"
                      r"|To enable the following instructions: .*rebuild TensorFlow.*"
                      r"|" + _LEVEL_AND_MESSAGE + ")$")
#: Start-up messages of level W or E that say nothing about the user's work: CUDA plug-ins registered
#: twice, TensorRT absent (TensorFlow 2.16 to 2.19).
HARMLESS = re.compile(r"Unable to register cu(?:FFT|DNN|BLAS) factory|Could not find TensorRT"
                      r"|computation placer already registered")
#: TensorFlow's INFO line on a machine without NVIDIA's driver; the ERROR line that follows it there.
NO_DRIVER = "Could not find cuda drivers on your machine"
CUDA_INIT_FAILED = "failed call to cuInit"


def is_start_up_noise(line: str, *, no_driver: bool = False) -> bool:
    """True for a line of TensorFlow's start-up that a user need not see: absl's note, an INFO line,
    a :data:`HARMLESS` warning or error, and the failed CUDA start where ``no_driver`` (no NVIDIA
    driver, so it is expected)."""
    match = LOG_LINE.match(line)
    if match is None:
        return False
    level = match.group("absl") or match.group("dated")
    if level is None or level == "I":
        return True
    message = match.group("message")
    return bool(HARMLESS.search(message)) or (no_driver and level == "E" and CUDA_INIT_FAILED in message)


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


def no_nvidia_driver() -> bool:
    """True on a Linux machine without NVIDIA's kernel driver (no ``/proc/driver/nvidia``)."""
    return sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia")


def worth_showing(lines):
    """``lines`` without the INFO start-up lines and, where there is no NVIDIA driver (so a failed
    CUDA start is expected), without the cuInit ERROR line. Warnings, other errors and tracebacks
    stay, and so does a failed CUDA start on a machine that has a driver.

    TensorFlow says "no driver" in an INFO line at its import; the cuInit line can come later (the
    first look for a GPU), after that INFO line went elsewhere, so the driver is also looked for
    directly (:func:`no_nvidia_driver`)."""
    no_driver = any(NO_DRIVER in line for line in lines) or no_nvidia_driver()
    return [line for line in lines if not is_start_up_noise(line, no_driver=no_driver)]


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


def start_tensorflow_quietly():
    """Import TensorFlow and Keras and look for GPUs (where CUDA's start-up lines come) inside
    :func:`tensorflow_start_up_hidden`; later imports of either are silent.

    For a notebook's set-up cell, before anything imports Keras: ``from course_lib import console``
    then ``console.start_tensorflow_quietly()``.  In a live kernel (Jupyter, Colab) whatever
    TensorFlow's C++ side writes to descriptor 2 shows under the cell as stderr, and
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach its start-up lines.  A line that stays (a warning or an
    error other than the start-up ones) is worth reading.  Takes as long as ``import tensorflow``.
    """
    with tensorflow_start_up_hidden():
        import keras  # noqa: F401  (Keras 3 imports its backend here: TensorFlow, or JAX)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
