"""Run the whole course headless: set up ``.venv``, execute every notebook in order, keep the results.

    python3 scripts/run_course.py [--profile ci|cpu|full] [--only 04 06 ...]

The profile follows the hardware unless given: ``full`` (the source's 20 epochs) when TensorFlow
sees a GPU, ``cpu`` otherwise, ``ci`` for a quick check.  Without a GPU the notebooks load the
course's pretrained networks and train each only briefly, so the ``cpu`` run takes about 10
minutes on a 2-core machine (the README lists the measured times).

The console shows one line per notebook with its time and, while a notebook runs, the cell it is
on.  Kernel start-up messages (TensorFlow, Jupyter) go to ``<output>/run_course.log``.  Executed
notebooks go to ``<output>/executed/``; the models and results that the notebooks write stay in
``<output>/`` (``build/`` in a checkout, or ``COURSE_OUTPUT_DIR``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

from _bootstrap import ROOT, absolute_data_dir, reexec_in_environment

#: Seconds between two "still running" lines when the console is not a terminal (CI logs).
HEARTBEAT_S = 60


def format_seconds(seconds: float) -> str:
    """``"42 s"`` or ``"3 min 05 s"``."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class CellProgress:
    """While a notebook runs: a progress bar over its code cells on a terminal, a line a minute elsewhere."""

    def __init__(self, name: str, n_cells: int):
        self.name, self.n_cells, self.done = name, n_cells, 0
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._bar = None
        if sys.stdout.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=n_cells, desc=f"   {name}", unit="cell", leave=False, file=sys.stdout)
        else:
            threading.Thread(target=self._heartbeat, daemon=True).start()

    def cell_complete(self, cell, cell_index, **_):
        if cell.cell_type != "code":
            return
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)

    def _heartbeat(self):
        while not self._stop.wait(HEARTBEAT_S):
            elapsed = format_seconds(time.perf_counter() - self.started)
            print(f"   {self.name}: {self.done}/{self.n_cells} cells, {elapsed}", flush=True)

    def close(self):
        self._stop.set()
        if self._bar is not None:
            self._bar.close()


def execute_notebook(path: Path, out_dir: Path, timeout: int, log_file) -> float:
    """Execute one notebook on a fresh kernel, write the executed copy to ``out_dir``; return seconds.

    The kernel's own stdout and stderr (start-up messages, C++ logs) go to ``log_file``; cell
    outputs are stored in the executed notebook as usual.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    progress = CellProgress(path.stem, sum(cell.cell_type == "code" for cell in notebook.cells))
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_complete=progress.cell_complete)
    log_file.write(f"\n===== {path.name} =====\n")
    log_file.flush()
    started = time.perf_counter()
    try:
        client.execute(stdout=log_file, stderr=log_file)
    finally:
        progress.close()
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    absolute_data_dir(os.environ)
    from course_lib import config
    from course_lib.console import stderr_to

    output = config.output_dir()
    out_dir = config.output_dir("executed")
    log_path = output / "run_course.log"
    with open(log_path, "w") as log_file:
        with stderr_to(log_file):  # choosing the profile by hardware asks TensorFlow, which talks
            profile = config.get_profile()
        os.environ["COURSE_PROFILE"] = profile.name  # the kernels see the same choice
        print(f"Profile {profile.name!r}: {profile.description}.", flush=True)

        notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if args.only:
            notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
        failed, started = [], time.perf_counter()
        for notebook in notebooks:
            try:
                seconds = execute_notebook(notebook, out_dir, args.timeout, log_file)
                print(f"   {notebook.stem:32s} {format_seconds(seconds):>12s}", flush=True)
            except Exception as error:  # keep going: one failing notebook should not hide the others
                message = str(error).strip().splitlines()[-1:] or [type(error).__name__]
                print(f"   {notebook.stem:28s} FAILED: {message[0][:300]}", flush=True)
                failed.append(notebook.name)

    print(f"{len(notebooks) - len(failed)} of {len(notebooks)} notebooks ran in "
          f"{format_seconds(time.perf_counter() - started)}.")
    print(f"Executed notebooks: {out_dir}")
    print(f"Models and logs:    {output / 'runs'}")
    print(f"Results:            {output / 'results'}")
    print(f"Kernel messages:    {log_path}")
    if failed:
        print("Failed:", ", ".join(failed), "(open the executed copy to see the failing cell)")
    return 1 if failed else 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main())
