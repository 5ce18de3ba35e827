"""Regenerate the README's results tables from ``results/results.json``.

    python scripts/update_readme_results.py

Replaces what lies between the markers ``<!-- results:begin -->`` and ``<!-- results:end -->`` in
README.md by ``course_lib.reporting.results_table_markdown`` and ``paired_table_markdown`` of the
committed results, so the README never shows numbers that the JSON does not hold
(``tests/test_project.py`` checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from course_lib import reporting

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def results_block(results_path=ROOT / "results" / "results.json") -> str:
    """The Markdown between the markers: the per-metric tables, the paired comparison, the time per image."""
    tables = reporting.results_table_markdown(results_path)
    paired = reporting.paired_table_markdown(results_path)
    times = reporting.time_table_markdown(results_path)
    return f"{BEGIN}\n{tables}\n{paired}\n{times}{END}"


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme} has no {BEGIN} ... {END} block; add the two markers where the tables go.")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + results_block() + tail)
    print(f"{readme}: results tables regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
