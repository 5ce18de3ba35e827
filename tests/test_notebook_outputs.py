"""What students read in the stored outputs: no warnings, no escape codes, no paths of one machine, no log noise."""

import json
import re
from pathlib import Path

import pytest

from course_lib.console import LOG_LINE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: What must not appear in a stored output, and why.
FORBIDDEN = {
    r"\x1b\[": "an ANSI escape code (a terminal colour): print plain text",
    r"\.venv|site-packages|/home/|/work/|/tmp/": "a path of the machine that ran the notebook",
    r"\b\w*Warning\b": "a warning: fix its cause rather than store it",
    r"Traceback \(most recent call last\)": "a traceback",
    r"Profile\(name=": "a dataclass repr: print the profile in words",
}


def _output_texts(path):
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                yield index, output["name"], "".join(output["text"])
            elif output["output_type"] == "error":
                yield index, "error", output["ename"]
            else:
                text = output.get("data", {}).get("text/plain")
                if text is not None:
                    yield index, output["output_type"], "".join(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_outputs_hold_nothing_a_student_should_not_see(path):
    problems = []
    for index, kind, text in _output_texts(path):
        for pattern, why in FORBIDDEN.items():
            match = re.search(pattern, text, flags=re.MULTILINE)
            if match:
                problems.append(f"cell {index} ({kind}): {match.group(0)!r} is {why}")
        problems += [f"cell {index} ({kind}): {line[:60]!r} is a TensorFlow log line"
                     for line in text.splitlines() if LOG_LINE.match(line)]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_error_output(path):
    errors = [index for index, kind, _ in _output_texts(path) if kind == "error"]
    assert not errors, f"{path.name}: cells {errors} stored an error"


def test_the_patterns_catch_what_they_name():
    samples = {
        "\x1b[1mModel\x1b[0m": r"\x1b\[",
        "/work/main/.venv/lib/python3.12/site-packages/keras/src/trainers/epoch_iterator.py:160: UserWarning: Your input "
        "ran out of data": r"\b\w*Warning\b",
        "Profile(name='ci', n_train=256)": r"Profile\(name=",
    }
    for text, pattern in samples.items():
        assert re.search(pattern, text, flags=re.MULTILINE), text
    assert not any(re.search(p, "✓ correct: hole PSNR 23.41 dB", flags=re.MULTILINE) for p in FORBIDDEN)


#: One sitting: the prose of a student notebook, and of its longest markdown cell, in words.
MAX_WORDS, MAX_CELL_WORDS = 2_500, 450


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_is_read_in_one_sitting(path):
    words = [len("".join(c["source"]).split()) for c in json.loads(path.read_text())["cells"]
             if c["cell_type"] == "markdown"]
    assert sum(words) <= MAX_WORDS, f"{path.name} has {sum(words):,} words of prose; split it or tighten it"
    assert max(words) <= MAX_CELL_WORDS, f"{path.name} has a markdown cell of {max(words)} words; break it up"
