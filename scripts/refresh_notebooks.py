"""Re-execute the notebooks in place, in the quick ``ci`` profile, so that their stored outputs are current.

    python3 scripts/refresh_notebooks.py [--only 05 06 ...]

For maintainers, after changing ``course_lib`` or a notebook: the stored outputs are what students
see on GitHub and what ``--nbval-lax`` compares in the cells tagged ``nbval-check-output``.
The notebooks' sources come from the solution key: edit ``solutions/``, run
``scripts/make_student_notebooks.py``, then this script (it runs the blank student notebooks, so
the checks say "not attempted"; the generator keeps these outputs from then on).
Models and results the notebooks write go to a temporary folder, never into the repository.
TensorFlow's and absl's start-up log lines are removed from the stored outputs, and the widget
state (notebook 07's explorer) from the metadata: the explorer needs a live kernel, and the cell
after it stores a plain picture of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _bootstrap import ROOT, absolute_data_dir, reexec_in_environment

#: What a stored widget output says where no kernel runs (GitHub, JupyterLab before a run) instead of
#: ipywidgets' repr, ``VBox(children=(HBox(...``.
WIDGET_TEXT = "Interactive explorer: run the notebook to use it (a still picture of it follows)."


def strip_log_lines(path: Path) -> int:
    """Remove TensorFlow/absl log lines from the stream outputs of a notebook, and its widget state (a widget's
    output keeps a plain sentence, :data:`WIDGET_TEXT`); return how many lines."""
    import nbformat

    from course_lib.console import LOG_LINE

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)
    removed = 0
    for cell in notebook.cells:
        kept_outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines = output["text"].splitlines(keepends=True)
                kept = [line for line in lines if not LOG_LINE.match(line.rstrip("\n"))]
                removed += len(lines) - len(kept)
                output["text"] = "".join(kept)
                if not kept:
                    continue
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                data["text/plain"] = WIDGET_TEXT
            kept_outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept_outputs
    nbformat.write(notebook, path)
    return removed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers, e.g. 04 05")
    args = parser.parse_args()
    from run_course import execute_notebook

    os.environ.update(COURSE_PROFILE="ci", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    absolute_data_dir(os.environ)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.only]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["COURSE_OUTPUT_DIR"] = scratch
        with open(Path(scratch) / "kernels.log", "w") as log_file:  # the kernels' own start-up noise
            for notebook in notebooks:
                seconds = execute_notebook(notebook, notebook.parent, timeout=1800, log_file=log_file)
                removed = strip_log_lines(notebook)
                print(f"{notebook.name}: {seconds:.0f} s, {removed} log lines removed", flush=True)
    return 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main())
