"""The course website (``scripts/build_site.py``): built once from ``notebooks/`` (their stored outputs), offline.

The build runs in a subprocess whose sockets cannot reach any network, and must finish in under two minutes.
The pages are then read back as HTML: one per notebook, in order, every local link and anchor resolving, the
figures, tables and maths of the notebooks present, a Colab link on each, no line of the solution key.  Last,
the system's Chromium (found as ``tests/browser/`` finds it; skipped without one) opens the start page and a
notebook page and must log no error and load nothing from the network but the Colab badges' images.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402

#: Run the build with every internet socket refused: a build that reaches for the network fails here.
OFFLINE_BUILD = """
import socket, sys
def offline(*args, **kwargs):
    raise OSError("the website's build tried to use the network")
real_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        offline()
    return real_connect(self, address)
socket.socket.connect, socket.getaddrinfo = connect, offline
sys.path.insert(0, "scripts")
import build_site
sys.exit(build_site.main(sys.argv[1:]))
"""
#: Seconds the build may take (it takes about 10 on a 2-core CPU).
BUILD_LIMIT_S = 120


class Page(HTMLParser):
    """The links, ids, images, tables and text of one HTML page."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path, self.links, self.ids, self.images, self.tables, self.text = path, [], set(), [], 0, []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.links.append(attrs[name])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.tables += tag == "table"

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", OFFLINE_BUILD, "--notebooks", str(ROOT / "notebooks"),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, f"the website did not build:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert seconds < BUILD_LIMIT_S, f"the website took {seconds:.0f} s to build (at most {BUILD_LIMIT_S} s)"
    assert "No executed notebooks" not in done.stdout  # --notebooks notebooks/ is no fallback
    return out


def _page(site: Path, notebook: Path) -> Path:
    return site / "notebooks" / f"{notebook.stem}.html"


def _outputs(notebook: Path):
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def test_every_notebook_has_a_page_titled_by_its_heading(site):
    for notebook in NOTEBOOKS:
        page = _page(site, notebook)
        assert page.exists(), f"no page for {notebook.name}"
        heading = re.search(r"^# (.+)$", nbformat.read(notebook, as_version=4).cells[0].source, flags=re.M).group(1)
        title = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), flags=re.S).group(1)
        assert html.unescape(title).startswith(heading), (notebook.name, title)


def test_the_start_page_is_the_readme_and_lists_the_notebooks_in_order(site):
    index = Page(site / "index.html")
    readme_title = (ROOT / "README.md").read_text().splitlines()[0].removeprefix("# ")
    assert readme_title in index.all_text
    pages = [link for link in index.links if re.fullmatch(r"notebooks/\d\d_\w+\.html", link)]
    first_seen = list(dict.fromkeys(pages))
    assert first_seen == [f"notebooks/{notebook.stem}.html" for notebook in NOTEBOOKS]
    assert all(pages.count(page) >= 2 for page in first_seen), "each: in the contents and in the README's table"


def test_every_local_link_and_anchor_resolves(site):
    # The pages, not the theme's template fragments that it copies into _static/.
    pages = {path.resolve(): Page(path) for path in site.rglob("*.html") if "_static" not in path.parts}
    assert len(pages) >= len(NOTEBOOKS) + 1
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("//"):
                continue  # a URL: GitHub, Colab
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(site.resolve())}: {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in pages[target].ids:
                broken.append(f"{path.relative_to(site.resolve())}: {link} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken[:30])


def test_every_notebook_page_shows_its_figures_tables_and_colab_link(site):
    repository = build_site.repository_url().removeprefix("https://github.com/")
    for notebook in NOTEBOOKS:
        page = Page(_page(site, notebook))
        outputs = list(_outputs(notebook))
        figures = sum("image/png" in output.get("data", {}) for output in outputs)
        tables = sum("|---" in output.get("data", {}).get("text/markdown", "") for output in outputs)
        shown = [src for src in page.images if src.startswith("../_images/")]
        assert len(shown) == figures, f"{notebook.name}: {figures} figures stored, {len(shown)} on the page"
        assert page.tables >= tables, f"{notebook.name}: {tables} Markdown tables printed, {page.tables} on the page"
        colab = f"https://colab.research.google.com/github/{repository}/blob/main/notebooks/{notebook.name}"
        assert colab in page.links, f"{notebook.name}: no link to {colab}"


def test_the_explorer_page_says_where_the_widget_lives_and_loads_no_widget_script(site):
    page = _page(site, ROOT / "notebooks" / "07_comparison.ipynb").read_text(encoding="utf-8")
    assert html.escape(build_site.WIDGET_NOTE.strip("*"), quote=False) in page
    assert "widget-view+json" not in page and "require.js" not in page


def test_maths_is_marked_up_for_the_bundled_mathjax(site):
    with_maths = [nb for nb in NOTEBOOKS if any("$" in cell.source for cell in nbformat.read(nb, as_version=4).cells
                                                if cell.cell_type == "markdown")]
    assert len(with_maths) >= 3
    for notebook in with_maths:
        page = _page(site, notebook).read_text(encoding="utf-8")
        assert 'class="math notranslate nohighlight"' in page, f"{notebook.name}: no maths on the page"
        assert '<script defer="defer" src="../_static/mathjax/tex-mml-chtml.js"></script>' in page
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    for path in site.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        remote = re.findall(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//[^\"]+", text)
        assert not remote, f"{path.name} loads scripts or styles from the network: {remote}"


def _solution_lines(notebook: Path) -> list[str]:
    """The solution key's own lines (between the markers, long enough to be telling, absent from the student's)."""
    student = "\n".join(cell.source for cell in nbformat.read(ROOT / "notebooks" / notebook.name, as_version=4).cells)
    lines = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, flags=re.S):
            lines += [line.strip() for line in region.splitlines()
                      if len(line.strip()) >= 30 and line.strip() not in student]
    return lines


def test_no_solution_is_published(site):
    published = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            published.append(Page(path).all_text)
        elif path.suffix in (".txt", ".ipynb", ".js", ".md"):
            text = path.read_text(encoding="utf-8", errors="replace")
            published.append(text if path.suffix != ".ipynb" else
                             "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"]))
    published = "\n".join(published)
    assert "BEGIN SOLUTION" not in published
    keys = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    lines = [line for key in keys for line in _solution_lines(key)]
    assert len(lines) > 50, "the independent check needs the solution key's lines"
    leaked = [line for line in lines if line in published]
    assert not leaked, f"lines of the solution key on the website: {leaked[:5]}"


def test_a_solution_notebook_stops_the_build(tmp_path):
    with pytest.raises(SystemExit, match="solution key"):
        build_site.prepare_notebook(ROOT / "solutions" / NOTEBOOKS[4].name, tmp_path / "out.ipynb")


def test_an_executed_notebook_loses_its_widget_state_and_log_lines(tmp_path):
    """What run_course.py keeps and notebooks/ never has: the explorer's widget state, TensorFlow's log lines."""
    notebook = nbformat.read(ROOT / "notebooks" / "07_comparison.ipynb", as_version=4)
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    log_line = "2026-01-01 10:00:00.000000: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n"
    code.outputs = [nbformat.v4.new_output("stream", name="stderr", text=log_line),
                    nbformat.v4.new_output("stream", name="stdout", text=log_line + "kept\n")]
    nbformat.write(notebook, tmp_path / "executed.ipynb")
    build_site.prepare_notebook(tmp_path / "executed.ipynb", tmp_path / "page.ipynb")
    page = nbformat.read(tmp_path / "page.ipynb", as_version=4)
    assert "widgets" not in page.metadata
    assert [output.text for output in page.cells[code_index(page, code.id)].outputs] == ["kept\n"]
    outputs = [output for cell in page.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not any(build_site.WIDGET_VIEW in output.get("data", {}) for output in outputs)
    assert sum(output.get("data", {}).get("text/markdown") == build_site.WIDGET_NOTE for output in outputs) == 1


def code_index(notebook, cell_id: str) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == cell_id)


def test_executed_notebooks_are_preferred_and_the_others_come_from_notebooks(tmp_path):
    (tmp_path / NOTEBOOKS[3].name).write_text("{}")
    chosen, fallback = build_site.choose_notebooks(tmp_path)
    assert [path.name for path in chosen] == [notebook.name for notebook in NOTEBOOKS]
    assert chosen[3] == tmp_path / NOTEBOOKS[3].name
    assert all(path.parent == ROOT / "notebooks" for i, path in enumerate(chosen) if i != 3)
    assert fallback == [notebook.name for i, notebook in enumerate(NOTEBOOKS) if i != 3]


def test_the_readme_links_to_pages_and_to_github():
    text = "[a](notebooks/00_x.ipynb) [b](CONTRIBUTING.md#tests) [c](https://example.org) [d](#results) [e](results/)"
    page = build_site.rewrite_readme(text, ["00_x.ipynb"], "https://github.com/o/n")
    assert "[a](notebooks/00_x.ipynb)" in page and "[c](https://example.org)" in page and "[d](#results)" in page
    assert "[b](https://github.com/o/n/blob/main/CONTRIBUTING.md#tests)" in page
    assert "[e](https://github.com/o/n/tree/main/results)" in page
    assert page.rstrip().endswith(":caption: Notebooks\n\nnotebooks/00_x\n```")


# ------------------------------------------------------------------------------------------ in a real browser
def _browser_or_skip() -> str:
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from test_jupyterlab import BROWSERS, find_browser

    found = find_browser()
    if found is None:
        pytest.skip(f"no Chromium or Chrome on PATH (tried {', '.join(BROWSERS)}) or at COURSE_BROWSER: "
                    f"no browser test of the website")
    return found


def test_a_browser_opens_the_start_page_and_a_notebook_page_without_errors(site):
    browser_path = _browser_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    badge = '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20"/>'
    errors, remote = [], []

    def answer(route):
        request = route.request
        if request.url.startswith("file:"):
            return route.continue_()
        remote.append((request.resource_type, request.url))
        if request.resource_type == "image":  # the Colab badges: a stand-in, as a reader offline sees its alt text
            return route.fulfill(status=200, content_type="image/svg+xml", body=badge)
        return route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path)
        try:
            page = browser.new_page()
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.route("**/*", answer)
            page.goto((site / "index.html").as_uri(), wait_until="load")
            assert page.locator("nav a[href='notebooks/00_setup_and_data.html']").count() >= 1
            page.goto(_page(site, ROOT / "notebooks" / "01_classical_inpainting.ipynb").as_uri(), wait_until="load")
            # MathJax, from the site's own copy, has typeset the formulas.
            page.wait_for_selector("mjx-container", state="attached", timeout=30_000)
            assert page.locator("mjx-container").count() >= 10
            assert page.locator("img[src^='../_images/']").count() >= 1
        finally:
            browser.close()
    assert not errors, f"the browser logged errors: {errors}"
    assert remote and all(kind == "image" and "colab.research.google.com" in url for kind, url in remote), remote


# Each output picture: where it comes from, its width in the PNG and as the page lays it out.
PICTURES_JS = """() => Array.from(document.querySelectorAll('.cell_output img')).map(img => ({
    src: img.getAttribute('src'), natural: img.naturalWidth, shown: img.getBoundingClientRect().width}))"""


def test_every_picture_is_shown_with_a_point_of_its_text_at_least_a_pixel(site):
    """The course draws its figures' text at 10 points or more (``viz.SMALL_TEXT_PT``; the notebooks' figures
    are measured in JupyterLab by tests/browser/test_jupyterlab.py). A picture saved at D dots per inch keeps
    that size on a page that shows it at least ``72 / D`` of its width in pixels: at the notebooks' 72 dpi its
    own width, a stored 120-dpi figure 60 % of it. In a 1280-pixel-wide window, as the browser test."""
    from PIL import Image

    browser_path = _browser_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    shrunk, seen = [], 0
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            for notebook in NOTEBOOKS:
                page.goto(_page(site, notebook).as_uri(), wait_until="load")
                for picture in page.evaluate(PICTURES_JS):
                    seen += 1
                    with Image.open(_page(site, notebook).parent / picture["src"]) as png:
                        dpi = float(png.info.get("dpi", (72.0, 72.0))[0])
                    needed = picture["natural"] * 72.0 / dpi
                    if picture["natural"] == 0 or picture["shown"] < needed - 1:
                        shrunk.append(f"{notebook.stem}: {picture['src']} ({picture['natural']} px at {dpi:.0f} dpi) "
                                      f"shown at {picture['shown']:.0f} px, under {needed:.0f}")
        finally:
            browser.close()
    assert seen >= len(NOTEBOOKS), f"only {seen} pictures found in the cell outputs of the pages"
    assert not shrunk, "pictures shown so small that a point of their text is under a pixel:\n" + "\n".join(shrunk)
