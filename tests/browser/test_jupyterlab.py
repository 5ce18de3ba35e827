"""The course as a student sees it: every notebook run in JupyterLab, in a real browser.

JupyterLab is started from this environment on a free local port, on a temporary copy of
``notebooks/``, with ``COURSE_PROFILE=ci``.  Playwright drives the operating system's Chromium
(``chromium`` on Debian and Ubuntu; ``COURSE_BROWSER=/path/to/chrome`` names another): no browser
is downloaded.  For each notebook: *Run > Run All Cells*, wait until every code cell has its
execution count, then check what is on the screen: no red stderr or error box (TensorFlow's start-up
lines included: the kernel is started without ``PYTEST_CURRENT_TEST``, so it shows what a student's
kernel shows), the figures the stored notebook has, and in each figure text at least
:data:`MIN_TEXT_PX` high as the page shows it (the kernels' start-up file ``text_size_startup.py`` writes
each figure's smallest text into its PNG; the sizes go to ``NN_text_sizes.json``).  In notebook 07 the
explorer must be a live widget whose picture changes when its image slider moves.  A full-page
screenshot of each notebook goes to ``$COURSE_OUTPUT_DIR/browser/`` (``build/test-run/browser/`` under
``scripts/run_tests.py``).

Without a Chromium or Chrome, or without Playwright, the tests are skipped with one line saying
what to install.  ``.ci/run`` installs Chromium with apt-get where it is missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Seconds a notebook may take in the ci profile (the slowest takes about 3 minutes on 2 cores).
NOTEBOOK_TIMEOUT = 1200
#: Settings of a fresh JupyterLab: every cell in the page (so that all are checked and photographed),
#: the notebook's kernel started without asking, no news or update pop-up over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}
#: The smallest text a figure may show, in CSS pixels at the width the page shows the figure (1280-pixel
#: window, file browser open): about the size of JupyterLab's own smallest labels.
MIN_TEXT_PX = 10.0
#: The kernels' IPython start-up file that records each figure's smallest text in its PNG.
TEXT_SIZE_STARTUP = Path(__file__).with_name("text_size_startup.py")


def find_browser() -> str | None:
    """The Chromium or Chrome to drive: ``$COURSE_BROWSER``, else the first of :data:`BROWSERS` on PATH."""
    named = os.environ.get("COURSE_BROWSER")
    for candidate in ([named] if named else BROWSERS):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def screenshot_dir() -> Path:
    base = Path(os.environ.get("COURSE_OUTPUT_DIR") or ROOT / "build").expanduser()
    folder = (base if base.is_absolute() else ROOT / base) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Lab:
    """A JupyterLab server (its address, its token, its REST API) and the browser context that opens its pages."""

    def __init__(self, url: str, token: str, context):
        self.url, self.token, self.context = url, token, context

    def api(self, method: str, path: str):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self):
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def wait_until_answering(url: str, token: str, server: subprocess.Popen, log: Path, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {server.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    browser_path = find_browser()
    if browser_path is None and os.environ.get("COURSE_BROWSER"):
        pytest.skip(f"COURSE_BROWSER={os.environ['COURSE_BROWSER']} is not an executable: no browser test")
    if browser_path is None:
        pytest.skip(f"no Chromium or Chrome on PATH (tried {', '.join(BROWSERS)}): install the chromium package "
                    f"(.ci/run does) or set COURSE_BROWSER=/path/to/chrome")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright is not installed: pip install -e '.[dev]' installs it")
    work = tmp_path_factory.mktemp("jupyterlab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(TEXT_SIZE_STARTUP, startup / "00-text-size.py")
    for name, values in LAB_SETTINGS.items():
        path = work / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    data_dir = os.environ.get("COURSE_DATA_DIR")
    env = {key: value for key, value in os.environ.items()
           # A student's kernel: TensorFlow's own log level, matplotlib's inline backend, and descriptor 2
           # forwarded to the notebook (ipykernel does not forward it where PYTEST_CURRENT_TEST is set).
           if key not in ("PYTEST_CURRENT_TEST", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND")}
    env.update(COURSE_PROFILE="ci", COURSE_OUTPUT_DIR=str(work / "output"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               # Nothing of the user's Jupyter or IPython set-up (kernels, configuration, start-up files).
               JUPYTER_CONFIG_DIR=str(work / "jupyter-config"), JUPYTER_DATA_DIR=str(work / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(work / "jupyter-runtime"), IPYTHONDIR=str(work / "ipython"))
    if data_dir:
        env["COURSE_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = work / "jupyterlab.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],  # CI containers
            cwd=work, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    playwright = browser = None
    try:
        wait_until_answering(url, token, server, log)
        playwright = sync_api.sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=browser_path)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        yield Lab(url, token, context)
    finally:
        if browser is not None:
            browser.close()
        if playwright is not None:
            playwright.stop()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


# What the page shows, per cell: its kind, execution prompt, stderr/error outputs, images.
CELLS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map(cell => ({
    code: cell.classList.contains('jp-CodeCell'),
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    stderr: Array.from(cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')).map(e => e.textContent),
    images: cell.querySelectorAll('.jp-OutputArea-output img').length,
}))"""


KERNEL_IDLE_JS = """() => {
    const name = document.querySelector('.jp-NotebookPanel-toolbar .jp-Toolbar-kernelName');
    const status = document.querySelector('.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator');
    return name && !/No Kernel/.test(name.textContent) && status && status.dataset.status === 'idle';
}"""


def open_and_run_all(lab: Lab, notebook: str):
    """Open ``notebook`` in a new page, wait for its kernel, clear the stored outputs (so that what is
    checked is what this run shows) and Run All Cells; return the page."""
    page = lab.context.new_page()
    workspace = notebook.split("_")[0]  # a fresh workspace per notebook: no tab (nor kernel) of the last one
    page.goto(f"{lab.url}/lab/workspaces/nb{workspace}/tree/notebooks/{notebook}?token={lab.token}")
    page.wait_for_function(KERNEL_IDLE_JS, timeout=180_000)
    for menu, command in (("Edit", "Clear Outputs of All Cells"), ("Run", "Run All Cells")):
        page.get_by_role("menuitem", name=menu, exact=True).click()
        page.get_by_role("menuitem", name=command, exact=True).click()
    return page


def wait_until_all_ran(page, timeout: float) -> list[dict]:
    """Poll the page until every code cell has an execution count, or until none is queued or running
    and the kernel is idle (a cell that failed stops Run All); return what :data:`CELLS_JS` reads."""
    deadline = time.monotonic() + timeout
    page.wait_for_timeout(2000)
    while True:
        cells = page.evaluate(CELLS_JS)
        prompts = [cell["prompt"].strip() for cell in cells if cell["code"]]
        if all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in prompts):
            return cells
        if not any("*" in prompt for prompt in prompts) and page.evaluate(KERNEL_IDLE_JS):
            return cells
        if time.monotonic() > deadline:
            pytest.fail(f"still running after {timeout:.0f} s: prompts {prompts}")
        page.wait_for_timeout(2000)


# Every picture in an output: its cell, where it comes from, its own width and the width the page shows it at.
IMAGES_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).flatMap((cell, index) =>
    Array.from(cell.querySelectorAll('.jp-OutputArea-output img')).map(img => ({
        cell: index, src: img.src, natural: img.naturalWidth, shown: img.getBoundingClientRect().width})))"""
# The bytes behind a picture's address (a data: or blob: URL), base64-encoded.
FETCH_JS = """async (src) => {
    const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return btoa(text);
}"""


def png_text(data: bytes) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG file, ``{key: value}`` (empty for anything that is not a PNG)."""
    texts, at = {}, 8
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return texts
    while at + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        if kind == b"tEXt":
            key, _, value = data[at + 8:at + 8 + length].partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return texts


def shown_text_sizes(page) -> list[dict]:
    """Each picture on the page with the height of its smallest text as shown, in CSS pixels
    (``None`` for a picture not drawn by the kernel, such as a stored file)."""
    images = page.evaluate(IMAGES_JS)
    for image in images:
        recorded = png_text(base64.b64decode(page.evaluate(FETCH_JS, image["src"]))).get("smallest-text-px")
        image["text_px"] = (float(recorded) * image["shown"] / image["natural"]
                            if recorded and image["natural"] else None)
    return images


def full_page_screenshot(page, path: Path):
    """The whole notebook in one picture: the file browser closed, the page made as tall as the
    notebook and scrolled to its top, then photographed."""
    page.keyboard.press("Escape")
    page.keyboard.press("Control+b")  # View > Show Left Sidebar, off
    scroller = "document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
    height = page.evaluate(f"() => {scroller}.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 200, 30_000)})
    page.evaluate(f"() => {{ {scroller}.scrollTop = 0; }}")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(path))


def stored_image_cells(notebook: str) -> int:
    """How many code cells of the stored notebook show a picture."""
    stored = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    return sum(any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
               for cell in stored.cells if cell.cell_type == "code")


def check_explorer(page, folder: Path):
    """Notebook 07's explorer is a live widget: moving its image slider changes its picture."""
    picture = page.locator(".jp-OutputArea-output img.widget-image").first
    picture.wait_for()
    slider = page.locator(".widget-hslider").filter(has=page.get_by_text("image", exact=True)).first
    readout = slider.locator(".widget-readout")
    before_value, before_src, before = readout.inner_text(), picture.get_attribute("src"), picture.screenshot(
        path=str(folder / "07_explorer_before.png"))
    slider.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("([e, old]) => e.src !== old", arg=[picture.element_handle(), before_src],
                           timeout=120_000)
    page.wait_for_timeout(500)
    after = picture.screenshot(path=str(folder / "07_explorer_after.png"))
    assert readout.inner_text() != before_value, "the image slider did not move"
    assert after != before, "the explorer's picture did not change when the image slider moved"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, notebook):
    page = open_and_run_all(lab, notebook)
    try:
        cells = wait_until_all_ran(page, NOTEBOOK_TIMEOUT)
        folder = screenshot_dir()
        sizes = shown_text_sizes(page)  # as a student sees them: before the screenshot closes the file browser
        (folder / notebook.replace(".ipynb", "_text_sizes.json")).write_text(
            json.dumps([{key: value for key, value in image.items() if key != "src"} for image in sizes], indent=1))
        full_page_screenshot(page, folder / notebook.replace(".ipynb", ".png"))
        code_cells = [cell for cell in cells if cell["code"]]
        red = [f"code cell {i}: {text.strip()[:300]}" for i, cell in enumerate(code_cells) for text in cell["stderr"]]
        assert not red, "stderr or error output on the page:\n" + "\n".join(red)
        not_run = [i for i, cell in enumerate(code_cells) if not re.fullmatch(r"\[\d+\]:", cell["prompt"].strip())]
        assert not not_run, f"code cells that did not run: {not_run}"
        shown = sum(cell["images"] > 0 for cell in code_cells)
        assert shown >= min(1, stored_image_cells(notebook)), "the notebook's figures are not on the page"
        assert any(image["text_px"] is not None for image in sizes) or not sizes, \
            "no picture records its text size: the kernels' start-up file (text_size_startup.py) did not run"
        small = [f"code cell {image['cell']}: {image['text_px']:.1f} px (a {image['natural']}-pixel-wide picture "
                 f"shown {image['shown']:.0f} wide)" for image in sizes
                 if image["text_px"] is not None and image["text_px"] < MIN_TEXT_PX]
        assert not small, (f"figure text smaller than {MIN_TEXT_PX:.0f} px as the page shows it (a larger font, "
                           f"or a narrower figure):\n" + "\n".join(small))
        if notebook.startswith("07_"):
            check_explorer(page, folder)
    finally:
        page.close()
        lab.shut_down_kernels()
