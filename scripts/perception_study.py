"""Score every method beyond PSNR and train the adversarial network at several values of lambda.

    .venv/bin/python scripts/perception_study.py [--work build/perception-study] [--train-only]

Trains in ``--work`` (resumable: run it again after an interruption), scores every method on
the same 500 test images and evaluation masks as ``results/results.json``
(:mod:`course_lib.perception_study`), then copies the small files -- perception.json,
perception.md, the plane's figure and each run's log.csv and run.json -- to
``results/perception/``.  The models stay in ``--work``; the shipped adversarial network is
exported from its run with ``scripts/export_pretrained.py --model adversarial --checkpoint final``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from course_lib import config, console, perception_study


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(config.PROFILES))
    parser.add_argument("--work", type=Path, default=config.REPO_ROOT / "build" / "perception-study")
    parser.add_argument("--store", type=Path, default=perception_study.STORED_DIR)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--train-only", action="store_true", help="train (or resume) the runs, score nothing")
    args = parser.parse_args(argv)
    console.start_tensorflow_quietly()
    try:
        if args.train_only:
            perception_study.train_runs(args.work, profile=args.profile)
            return 0
        results = perception_study.run(args.work, n_test=args.n_test, profile=args.profile)
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        parser.exit(2, f"perception_study: {message}\n")
    args.store.mkdir(parents=True, exist_ok=True)
    for name in ("perception.json", "perception.md"):
        shutil.copyfile(args.work / name, args.store / name)
    perception_study.save_plane(results, args.store)
    logs = args.store / "logs"
    logs.mkdir(exist_ok=True)
    for value in results["metadata"]["lambdas"]:
        run = perception_study.run_dir(args.work, value)
        shutil.copyfile(run / "log.csv", logs / f"lambda-{value:g}.csv")
        shutil.copyfile(run / "run.json", logs / f"lambda-{value:g}.json")
    print(f"stored in {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
