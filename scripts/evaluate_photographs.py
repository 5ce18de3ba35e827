"""Score the course's three pretrained networks and the classical methods on photographs that are
not CIFAR-10, and store the results for notebook 10.

    .venv/bin/python scripts/evaluate_photographs.py [--n 300] [--seed 0] [--out results/photographs]

The images are ``course_lib.photographs.sample_photographs(n, seed=seed)``: random square crops of
scikit-image's sample photographs, shrunk to 32 x 32 with anti-aliasing.  The masks are the fixed
evaluation masks, paired with the images as on CIFAR-10 (image i gets mask i mod K of each group).
Every classical method runs except ``database``, whose images are CIFAR-10's.  Writes
results.json, results.md and the figures of ``course_lib.evaluate.evaluate`` to ``--out``
(about 3 minutes for 300 images on a 2-core CPU).  The same as::

    python -m course_lib evaluate --pretrained vanilla,pconv,improved --photographs 300 --out results/photographs
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_lib import config, photographs  # noqa: E402  (after the log level)

#: Where the course keeps the results that notebook 10 reads.
STORED_DIR = config.REPO_ROOT / "results" / "photographs"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="number of photographs (default: 300)")
    parser.add_argument("--seed", type=int, default=0, help="chooses the crops (default: 0)")
    parser.add_argument("--out", type=Path, default=STORED_DIR, help=f"output folder (default: {STORED_DIR})")
    args = parser.parse_args(argv)

    from course_lib import evaluate, names, pretrained

    try:
        images = photographs.sample_photographs(args.n, seed=args.seed)
        networks = {name: (name, pretrained.load_pretrained(name)) for name in names.FROM_SCRATCH}
        evaluate.evaluate(
            networks, images=images, out_dir=args.out, seed=args.seed, methods=list(evaluate.CLASSICAL_METHODS),
            images_source="random crops of scikit-image's sample photographs, shrunk to 32 x 32 "
                          "(course_lib.photographs.sample_photographs)")
    except (ValueError, OSError) as error:
        parser.exit(2, f"evaluate_photographs: {error}\n")
    print(f"stored in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
