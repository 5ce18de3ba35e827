"""Train every network with three seeds and store how much the scores move from run to run.

    .venv/bin/python scripts/compare_seeds.py [--profile cpu] [--work build/seed-study]

Trains in ``--work`` (resumable: run it again after an interruption; seed by seed), evaluates
every run beside biharmonic inpainting and mean fill on the same 500 test images, then copies the small files
-- results.json, results.md, seeds.json, seeds.md and each run's log.csv and run.json -- to
``results/seeds/``.
The models themselves stay in ``--work``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from course_lib import config, seed_study


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(config.PROFILES))
    parser.add_argument("--work", type=Path, default=config.REPO_ROOT / "build" / "seed-study")
    parser.add_argument("--store", type=Path, default=seed_study.STORED_DIR)
    parser.add_argument("--train-only", action="store_true", help="train (or resume) the runs, evaluate nothing")
    args = parser.parse_args(argv)
    try:
        if args.train_only:
            seed_study.train_runs(profile=args.profile, out_dir=args.work)
            return 0
        seed_study.run(profile=args.profile, out_dir=args.work)
    except (ValueError, OSError) as error:
        parser.exit(2, f"compare_seeds: {error}\n")
    args.store.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "results.md", "seeds.json", "seeds.md"):
        shutil.copyfile(args.work / name, args.store / name)
    shutil.copytree(args.work / "logs", args.store / "logs", dirs_exist_ok=True)
    for record in sorted((args.work / "runs").glob("*/run.json")):  # each run's settings, seed and machine
        shutil.copyfile(record, args.store / "logs" / f"{record.parent.name}.json")
    print(f"stored in {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
