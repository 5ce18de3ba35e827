"""The layers, networks and losses really run on Keras' JAX backend, and agree with TensorFlow's.

``course_lib.layers``, ``hybrid_layers``, ``models`` and ``losses`` are written with ``keras.ops`` only.
Keras chooses its backend once per process, so the JAX side runs in ONE subprocess
(``KERAS_BACKEND=jax python tests/jax_backend_checks.py OUT_DIR``, module-scoped fixture) that prints
its results as JSON and leaves its inputs, weights, outputs and gradients in ``.npz`` files.  This
process (TensorFlow backend) checks them against:

* the brute-force float64 NumPy partial convolution of ``tests/test_layers.py`` (forward, and
  finite differences of a loss for the gradient),
* TensorFlow's gradient of the same layer with the same weights,
* the same networks built here on TensorFlow, given the weights JAX trained: same outputs.

JAX is a test extra (``pip install -e ".[dev]"`` installs its CPU wheel); without it these tests skip.

``COURSE_JAX_CHECKS_DIR=FOLDER`` checks a folder that an earlier run of the checks left instead of
running them here: that is how the arrays computed on a GPU machine with JAX but no TensorFlow are
compared with the references and with TensorFlow (``benchmarks/jax_gpu_session.sh``).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "tests" / "jax_backend_checks.py"
NETWORKS = ("vanilla", "pconv", "improved")
TRAIN_CASES = ("vanilla/liu", "pconv/liu", "improved/liu", "pconv/l1", "pconv/ssim")

STORED = os.environ.get("COURSE_JAX_CHECKS_DIR")

pytestmark = [pytest.mark.skipif(STORED is None and importlib.util.find_spec("jax") is None,
                                 reason='jax is not installed (it is in the dev extra: pip install -e ".[dev]")'),
              pytest.mark.long]  # one JAX run of about a minute feeds every test here


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    """(results dict, folder of .npz files) of one run of tests/jax_backend_checks.py on JAX."""
    if STORED is not None:  # the checks ran elsewhere (a GPU machine): read what they left
        stored = Path(STORED)
        if not (stored / "results.json").is_file():
            pytest.fail(f"COURSE_JAX_CHECKS_DIR={STORED} holds no results.json: point it at the folder "
                        "that tests/jax_backend_checks.py wrote (OUT_DIR)")
        return json.loads((stored / "results.json").read_text()), stored
    out_dir = tmp_path_factory.mktemp("jax_backend")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(CHECKS), str(out_dir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"the JAX checks crashed:\n{done.stderr[-5000:]}"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return results, out_dir


@pytest.fixture(scope="module")
def results(jax_run):
    return jax_run[0]


@pytest.fixture(scope="module")
def arrays(jax_run):
    """``arrays("layer")``: the arrays of OUT_DIR/layer.npz."""
    def load(name):
        with np.load(jax_run[1] / f"{name}.npz") as data:
            return {key: data[key] for key in data.files}
    return load


@pytest.fixture(scope="module")
def tensorflow_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"the comparisons run on the TensorFlow backend, this process has {keras.backend.backend()!r}")


def _assert_close(actual, expected, rtol):
    expected = np.asarray(expected, dtype="float64")
    atol = rtol * max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(np.asarray(actual, dtype="float64"), expected, rtol=rtol, atol=atol)


def _hole_free(x, mask):
    """The features with their holes at 0: by the formula the hole contents never matter."""
    return np.where(np.broadcast_to(mask, x.shape) == 0, 0.0, x)


# ----------------------------------------------------------------------------- the process itself


def test_the_checks_ran_on_jax_without_errors(results):
    assert results["backend"] == "jax"
    assert results["errors"] == {}, "\n".join(results["errors"].values())


def test_tensorflow_is_never_imported_on_jax(results):
    """Importing layers, hybrid_layers, losses, models -- and training and predicting with them -- needs no TensorFlow."""
    assert not results["tensorflow_imported"], "importing the modules imported TensorFlow"
    assert not results["tensorflow_imported_at_end"], "training or predicting on JAX imported TensorFlow"


# ----------------------------------------------------------------------------- (a) PConv2D forward


def test_pconv_forward_equals_the_numpy_reference(arrays):
    from test_layers import reference_pconv

    case = arrays("layer")
    assert np.isnan(case["x"]).any(), "the case puts NaN into some holes"
    ref_out, ref_mask = reference_pconv(_hole_free(case["x"], case["mask"]), case["mask"],
                                        case["kernel"], case["bias"], (2, 2), "same")
    assert np.isfinite(case["out"]).all()
    _assert_close(case["out"], ref_out, rtol=1e-5)
    np.testing.assert_array_equal(case["new_mask"], ref_mask)
    assert (ref_mask == 0).any() and np.all(case["out"][ref_mask[..., 0] == 0] == 0.0), "holes give exactly 0"


def test_pconv_forward_with_a_per_channel_mask_equals_the_numpy_reference(arrays):
    from test_layers import reference_pconv

    case = arrays("layer_per_channel")
    ref_out, ref_mask = reference_pconv(_hole_free(case["x"], case["mask"]), case["mask"],
                                        case["kernel"], case["bias"], (1, 1), "same")
    _assert_close(case["out"], ref_out, rtol=1e-5)
    np.testing.assert_array_equal(case["new_mask"], ref_mask)


# ----------------------------------------------------------------------------- (b) gradients


def _reference_loss(case, kernel):
    from test_layers import reference_pconv

    out, _ = reference_pconv(_hole_free(case["x"], case["mask"]), case["mask"], kernel, case["bias"], (2, 2), "same")
    return float(np.sum((out - case["target"]) ** 2))


def test_jax_kernel_gradient_matches_finite_differences(results, arrays):
    """jax.grad (jit-compiled) of sum((out - target)^2) against central differences of the float64 reference."""
    case = arrays("layer")
    assert results["layer"]["grad_kernel_finite"]
    kernel = case["kernel"].astype("float64")
    scale = float(np.abs(case["grad_kernel"]).max())
    for index in [(0, 0, 0, 0), (1, 1, 2, 3), (2, 1, 1, 1)]:
        step = np.zeros_like(kernel)
        step[index] = eps = 1e-3
        # The loss is quadratic in the kernel, so the central difference is exact up to rounding.
        estimate = (_reference_loss(case, kernel + step) - _reference_loss(case, kernel - step)) / (2 * eps)
        assert abs(case["grad_kernel"][index] - estimate) <= 1e-4 * max(scale, 1.0), (index, estimate)


def test_jax_gradients_match_tensorflows(arrays, tensorflow_backend):
    import tensorflow as tf

    from course_lib.layers import PConv2D

    case = arrays("layer")
    layer = PConv2D(4, 3, strides=2)
    layer.build([case["x"].shape, case["mask"].shape])
    layer.set_weights([case["kernel"], case["bias"]])
    x = tf.constant(case["x"])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out, _ = layer([x, tf.constant(case["mask"])])
        loss = tf.reduce_sum((out - case["target"]) ** 2)
    grad_kernel, grad_x = tape.gradient(loss, [layer.kernel, x])
    _assert_close(case["grad_kernel"], grad_kernel, rtol=1e-4)
    _assert_close(case["grad_x"], grad_x, rtol=1e-4)


def test_jax_input_gradient_is_finite_and_zero_in_the_holes(results):
    """NaN in a hole must not leak into the backward pass; a hole pixel gets no gradient at all."""
    assert results["layer"]["grad_x_finite"]
    assert results["layer"]["grad_x_max_in_holes"] == 0.0


def test_pconv_under_mixed_float16_on_jax(results, arrays):
    from test_layers import reference_pconv

    summary, case = results["layer_mixed"], arrays("layer_mixed")
    assert summary["out_dtype"] == "float16" and summary["kernel_dtype"] == "float32"
    assert summary["out_finite"] and summary["grad_finite"]
    assert summary["n_new_holes"] > 0 and summary["max_abs_in_new_holes"] == 0.0
    ref_out, _ = reference_pconv(_hole_free(case["x"], case["mask"]), case["mask"],
                                 case["kernel"], case["bias"], (2, 2), "same")
    _assert_close(case["out"], ref_out, rtol=1e-2)  # float16 inputs and products


# ----------------------------------------------------------------------------- (c) training steps


@pytest.mark.parametrize("key", TRAIN_CASES)
def test_adam_steps_with_xla_train_every_network(results, key):
    case = results["train"][key]
    assert case["jit_compile"], "Keras compiles the train step with XLA on JAX by default"
    assert np.all(np.isfinite(case["losses"])) and case["metrics_finite"] and case["weights_finite"]
    assert case["trainable_moved"] == case["trainable_total"], "every trainable weight got a step"
    assert case["losses"][-1] < case["losses"][0], "three steps on one batch lower its loss"
    if "prediction_finite" in case:
        assert case["prediction_finite"] and case["prediction_dtype"] == "float32"


@pytest.mark.parametrize("name", ["pconv", "improved"])
def test_hole_contents_do_not_matter_to_the_networks_on_jax(results, name):
    """NaN in the masked image's holes gives the same output, bit for bit."""
    assert results["train"][f"{name}/liu"]["nan_in_holes_max_diff"] == 0.0


def test_pconv_trains_under_mixed_float16_on_jax(results):
    case = results["train"]["pconv/liu/mixed_float16"]
    assert case["optimizer"] == "LossScaleOptimizer" and case["decoder_output_dtype"] == "float16"
    assert case["jit_compile"] and np.all(np.isfinite(case["losses"])) and case["weights_finite"]
    assert case["trainable_moved"] == case["trainable_total"]
    assert case["prediction_finite"] and case["prediction_dtype"] == "float32"
    assert case["nan_in_holes_finite"]


# ----------------------------------------------------------------------------- (d) JAX == TensorFlow


@pytest.mark.parametrize("name", NETWORKS)
def test_weights_trained_on_jax_give_the_same_outputs_on_tensorflow(name, arrays, tensorflow_backend):
    from course_lib import models

    batch, saved = arrays("batch"), arrays(f"model_{name}")
    weights = [saved[key] for key in sorted(saved) if key.startswith("w")]
    model = models.build_model(name)
    model.set_weights(weights)
    prediction = model.predict(models.prepare_inputs(name, batch["images"], batch["masks"]), verbose=0)
    np.testing.assert_allclose(prediction, saved["prediction"], atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- a folder from elsewhere


def _pytest_here(env_value, *args):
    env = {**os.environ, "COURSE_JAX_CHECKS_DIR": str(env_value)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_a_folder_the_checks_left_elsewhere_is_compared_the_same_way(jax_run, tmp_path):
    """COURSE_JAX_CHECKS_DIR (how a GPU machine's arrays are checked here) runs the comparisons on that
    folder instead of running the checks, and refuses a folder without the checks' results.json."""
    if STORED is not None:
        pytest.skip("this run already reads a stored folder")
    done = _pytest_here(jax_run[1], "-k", "numpy_reference or finite_differences")
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout[-3000:]
    refused = _pytest_here(tmp_path, "-k", "numpy_reference")
    assert refused.returncode != 0 and "holds no results.json" in refused.stdout, refused.stdout[-3000:]
