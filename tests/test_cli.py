"""``python -m course_lib``: help, argument errors, a tiny training run, the evaluate hand-off."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import write_fake_cifar

from course_lib.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def _exit_code_and_output(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out + captured.err


def test_help_as_a_real_command():
    result = subprocess.run([sys.executable, "-m", "course_lib", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "train" in result.stdout and "evaluate" in result.stdout


@pytest.mark.parametrize("command, options", [
    ("train", ["--model", "--profile", "--epochs", "--n-train", "--batch-size", "--recipe",
               "--loss", "--masks", "--seed", "--learning-rate", "--schedule", "--warmup-epochs",
               "--clipnorm", "--mixed-precision", "--out", "ci:", "cpu:", "full:", "course:",
               "source:"]),
    ("evaluate", ["--checkpoint", "--n-test", "--seed", "--out", "--images", "--photographs"]),
])
def test_each_command_has_help(capsys, command, options):
    code, output = _exit_code_and_output(capsys, [command, "--help"])
    assert code == 0
    for option in options:
        assert option in output


@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["fit"], "invalid choice"),
    (["train", "--out", "x"], "--model"),
    (["train", "--model", "unet", "--out", "x"], "invalid choice: 'unet'"),
    (["train", "--model", "pconv", "--epochs", "0", "--out", "x"], ">= 1"),
    (["train", "--model", "pconv", "--epochs", "two", "--out", "x"], "whole number"),
    (["train", "--model", "pconv", "--loss", "vgg", "--out", "x"], "invalid choice: 'vgg'"),
    (["train", "--model", "pconv", "--profile", "gpu", "--out", "x"], "invalid choice: 'gpu'"),
    (["train", "--model", "pconv", "--seed", "-1", "--out", "x"], ">= 0"),
    (["train", "--model", "pconv", "--recipe", "gan", "--out", "x"], "invalid choice: 'gan'"),
    (["train", "--model", "pconv", "--learning-rate", "nan", "--out", "x"], "finite number > 0"),
    (["train", "--model", "pconv", "--clipnorm", "-1", "--out", "x"], "finite number >= 0"),
    (["train", "--model", "pconv"], "--out"),
    (["evaluate", "--checkpoint", "pconv", "--out", "x"], "NAME=PATH"),
    (["evaluate", "--n-test", "-5", "--out", "x"], ">= 1"),
    (["evaluate", "--photographs", "0", "--out", "x"], ">= 1"),
    (["evaluate", "--images", "a", "--photographs", "3", "--out", "x"], "not allowed with argument"),
])
def test_bad_arguments_exit_with_code_2_and_a_message(capsys, argv, message):
    code, output = _exit_code_and_output(capsys, argv)
    assert code == 2
    assert message in output


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    """COURSE_DATA_DIR pointing at a fake CIFAR-10 of 300 training images (cache in tmp_path)."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(write_fake_cifar(tmp_path / "data", per_batch=60)))
    monkeypatch.setenv("HOME", str(tmp_path))  # course_lib.data caches decoded arrays in ~/.cache


START_UP = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1796234853.590981    3559 port.cc:153] oneDNN custom operations are on.\n")
NO_DRIVER = "I0000 00:00:1796234853.591291    3559 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
CUINIT = "E0000 00:00:1796234913.629581    3765 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
OTHER = "E0000 00:00:1796234853.591291    3559 cuda.cc:31] a real error\nUserWarning: something a user should read\n"


@pytest.mark.parametrize("written, driver, shown", [
    (START_UP + OTHER, True, OTHER),
    (START_UP + NO_DRIVER + CUINIT + OTHER, True, OTHER),  # TensorFlow says there is no driver: expected
    (START_UP + CUINIT + OTHER, False, OTHER),  # no driver installed, TensorFlow's INFO line came earlier
    (START_UP + CUINIT + OTHER, True, CUINIT + OTHER),  # a driver that fails to start: worth seeing
])
def test_start_up_log_lines_are_hidden_and_everything_else_kept(capfd, monkeypatch, written, driver, shown):
    from course_lib import console
    from course_lib.console import tensorflow_start_up_hidden

    monkeypatch.setattr(console, "no_nvidia_driver", lambda: not driver)
    with tensorflow_start_up_hidden():
        os.write(2, written.encode())  # as TensorFlow's C++ code writes: to the descriptor, not sys.stderr
    assert capfd.readouterr().err == shown


def test_errors_from_training_become_one_line(capsys, tmp_path, fake_cifar):
    code = main(["train", "--model", "pconv", "--n-train", "1000", "--n-val", "50", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("python -m course_lib train: error: ")
    assert "n_train=1000" in captured.err


def test_a_tiny_training_run_through_the_command_line(tmp_path, fake_cifar, capsys):
    out = tmp_path / "run"
    args = ["train", "--model", "vanilla", "--profile", "ci", "--epochs", "1", "--n-train", "16",
            "--n-val", "16", "--batch-size", "16", "--loss", "liu", "--masks", "boxes",
            "--seed", "7", "--out", str(out)]
    assert main(args) == 0
    assert "done: 1 epochs" in capsys.readouterr().out
    settings = json.loads((out / "run.json").read_text())["settings"]
    assert (settings["profile"], settings["loss"], settings["masks"], settings["seed"]) == ("ci", "liu", "boxes", 7)
    assert (out / "best.keras").exists() and (out / "final.keras").exists()
    assert main(args) == 0  # the same command again: nothing left to do
    assert "nothing to do" in capsys.readouterr().out


def test_evaluate_passes_its_arguments_on(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_evaluate(checkpoints, *, n_test=None, out_dir, seed=0):
        calls.append((checkpoints, n_test, out_dir, seed))
        return {}

    module = types.ModuleType("course_lib.evaluate")
    module.evaluate = fake_evaluate
    monkeypatch.setitem(sys.modules, "course_lib.evaluate", module)
    assert main(["evaluate", "--checkpoint", "pconv=a/best.keras", "--checkpoint", "vanilla=b.keras",
                 "--n-test", "50", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert main(["evaluate", "--out", str(tmp_path)]) == 0
    assert calls == [
        ({"pconv": "a/best.keras", "vanilla": "b.keras"}, 50, str(tmp_path), 3),
        (None, None, str(tmp_path), 0),
    ]



def _fake_evaluate(monkeypatch):
    """Replace course_lib.evaluate by a module whose evaluate() only records its arguments."""
    calls = []

    def fake_evaluate(checkpoints, **kwargs):
        calls.append(kwargs)
        return {}

    module = types.ModuleType("course_lib.evaluate")
    module.evaluate = fake_evaluate
    monkeypatch.setitem(sys.modules, "course_lib.evaluate", module)
    return calls


def test_evaluate_scores_a_folder_or_photographs_instead_of_cifar10(monkeypatch, tmp_path):
    from PIL import Image

    from course_lib import data

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 50 * i, np.uint8)).save(folder / f"{i}.png")
    calls = _fake_evaluate(monkeypatch)
    assert main(["evaluate", "--images", str(folder), "--out", str(tmp_path / "a")]) == 0
    assert main(["evaluate", "--photographs", "5", "--seed", "2", "--n-test", "4", "--out", str(tmp_path / "b")]) == 0
    from_folder, photographs = calls
    np.testing.assert_array_equal(from_folder["images"], np.full((3, 32, 32, 3), [[[[0]]], [[[50]]], [[[100]]]]))
    assert str(folder) in from_folder["images_source"]
    np.testing.assert_array_equal(photographs["images"], data.sample_photographs(5, seed=2))
    assert (photographs["n_test"], photographs["seed"]) == (4, 2)
    assert "sample photographs" in photographs["images_source"]


@pytest.mark.parametrize("make, message", [
    (lambda folder: None, "No folder at"),
    (lambda folder: folder.mkdir(), "No PNG or JPEG image in"),
    (lambda folder: (folder.mkdir(), (folder / "x.png").write_text("text")), "Cannot read"),
])
def test_a_bad_image_folder_is_one_line_and_exit_code_1(monkeypatch, tmp_path, capsys, make, message):
    calls = _fake_evaluate(monkeypatch)
    folder = tmp_path / "photos"
    make(folder)
    assert main(["evaluate", "--images", str(folder), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"python -m course_lib evaluate: error: {message}")
    assert calls == []


def test_evaluate_on_photographs_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--photographs", "3", "--out", str(out)]) == 0
    assert f"done: results in {out}" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["metadata"]["n_test"] == 3 and "sample photographs" in results["metadata"]["data"]["source"]
    assert "biharmonic" in results["metadata"]["methods"] and "database" not in results["metadata"]["methods"]
    assert "sample photographs" in (out / "results.md").read_text()


# Start-up lines as TensorFlow 2.16 to 2.19 write them (with a date), on a machine with no GPU.
DATED_START_UP = (
    "2025-03-28 11:01:13.862193: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:467] Unable to register "
    "cuFFT factory: Attempting to register factory for plugin cuFFT when one has already been registered\n"
    "2025-03-28 11:01:13.871011: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:8579] Unable to register "
    "cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered\n"
    "2025-03-28 11:01:13.972394: I tensorflow/core/platform/cpu_feature_guard.cc:210] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.\n"
    "2025-03-28 11:01:15.004312: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not "
    "find TensorRT\n"
)
DATED_REAL_ERROR = "2025-03-28 11:01:16.100000: E tensorflow/core/framework/op_kernel.cc:1830] a real error\n"


@pytest.mark.parametrize("written, shown", [
    (DATED_START_UP + OTHER, OTHER),
    (DATED_START_UP + DATED_REAL_ERROR, DATED_REAL_ERROR),
])
def test_start_up_lines_of_earlier_tensorflow_versions_are_hidden_too(capfd, written, shown):
    from course_lib.console import tensorflow_start_up_hidden

    with tensorflow_start_up_hidden():
        os.write(2, written.encode())
    assert capfd.readouterr().err == shown


def test_every_log_line_matches_the_pattern_that_cleans_stored_outputs():
    from course_lib.console import LOG_LINE

    lines = (START_UP + NO_DRIVER + CUINIT + DATED_START_UP + DATED_REAL_ERROR).splitlines()
    assert all(LOG_LINE.match(line) for line in lines)
    assert not any(LOG_LINE.match(line) for line in ("UserWarning: something a user should read",
                                                     "Epoch 1/8", "I am a sentence, not a log line: 2025"))


def test_train_classifier_into_a_file_is_one_line(capsys, tmp_path, fake_cifar):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    code = main(["train-classifier", "--epochs", "1", "--out", str(taken)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("python -m course_lib train-classifier: error: ")


def test_the_adversarial_weight_belongs_to_the_adversarial_network_only(capsys, tmp_path, fake_cifar):
    code = main(["train", "--model", "pconv", "--adversarial-weight", "0.1", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 1 and "'adversarial' network" in captured.err and captured.err.count("\n") == 1
