"""course_lib.logs.read_log: the one reader of a run's log.csv (runs, train and viz use it)."""

import pytest

from course_lib import logs, runs, train, viz


def test_rows_come_back_in_epoch_order_as_columns(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss,val_loss\n1,0.5,0.6\n0,0.9,1.0\n")
    assert logs.read_log(path) == {"epoch": [0, 1], "loss": [0.9, 0.5], "val_loss": [1.0, 0.6]}
    assert not hasattr(runs, "read_log") and not hasattr(train, "read_log")  # one reader, used where it lives


def test_missing_empty_and_foreign_files(tmp_path):
    assert logs.read_log(tmp_path / "missing.csv") == {}
    (tmp_path / "empty.csv").write_text("")
    assert logs.read_log(tmp_path / "empty.csv") == {}
    (tmp_path / "other.csv").write_text("step,loss\n0,1.0\n")
    with pytest.raises(ValueError, match="no 'epoch' column"):
        logs.read_log(tmp_path / "other.csv")
    with pytest.raises(ValueError, match="no 'epoch' column"):
        viz.plot_learning_curves(tmp_path / "other.csv")
