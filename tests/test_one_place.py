"""Ideas written once: a change of an SSIM constant or of a name check is made in exactly one module.

Each test looks through course_lib's sources for the copies that used to exist, so they cannot come back.
"""

import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "course_lib"
SOURCES = {path.name: path.read_text() for path in LIBRARY.rglob("*.py")}


@pytest.mark.parametrize("pattern, owner", [
    (r"0\.01\s*\*\*\s*2|0\.03\s*\*\*\s*2|K1\s*,\s*\w*K2\s*=\s*0\.01|=\s*1\.5\s*$", "metrics.py"),  # SSIM constants
    (r"Unknown model \{", "names.py"),
    (r"Unknown mask family \{", "masks.py"),
    (r"def gaussian_window", "metrics.py"),
])
def test_defined_in_one_module_only(pattern, owner):
    holders = sorted(name for name, text in SOURCES.items() if re.search(pattern, text, flags=re.MULTILINE))
    assert holders == [owner], f"{pattern!r} is written in {holders}; keep it in {owner} and import it from there"


def test_the_keras_ssim_uses_the_metrics_window_and_constants():
    from course_lib import losses, metrics

    assert losses.SSIM_C1 == metrics.SSIM_K1 ** 2 and losses.SSIM_C2 == metrics.SSIM_K2 ** 2
    assert losses.gaussian_window_1d is metrics.gaussian_window_1d
