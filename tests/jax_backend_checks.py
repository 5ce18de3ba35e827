"""The course's layers, networks and losses on Keras' JAX backend: the checks that need that backend.

Keras picks its backend once per process (``KERAS_BACKEND`` before ``import keras``), so
``tests/test_jax_backend.py`` runs this file in a subprocess::

    KERAS_BACKEND=jax python tests/jax_backend_checks.py OUT_DIR

It computes on JAX, writes what it computed (inputs, weights, outputs, gradients) as ``.npz`` files
into ``OUT_DIR`` and prints one JSON object as its last line of output (also saved as
``OUT_DIR/results.json``); the test process, on the TensorFlow backend, compares those arrays with
NumPy references and with TensorFlow's results on the same weights.  On a GPU machine with a CUDA
build of JAX the same command runs the checks there (``jax.devices()`` is reported in the JSON); bring ``OUT_DIR`` back and
``COURSE_JAX_CHECKS_DIR=OUT_DIR pytest tests/test_jax_backend.py`` compares what the GPU computed
(``benchmarks/jax_gpu_session.sh`` runs the GPU's half).

Not a test file itself (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("KERAS_BACKEND") != "jax":
    sys.exit("run me with KERAS_BACKEND=jax (Keras chooses its backend when it is first imported)")

import numpy as np  # noqa: E402

#: The training cases of check (c): (network, loss).  Every network with Liu's loss, PConv with all three.
TRAIN_CASES = (("vanilla", "liu"), ("pconv", "liu"), ("improved", "liu"), ("pconv", "l1"), ("pconv", "ssim"))
BATCH, SIZE, STEPS = 4, 32, 3


def random_layer_case(rng, n=2, size=10, channels=3, mask_channels=1):
    """Features with NaN in some holes and a mask with ~40% holes and a block of windows without a
    valid pixel.  10x10 with stride 2: "same" pads 0 rows above and 1 below (TensorFlow's rule)."""
    x = rng.normal(size=(n, size, size, channels)).astype("float32")
    mask = (rng.random((n, size, size, mask_channels)) > 0.4).astype("float32")
    mask[-1, : size // 2 + 2, : size // 2 + 2] = 0.0
    x = np.where((mask == 0) & (rng.random(x.shape) < 0.5), np.nan, x).astype("float32")
    return x, mask


def check_layer(out_dir, results):
    """(a) PConv2D forward and (b) its gradients on JAX, jit-compiled; float32 and mixed_float16."""
    import jax
    import jax.numpy as jnp

    import keras
    from course_lib.layers import PConv2D

    rng = np.random.default_rng(0)
    x, mask = random_layer_case(rng)
    layer = PConv2D(4, 3, strides=2, bias_initializer="random_normal")
    out, new_mask = layer([x, mask])
    kernel, bias = (np.asarray(v.value) for v in layer.trainable_variables)
    target = rng.normal(size=np.asarray(out).shape).astype("float32")

    def loss(kernel, features):
        (y, _), _ = layer.stateless_call([kernel, bias], [], [features, mask])
        return jnp.sum((y - target) ** 2)

    grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1)))  # XLA, as in training
    grad_kernel, grad_x = (np.asarray(g) for g in grad_fn(jnp.asarray(kernel), jnp.asarray(x)))
    np.savez(out_dir / "layer.npz", x=x, mask=mask, kernel=kernel, bias=bias, target=target,
             out=np.asarray(out), new_mask=np.asarray(new_mask), grad_kernel=grad_kernel, grad_x=grad_x)

    # A mask with one value per feature channel, stride 1, forward only.
    xc, maskc = random_layer_case(rng, mask_channels=3)
    per_channel = PConv2D(5, 3, bias_initializer="random_normal")
    outc, new_maskc = (np.asarray(t) for t in per_channel([xc, maskc]))
    kc, bc = (np.asarray(v.value) for v in per_channel.trainable_variables)
    np.savez(out_dir / "layer_per_channel.npz", x=xc, mask=maskc, kernel=kc, bias=bc, out=outc, new_mask=new_maskc)
    results["layer"] = {
        "out_dtype": str(np.asarray(out).dtype),
        "out_finite": bool(np.isfinite(np.asarray(out)).all()),
        "grad_kernel_finite": bool(np.isfinite(grad_kernel).all()),
        "grad_x_finite": bool(np.isfinite(grad_x).all()),
        "grad_x_max_in_holes": float(np.abs(grad_x * (mask == 0)).max()),
    }

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        half = PConv2D(4, 3, strides=2, bias_initializer="random_normal")
        out16, mask16 = (np.asarray(t) for t in half([x, mask]))
        k16, b16 = (np.asarray(v.value) for v in half.trainable_variables)

        def loss16(kernel):
            (y, _), _ = half.stateless_call([kernel, b16], [], [x, mask])
            return jnp.sum(y.astype("float32") ** 2)

        g16 = np.asarray(jax.jit(jax.grad(loss16))(jnp.asarray(k16)))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    np.savez(out_dir / "layer_mixed.npz", x=x, mask=mask, kernel=k16, bias=b16, out=out16, new_mask=mask16)
    results["layer_mixed"] = {
        "out_dtype": str(out16.dtype),
        "kernel_dtype": str(k16.dtype),
        "out_finite": bool(np.isfinite(out16).all()),
        "grad_finite": bool(np.isfinite(g16).all()),
        "max_abs_in_new_holes": float(np.abs(out16.astype("float32") * (mask16 == 0)).max()),
        "n_new_holes": int((mask16 == 0).sum()),
    }


def train_case(name, loss_name, images, masks, *, predict=True):
    """Build, compile with Adam, STEPS train_on_batch steps: losses and whether the weights moved.

    ``predict``: also run ``model.predict`` on the batch (one more XLA compilation).
    """
    import random

    import keras
    from course_lib import losses, models

    # Not keras.utils.set_random_seed: it imports TensorFlow (to seed it too) when it is installed.
    random.seed(0)
    np.random.seed(0)
    model = models.build_model(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.get_loss(loss_name),
                  metrics=list(losses.METRICS))
    inputs = models.prepare_inputs(name, images, masks)
    targets = np.concatenate([images, masks], -1)
    before = [np.array(w.value) for w in model.trainable_weights]
    start = time.perf_counter()
    history = [model.train_on_batch(inputs, targets, return_dict=True) for _ in range(STEPS)]
    seconds = time.perf_counter() - start
    after = [np.array(w.value) for w in model.trainable_weights]
    moved = [not np.array_equal(b, a) for b, a in zip(before, after)]
    prediction = np.asarray(model.predict(inputs, verbose=0)) if predict else None
    case = {
        "losses": [float(h["loss"]) for h in history],
        "metrics_finite": all(np.isfinite(v) for h in history for v in h.values()),
        "trainable_moved": int(sum(moved)),
        "trainable_total": len(moved),
        "weights_finite": all(np.isfinite(w).all() for w in after),
        "jit_compile": bool(model.jit_compile),
        "seconds": round(seconds, 2),
    }
    if predict:
        case.update(prediction_dtype=str(prediction.dtype), prediction_finite=bool(np.isfinite(prediction).all()))
    return model, inputs, prediction, case


def check_networks(out_dir, results):
    """(c) three Adam steps per (network, loss), XLA-compiled; (d) weights and outputs for TensorFlow."""
    import keras
    from course_lib import masks as course_masks

    rng = np.random.default_rng(1)
    images = rng.random((BATCH, SIZE, SIZE, 3)).astype("float32")
    masks = course_masks.mixed_masks(BATCH, size=SIZE, seed=0)
    np.savez(out_dir / "batch.npz", images=images, masks=masks)

    results["train"] = {}
    for name, loss_name in TRAIN_CASES:
        # The other losses train the same PConv network: only their train step needs checking.
        model, inputs, prediction, case = train_case(name, loss_name, images, masks,
                                                     predict=loss_name == "liu")
        if loss_name == "liu":  # one set of trained weights per network, for the TensorFlow comparison
            weights = model.get_weights()
            np.savez(out_dir / f"model_{name}.npz", prediction=prediction,
                     **{f"w{i:03d}": w for i, w in enumerate(weights)})
            case["n_weights"] = len(weights)
            if name != "vanilla":  # the hole contents must not matter, NaN included
                known, mask = inputs
                nan_known = np.where(mask == 0, np.float32("nan"), known)
                nan_prediction = np.asarray(model.predict((nan_known, mask), verbose=0))
                case["nan_in_holes_max_diff"] = float(np.abs(nan_prediction - prediction).max())
        results["train"][f"{name}/{loss_name}"] = case

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model, inputs, prediction, case = train_case("pconv", "liu", images, masks)
        case["optimizer"] = type(model.optimizer).__name__
        known, mask = inputs
        nan_known = np.where(mask == 0, np.float32("nan"), known)
        case["nan_in_holes_finite"] = bool(np.isfinite(np.asarray(model.predict((nan_known, mask), verbose=0))).all())
        case["decoder_output_dtype"] = str(model.get_layer("decoder_output").compute_dtype)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    results["train"]["pconv/liu/mixed_float16"] = case


def main(out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    import keras
    import jax

    import course_lib.hybrid_layers  # noqa: F401
    import course_lib.layers  # noqa: F401
    import course_lib.losses  # noqa: F401
    import course_lib.models  # noqa: F401

    results = {
        "backend": keras.backend.backend(),
        "tensorflow_imported": "tensorflow" in sys.modules,
        "versions": {"jax": jax.__version__, "keras": keras.__version__},
        "devices": [str(d) for d in jax.devices()],
        "errors": {},
    }
    for check in (check_layer, check_networks):
        check_start = time.perf_counter()
        try:
            check(out_dir, results)
        except Exception:  # report it, and let the other checks run
            results["errors"][check.__name__] = traceback.format_exc()
        results[f"seconds_{check.__name__}"] = round(time.perf_counter() - check_start, 1)
    # After everything ran: did any code path (training, losses, mixed precision) pull TensorFlow in?
    results["tensorflow_imported_at_end"] = "tensorflow" in sys.modules
    results["seconds"] = round(time.perf_counter() - start, 1)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: KERAS_BACKEND=jax python tests/jax_backend_checks.py OUT_DIR")
    main(sys.argv[1])
