"""Build the course website from the executed notebooks and the README: one page per notebook, nothing re-run.

    python3 scripts/build_site.py [--notebooks DIR] [--out DIR]

The pages show the outputs that ``scripts/run_course.py`` stored in ``<output>/executed/`` (``build/executed/``
in a checkout, or ``$COURSE_OUTPUT_DIR/executed/``); a notebook that is not there comes from ``notebooks/``
(the stored outputs of the quick ``ci`` profile), and one line says so.  ``--notebooks DIR`` takes them from
another folder.  The start page is ``README.md``, its links to ``notebooks/*.ipynb`` become links to the pages
and its other relative links point at the repository on GitHub.  The notebooks follow in their order.

Sphinx with myst-nb and the book theme (configuration: ``website/conf.py``) writes the site to ``build/site/``
(``--out``); open ``build/site/index.html``.  The build needs no network and executes nothing.  The solution
key is never published: a notebook with a ``### BEGIN SOLUTION`` line stops the build.  Notebook 07's live
explorer needs a kernel: its page says so where the widget would be (the cell after it shows a still image).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _bootstrap import ROOT, reexec_in_environment

WEBSITE = ROOT / "website"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
SOLUTION_MARKER = "### BEGIN SOLUTION"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("*A live widget appears here in Jupyter or Colab: it needs a running kernel, "
               "which a web page does not have.*")
_REPOSITORY_LINE = re.compile(r'^Repository\s*=\s*"(https://github\.com/[^"]+)"', re.MULTILINE)
_MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of ``pyproject.toml``, the one place that names the course's repository."""
    found = _REPOSITORY_LINE.search((root / "pyproject.toml").read_text())
    if found is None:
        raise ValueError(f"{root / 'pyproject.toml'} has no [project.urls] Repository = \"https://github.com/...\"")
    return found.group(1)


def default_notebook_dir() -> Path:
    """Where ``scripts/run_course.py`` writes the executed notebooks."""
    from course_lib import config

    return config.output_root() / "executed"


def choose_notebooks(source: Path, course: Path = ROOT / "notebooks") -> tuple[list[Path], list[str]]:
    """Each course notebook (``notebooks/NN_*.ipynb``, in order) from ``source`` where it is there, else from
    ``course``; also the names of those taken from ``course``."""
    chosen, fallback = [], []
    for notebook in sorted(course.glob(NOTEBOOK_PATTERN)):
        if (source / notebook.name).is_file():
            chosen.append(source / notebook.name)
        else:
            chosen.append(notebook)
            fallback.append(notebook.name)
    return chosen, fallback


def rewrite_readme(text: str, notebooks: list[str], repository: str) -> str:
    """The README as the start page: links to the site's notebooks stay (MyST makes them page links), other
    relative links point at the file on GitHub, and a hidden table of contents lists the notebooks in order."""

    def link(match: re.Match) -> str:
        target = match.group(1)
        path, _, anchor = target.partition("#")
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or not path:
            return match.group(0)  # a URL, or an anchor on the same page
        if path.startswith("notebooks/") and path.removeprefix("notebooks/") in notebooks:
            return match.group(0)
        kind = "tree" if (ROOT / path).is_dir() else "blob"
        return f"]({repository}/{kind}/main/{path.rstrip('/')}{'#' + anchor if anchor else ''})"

    pages = "\n".join(f"notebooks/{Path(name).stem}" for name in notebooks)
    toc = f"\n\n```{{toctree}}\n:hidden:\n:caption: Notebooks\n\n{pages}\n```\n"
    return _MARKDOWN_LINK.sub(link, text) + toc


def prepare_notebook(source: Path, target: Path) -> None:
    """Copy a notebook for the site: refuse a solution, put a note where a live widget was, drop widget state
    and TensorFlow's log lines (``run_course.py`` keeps them; ``notebooks/`` never has them)."""
    import nbformat

    from course_lib.console import LOG_LINE

    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if SOLUTION_MARKER in cell.source:
            raise SystemExit(f"{source} holds the solution key ({SOLUTION_MARKER!r} in cell {cell.get('id')}): "
                             "the website publishes the student notebooks only (notebooks/ or run_course.py's output)")
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                output = nbformat.v4.new_output("display_data", data={"text/markdown": WIDGET_NOTE})
            elif output.output_type == "stream":
                output.text = "".join(line for line in output.text.splitlines(keepends=True)
                                      if not LOG_LINE.match(line.rstrip("\n")))
                if not output.text:
                    continue
            outputs.append(output)
        cell.outputs = outputs
    nbformat.write(notebook, target)


def lay_out_sources(notebooks: list[Path], folder: Path, repository: str) -> None:
    """The Sphinx source folder: ``index.md`` (the README) and ``notebooks/NN_*.ipynb``."""
    (folder / "notebooks").mkdir(parents=True)
    for notebook in notebooks:
        prepare_notebook(notebook, folder / "notebooks" / notebook.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (folder / "index.md").write_text(rewrite_readme(readme, [nb.name for nb in notebooks], repository),
                                     encoding="utf-8")


def clear_output(out: Path) -> None:
    """Remove an earlier site at ``out``; refuse to empty a folder that is not one."""
    if not out.exists():
        return
    if any(out.iterdir()) and not (out / ".buildinfo").exists():
        raise SystemExit(f"{out} is not empty and holds no earlier site (.buildinfo): choose another --out")
    shutil.rmtree(out)


def build(notebooks: list[Path], out: Path, quiet: bool = True) -> None:
    """Lay out the sources in a temporary folder and run Sphinx on them; any Sphinx warning fails the build."""
    from sphinx.cmd.build import build_main

    clear_output(out)
    with tempfile.TemporaryDirectory(prefix="course-site-") as scratch:
        source = Path(scratch) / "source"
        lay_out_sources(notebooks, source, repository_url())
        arguments = ["-b", "html", "-c", str(WEBSITE), "-d", str(Path(scratch) / "doctrees"),
                     "-W", "--keep-going", *(["-q"] if quiet else []), str(source), str(out)]
        if build_main(arguments) != 0:
            raise SystemExit("the website did not build: Sphinx's messages above say why")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="folder of executed notebooks (default: run_course.py's, <output>/executed/)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="default: build/site/")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)

    source = (args.notebooks or default_notebook_dir()).expanduser().resolve()
    notebooks, fallback = choose_notebooks(source)
    if not notebooks:
        raise SystemExit(f"no notebooks/{NOTEBOOK_PATTERN} in {ROOT}")
    if len(fallback) == len(notebooks) and source != (ROOT / "notebooks").resolve():
        print(f"No executed notebooks in {source} (scripts/run_course.py writes them): "
              f"the pages show the outputs stored in notebooks/.")
    elif fallback:
        print(f"Not in {source}, taken from notebooks/: {', '.join(fallback)}.")
    started = time.perf_counter()
    build(notebooks, args.out.expanduser().resolve(), quiet=not args.verbose)
    print(f"Website: {args.out / 'index.html'} ({len(notebooks)} notebooks, "
          f"{time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    reexec_in_environment(__file__)
    sys.exit(main())
