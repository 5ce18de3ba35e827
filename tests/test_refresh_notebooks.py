"""scripts/refresh_notebooks.py cleans what it stores: TensorFlow's log lines, widget state and widget reprs."""

import importlib.util
from pathlib import Path

import nbformat

ROOT_DIR = Path(__file__).resolve().parents[1]


def _refresh_module(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT_DIR / "scripts"))
    spec = importlib.util.spec_from_file_location("refresh_notebooks", ROOT_DIR / "scripts" / "refresh_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_log_lines_and_widget_state_go_and_the_widget_says_what_it_is(tmp_path, monkeypatch):
    refresh = _refresh_module(monkeypatch)
    notebook = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    logs = nbformat.v4.new_code_cell("import keras", outputs=[nbformat.v4.new_output(
        "stream", name="stderr", text="I0000 00:00:1796494206.878465   17356 port.cc:153] oneDNN custom operations\n"
                                      "a line the student should read\n")])
    only_logs = nbformat.v4.new_code_cell("import tensorflow", outputs=[nbformat.v4.new_output(
        "stream", name="stderr", text="WARNING: All log messages before absl::InitializeLog() is called are written "
                                      "to STDERR\n")])
    widget = nbformat.v4.new_code_cell("explorer", outputs=[nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "VBox(children=(HBox(children=(Dropdown(",
    })])
    notebook.cells = [logs, only_logs, widget]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)

    assert refresh.strip_log_lines(path) == 2
    cleaned = nbformat.read(path, as_version=4)
    assert "widgets" not in cleaned.metadata
    assert [o["text"] for o in cleaned.cells[0].outputs] == ["a line the student should read\n"]
    assert cleaned.cells[1].outputs == []
    assert cleaned.cells[2].outputs[0]["data"]["text/plain"] == refresh.WIDGET_TEXT
