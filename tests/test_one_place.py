"""Ideas written once: a change of an SSIM constant or of a name check is made in exactly one module.

Each test looks through course_lib's sources for the copies that used to exist, so they cannot come back.
"""

import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "course_lib"
SOURCES = {path.relative_to(LIBRARY).as_posix(): path.read_text() for path in LIBRARY.rglob("*.py")}


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


@pytest.mark.parametrize("pattern, owner", [
    (r"def check_positive_int|def check_seed", "validation.py"),  # the rule of counts and seeds
    (r"platform\.platform\(\)|def library_versions|def cpu_name", "environment.py"),  # where a run ran
    (r"astype\(np\.float16\)|\{i:03d\}", "pretrained.py"),  # the shipped weights' format: float16 w000, w001, ...
    (r"def trained_or_pretrained|def short_run", "notebook_runs.py"),
    (r"\.savefig\(.*dpi=120", "viz.py"),  # an evaluation's figures
])
def test_written_in_its_own_module(pattern, owner):
    holders = sorted(name for name, text in SOURCES.items() if re.search(pattern, text, flags=re.MULTILINE))
    assert holders == [owner], f"{pattern!r} is written in {holders}; keep it in {owner} and import it from there"


def test_no_module_spells_out_the_int_rules_again():
    copies = sorted(name for name, text in SOURCES.items()
                    if re.search(r"must be a (positive|non-negative) int, got", text))
    assert copies == [], f"{copies} write the count or seed rule again; call validation.check_positive_int / check_seed"


@pytest.mark.parametrize("module, names", [
    ("evaluate", ["METRICS", "METRIC_LABELS", "VARIANTS", "summarize", "paired_difference", "load_results",
                  "results_table_markdown", "paired_table_markdown", "results_markdown", "write_results"]),
    ("train", ["read_log", "trained_or_pretrained", "short_run"]),
    ("runs", ["read_log", "library_versions"]),
    ("models", ["MODEL_NAMES", "load_pretrained", "save_pretrained", "pretrained_log"]),
    ("classifier", ["load_pretrained", "save_pretrained", "pretrained_record"]),
])
def test_names_live_only_in_the_module_that_owns_them(module, names):
    import importlib

    loaded = importlib.import_module(f"course_lib.{module}")
    assert [name for name in names if hasattr(loaded, name)] == []
