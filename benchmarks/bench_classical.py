"""Speed and hole PSNR of the two copying methods next to biharmonic inpainting and mean fill.

    .venv/bin/python benchmarks/bench_classical.py            # about 2 minutes on 2 CPU cores
    .venv/bin/python benchmarks/bench_classical.py --n-cifar 50 --no-sizes   # a quick look

CIFAR-10 is found as everywhere in the course (``COURSE_DATA_DIR``, ``data/``, the Keras cache).

Prints, in one run:

1. **Speed**, seconds per image: ``inpaint_patch`` on 32 x 32 CIFAR-10 test images with 35-45 % holes
   (target <= 0.1 s) and ``inpaint_database`` for a batch of 100 queries against the 45,000 training
   images the networks learn from (target <= 20 ms), each next to ``inpaint_biharmonic`` on the same
   images (the best of 3 runs: the machine may be shared).
2. **Periodic textures** (stripes, checkerboard, bricks; no network here was trained on them) with a
   centred 12 x 12 box and irregular evaluation masks of 30-60 % holes: hole PSNR (exact copies count as
   60 dB) of patch, database, biharmonic and mean fill (target: patch >= biharmonic + 5 dB).
3. **CIFAR-10**: ``--n-cifar`` test images with each group of the evaluation masks
   (``course_lib.masks.load_eval_masks``, image i with mask i), hole PSNR of every method and the paired
   differences that matter (target: database > mean fill in every group).  Then, on the 0.3-0.4, 0.4-0.5
   and 0.5-0.6 bins, the variants the defaults were chosen from: patch sizes 7 / 9, patch without the
   data term, the database fills ``mean`` / ``matched`` and k = 1 / 10 / 20.

Where ``cv2.xphoto`` exists (``opencv-contrib-python-headless``, not a dependency of the course), its
shift-map and fast frequency-selective reconstruction run next to ours.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from course_lib import classical, database_inpainting, fill_common, masks as masks_lib, metrics, patch_inpainting
from course_lib.data import load_cifar10

N_DATABASE = 45_000          # CIFAR-10's training split less the 5,000 validation images
EXACT_DB = 60.0              # hole PSNR given to an exact copy (PSNR = infinity)
CIFAR_GROUPS = ("0.3-0.4", "0.4-0.5", "0.5-0.6")      # the variants are compared on these bins


# ----------------------------------------------------------------------------- inputs
def textures() -> dict[str, np.ndarray]:
    """32 x 32 periodic textures, float32 (32, 32, 3) in [0, 1]."""
    yy, xx = np.mgrid[:32, :32]

    def paint(pattern, on, off):
        return np.where(pattern[..., None], np.array(on), np.array(off)).astype(np.float32)

    mortar = (yy % 4 == 3) | ((xx + (yy // 4 % 2) * 4) % 8 == 7)          # bricks 8 x 4, every other row shifted
    return {
        "stripes": paint((xx // 3) % 2 == 0, (0.9, 0.8, 0.2), (0.1, 0.2, 0.6)),
        "checkerboard": paint((xx // 4 + yy // 4) % 2 == 0, (0.9, 0.9, 0.9), (0.15, 0.1, 0.1)),
        "bricks": paint(~mortar, (0.7, 0.25, 0.15), (0.85, 0.85, 0.8)),
    }


def texture_masks(eval_masks) -> np.ndarray:
    """A centred 12 x 12 box and 14 irregular masks from each 30-60 % bin: float32 (43, 32, 32, 1)."""
    box = np.ones((1, 32, 32, 1), np.float32)
    box[0, 10:22, 10:22] = 0
    return np.concatenate([box] + [eval_masks[group][:14] for group in CIFAR_GROUPS])


def hole_psnr(truth, filled, masks) -> np.ndarray:
    """Hole PSNR per image, float64 (N,); an exact fill counts as ``EXACT_DB``."""
    return np.minimum(metrics.psnr(truth, filled, hole_mask=1 - masks), EXACT_DB)


def best_time(fn, *args, repeats: int = 3) -> float:
    """Smallest wall time of ``repeats`` calls, seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


# ----------------------------------------------------------------------------- OpenCV contrib
def xphoto_method(algorithm_name: str):
    """``cv2.xphoto.inpaint`` as a course method, or None without opencv-contrib."""
    import cv2

    if not hasattr(cv2, "xphoto"):
        return None
    algorithm = getattr(cv2.xphoto, algorithm_name)
    lab = algorithm_name == "INPAINT_SHIFTMAP"       # shift-map expects CIELab for colour images

    def method(images, masks):
        images, known = fill_common.check_inputs(images, masks)
        out = np.empty_like(images)
        for i in range(len(images)):
            # xphoto's mask: nonzero = valid, as in the course.  The hole is zeroed first so that
            # nothing of the truth can leak into the result.
            image = np.round(np.where(known[i], images[i], 0) * 255).astype(np.uint8)
            source = cv2.cvtColor(image, cv2.COLOR_RGB2Lab if lab else cv2.COLOR_RGB2BGR)
            result = np.zeros_like(source)
            cv2.xphoto.inpaint(source, known[i, ..., 0].astype(np.uint8), result, algorithm)
            out[i] = cv2.cvtColor(result, cv2.COLOR_Lab2RGB if lab else cv2.COLOR_BGR2RGB) / np.float32(255)
        return np.where(known, images, out).astype(np.float32)

    return method


# ----------------------------------------------------------------------------- sections
def speed(test_images, database) -> dict[str, float]:
    print("\n== Speed (seconds per image, best of 3) ==")
    masks = masks_lib.irregular_masks(50, hole_range=(0.35, 0.45), seed=0)
    images = test_images[:50]
    rows = {
        "patch (50 images, 35-45 % holes)": best_time(patch_inpainting.inpaint_patch, images, masks) / 50,
        "biharmonic (same images)": best_time(classical.inpaint_biharmonic, images, masks) / 50,
    }
    queries = test_images[:100]
    query_masks = masks_lib.irregular_masks(100, hole_range=(0.3, 0.6), seed=1)
    rows["database search only (100 queries x 45,000)"] = best_time(
        database_inpainting.nearest_images, queries, query_masks, database) / 100
    rows["database (100 queries x 45,000, poisson)"] = best_time(
        database_inpainting.inpaint_database, queries, query_masks, database) / 100
    rows["biharmonic (same 100 queries)"] = best_time(classical.inpaint_biharmonic, queries, query_masks) / 100
    for name, seconds in rows.items():
        print(f"  {name:48s} {seconds * 1000:8.2f} ms")
    return rows


def texture_table(methods, eval_masks) -> dict[str, dict[str, float]]:
    print("\n== Periodic textures: hole PSNR (dB; an exact copy = 60), 12 x 12 box + 42 masks of 30-60 % ==")
    masks = texture_masks(eval_masks)
    table = {name: {} for name in textures()}
    for texture_name, texture in textures().items():
        images = np.repeat(texture[None], len(masks), axis=0)
        for name, fn in methods.items():
            table[texture_name][name] = float(hole_psnr(images, fn(images, masks), masks).mean())
    print("  " + f"{'method':26s}" + "".join(f"{t:>14s}" for t in table))
    for name in methods:
        print("  " + f"{name:26s}" + "".join(f"{table[t][name]:14.2f}" for t in table))
    return table


def cifar_table(methods, images, eval_masks, groups) -> dict[str, dict[str, np.ndarray]]:
    print(f"\n== CIFAR-10: hole PSNR (dB), {len(images)} test images, mean per group; seconds per image ==")
    per_image = {name: {} for name in methods}
    print("  " + f"{'method':26s}" + "".join(f"{g:>9s}" for g in groups) + f"{'s/image':>9s}")
    for name, fn in methods.items():
        seconds = 0.0
        for group in groups:
            masks = eval_masks[group][:len(images)]
            start = time.perf_counter()
            filled = fn(images, masks)
            seconds += time.perf_counter() - start
            per_image[name][group] = metrics.psnr(images, filled, hole_mask=1 - masks)
        means = "".join(f"{per_image[name][g].mean():9.2f}" for g in groups)
        print(f"  {name:26s}{means}{seconds / (len(images) * len(groups)):9.4f}", flush=True)
    return per_image


def paired(per_image, method, reference) -> str:
    """``mean +- 1.96 SE`` of the per-image difference, per group."""
    cells = []
    for group in per_image[method]:
        difference = per_image[method][group] - per_image[reference][group]
        half_width = 1.96 * difference.std(ddof=1) / np.sqrt(len(difference))
        cells.append(f"{group}: {difference.mean():+.2f} +- {half_width:.2f}")
    return f"  {method} - {reference}: " + ", ".join(cells)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cifar", type=int, default=200, help="CIFAR-10 test images per bin (<= 200)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the variants (patch sizes, fills, k)")
    args = parser.parse_args(argv)

    (train, _), (test, _) = load_cifar10(n_test=200, seed=0)
    database = train[:N_DATABASE]
    test_images = test.astype(np.float32) / 255
    eval_masks = masks_lib.load_eval_masks()
    timings = speed(test_images, database)

    database_method = database_inpainting.make_database_method(database)
    main_methods = {
        "mean fill": classical.inpaint_mean,
        "biharmonic": classical.inpaint_biharmonic,
        "patch": patch_inpainting.inpaint_patch,
        "database": database_method,
    }
    contrib = {name: method for name, method in
               [("xphoto shiftmap", xphoto_method("INPAINT_SHIFTMAP")),
                ("xphoto fsr_fast", xphoto_method("INPAINT_FSR_FAST"))] if method is not None}
    if not contrib:
        print("\n(cv2.xphoto is not installed: opencv-contrib-python-headless rows skipped)")
    patch_variants = {} if args.no_sizes else {
        "patch, patch_size=7": lambda i, m: patch_inpainting.inpaint_patch(i, m, patch_size=7),
        "patch, patch_size=9": lambda i, m: patch_inpainting.inpaint_patch(i, m, patch_size=9),
        "patch, no data term": lambda i, m: patch_inpainting.inpaint_patch(i, m, data_term=False),
    }
    texture_scores = texture_table({**main_methods, **patch_variants, **contrib}, eval_masks)

    variants = {}
    if not args.no_sizes:
        variants = {
            **patch_variants,
            "database, fill=mean": database_inpainting.make_database_method(database, fill="mean"),
            "database, fill=matched": database_inpainting.make_database_method(database, fill="matched"),
            "database, k=1": database_inpainting.make_database_method(database, k=1),
            "database, k=10": database_inpainting.make_database_method(database, k=10),
            "database, k=20": database_inpainting.make_database_method(database, k=20),
        }
    images = test_images[:args.n_cifar]
    per_image = cifar_table({**main_methods, **contrib}, images, eval_masks, list(eval_masks))
    if variants:
        print("  variants the defaults were chosen from:")
        per_image.update(cifar_table(variants, images, eval_masks, CIFAR_GROUPS))
    print("\n== Paired differences on CIFAR-10 (dB, mean +- 1.96 standard errors) ==")
    print(paired(per_image, "database", "biharmonic"))
    print(paired(per_image, "database", "mean fill"))
    print(paired(per_image, "patch", "biharmonic"))

    print("\n== Targets ==")
    gains = {t: scores["patch"] - scores["biharmonic"] for t, scores in texture_scores.items()}
    print("  patch - biharmonic on textures (>= 5 dB): "
          + ", ".join(f"{t} {g:+.1f}" for t, g in gains.items()) + ("  OK" if min(gains.values()) >= 5 else "  MISSED"))
    margins = [per_image["database"][g].mean() - per_image["mean fill"][g].mean() for g in eval_masks]
    print(f"  database - mean fill, smallest over the CIFAR-10 groups (> 0): {min(margins):+.2f} dB"
          + ("  OK" if min(margins) > 0 else "  MISSED"))
    print("  (on the textures, which a database of photographs does not hold: "
          + ", ".join(f"{t} {s['database'] - s['mean fill']:+.2f}" for t, s in texture_scores.items())
          + " dB; biharmonic - mean fill: "
          + ", ".join(f"{t} {s['biharmonic'] - s['mean fill']:+.2f}" for t, s in texture_scores.items()) + " dB)")
    patch_s = timings["patch (50 images, 35-45 % holes)"]
    database_s = timings["database (100 queries x 45,000, poisson)"]
    print(f"  patch {patch_s:.4f} s/image (<= 0.1): {'OK' if patch_s <= 0.1 else 'MISSED'}; "
          f"database {database_s * 1000:.1f} ms/image (<= 20): {'OK' if database_s <= 0.02 else 'MISSED'}")


if __name__ == "__main__":
    main()
