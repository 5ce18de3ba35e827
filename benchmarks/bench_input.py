"""Can the input pipeline feed the trainer?  Masks/s and batches/s against training steps/s.

    python benchmarks/bench_input.py                       # workers 0 1 2 (up to the cores)
    python benchmarks/bench_input.py --workers 0 4 8 --images 8192

What it measures, side by side in one process:

1. **Masks per second** of each training family (:func:`course_lib.masks.make_masks`), drawn the
   way the pipeline draws them (chunks of ``pipeline.MASK_CHUNK``), in this process (workers 0)
   and in 1, 2, ... worker processes (``mask_workers`` of :func:`course_lib.pipeline.make_dataset`).
2. **Batches per second of the whole training pipeline** (mixed masks, PConv inputs, batch 32),
   with no model, for the same worker counts.
3. **Training steps per second** of the three networks here (forward + backward + Adam, data in
   memory), and the ratio pipeline batches/s ÷ training steps/s: above 1 the pipeline keeps up.

On a GPU the training rate is many times this CPU's; the masks/s per worker measured here say
how many workers a given GPU rate needs (``pipeline.default_mask_workers`` uses all cores but
two, at most 8).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from course_lib import masks, names, pipeline

FAMILIES = ("strokes", "irregular", "boxes", "mixed")


def masks_per_second(family, n_masks, workers, rounds):
    """Median masks/s of drawing ``n_masks`` masks in MASK_CHUNK chunks with ``workers`` processes."""
    chunk = pipeline.MASK_CHUNK
    sizes = [min(chunk, n_masks - start) for start in range(0, n_masks, chunk)]
    rates = []
    for r in range(rounds + 1):  # round 0 warms up (and starts the worker processes)
        seeds = [pipeline.derived_seed(r, 1, k) for k in range(len(sizes))]
        start = time.perf_counter()
        drawn = sum(len(m) for m in pipeline._mask_chunks(family, sizes, 32, seeds, workers))
        if r:
            rates.append(drawn / (time.perf_counter() - start))
    return statistics.median(rates)


def pipeline_batches_per_second(n_images, batch_size, workers):
    """Batches/s of one epoch of the training pipeline alone (pconv inputs, mixed masks)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_images, 32, 32, 3), dtype=np.uint8)
    dataset = pipeline.make_dataset("pconv", images, batch_size=batch_size, masks="mixed",
                                    mask_workers=workers)
    for _ in dataset.take(2):  # warm-up: tracing, the first chunk
        pass
    start = time.perf_counter()
    count = sum(1 for _ in dataset)
    return count / (time.perf_counter() - start)


def training_steps_per_second(batch_size, steps):
    """Median steps/s of each of the course's networks (bench_training's trainer), data in memory."""
    import bench_training  # noqa: PLC0415  (this folder's benchmark; imports TensorFlow)

    from course_lib import models  # noqa: PLC0415  (TensorFlow only from here on)

    images, masks_ = bench_training.make_batch(batch_size)
    rates = {}
    for name in names.FROM_SCRATCH:  # "adversarial" has the improved network's architecture
        trainer = bench_training.Trainer(lambda name=name: models.build_model(name),
                                         lambda x, m, name=name: models.prepare_inputs(name, x, m),
                                         images, masks_)
        trainer.steps(2)
        rates[name] = steps / statistics.median(trainer.steps(steps)[0] for _ in range(3))
    return rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, nargs="+",
                        default=sorted({0, 1, min(2, cores), min(4, cores)}))
    parser.add_argument("--masks", type=int, default=8192, help="masks per family and round")
    parser.add_argument("--images", type=int, default=4096, help="images in the pipeline's epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="training steps per timing")
    args = parser.parse_args(argv)
    print(f"{cores} CPU cores; MASK_CHUNK {pipeline.MASK_CHUNK}; batch {args.batch_size}", flush=True)

    print("\n1. masks per second (median of rounds)")
    print(f"{'family':>10s} " + " ".join(f"{f'{w} workers':>11s}" for w in args.workers))
    for family in FAMILIES:
        rates = [masks_per_second(family, args.masks, w, args.rounds) for w in args.workers]
        print(f"{family:>10s} " + " ".join(f"{rate:>11,.0f}" for rate in rates), flush=True)

    print("\n2. whole training pipeline (pconv inputs, mixed masks), batches per second")
    batch_rates = {w: pipeline_batches_per_second(args.images, args.batch_size, w) for w in args.workers}
    for w, rate in batch_rates.items():
        print(f"   {w} workers: {rate:7.1f} batches/s = {rate * args.batch_size:8,.0f} images/s", flush=True)

    print("\n3. training steps per second here, and pipeline batches/s / steps/s")
    for name, steps_per_s in training_steps_per_second(args.batch_size, args.steps).items():
        ratios = "  ".join(f"{w} workers {batch_rates[w] / steps_per_s:5.1f}x" for w in args.workers)
        print(f"   {name:>9s}: {steps_per_s:6.2f} steps/s   {ratios}")
    best = max(batch_rates.values())
    print(f"\nThe fastest pipeline here feeds up to {best:,.0f} steps/s ({best * args.batch_size:,.0f} "
          "images/s); a GPU that trains faster needs more workers (section 1: masks/s per worker).")


if __name__ == "__main__":
    main()
