"""Forward + backward throughput of the course's three networks on Keras' JAX backend, with XLA.

    KERAS_BACKEND=jax python benchmarks/bench_jax.py                    # batch 32, float32 and mixed_float16
    KERAS_BACKEND=jax python benchmarks/bench_jax.py --batch-size 128 --rounds 20 --networks pconv

For each network (vanilla, pconv, improved) and each dtype policy (``float32`` and ``mixed_float16``
by default, ``mixed_bfloat16`` on request) it jit-compiles (XLA) one step = forward pass, Liu et
al.'s loss and the gradient of every trainable weight (``jax.grad`` of ``model.stateless_call``; no
optimizer update, no data pipeline: the batch is already on the device), runs ``--warmup``
untimed steps, then ``--rounds`` rounds of ``--steps`` steps in which the configurations take turns
(so a background load slows all alike), and prints the median images per second of each, and each
mixed policy / float32.

Meant for a GPU machine with a CUDA build of JAX (``pip install "jax[cuda12]"``), where XLA and
float16 tensor cores are what the numbers are about; on a CPU it runs too (mixed_float16 is usually
*slower* there).  The device JAX uses is printed first.  Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("KERAS_BACKEND") != "jax":
    sys.exit("run me with KERAS_BACKEND=jax, e.g. KERAS_BACKEND=jax python benchmarks/bench_jax.py")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import keras  # noqa: E402
from course_lib import losses, masks, models  # noqa: E402

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def make_step(name, policy, batch_size, size, seed=0):
    """A jitted forward+backward step of network ``name`` under ``policy``, and a function timing n steps."""
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = models.build_model(name, input_shape=(size, size, 3))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    rng = np.random.default_rng(seed)
    images = rng.random((batch_size, size, size, 3)).astype("float32")
    hole_masks = masks.mixed_masks(batch_size, size=size, seed=seed)
    inputs = jax.tree_util.tree_map(jnp.asarray, models.prepare_inputs(name, images, hole_masks))
    targets = jnp.asarray(np.concatenate([images, hole_masks], -1))
    loss = losses.get_loss("liu")
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss_of(trainable, inputs, targets):
        outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=True)
        return jnp.mean(loss(targets, outputs))

    step = jax.jit(jax.value_and_grad(loss_of))

    def run(n):
        start = time.perf_counter()
        for _ in range(n):
            value, grads = step(trainable, inputs, targets)
        jax.block_until_ready(grads)
        if not np.isfinite(float(value)):
            raise FloatingPointError(f"{name} under {policy}: the loss is {float(value)}")
        return time.perf_counter() - start

    return run, model.count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="image height and width (a multiple of 16)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (the first compiles)")
    parser.add_argument("--networks", nargs="+", default=list(models.MODEL_NAMES), choices=models.MODEL_NAMES)
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_float16"], choices=POLICIES)
    args = parser.parse_args(argv)

    print(f"JAX {jax.__version__}, Keras {keras.__version__}, devices: {', '.join(map(str, jax.devices()))}")
    configs, params, compile_s = {}, {}, {}
    for name in args.networks:
        for policy in args.policies:
            run, params[name] = make_step(name, policy, args.batch_size, args.size)
            compile_s[name, policy] = run(args.warmup)
            configs[name, policy] = run
            print(f"compiled {name:<9} {policy:<14} (warm-up {compile_s[name, policy]:.1f} s)", flush=True)

    times = {key: [] for key in configs}
    for r in range(args.rounds):
        order = list(configs)
        order = order[r % len(order):] + order[: r % len(order)]  # a rotating order
        for key in order:
            times[key].append(configs[key](args.steps))

    print(f"\nbatch {args.batch_size} of {args.size}x{args.size}; forward + Liu loss + gradients, XLA; "
          f"median of {args.rounds} rounds of {args.steps} steps")
    print(f"{'network':<10} {'params':>10} {'policy':<14} {'ms/step':>8} {'images/s':>9}")
    rates = {}
    for (name, policy), seconds in times.items():
        per_step = statistics.median(seconds) / args.steps
        rates[name, policy] = args.batch_size / per_step
        print(f"{name:<10} {params[name]:>10,} {policy:<14} {1e3 * per_step:>8.2f} {rates[name, policy]:>9.0f}")
    if "float32" in args.policies:
        print()
        for name in args.networks:
            for policy in (p for p in args.policies if p != "float32"):
                print(f"{name}: {policy} / float32 = {rates[name, policy] / rates[name, 'float32']:.2f}x")


if __name__ == "__main__":
    main()
