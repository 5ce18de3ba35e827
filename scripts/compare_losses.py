"""Train the PConv U-Net once per loss (l1, liu, ssim) and store the comparison for notebook 08.

    .venv/bin/python scripts/compare_losses.py [--profile cpu] [--work build/loss-study]

Trains in ``--work`` (resumable: run it again after an interruption), then copies the small
files -- results.json, results.md, the figures and each run's log.csv and run.json -- to
``results/losses/``.  The models themselves stay in ``--work``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from course_lib import config, loss_study


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(config.PROFILES))
    parser.add_argument("--work", type=Path, default=config.REPO_ROOT / "build" / "loss-study")
    parser.add_argument("--store", type=Path, default=loss_study.STORED_DIR)
    args = parser.parse_args(argv)
    try:
        loss_study.run(profile=args.profile, out_dir=args.work)
    except (ValueError, OSError) as error:
        parser.exit(2, f"compare_losses: {error}\n")
    if args.store.exists():
        shutil.rmtree(args.store)
    shutil.copytree(args.work, args.store, ignore=shutil.ignore_patterns("*.keras", "backup", "*.h5"))
    print(f"stored in {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
