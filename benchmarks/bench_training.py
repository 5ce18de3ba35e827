"""Training throughput of the course's networks on this machine, side by side.

    python benchmarks/bench_training.py                 # batch 32, 10 rounds of 3 steps
    python benchmarks/bench_training.py --steps 2 --rounds 3 --batch-size 16

What it measures, in one process:

1. **Training images per second** (forward + backward + Adam update, data already in memory)
   of three networks: the vanilla U-Net, our PConv U-Net (:class:`course_lib.layers.PConv2D`)
   and the same PConv U-Net built from the source-style layer
   (:class:`course_lib.layers.SourcePConv2D`, which takes a 3-channel mask).  The networks
   take turns, round after round, so a background load slows all of them alike; warm-up steps
   (graph tracing) are excluded and each network's median round is reported.  The CPU time
   per image (all threads) is reported too: it hardly changes when other processes share
   the cores, so it is the fairer comparison on a busy machine.
2. **This machine's convolution rate**: a big 3x3 Conv2D, forward + backward, in FLOP/s.
3. **Each network's achieved FLOP rate as a fraction of (2)**.  FLOPs are counted per layer,
   analytically: 2 x multiply-adds of every convolution, x 3 for forward + backward (the
   backward pass computes two convolutions of the same size: gradients of input and kernel).
   Only the image convolutions are counted ("useful" FLOPs): they are the same for both PConv
   networks, so the fractions compare how well each spends the machine.  The source layer's
   extra mask convolution (as large as its image convolution) is shown in its own column.
4. **Input pipeline alone** (:func:`course_lib.pipeline.make_dataset`, strokes): batches per
   second with no model, to check that the pipeline is never the bottleneck.

Target: our PConv U-Net trains at least 1.2x as fast as the source-style one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import tensorflow as tf

import keras

from course_lib import layers, losses, masks, models, pipeline

TARGET_SPEEDUP = 1.2


# ------------------------------------------------------------------------------ networks ----


def benchmark_networks():
    """name -> (build function, how to turn (images, masks) into its inputs)."""
    def source_inputs(images, masks_):
        known, mask = models.prepare_inputs("pconv", images, masks_)
        return known, np.repeat(mask, 3, axis=-1)  # the source layer wants one mask per channel

    return {
        "vanilla U-Net": (models.build_vanilla_unet, lambda x, m: models.prepare_inputs("vanilla", x, m)),
        "PConv U-Net (ours)": (models.build_pconv_unet, lambda x, m: models.prepare_inputs("pconv", x, m)),
        "PConv U-Net (source layer)": (
            lambda: models.build_pconv_unet(pconv_layer=layers.SourcePConv2D), source_inputs,
        ),
    }


def conv_flops(model):
    """Forward FLOPs per image of ``model``'s convolutions: ``(image_convs, mask_convs)``.

    2 x multiply-adds.  Conv2D and partial convolutions: H_out*W_out*k_h*k_w*C_in*C_out;
    Conv2DTranspose: H_in*W_in*k_h*k_w*C_in*C_out.  ``mask_convs`` counts the source layer's
    C_in x C_out all-ones mask convolution (our PConv2D's one-channel window sum is negligible).
    """
    image, mask = 0, 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, _ = keras.tree.flatten(layer.input)[0].shape
            kh, kw, c_out, c_in = layer.kernel.shape
            image += 2 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, (keras.layers.Conv2D, layers.PConv2D, layers.SourcePConv2D)):
            _, h, w, _ = keras.tree.flatten(layer.output)[0].shape
            kh, kw, c_in, c_out = layer.kernel.shape
            image += 2 * h * w * kh * kw * c_in * c_out
            if isinstance(layer, layers.SourcePConv2D):
                mask += 2 * h * w * kh * kw * c_in * c_out
    return image, mask


def make_batch(batch_size, seed=0):
    """Smooth random images (B,32,32,3) float32 in [0, 1] and stroke masks (B,32,32,1)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((batch_size, 4, 4, 3)).astype("float32")
    images = np.asarray(tf.image.resize(coarse, (32, 32), method="bilinear"))
    return images, masks.stroke_masks(batch_size, size=32, seed=seed)


class Trainer:
    """One compiled network and a fixed in-memory batch; ``steps(n)`` times n training steps."""

    def __init__(self, build, to_inputs, images, masks_):
        self.model = build()
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.l1_loss)
        inputs = to_inputs(images, masks_)
        if isinstance(inputs, (list, tuple)):
            self.x = tuple(tf.constant(a) for a in inputs)
        else:
            self.x = tf.constant(inputs)
        self.y = tf.constant(np.concatenate([images, masks_], axis=-1))

    def steps(self, n):
        """Wall-clock and CPU seconds (all threads of this process) of ``n`` training steps."""
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            loss = self.model.train_on_batch(self.x, self.y)
        float(np.asarray(loss))  # wait for the last step
        return time.perf_counter() - wall, time.process_time() - cpu


class ConvProbe:
    """A big 3x3 convolution, forward + backward: the machine's practical conv FLOP rate."""

    def __init__(self, batch=32, size=32, channels=128):
        rng = np.random.default_rng(0)
        self.x = tf.constant(rng.standard_normal((batch, size, size, channels), dtype="float32"))
        self.kernel = tf.Variable(rng.standard_normal((3, 3, channels, channels), dtype="float32") * 0.02)
        self.flops = 3 * 2 * batch * size * size * 9 * channels * channels

    @tf.function
    def _step(self):
        with tf.GradientTape() as tape:
            tape.watch(self.x)
            y = tf.nn.conv2d(self.x, self.kernel, strides=1, padding="SAME")
            loss = tf.reduce_sum(y)
        dx, dk = tape.gradient(loss, [self.x, self.kernel])
        return tf.reduce_sum(dx) + tf.reduce_sum(dk)

    def steps(self, n):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            out = self._step()
        float(out)
        return time.perf_counter() - wall, time.process_time() - cpu


def pipeline_batches_per_second(batch_size, n_batches=200):
    """Batches/s of the training pipeline alone (PConv inputs, strokes), after one warm-up batch."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch_size * n_batches, 32, 32, 3), dtype=np.uint8)
    dataset = pipeline.make_dataset("pconv", images, batch_size=batch_size, seed=0)
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count / (time.perf_counter() - start)


# ---------------------------------------------------------------------------------- main ----


def run(batch_size, steps, rounds, warmup):
    """Time every network (and the conv probe) round after round; return table rows and rates."""
    images, masks_ = make_batch(batch_size)
    trainers = {name: Trainer(build, to_inputs, images, masks_)
                for name, (build, to_inputs) in benchmark_networks().items()}
    probe = ConvProbe()
    print(f"warming up ({warmup} steps each) ...", flush=True)
    for trainer in trainers.values():
        trainer.steps(warmup)
    probe.steps(2)

    wall = {name: [] for name in trainers}
    cpu = {name: [] for name in trainers}
    probe_rates, probe_cpu_rates = [], []
    for r in range(rounds):
        for name, trainer in trainers.items():
            seconds, cpu_seconds = trainer.steps(steps)
            wall[name].append(seconds / steps)
            cpu[name].append(cpu_seconds / steps)
        seconds, cpu_seconds = probe.steps(2)
        probe_rates.append(probe.flops * 2 / seconds)
        probe_cpu_rates.append(probe.flops * 2 / cpu_seconds)
        print(f"round {r + 1}/{rounds}: " + ", ".join(
            f"{name} {batch_size / wall[name][-1]:.0f} img/s" for name in trainers), flush=True)

    conv_rate = statistics.median(probe_rates)
    conv_cpu_rate = statistics.median(probe_cpu_rates)  # FLOP per CPU-second
    rows = []
    for name, trainer in trainers.items():
        image_flops, mask_flops = conv_flops(trainer.model)
        images_per_s = batch_size / statistics.median(wall[name])
        cpu_s_per_image = statistics.median(cpu[name]) / batch_size
        rows.append({
            "name": name, "params": trainer.model.count_params(),
            "step_ms": 1e3 * statistics.median(wall[name]), "images_per_s": images_per_s,
            "cpu_ms_per_image": 1e3 * cpu_s_per_image,
            "gflop_per_image": 3 * image_flops / 1e9, "mask_gflop_per_image": 3 * mask_flops / 1e9,
            "fraction": 3 * image_flops * images_per_s / conv_rate,
            "cpu_fraction": 3 * image_flops / cpu_s_per_image / conv_cpu_rate,
        })
    return rows, conv_rate, conv_cpu_rate


def print_report(rows, conv_rates, batch_size, pipeline_rate, load):
    print()
    print(f"batch {batch_size}; load average {load[0]:.1f} before, {load[1]:.1f} after "
          f"({os.cpu_count()} cores: a load above that means other processes shared them)")
    conv_rate, conv_cpu_rate = conv_rates
    print(f"conv rate of this machine (3x3 Conv2D 128->128 on 32x32, fwd+bwd): "
          f"{conv_rate / 1e9:.1f} GFLOP/s, {conv_cpu_rate / 1e9:.1f} GFLOP per CPU-second")
    print("FLOP columns: forward + backward per image; '+mask': the source layer's mask convolutions;"
          "\n'conv rate': achieved useful FLOP rate / conv rate, by wall clock and by CPU time")
    header = (f"{'network':<28} {'params':>10} {'ms/step':>8} {'img/s':>7} {'CPU ms/img':>10} "
              f"{'GFLOP/img':>9} {'+mask':>6} {'conv rate':>9} {'(CPU)':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['name']:<28} {r['params']:>10,} {r['step_ms']:>8.1f} {r['images_per_s']:>7.1f} "
              f"{r['cpu_ms_per_image']:>10.2f} {r['gflop_per_image']:>9.3f} "
              f"{r['mask_gflop_per_image']:>6.3f} {r['fraction']:>9.0%} {r['cpu_fraction']:>6.0%}")
    by_name = {r["name"]: r for r in rows}
    ours, source = by_name["PConv U-Net (ours)"], by_name["PConv U-Net (source layer)"]
    speedup = ours["images_per_s"] / source["images_per_s"]
    cpu_speedup = source["cpu_ms_per_image"] / ours["cpu_ms_per_image"]
    verdict = "meets" if min(speedup, cpu_speedup) >= TARGET_SPEEDUP else "MISSES"
    print(f"\nPConv ours / source layer: {speedup:.2f}x in images/s, {cpu_speedup:.2f}x in CPU time "
          f"per image ({verdict} the {TARGET_SPEEDUP}x target)")
    print(f"vanilla / PConv ours:      {by_name['vanilla U-Net']['images_per_s'] / ours['images_per_s']:.2f}x")
    per_batch_ms = 1e3 / pipeline_rate
    fastest_step = min(r["step_ms"] for r in rows)
    print(f"input pipeline alone: {pipeline_rate:.0f} batches/s = {per_batch_ms:.1f} ms per batch of "
          f"{batch_size}, {per_batch_ms / fastest_step:.1%} of the fastest training step "
          f"({fastest_step:.0f} ms); with prefetch it runs ahead of the model.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per network per round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per network first")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    pipeline_rate = pipeline_batches_per_second(args.batch_size)
    rows, conv_rate, conv_cpu_rate = run(args.batch_size, args.steps, args.rounds, args.warmup)
    print_report(rows, (conv_rate, conv_cpu_rate), args.batch_size, pipeline_rate,
                 (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
