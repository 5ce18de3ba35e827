"""train(): it learns, writes its files, and resumes interrupted or killed runs exactly.

The runs are tiny (16x16 synthetic images, a few steps) but real: the real PConv U-Net,
the real pipeline and the real Keras callbacks.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import write_fake_cifar

import keras

from course_lib import config, pipeline, recipes
from course_lib.__main__ import main
from course_lib.logs import read_log
from course_lib.runs import ResumableCSVLogger, drop_log_rows_from, repair_backup
from course_lib.train import split_train_val, train

ROOT = Path(__file__).resolve().parent.parent
SIZE = 16
SETTINGS = dict(epochs=3, n_train=64, n_val=32, batch_size=16, seed=0, verbose=0)


def smooth_images(n, size=SIZE, seed=0):
    """uint8 (n, size, size, 3): random colours, smoothly interpolated (learnable to inpaint)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 3, 3, 3))
    t = np.linspace(0, 2, size)
    i0 = np.minimum(t.astype(int), 1)
    f = t - i0
    rows = coarse[:, i0] * (1 - f)[None, :, None, None] + coarse[:, i0 + 1] * f[None, :, None, None]
    image = rows[:, :, i0] * (1 - f)[None, None, :, None] + rows[:, :, i0 + 1] * f[None, None, :, None]
    return np.round(image * 255).astype(np.uint8)


def csv_epochs(log_path):
    with open(log_path, newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def backed_up_epochs(out):
    """Epochs finished according to BackupAndRestore's metadata (0 while none or half written)."""
    try:
        return json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.finished = []

    def on_epoch_end(self, epoch, logs=None):
        self.finished.append(epoch)


class Interrupt(keras.callbacks.Callback):
    """Raise in the middle of epoch ``epoch`` (after its second batch), like a crash."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="module", autouse=True)
def deterministic_ops():
    """Deterministic kernels for this module, so that "resumes exactly" holds on a GPU too.

    On a CPU TensorFlow's kernels already give the same result every run; cuDNN's fastest
    convolutions on a GPU do not (atomics sum in varying order), and after a few epochs
    an interrupted and an uninterrupted run would drift apart by more than the tolerance.
    """
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_on:
        tf_config.disable_op_determinism()


@pytest.fixture(scope="module")
def images():
    return smooth_images(96)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, images):
    """An uninterrupted 3-epoch run of the PConv U-Net."""
    out = tmp_path_factory.mktemp("reference")
    return train("pconv", out_dir=out, images=images, **SETTINGS)


# ------------------------------------------------------------------------ a plain run ----


@pytest.mark.long
def test_training_lowers_the_loss(reference):
    history = reference.history
    assert history["epoch"] == [0, 1, 2]
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_a_run_writes_its_log_checkpoints_and_record(reference, images):
    out = reference.out_dir
    assert reference.log_path == out / "log.csv" and reference.best_path == out / "best.keras"
    assert csv_epochs(reference.log_path) == [0, 1, 2]
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["model"] == "pconv" and record["settings"]["epochs"] == 3
    assert record["settings"]["data"]["n_train"] == 64 and record["settings"]["data"]["n_val"] == 32
    assert record["hardware"]["replicas"] == 1 and record["hardware"]["cpu_cores"] >= 1
    assert record["versions"]["keras"] == keras.__version__
    assert record["status"] == "finished" and record["wall_time_s"] > 0
    assert record["command"] is None  # images passed to train(): no command line repeats it
    # best.keras holds the epoch with the lowest val_loss: evaluating it again gives that value
    best = keras.saving.load_model(reference.best_path)
    val = pipeline.make_validation_dataset("pconv", images[-32:], batch_size=16, seed=0,
                                           masks=recipes.get_recipe().masks)
    assert best.evaluate(val, verbose=0, return_dict=True)["loss"] == pytest.approx(
        min(reference.history["val_loss"]), rel=1e-4)
    final = keras.saving.load_model(out / "final.keras")
    np.testing.assert_array_equal(final.get_weights()[0], reference.model.get_weights()[0])


def test_a_finished_run_returns_at_once(reference, images, capsys):
    sessions = len(json.loads((reference.out_dir / "run.json").read_text())["sessions"])
    again = train("pconv", out_dir=reference.out_dir, images=images, **{**SETTINGS, "verbose": 1})
    assert "nothing to do" in capsys.readouterr().out
    assert again.history == reference.history
    assert len(json.loads((reference.out_dir / "run.json").read_text())["sessions"]) == sessions


def test_other_settings_in_the_same_folder_are_refused(reference, images):
    with pytest.raises(ValueError, match="loss"):
        train("pconv", out_dir=reference.out_dir, images=images, **{**SETTINGS, "epochs": 4}, loss="l1")
    with pytest.raises(ValueError, match="recipe"):
        train("pconv", out_dir=reference.out_dir, images=images, **{**SETTINGS, "epochs": 4},
              recipe="source", loss="liu", masks="mixed", learning_rate=5e-4,
              schedule="warmup_cosine", warmup_epochs=1.0, clipnorm=1.0)


# ------------------------------------------------------------------------------ resume ----


def test_an_interrupted_run_resumes_where_it_stopped(reference, images, tmp_path):
    out = tmp_path / "run"
    counter = CountEpochs()
    with pytest.raises(RuntimeError, match="simulated crash"):
        train("pconv", out_dir=out, images=images, callbacks=[counter, Interrupt(1)], **SETTINGS)
    assert csv_epochs(out / "log.csv") == [0]

    # Pretend epoch 0 was perfect: the best value must survive the restart, so no later
    # epoch may replace best.keras.
    log = (out / "log.csv").read_text().splitlines()
    header = log[0].split(",")
    row = log[1].split(",")
    row[header.index("val_loss")] = "0.0"
    (out / "log.csv").write_text("\n".join([log[0], ",".join(row)]) + "\n")
    best_before = (out / "best.keras").read_bytes()

    resumed = train("pconv", out_dir=out, images=images, callbacks=[counter], **SETTINGS)
    assert csv_epochs(out / "log.csv") == [0, 1, 2]
    assert counter.finished == [0, 1, 2]  # each epoch trained once in all
    assert (out / "best.keras").read_bytes() == best_before
    # The same weights, optimizer state, order and masks as the uninterrupted run:
    for key in ("loss", "batch_psnr", "batch_hole_l1"):
        np.testing.assert_allclose(resumed.history[key], reference.history[key], rtol=1e-4)
    np.testing.assert_allclose(resumed.history["val_loss"][1:], reference.history["val_loss"][1:], rtol=1e-4)


def cli_run_after_first_epoch(tmp_path, epochs):
    """Start ``python -m course_lib train`` (fake CIFAR-10, pconv, ci) and return once epoch 0 is
    backed up: ``(process, args, data_dir, out)``; stderr is piped, stdout dropped."""
    data_dir = write_fake_cifar(tmp_path / "data")
    out = tmp_path / "run"
    env = {**os.environ, "COURSE_DATA_DIR": str(data_dir), "HOME": str(tmp_path)}
    args = ["train", "--model", "pconv", "--profile", "ci", "--epochs", str(epochs), "--n-train", "64",
            "--n-val", "32", "--batch-size", "16", "--quiet", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "course_lib", *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while backed_up_epochs(out) < 1:  # wait until epoch 0 is finished and backed up
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, stderr = process.communicate()
            pytest.fail(f"no epoch finished in time (exit code {process.returncode}): {stderr[-2000:]}")
        time.sleep(0.05)
    return process, args, data_dir, out


@pytest.mark.long
def test_a_killed_command_line_run_resumes(tmp_path, monkeypatch):
    process, args, data_dir, out = cli_run_after_first_epoch(tmp_path, epochs=4)
    try:
        process.send_signal(signal.SIGKILL)  # kill it during epoch 1
    finally:
        process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    finished = backed_up_epochs(out)
    assert csv_epochs(out / "log.csv") in (list(range(finished)), list(range(finished + 1)))

    monkeypatch.setenv("COURSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(args) == 0
    assert csv_epochs(out / "log.csv") == [0, 1, 2, 3]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished"
    assert record["settings"]["data"]["source"] == "CIFAR-10 training split"
    assert record["command"].startswith("python -m course_lib train --model pconv --profile ci")
    assert record["sessions"][-1]["epochs_trained"] == list(range(finished, 4))  # resumed there

    # The command that run.json records continues its own run: one more epoch.
    words = record["command"].split()[3:]  # without "python -m course_lib"
    words[words.index("--epochs") + 1] = "5"
    assert main(words) == 0
    assert csv_epochs(out / "log.csv") == [0, 1, 2, 3, 4]


@pytest.mark.long
def test_a_terminated_command_line_run_records_its_session(tmp_path):
    process, _, _, out = cli_run_after_first_epoch(tmp_path, epochs=50)
    try:
        process.send_signal(signal.SIGTERM)  # what `kill`, a scheduler or a closing session sends
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 128 + signal.SIGTERM
    assert "run the same command again to resume" in stderr and "Traceback" not in stderr
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "interrupted"
    trained = record["sessions"][-1]["epochs_trained"]
    assert trained and trained == list(range(len(trained)))  # the epochs it finished, from 0
    assert csv_epochs(out / "log.csv")[:len(trained)] == trained


@pytest.mark.long
def test_shipped_weights_continue_with_the_recorded_command(tmp_path, monkeypatch):
    """scripts/continue_pretrained.py: a finished, exported run trains on with a larger --epochs."""
    import importlib.util

    import h5py

    from course_lib import pretrained

    monkeypatch.setenv("COURSE_DATA_DIR", str(write_fake_cifar(tmp_path / "data")))
    monkeypatch.setenv("HOME", str(tmp_path))
    first = tmp_path / "first"
    args = ["train", "--model", "pconv", "--profile", "ci", "--epochs", "2", "--n-train", "64",
            "--n-val", "32", "--batch-size", "16", "--quiet", "--out", str(first)]
    assert main(args) == 0
    shipped = tmp_path / "shipped"  # what scripts/export_pretrained.py keeps of a run
    pretrained.save_pretrained(keras.saving.load_model(first / "best.keras"), "pconv", shipped / "weights.npz")
    for name in ("log.csv", "run.json"):
        (shipped / name).write_bytes((first / name).read_bytes())

    spec = importlib.util.spec_from_file_location("continue_pretrained", ROOT / "scripts" / "continue_pretrained.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    second = tmp_path / "second"
    assert script.main(["--model", "pconv", "--from", str(shipped), "--out", str(second),
                        "--moment-batches", "2"]) == 0
    with h5py.File(second / "backup" / "latest.weights.h5") as backup:
        optimizer = backup["optimizer"]["vars"]
        assert int(optimizer["0"][()]) == 2 * (64 // 16)  # Adam's step: the schedule goes on from there
        moments = [np.asarray(optimizer[str(i)]) for i in range(1, len(optimizer))]
    first_moments, second_moments = moments[0::2], moments[1::2]
    assert all(not m.any() for m in first_moments)
    assert sum(float(v.sum()) for v in second_moments) > 0  # estimated, not zero

    record = json.loads((second / "run.json").read_text())
    assert "continued_from" in record and record["status"] == "continued"
    words = record["command"].split()[3:]
    words[words.index("--epochs") + 1] = "3"
    words[words.index("--out") + 1] = str(second)
    assert main(words) == 0
    assert csv_epochs(second / "log.csv") == [0, 1, 2]
    record = json.loads((second / "run.json").read_text())
    assert record["sessions"][-1]["epochs_trained"] == [2] and "continued_from" in record
    assert record["status"] == "finished"
    assert np.isfinite(read_log(second / "log.csv")["val_loss"]).all()


@pytest.mark.long
def test_the_mirrored_strategy_runs_on_two_logical_cpus(tmp_path):
    # What several GPUs do, on two logical CPUs: opt-in, mixed precision, and 33 validation images
    # with a global batch of 32, so that the last batch holds a single image for two devices.
    # Logical devices must be configured before TensorFlow initialises them: a fresh process.
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        tf.config.set_visible_devices([], "GPU")  # on a GPU machine too: this test is about two CPUs
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from course_lib.train import choose_strategy, train
        print(type(choose_strategy()).__name__, type(choose_strategy(multi_device=True)).__name__)
        images = np.random.default_rng(0).integers(0, 256, (65, {SIZE}, {SIZE}, 3), dtype=np.uint8)
        train("pconv", out_dir={str(tmp_path)!r}, epochs=1, n_train=32, n_val=33, batch_size=16,
              images=images, verbose=0, multi_device=True, mixed_precision=True, learning_rate=1e-4)
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=300,
                               capture_output=True, text=True)
    default, opted_in = completed.stdout.split()
    assert opted_in == "MirroredStrategy" and default != "MirroredStrategy"  # several devices: opt-in only
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["hardware"]["strategy"] == "MirroredStrategy"
    assert record["hardware"]["replicas"] == 2
    assert record["hardware"]["global_batch_size"] == 32  # 16 on each device
    assert record["settings"]["mixed_precision"] and record["settings"]["multi_device"]
    log = read_log(tmp_path / "log.csv")
    assert np.isfinite(log["loss"][0]) and np.isfinite(log["val_loss"][0])


@pytest.mark.long
def test_real_cifar10_if_present(tmp_path, monkeypatch):
    candidates = [Path(p) for p in (os.environ.get("COURSE_DATA_DIR"), ROOT.parent / "shared" / "data") if p]
    found = [d for d in candidates if (d / "cifar-10-python.tar.gz").exists() or (d / "cifar-10-batches-py").is_dir()]
    if not found:
        pytest.skip("no CIFAR-10 copy on this machine (set COURSE_DATA_DIR)")
    monkeypatch.setenv("COURSE_DATA_DIR", str(found[0]))
    result = train("pconv", out_dir=tmp_path, profile="ci", epochs=1, n_train=16, n_val=16,
                   batch_size=16, verbose=0)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"]["data"]["source"] == "CIFAR-10 training split"
    assert record["settings"]["data"]["n_val"] == 16 and record["settings"]["profile"] == "ci"
    assert np.isfinite(result.history["loss"][0])


# ----------------------------------------------------------------------- small helpers ----


def test_log_rows_of_epochs_to_redo_are_dropped(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.25\n")
    assert drop_log_rows_from(log, 2)
    assert log.read_text() == "epoch,loss\n0,1.0\n1,0.5\n"
    assert not drop_log_rows_from(log, 5)
    assert read_log(log) == {"epoch": [0, 1], "loss": [1.0, 0.5]}


def test_a_log_begun_with_other_columns_is_refused_before_a_row_is_misplaced(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,hole_l1,loss,psnr,val_hole_l1,val_loss,val_psnr\n0,0.1,0.2,20.0,0.1,0.2,20.0\n")
    logger = ResumableCSVLogger(log)
    logger.on_train_begin()
    logger.on_epoch_begin(1)
    logs = {"batch_hole_l1": 0.1, "batch_psnr": 21.0, "loss": 0.2, "val_batch_hole_l1": 0.1,
            "val_batch_psnr": 21.0, "val_loss": 0.2}
    with pytest.raises(ValueError, match=r"has the columns \['hole_l1'.*this run logs \['batch_hole_l1'"):
        logger.on_epoch_end(1, logs)
    logger.on_train_end()
    log.write_text("epoch,batch_hole_l1,batch_psnr,loss,val_batch_hole_l1,val_batch_psnr,val_loss\n"
                   "0,0.1,20.0,0.2,0.1,20.0,0.2\n")
    logger = ResumableCSVLogger(log)
    logger.on_train_begin()
    logger.on_epoch_begin(1)
    logger.on_epoch_end(1, logs)
    logger.on_train_end()
    assert read_log(log)["batch_psnr"] == [20.0, 21.0] and read_log(log)["val_loss"] == [0.2, 0.2]


def test_a_damaged_backup_falls_back_or_is_dropped(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"half a file")
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    with pytest.warns(UserWarning, match="starts again"):
        repair_backup(backup)
    assert not backup.exists()


def test_bad_arguments_name_the_fix(images, tmp_path):
    with pytest.raises(ValueError, match="vanilla"):
        train("unet", out_dir=tmp_path, images=images)
    with pytest.raises(ValueError, match="epochs"):
        train("pconv", out_dir=tmp_path, images=images, epochs=0)
    with pytest.raises(ValueError, match="n_train"):
        train("pconv", out_dir=tmp_path, images=images, n_train=90, n_val=32)
    with pytest.raises(ValueError, match="profile"):
        train("pconv", out_dir=tmp_path, images=images, profile="gpu")


@pytest.mark.parametrize("name", sorted(config.PROFILES))
def test_a_profile_trains_on_as_many_images_as_the_split_gives(name):
    """``Profile.training_images`` (what notebook 00 prints) is what ``split_train_val`` really
    hands to training from CIFAR-10's training split."""
    profile = config.PROFILES[name]
    split = np.arange(config.CIFAR10_TRAIN_SPLIT)  # stands for the 50,000 images: only their count matters
    trained, held_out = split_train_val(split, None, n_train=profile.n_train, n_val=profile.n_val, seed=0)
    assert profile.training_images == len(trained) and len(held_out) == profile.n_val


def test_backup_keeps_the_previous_epoch_where_keras_can_and_still_works_where_it_cannot(tmp_path, monkeypatch):
    import inspect

    import keras

    from course_lib import runs

    current = runs.backup_and_restore(tmp_path / "a")
    assert current.delete_checkpoint is False
    if "double_checkpoint" in inspect.signature(keras.callbacks.BackupAndRestore).parameters:  # Keras 3.4 and later
        assert current.double_checkpoint is True

    class OlderBackupAndRestore:  # Keras 3.3's signature: no double_checkpoint
        def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
            self.backup_dir, self.delete_checkpoint = backup_dir, delete_checkpoint

    monkeypatch.setattr(keras.callbacks, "BackupAndRestore", OlderBackupAndRestore)
    older = runs.backup_and_restore(tmp_path / "b")
    assert isinstance(older, OlderBackupAndRestore) and older.delete_checkpoint is False
