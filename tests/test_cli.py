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
    ("evaluate", ["--checkpoint", "--n-test", "--seed", "--out"]),
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


@pytest.mark.parametrize("written, shown", [
    (START_UP + OTHER, OTHER),
    (START_UP + NO_DRIVER + CUINIT + OTHER, OTHER),  # no driver: the failed CUDA start is expected
    (START_UP + CUINIT + OTHER, CUINIT + OTHER),  # a driver that fails to start: worth seeing
])
def test_start_up_log_lines_are_hidden_and_everything_else_kept(capfd, written, shown):
    from course_lib.console import tensorflow_start_up_hidden

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

