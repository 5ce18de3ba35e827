"""Forward + backward throughput of the course's three networks on Keras' JAX backend, with XLA.

    KERAS_BACKEND=jax python benchmarks/bench_jax.py                    # batch 32, float32 and mixed_float16
    KERAS_BACKEND=jax python benchmarks/bench_jax.py --batch-size 128 --rounds 20 --networks pconv
    KERAS_BACKEND=jax python benchmarks/bench_jax.py --layers            # PConv2D / Conv2D, layer by layer

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

With ``--layers [NAME ...]`` it measures instead what ``bench_pconv.py`` measures on TensorFlow, with
XLA: at each of the PConv U-Net's 16 partial-convolution layer shapes (or the named ones), the time
of ``PConv2D`` / ``Conv2D`` and of the floor (``Conv2D`` times a precomputed ratio) / ``Conv2D``, and
their geometric means.  A step is the forward pass, the loss sum(output * upstream), its gradient
with respect to the kernel and a tiny update of the kernel; ``--loop`` steps run inside one compiled
``lax.fori_loop``, each on its own input and mask (so that XLA cannot hoist the mask path out of
the loop), which times the device and not Python's dispatch of small steps.
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
from course_lib import losses, masks, models, names  # noqa: E402
from course_lib.layers import PConv2D  # noqa: E402
from pconv_shapes import ConvTimesRatio, geometric_mean, pconv_layer_specs, random_mask, spread_over_rounds  # noqa: E402,E501

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


def layer_steps(spec, batch_size, loop, rng):
    """``{kind: run}`` for kind in conv, pconv, floor at one layer's shapes; ``run()`` times one call
    of ``loop`` steps and returns milliseconds per step."""
    _, (height, width, channels), mask_channels, filters, strides, holes_are_zero = spec
    mask = np.stack([random_mask(rng, batch_size, height, width, mask_channels) for _ in range(loop)])
    x = rng.random((loop, batch_size, height, width, channels), dtype="float32")
    if holes_are_zero:  # as in the U-Net: the input is a ReLU'd PConv2D output, 0 in the holes
        x = x * mask
    kwargs = dict(filters=filters, kernel_size=3, strides=strides, padding="same")
    pconv = PConv2D(**kwargs, input_holes_are_zero=holes_are_zero)
    pconv([x[0], mask[0]])  # builds it, so that its window size and mask count are known
    ratio = jnp.stack([keras.ops.divide_no_nan(float(pconv.window_size), pconv.valid_count(m)) for m in mask])
    layers = {"conv": keras.layers.Conv2D(**kwargs), "pconv": pconv, "floor": ConvTimesRatio(ratio[0], **kwargs)}
    inputs = {"conv": (jnp.asarray(x),), "pconv": (jnp.asarray(x), jnp.asarray(mask)),
              "floor": (jnp.asarray(x), ratio)}

    runs = {}
    for kind, layer in layers.items():
        first = [part[0] for part in inputs[kind]]
        outputs = layer(first if kind == "pconv" else first[0])  # builds the layer
        features = outputs[0] if isinstance(outputs, list) else outputs
        upstream = jnp.asarray(rng.standard_normal(features.shape, dtype="float32"))
        runs[kind] = _compiled_loop(layer, kind, inputs[kind], upstream, loop)
    return runs


def _compiled_loop(layer, kind, stacked_inputs, upstream, loop):
    """``run()`` -> ms per step of ``loop`` forward + d/d kernel + update steps in one XLA loop."""
    variables = list(layer.trainable_variables)
    at = next(i for i, v in enumerate(variables) if v is layer.kernel)
    others = [v.value for i, v in enumerate(variables) if i != at]

    def loss_of(kernel, others, step_inputs):
        trainable = others[:at] + [kernel] + others[at:]
        if kind == "floor":  # the ratio of this step's mask, not the one the layer was built with
            x, ratio = step_inputs
            out = layer.conv.stateless_call(trainable, [], x)[0] * ratio
        else:
            out, _ = layer.stateless_call(trainable, [], list(step_inputs) if kind == "pconv" else step_inputs[0])
        out = out[0] if isinstance(out, list) else out
        return jnp.vdot(out, upstream)

    value_and_grad = jax.value_and_grad(loss_of)

    @jax.jit
    def steps(kernel, others, stacked_inputs):
        def body(i, carry):
            kernel, total = carry
            value, grad = value_and_grad(kernel, others, [part[i] for part in stacked_inputs])
            return kernel - 1e-9 * grad, total + value

        return jax.lax.fori_loop(0, loop, body, (kernel, jnp.float32(0)))

    kernel = layer.kernel.value

    def run():
        start = time.perf_counter()
        jax.block_until_ready(steps(kernel, others, stacked_inputs))
        return (time.perf_counter() - start) * 1e3 / loop

    return run


def bench_layers(names, batch_size, loop, rounds):
    """Print PConv2D / Conv2D and floor / Conv2D at every (named) layer shape, and the geometric means."""
    rng = np.random.default_rng(0)
    specs = [s for s in pconv_layer_specs() if not names or s[0] in names]
    print(f"batch {batch_size}, float32, forward + d/d kernel, XLA, {loop} steps per compiled loop, "
          f"median of {rounds} rounds\n")
    print(f"{'layer':<15}{'input':>14}{'mask':>5}{'out':>5}{'s':>3}{'conv ms':>10}{'pconv ms':>10}"
          f"{'ratio':>7}{'floor ms':>10}{'ratio':>7}")
    ratios = {"pconv": [], "floor": []}
    samples_per_layer = []
    for spec in specs:
        runs = layer_steps(spec, batch_size, loop, rng)
        for run in runs.values():  # compile and warm up
            run()
        samples = {kind: [] for kind in runs}
        kinds = list(runs)
        for r in range(rounds):
            for kind in kinds[r % len(kinds):] + kinds[: r % len(kinds)]:
                samples[kind].append(runs[kind]())
        samples_per_layer.append(samples)
        ms = {kind: statistics.median(v) for kind, v in samples.items()}
        for kind in ratios:
            ratios[kind].append(ms[kind] / ms["conv"])
        name, shape, mask_channels, filters, strides, _ = spec
        print(f"{name:<15}{'x'.join(map(str, shape)):>14}{mask_channels:>5}{filters:>5}{strides[0]:>3}"
              f"{ms['conv']:>10.3f}{ms['pconv']:>10.3f}{ratios['pconv'][-1]:>7.2f}"
              f"{ms['floor']:>10.3f}{ratios['floor'][-1]:>7.2f}", flush=True)
    print(f"geometric mean  PConv2D / Conv2D = {geometric_mean(ratios['pconv']):.3f}   "
          f"floor / Conv2D = {geometric_mean(ratios['floor']):.3f}")
    for kind, label in (("pconv", "PConv2D"), ("floor", "floor")):
        median, lower, upper = spread_over_rounds(samples_per_layer, kind)
        print(f"round by round, {label}: median {median:.3f}, middle half {lower:.3f}-{upper:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="image height and width (a multiple of 16)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (the first compiles)")
    parser.add_argument("--networks", nargs="+", default=list(names.FROM_SCRATCH), choices=names.MODEL_NAMES)
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_float16"], choices=POLICIES)
    parser.add_argument("--layers", nargs="*", metavar="NAME",
                        help="time PConv2D against Conv2D layer by layer instead (all 16 layers, or "
                             "the named ones: conv1 ... decoder_output)")
    parser.add_argument("--loop", type=int, default=8, help="--layers: steps per compiled loop")
    args = parser.parse_args(argv)

    print(f"JAX {jax.__version__}, Keras {keras.__version__}, devices: {', '.join(map(str, jax.devices()))}")
    if args.layers is not None:
        bench_layers(args.layers, args.batch_size, args.loop, args.rounds)
        return
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
