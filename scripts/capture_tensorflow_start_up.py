"""Capture what TensorFlow's C++ side writes to stderr while it starts, for the tests of the quiet start-up.

    python scripts/capture_tensorflow_start_up.py [--python PATH]

Runs, in a fresh process of ``PATH`` (default: this Python), an import of TensorFlow and Keras, a look
for GPUs and one tiny Keras fit, with ``TF_CPP_MIN_LOG_LEVEL`` unset so that every start-up line comes,
and writes that process's stderr to ``tests/data/tensorflow_start_up/tensorflow-VERSION-KIND.txt``
(KIND: ``cpu`` on a machine without NVIDIA's driver, ``gpu`` with one). ``tests/test_console.py`` checks
that :func:`course_lib.console.worth_showing` hides every line of each captured file. When a new
TensorFlow joins the tested range (``.ci/colab-stack.txt``, the lowest versions), capture its start-up
with the environment's Python and commit the file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "tensorflow_start_up"
START = """
import tensorflow as tf, keras
tf.config.list_physical_devices("GPU")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
model.compile("adam", "mse")
model.fit(tf.ones((8, 4)), tf.ones((8, 2)), verbose=0)
print(tf.__version__)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the Python of the environment to capture")
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([args.python, "-c", START], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        print(f"error: TensorFlow did not start with {args.python}: {done.stderr.strip().splitlines()[-1:]}")
        return 1
    version = done.stdout.strip().splitlines()[-1]
    kind = "gpu" if os.path.exists("/proc/driver/nvidia") else "cpu"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"tensorflow-{version}-{kind}.txt"
    path.write_text(done.stderr)
    print(f"wrote {path.relative_to(OUT_DIR.parent.parent.parent)} ({len(done.stderr.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
