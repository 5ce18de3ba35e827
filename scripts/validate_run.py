"""Score a training run on its own held-out validation images, per hole-ratio bin, against the classical methods.

    .venv/bin/python scripts/validate_run.py --run build/runs/improved [--n 1000] [--out DIR]

The images are the run's validation images (the last ``n_val`` images of the CIFAR-10 training
split, never trained on), not the test split: choose a recipe or an epoch count here, and keep
the test split for the final, untouched evaluation (``python -m course_lib evaluate``).
Prints the paired comparison (network minus best classical method, hole PSNR) per bin.
``--mask-seed`` draws other masks of the same bins and shapes, to check that a margin is not an
accident of the fixed evaluation masks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_lib import evaluate, masks, reporting, train


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a training run's folder (run.json, best.keras)")
    parser.add_argument("--checkpoint", default="best.keras", help="model file inside --run (default best.keras)")
    parser.add_argument("--n", type=int, default=1000, help="validation images to use (default 1000)")
    parser.add_argument("--out", type=Path, help="results folder (default <run>/validation)")
    parser.add_argument("--mask-seed", type=int,
                        help="draw new masks of the same bins with this seed instead of the fixed set")
    args = parser.parse_args(argv)
    try:
        settings = json.loads((args.run / "run.json").read_text())["settings"]
        _, validation, _ = train.load_training_data(settings)  # the run's own held-out images
        validation = validation[: args.n]
        results = evaluate.evaluate({settings["model"]: (settings["model"], args.run / args.checkpoint)},
                                    images=validation, methods=("diffusion", "biharmonic"),
                                    out_dir=args.out or args.run / "validation", figures=False, verbose=False,
                                    eval_masks=None if args.mask_seed is None else masks.build_eval_masks(seed=args.mask_seed))
    except (ValueError, OSError, KeyError) as error:
        parser.exit(2, f"validate_run: {error}\n")
    print(reporting.paired_table_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
