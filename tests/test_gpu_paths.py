"""The code paths a GPU takes, exercised on a CPU: XLA, mixed precision by compute capability,
several devices (see also tests/test_train.py's two-logical-CPU run)."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from course_lib import losses, masks, models, names, runs, train

RNG = np.random.default_rng(0)
IMAGES = RNG.random((4, 32, 32, 3)).astype(np.float32)
MASKS = masks.mixed_masks(4, seed=0)
TARGETS = np.concatenate([IMAGES, MASKS], axis=-1)

# Every network with the course's loss, and the other losses on the smallest network.
CASES = [(name, "liu") for name in names.MODEL_NAMES] + [("pconv", "l1"), ("pconv", "ssim")]


def compiled(name, loss, *, jit_compile):
    keras.utils.set_random_seed(0)
    model = models.build_model(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=losses.get_loss(loss), jit_compile=jit_compile)
    return model


@pytest.mark.long
@pytest.mark.parametrize("name, loss", CASES)
def test_xla_gives_the_same_loss_and_trains(name, loss):
    # Keras turns XLA on by itself on a GPU (jit_compile="auto"): every network and loss must compile
    # under XLA and agree with the plain TensorFlow graph.
    inputs = models.prepare_inputs(name, IMAGES, MASKS)
    plain = compiled(name, loss, jit_compile=False).evaluate(inputs, TARGETS, verbose=0)
    model = compiled(name, loss, jit_compile=True)
    assert model.evaluate(inputs, TARGETS, verbose=0) == pytest.approx(plain, rel=1e-4, abs=1e-6)
    before = [w.copy() for w in model.get_weights()]
    step_loss = model.train_on_batch(inputs, TARGETS)
    assert np.isfinite(step_loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


class FakeGPUs:
    """tf.config's view of the GPUs, replaced by GPUs of the given compute capabilities."""

    def __init__(self, monkeypatch, *capabilities):
        devices = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(len(capabilities))]
        details = {d.name: {"compute_capability": c, "device_name": "fake"} for d, c in zip(devices, capabilities)}
        real_list = tf.config.list_physical_devices
        monkeypatch.setattr(tf.config, "list_physical_devices",
                            lambda kind=None: devices if kind == "GPU" else real_list(kind))
        monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda device: details[device.name])


def settings(profile, mixed_precision=None):
    return train.resolve_settings("pconv", profile=profile, epochs=None, n_train=None, n_val=None, batch_size=None,
                                  loss=None, masks=None, seed=0, mixed_precision=mixed_precision, learning_rate=None)


def test_mixed_precision_is_on_by_default_only_in_full_on_tensor_core_gpus(monkeypatch):
    assert not train.float16_pays_off()  # this CPU machine
    assert not settings("full")["mixed_precision"]
    FakeGPUs(monkeypatch, (6, 1))  # a P100-class GPU: no tensor cores
    assert not train.float16_pays_off() and not settings("full")["mixed_precision"]
    FakeGPUs(monkeypatch, (6, 1), (7, 5))  # a T4 among them
    assert train.float16_pays_off()
    assert settings("full")["mixed_precision"]
    assert not settings("cpu")["mixed_precision"]  # small runs keep float32
    assert not settings("full", mixed_precision=False)["mixed_precision"]  # an explicit choice wins


def test_several_devices_scale_batch_and_learning_rate():
    one = settings("cpu")
    assert train.scale_for_replicas(one, 1) is one
    four = train.scale_for_replicas(one, 4)
    assert (four["batch_size"], four["learning_rate"]) == (4 * one["batch_size"], pytest.approx(4 * one["learning_rate"]))
    assert one["batch_size"] == 32  # the settings themselves (and run.json's command) are unchanged


def test_the_recorded_command_repeats_precision_and_devices():
    # run.json's command must resume the run as it was: mixed precision and several devices spelt out.
    chosen = {**settings("full", mixed_precision=True), "multi_device": True,
              "data": {"source": "CIFAR-10 training split"}}
    assert runs.equivalent_command(chosen, "out").endswith("--mixed-precision --multi-gpu --out out")
    chosen = {**chosen, "mixed_precision": False, "multi_device": False}
    assert runs.equivalent_command(chosen, "out").endswith("--no-mixed-precision --out out")
