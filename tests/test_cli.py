"""``python -m course_lib``: help, argument errors, a tiny training run, the evaluate hand-off."""

import json
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
    (["evaluate", "--pretrained", "vanilla,unet", "--out", "x"], "Unknown model 'unet'"),
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


def test_errors_from_training_become_one_line(capsys, tmp_path, fake_cifar):
    code = main(["train", "--model", "pconv", "--n-train", "1000", "--n-val", "50", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("python -m course_lib train: error: ")
    assert "n_train=1000" in captured.err


@pytest.mark.long
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


def test_evaluate_loads_all_the_pretrained_networks_or_those_named(monkeypatch, tmp_path):
    from course_lib import names, pretrained

    calls = []

    def fake_evaluate(checkpoints, **kwargs):
        calls.append({name: kind for name, (kind, _) in checkpoints.items()})
        return {}

    module = types.ModuleType("course_lib.evaluate")
    module.evaluate = fake_evaluate
    monkeypatch.setitem(sys.modules, "course_lib.evaluate", module)
    monkeypatch.setattr(pretrained, "load_pretrained", lambda name: f"the {name} network")
    assert main(["evaluate", "--pretrained", "--n-test", "5", "--out", str(tmp_path)]) == 0
    assert main(["evaluate", "--pretrained", "pconv, vanilla", "--out", str(tmp_path)]) == 0
    assert calls == [{name: name for name in names.MODEL_NAMES}, {"pconv": "pconv", "vanilla": "vanilla"}]



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

    from course_lib import photographs

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 50 * i, np.uint8)).save(folder / f"{i}.png")
    calls = _fake_evaluate(monkeypatch)
    assert main(["evaluate", "--images", str(folder), "--out", str(tmp_path / "a")]) == 0
    assert main(["evaluate", "--photographs", "5", "--seed", "2", "--n-test", "4", "--out", str(tmp_path / "b")]) == 0
    from_folder, from_photographs = calls
    np.testing.assert_array_equal(from_folder["images"], np.full((3, 32, 32, 3), [[[[0]]], [[[50]]], [[[100]]]]))
    assert str(folder) in from_folder["images_source"]
    np.testing.assert_array_equal(from_photographs["images"], photographs.sample_photographs(5, seed=2))
    assert (from_photographs["n_test"], from_photographs["seed"]) == (4, 2)
    assert "sample photographs" in from_photographs["images_source"]


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


@pytest.mark.parametrize("model, chosen", [
    ("vanilla", dict(profile="cpu", mixed_precision=False)),
    ("pconv", dict(profile="full", recipe="source", n_train=5000, clipnorm=1.0, mixed_precision=True,
                   multi_device=True)),
    ("improved", dict(profile="ci", epochs=3, batch_size=8, loss="l1", masks="strokes", seed=4,
                      learning_rate=3e-4, schedule="constant", warmup_epochs=0.5, mixed_precision=False)),
    ("adversarial", dict(profile="cpu", adversarial_weight=0.03, mixed_precision=False)),
])
def test_the_recorded_command_gives_back_every_setting_through_the_real_parser(model, chosen):
    """run.json's command is built from the settings; parsed with the command line's own parser and
    resolved the way ``train`` resolves its options, it must give the same settings back (an option
    the builder forgets, or spells differently, fails here)."""
    from course_lib import runs
    from course_lib.__main__ import build_parser, run_settings
    from course_lib.train import resolve_settings

    defaults = dict(profile=None, epochs=None, n_train=None, n_val=None, batch_size=None, loss=None, masks=None,
                    seed=0, mixed_precision=None, learning_rate=None)
    settings = resolve_settings(model, **{**defaults, **chosen})
    command = runs.equivalent_command({**settings, "data": {"source": "CIFAR-10 training split"}}, "out")
    words = command.split()
    assert words[:4] == ["python", "-m", "course_lib", "train"]
    args = build_parser().parse_args(words[3:])
    assert args.out == "out"
    assert resolve_settings(args.model, **run_settings(args)) == settings
