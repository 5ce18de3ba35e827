"""console.start_tensorflow_quietly in a live kernel, where a notebook's outputs come from.

A Jupyter kernel forwards what is written to file descriptor 2 to the notebook as stderr, so
TensorFlow's C++ start-up lines (absl's note, oneDNN, the CUDA search, a failed ``cuInit`` on a
machine without a GPU) show under the first cell that imports it, whatever ``TF_CPP_MIN_LOG_LEVEL``
says.  The set-up cells of the notebooks call the function first; these tests run a real kernel.
"""

from __future__ import annotations

import os

import pytest

jupyter_client = pytest.importorskip("jupyter_client", reason="needs jupyter_client and ipykernel (the dev extra)")

A_REAL_ERROR = "E0000 00:00:1796234853.591291    3559 cuda.cc:31] a real error"


@pytest.fixture(scope="module")
def kernel():
    """A fresh kernel of this environment, started as a student's would be: no TF_CPP_MIN_LOG_LEVEL, and
    no PYTEST_CURRENT_TEST (ipykernel does not forward descriptor 2 where that is set, so nbval never
    sees these lines)."""
    from jupyter_client.manager import start_new_kernel

    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    env["COURSE_PROFILE"] = "ci"
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> tuple[str, str, list[str]]:
    """Execute ``code`` in the kernel: (stdout, stderr, error names) as the notebook would show them."""
    streams = {"stdout": "", "stderr": ""}
    errors = []

    def collect(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            streams[content["name"]] += content["text"]
        elif message["msg_type"] == "error":
            errors.append(content["ename"])

    client.execute_interactive(code, output_hook=collect, timeout=300)
    return streams["stdout"], streams["stderr"], errors


def test_a_set_up_cell_that_starts_tensorflow_quietly_shows_no_stderr(kernel):
    # Control: the kernel does show what is written to the descriptor, as TensorFlow writes it.
    _, shown, _ = run(kernel, f"import os\nos.write(2, {(A_REAL_ERROR + chr(10)).encode()!r})")
    assert shown == A_REAL_ERROR + "\n"

    set_up = ("from course_lib import console\n"
              "console.start_tensorflow_quietly()\n"
              "import keras\n"
              "from course_lib import config, models\n"
              "print(keras.ops.convert_to_numpy(keras.ops.ones(2)).sum(), config.has_gpu() in (True, False))")
    out, shown, errors = run(kernel, set_up)
    assert (out, shown, errors) == ("2.0 True\n", "", [])

    # Afterwards the descriptor is the kernel's again: a real error still reaches the student.
    _, shown, _ = run(kernel, f"os.write(2, {(A_REAL_ERROR + chr(10)).encode()!r})")
    assert shown == A_REAL_ERROR + "\n"


def test_a_second_call_does_nothing_and_shows_nothing(kernel):
    assert run(kernel, "from course_lib import console\nconsole.start_tensorflow_quietly()") == ("", "", [])
