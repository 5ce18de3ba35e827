"""Export a finished training run as the course's pretrained weights.

    .venv/bin/python scripts/export_pretrained.py --model pconv --run build/runs/pconv
    .venv/bin/python scripts/export_pretrained.py --model classifier --run build/runs/classifier --checkpoint final

Reads ``<run>/best.keras`` (``--checkpoint final``: ``final.keras``) and writes, into ``course_lib/data/pretrained/<model>/`` (package data,
so every install of course_lib has it): ``weights.npz`` (float16, see
``course_lib.pretrained.save_weights``) and a copy of the run's record (``run.json``: command,
settings, wall time, hardware; ``log.csv``: per-epoch metrics).  It also measures what the float16
rounding costs: the largest change of any output pixel and the PSNR between the float32 and
float16 models' outputs on 256 test images, written to ``export.json`` in the same folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from course_lib import config, data, masks, metrics, models, pretrained


def rounding_effect(model32, model16, name, n_images=256):
    """How far the float16-weight model's outputs are from the float32 model's."""
    (_, _), (images, _) = data.load_cifar10(n_train=10, n_test=n_images, seed=1)
    images = data.images_to_float(images)
    hole_masks = masks.make_masks("mixed", n_images, seed=1)
    inputs = models.prepare_inputs(name, images, hole_masks)
    out32 = np.clip(model32.predict(inputs, verbose=0), 0, 1)
    out16 = np.clip(model16.predict(inputs, verbose=0), 0, 1)
    return {
        "n_images": n_images,
        "max_abs_output_change": float(np.abs(out32 - out16).max()),
        "max_abs_output_change_in_grey_levels": float(np.abs(out32 - out16).max() * 255),
        "mean_psnr_float16_vs_float32_db": float(np.mean(metrics.psnr(out32, out16))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=pretrained.PRETRAINED_NAMES, required=True,
                        help="an inpainting network, or the classifier of course_lib.classifier")
    parser.add_argument("--run", type=Path, required=True, help="the training run's --out folder")
    parser.add_argument("--checkpoint", choices=("best", "final"), default="best",
                        help="best.keras (lowest val_loss; default) or final.keras (the last epoch: the adversarial "
                        "network's, whose val_loss is its pixel loss and so favours the least adversarial epoch)")
    args = parser.parse_args()

    model32 = keras.saving.load_model(args.run / f"{args.checkpoint}.keras", compile=False)
    if args.model == "classifier":
        weights_path = pretrained.save_pretrained(model32, pretrained.CLASSIFIER)
        for name in ("run.json", "log.csv"):
            shutil.copy2(args.run / name, weights_path.parent / name)
        print(f"wrote {weights_path} ({weights_path.stat().st_size} bytes)")
        return
    weights_path = pretrained.save_pretrained(model32, args.model)
    model16 = pretrained.load_pretrained(args.model)

    record_dir = weights_path.parent
    for name in ("run.json", "log.csv"):
        shutil.copy2(args.run / name, record_dir / name)
    export = {
        "weights": str(weights_path.relative_to(config.REPO_ROOT)),
        "size_bytes": weights_path.stat().st_size,
        "n_parameters": int(model32.count_params()),
        "float16_rounding": rounding_effect(model32, model16, args.model),
    }
    (record_dir / "export.json").write_text(json.dumps(export, indent=2) + "\n")
    print(json.dumps(export, indent=2))


if __name__ == "__main__":
    main()
