"""How much does a partial convolution cost next to a plain convolution?

For each of the 16 partial-convolution layers of the PConv U-Net (their own input shapes,
mask channels, filters and strides, batch 32), times one forward + backward step
(gradient with respect to the kernel) of

* ``keras.layers.Conv2D`` -- the baseline,
* ``course_lib.layers.PConv2D`` -- the course's layer,
* ``course_lib.layers.SourcePConv2D`` -- the source's layer (C_in x C_out all-ones mask
  convolution),
* a *floor*: a ``Conv2D`` without bias whose output is multiplied by the layer's ratio
  sum(1)/sum(M), computed beforehand (:class:`ConvTimesRatio`). Every partial convolution
  scales its output by that ratio, and without a fused kernel that is one more pass over the
  output forward and one backward: no exact partial convolution built from separate ops
  does less work than this row,

all four in one process, interleaved (each repeat times every layer kind once, in a rotating
order), each step a ``tf.function`` (no XLA unless ``--jit-compile``), and prints the medians
and the ratios to Conv2D, with their geometric means, and those geometric means computed round
by round (their median and middle half: the run-to-run noise). Target: PConv2D / Conv2D <= 1.12;
the floor's ratio shows how much of the gap any unfused implementation must keep.
Column ``0?``: the layer's ``input_holes_are_zero`` (as built in the U-Net: every layer after
``conv1``), with an input that is 0 in the holes.

Run: ``python benchmarks/bench_pconv.py [--repeats 15] [--batch 32] [--min-ms 20]
[--clock wall|cpu] [--jit-compile] [--layers conv1 conv2 ...]`` (about three minutes on an idle
2-core CPU).
TensorFlow backend only. Not a test: timings depend on the machine and on what else runs
on it (on a shared machine, ``--clock cpu`` is steadier).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
from course_lib.layers import PConv2D, SourcePConv2D  # noqa: E402
from pconv_shapes import ConvTimesRatio, geometric_mean, pconv_layer_specs, random_mask, spread_over_rounds  # noqa: E402,E501


def make_step(layer, inputs, upstream, jit_compile=False):
    """A function running forward + the gradient w.r.t. ``layer.kernel`` as one tf.function
    (compiled by XLA if ``jit_compile``).

    The outputs are returned too: otherwise TensorFlow would prune the forward convolution
    (the kernel gradient of a convolution does not need its output). The tensors are
    passed as arguments, so that nothing is constant-folded.
    """

    @tf.function(jit_compile=jit_compile)
    def step(inputs, upstream):
        with tf.GradientTape() as tape:
            outputs = layer(inputs)
            features = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        return outputs, tape.gradient(features, layer.kernel, output_gradients=upstream)

    return lambda: step(inputs, upstream)


def time_steps(steps, repeats, min_ms, clock=time.perf_counter):
    """Milliseconds per call of each step in each of ``repeats`` interleaved rounds:
    ``{key: [ms in round 0, ms in round 1, ...]}``.

    ``clock``: ``time.perf_counter`` (wall clock) or ``time.process_time`` (CPU time of
    all this process's threads: steadier when other programs share the CPU).
    """
    for step in steps.values():  # trace and warm up
        step()
        step()
    inner = {}
    for key, step in steps.items():  # calls per sample so that a sample lasts >= min_ms
        t0 = clock()
        step()
        inner[key] = max(1, math.ceil(min_ms / 1000 / max(clock() - t0, 1e-6)))
    samples = {key: [] for key in steps}
    keys = list(steps)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            t0 = clock()
            for _ in range(inner[key]):
                steps[key]()
            samples[key].append((clock() - t0) * 1000 / inner[key])
    return samples


def bench_layer(spec, batch, repeats, min_ms, rng, clock=time.perf_counter, jit_compile=False):
    """ms per round (:func:`time_steps`) of Conv2D, PConv2D, SourcePConv2D and the floor at one
    layer's shapes."""
    _, (height, width, channels), mask_channels, filters, strides, holes_are_zero = spec
    mask = random_mask(rng, batch, height, width, mask_channels)
    x = rng.random((batch, height, width, channels), dtype="float32")
    if holes_are_zero:  # as in the U-Net: the input is a ReLU'd PConv2D output, 0 in the holes
        x = x * mask
    x, mask = tf.constant(x), tf.constant(mask)
    source_mask = tf.constant(random_mask(rng, batch, height, width, channels))
    kwargs = dict(filters=filters, kernel_size=3, strides=strides, padding="same")
    pconv = PConv2D(**kwargs, input_holes_are_zero=holes_are_zero)
    pconv([x, mask])  # builds it, so that its window size and mask count are known
    ratio = tf.math.divide_no_nan(float(pconv.window_size), pconv.valid_count(mask))
    layers = {
        "conv": (keras.layers.Conv2D(**kwargs), x),
        "pconv": (pconv, [x, mask]),
        "source": (SourcePConv2D(**kwargs), [x, source_mask]),
        "floor": (ConvTimesRatio(ratio, **kwargs), x),
    }
    steps = {}
    for key, (layer, inputs) in layers.items():
        outputs = layer(inputs)  # builds the layer
        features = outputs[0] if isinstance(outputs, list) else outputs
        upstream = tf.constant(rng.standard_normal(features.shape, dtype="float32"))
        steps[key] = make_step(layer, inputs, upstream, jit_compile)
    return time_steps(steps, repeats, min_ms, clock)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15, help="timed samples per layer kind")
    parser.add_argument("--min-ms", type=float, default=20.0, help="shortest timed sample")
    parser.add_argument("--layers", nargs="*", help="only these layer names (conv1 ...)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time; cpu: CPU time of this process (all threads), "
                             "steadier on a shared machine")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile each step with XLA (fuses the element-wise passes; on this "
                             "CPU its convolutions are slower than oneDNN's)")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    specs = [s for s in pconv_layer_specs() if not args.layers or s[0] in args.layers]
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, batch {args.batch}, "
          f"median of {args.repeats}, {args.clock} clock, forward + d/d kernel, "
          f"tf.function {'with' if args.jit_compile else 'without'} XLA, {os.cpu_count()} CPUs\n")
    header = (f"{'layer':<15}{'input':>14}{'mask':>5}{'out':>5}{'s':>3}{'0?':>3}"
              f"{'conv ms':>10}{'pconv ms':>10}{'ratio':>7}{'source ms':>11}{'ratio':>7}"
              f"{'floor ms':>10}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    ratios, source_ratios, floor_ratios, samples_per_layer = [], [], [], []
    for spec in specs:
        name, shape, mask_channels, filters, strides, holes_are_zero = spec
        samples = bench_layer(spec, args.batch, args.repeats, args.min_ms, rng, clock, args.jit_compile)
        samples_per_layer.append(samples)
        ms = {key: statistics.median(values) for key, values in samples.items()}
        ratios.append(ms["pconv"] / ms["conv"])
        source_ratios.append(ms["source"] / ms["conv"])
        floor_ratios.append(ms["floor"] / ms["conv"])
        print(f"{name:<15}{'x'.join(map(str, shape)):>14}{mask_channels:>5}{filters:>5}"
              f"{strides[0]:>3}{'y' if holes_are_zero else 'n':>3}{ms['conv']:>10.2f}{ms['pconv']:>10.2f}{ratios[-1]:>7.2f}"
              f"{ms['source']:>11.2f}{source_ratios[-1]:>7.2f}{ms['floor']:>10.2f}{floor_ratios[-1]:>7.2f}",
              flush=True)
    print("-" * len(header))
    print(f"geometric mean  PConv2D / Conv2D = {geometric_mean(ratios):.3f}   "
          f"SourcePConv2D / Conv2D = {geometric_mean(source_ratios):.3f}   "
          f"floor / Conv2D = {geometric_mean(floor_ratios):.3f}")
    print("the same, round by round (median [middle half] of the rounds' geometric means):  " + "   ".join(
        "{} {:.3f} [{:.3f}-{:.3f}]".format(label, *spread_over_rounds(samples_per_layer, key))
        for label, key in (("PConv2D", "pconv"), ("SourcePConv2D", "source"), ("floor", "floor"))))


if __name__ == "__main__":
    main()
