"""Figures in the notebooks' prose come from data: the notebook's own outputs or the shipped results.

A decibel figure with decimals written in a markdown cell ("+0.61 dB", "27.15 dB") must be one of

- a figure printed in the same notebook's stored outputs (so prose and output cannot disagree);
- a value of a shipped results file (``results/**/*.json``) at the precision written, two decimals or more;
- one of the source's reported figures, or arithmetic on them shown in the prose (:data:`SOURCE_FIGURES`).

Everything else is a number typed by hand that nothing keeps true.  Whole numbers ("above 40 dB",
"more than 10 dB") are orders of magnitude, not results, and are not checked.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: Figures of the source's slides, and the arithmetic on them that notebook 03 works out in its prose.
SOURCE_FIGURES = {
    "78.56": "the source's reported PSNR",
    "75.26": "the source's other reported PSNR",
    "30.43": "78.56 - 48.13, worked out in notebook 03",
    "27.13": "75.26 - 48.13, worked out in notebook 03",
}

#: A figure in decibels with decimals: "+0.61 dB", "−1.1 dB", "27.15 dB", both of "29.0 and 31.7 dB" and of
#: "0.1–0.2 dB" (a dash after a digit is a range, not a sign).
_FIGURE = r"(?:(?<![\d.])[+\-−–])?\d+(?:\.\d+)?"
DECIBELS = re.compile(rf"({_FIGURE})(?=(?:\s*(?:and|or|to|,|/|–|-)\s*{_FIGURE})*\s*dB\b)")


def _numbers(value, found):
    if isinstance(value, dict):
        for item in value.values():
            _numbers(item, found)
    elif isinstance(value, list):
        for item in value:
            _numbers(item, found)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append(float(value))
    return found


SHIPPED = [x for path in sorted((ROOT / "results").rglob("*.json")) for x in _numbers(json.loads(path.read_text()), [])]


def _in_shipped(text):
    decimals = len(text.split(".")[1]) if "." in text else 0
    if decimals < 2:
        return False
    value = abs(float(text))
    return any(abs(round(abs(x), decimals) - value) < 10 ** -(decimals + 3) for x in SHIPPED)


def _outputs_text(cells):
    parts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for kind in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts).replace("−", "-")


def stray_figures(cells):
    """``[(cell index, figure, context)]`` for every dB figure in markdown that no data backs."""
    outputs = _outputs_text(cells)
    stray = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        for match in DECIBELS.finditer(source):
            figure = match.group(1).replace("−", "-").replace("–", "-")
            bare = figure.lstrip("+-")
            if "." not in bare:
                continue
            if bare in SOURCE_FIGURES or re.search(rf"(?<![\d.]){re.escape(bare)}(?![\d])", outputs) or _in_shipped(bare):
                continue
            stray.append((index, figure, source[max(0, match.start() - 60):match.end() + 10].replace("\n", " ")))
    return stray


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_decibel_figure_in_the_prose_comes_from_data(path):
    stray = stray_figures(json.loads(path.read_text())["cells"])
    assert not stray, f"{path.name}: figures typed by hand, backed by no output or shipped result:\n" + "\n".join(
        f"  cell {index}: {figure} dB in …{context}…" for index, figure, context in stray)


def _cells(markdown, output=""):
    return [{"cell_type": "markdown", "source": markdown},
            {"cell_type": "code", "source": "", "outputs": [{"output_type": "stream", "text": output}]}]


def test_the_check_finds_a_figure_nothing_backs_and_accepts_a_printed_one():
    prose = "The PConv U-Net leads by +7.7777 dB here, reaches 29.0 and 31.7 dB there, and above 40 dB nothing shows."
    assert [f for _, f, _ in stray_figures(_cells(prose))] == ["+7.7777", "29.0", "31.7"]
    assert stray_figures(_cells(prose, "lead: +7.7777 dB\nretina: 29.0 dB, phantom 31.7 dB")) == []
    assert [f for _, f, _ in stray_figures(_cells("it moves by 0.1–0.2 dB"))] == ["0.1", "0.2"]
    assert stray_figures(_cells("The source reports PSNR 78.56 dB.")) == []
    assert stray_figures(_cells("31.70 dB", "317.0")) != []  # a figure inside another number is not a match
