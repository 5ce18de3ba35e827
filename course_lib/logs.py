"""A training run's ``log.csv``, read without TensorFlow (figures and tables need it too).

Keras' ``CSVLogger`` (through :class:`course_lib.runs.ResumableCSVLogger`) writes one row per
finished epoch, column ``epoch`` counting from 0, then one column per logged value.
"""

from __future__ import annotations

import csv
from pathlib import Path


def read_log(log_path):
    """``log.csv`` as columns: ``{"epoch": [0, 1, ...], "loss": [...], ...}`` (floats; epoch ints),
    rows in epoch order.

    A missing or empty file gives ``{}``; a file without an ``epoch`` column raises ValueError.
    """
    log_path = Path(log_path)
    if not log_path.is_file() or log_path.stat().st_size == 0:
        return {}
    with open(log_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and "epoch" not in rows[0]:
        raise ValueError(f"{log_path} has no 'epoch' column; expected the log.csv of a Keras CSVLogger.")
    rows.sort(key=lambda row: int(row["epoch"]))
    if not rows:
        return {}
    return {
        key: [int(row[key]) if key == "epoch" else float(row[key]) for row in rows]
        for key in rows[0]
    }
