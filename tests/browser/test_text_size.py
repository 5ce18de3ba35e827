"""The browser test's measure of figure text: the kernels' start-up file records each figure's smallest
text in its PNG, and the test reads it back (checked against Pillow's PNG reader and a hand-computed size)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest
from PIL import Image

from test_jupyterlab import TEXT_SIZE_STARTUP, png_text

# A figure whose smallest text is the 7-point tick labels' (title 14 pt, labels 9 pt), saved into memory at
# 144 dpi as the inline backend saves it, then once more to a buffer with no text at all.
FIGURE = """
import base64, io, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [1, 0])
ax.set_title("a title", fontsize=14)
ax.set_xlabel("x label", fontsize=9)
ax.tick_params(labelsize=7)
ax.set_ylabel("")
for dpi in (144, 72):
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", dpi=dpi, bbox_inches="tight")
    print(base64.b64encode(buffer.getvalue()).decode())
empty = plt.figure(figsize=(1, 1))
empty.add_axes([0, 0, 1, 1]).axis("off")
buffer = io.BytesIO()
empty.savefig(buffer, format="png")
print(base64.b64encode(buffer.getvalue()).decode())
"""


@pytest.fixture(scope="module")
def pictures():
    code = TEXT_SIZE_STARTUP.read_text() + FIGURE
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [base64.b64decode(line) for line in done.stdout.split()]


def test_the_smallest_text_is_recorded_at_the_saved_dpi(pictures):
    at_144, at_72, _ = pictures
    assert float(png_text(at_144)["smallest-text-px"]) == pytest.approx(7 * 144 / 72, abs=0.01)
    assert float(png_text(at_72)["smallest-text-px"]) == pytest.approx(7.0, abs=0.01)


def test_the_png_stays_valid_and_pillow_reads_the_same_record(pictures):
    for data in pictures[:2]:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # checks every chunk's CRC
            assert image.text == png_text(data)


def test_a_figure_without_text_records_nothing(pictures):
    assert "smallest-text-px" not in png_text(pictures[2])
    assert png_text(b"not a png") == {}
