"""Run the whole course headless: set up ``.venv``, execute every notebook in order, keep the results.

    python3 scripts/run_course.py [--profile ci|cpu|full] [--only 03 05 ...]

The profile follows the hardware unless given: ``full`` (the source's 20 epochs on 50,000
images) when TensorFlow sees a GPU, ``cpu`` (4-10 minutes per model on 2 cores) otherwise,
``ci`` for a quick check.  Executed notebooks go to ``build/executed/``; models, logs and the
evaluation results that the notebooks write go to ``build/`` (``COURSE_OUTPUT_DIR``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _bootstrap import ROOT, absolute_data_dir, reexec_in_environment


def execute_notebook(path: Path, out_dir: Path, timeout: int) -> float:
    """Execute one notebook on a fresh kernel, write the executed copy to ``out_dir``; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(notebook, out_dir / path.name)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["ci", "cpu", "full"], help="default: by hardware")
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers to run, e.g. 00 03")
    parser.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per cell")
    args = parser.parse_args()

    if args.profile:
        os.environ["COURSE_PROFILE"] = args.profile
    os.environ.setdefault("MPLBACKEND", "Agg")
    absolute_data_dir(os.environ)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from course_lib import config

    profile = config.get_profile()
    os.environ["COURSE_PROFILE"] = profile.name  # the kernels see the same choice
    out_dir = config.output_dir("executed")
    print(f"Profile {profile.name!r}: {profile.description}. Results go to {out_dir.parent}.", flush=True)

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
    failed = []
    for notebook in notebooks:
        print(f"-> {notebook.name} ...", end=" ", flush=True)
        try:
            seconds = execute_notebook(notebook, out_dir, args.timeout)
            print(f"done in {seconds:.0f} s", flush=True)
        except Exception as error:  # keep going: one failing notebook should not hide the others
            print(f"FAILED: {type(error).__name__}: {str(error)[:500]}", flush=True)
            failed.append(notebook.name)
    print(f"Executed notebooks: {out_dir}")
    if failed:
        print("Failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main())
