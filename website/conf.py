"""Sphinx configuration of the course website.  Build it with ``python scripts/build_site.py`` (not with
sphinx-build directly: the script lays out the pages, the README as the start page and the notebooks after it).

Sphinx with myst-nb renders the notebooks' stored outputs (``nb_execution_mode = "off"``: nothing is executed)
in the book theme.  MathJax 3 is copied into the site from the ``sphinx-mathjax-offline`` package, so the
maths renders without a network, when building and when reading.

Why not Jupyter Book 2 (MyST's Node.js engine): it needs Node.js besides Python and downloads its HTML theme
when it builds, so it cannot build offline; Sphinx with myst-nb installs from PyPI alone and builds the ten
notebooks in about 4 seconds on a 2-core CPU.
"""

import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from build_site import repository_url  # noqa: E402  (the one place that reads it: pyproject.toml)

project = "Image inpainting"
html_title = "Image inpainting, from the heat equation to partial convolutions"

extensions = ["myst_nb"]
nb_execution_mode = "off"          # the pages show what run_course.py stored; the build never runs a cell
nb_ipywidgets_js = {}               # no widget JavaScript from a CDN: the site shows the explorer's still image
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_render_markdown_format = "myst"    # the results tables that notebooks 07-09 print as Markdown
exclude_patterns = ["**.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": repository_url(),
    "repository_branch": "main",
    "path_to_docs": "",              # notebooks/NN_*.ipynb in the site are notebooks/NN_*.ipynb in the repository
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    # No right-hand column: the figures get the width JupyterLab gives them (about 850 px in a 1280-pixel window,
    # where the browser test measures their text); the page's contents move under the notebooks on the left.
    "secondary_sidebar_items": [],
}
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "search-button-field.html", "sbt-sidebar-nav.html",
                        "page-toc.html"]}
html_static_path = ["_static"]
html_css_files = ["course.css"]      # the article as wide as the page allows: figures at their own width
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says (unset: an error in the console)
html_show_sphinx = False
html_show_copyright = False

# MathJax 3.2.2 from the sphinx-mathjax-offline package, only what tex-mml-chtml.js loads (about 8 of its 24 MB).
mathjax_path = "mathjax/tex-mml-chtml.js"
_MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre")  # a11y, sre: its accessibility


def _mathjax_folder() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("sphinx-mathjax-offline is not installed: pip install -e '.[dev]' installs it")
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_folder(), Path(app.outdir) / "_static" / "mathjax"
    for part in _MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app):
    _mathjax_folder()  # fail before building, not after
    app.connect("build-finished", _copy_mathjax)
