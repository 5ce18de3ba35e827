"""Carry a class a student wrote in one notebook into a later one.

Each notebook runs in its own kernel, so the ``MyPConv2D`` layer written in notebook 04 is gone by
notebook 06.  :func:`save_class` writes the class's source, as the student typed it, to
``<output root>/student/<ClassName>.py`` (``build/student/`` in a checkout, see
:func:`course_lib.config.output_root`), and :func:`load_class` imports it again, or returns the
library's version when there is nothing to load.

The saved file starts with the imports the notebooks use (NumPy, Keras, ``keras.ops``,
TensorFlow); a class that needs other names of its notebook (a helper function, a constant) does
not load, and :func:`load_class` says so and returns the fallback.  This module does not import
TensorFlow itself.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import linecache
import sys
import textwrap
from pathlib import Path

from course_lib import config

__all__ = ["load_class", "save_class", "saved_path"]

#: What every saved file starts with: the names the notebooks import at the top.
HEADER = (
    '"""Written by course_lib.handoff.save_class from a notebook: edit the notebook, not this file."""\n\n'
    "import numpy as np\n"
    "import keras\n"
    "from keras import ops\n"
    "import tensorflow as tf\n\n\n"
)


def saved_path(name: str) -> Path:
    """Where :func:`save_class` writes class ``name``: ``<output root>/student/<name>.py``."""
    if not str(name).isidentifier():
        raise ValueError(f"{name!r} is not a Python class name; pass the class's __name__, e.g. 'MyPConv2D'.")
    return config.output_root() / "student" / f"{name}.py"


def _class_source(cls: type) -> str:
    """The source of ``cls`` as typed, also for a class defined in a notebook cell.

    ``inspect.getsource`` fails there before Python 3.13 (``__main__`` has no file); but each method
    knows the file of its cell (IPython keeps the cell in ``linecache``), and that file holds the class.
    """
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        pass
    for member in vars(cls).values():
        function = getattr(member, "__func__", member)
        code = getattr(function, "__code__", None)
        if code is None:
            continue
        text = "".join(linecache.getlines(code.co_filename))
        if not text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                return ast.get_source_segment(text, node, padded=True)
    raise ValueError(
        f"cannot find the source of class {cls.__name__}: define it in a notebook cell or a .py file, "
        "not with exec or type()."
    )


def save_class(cls: type) -> Path:
    """Write the source of ``cls`` to :func:`saved_path` for :func:`load_class`; return the path."""
    if not inspect.isclass(cls):
        raise TypeError(f"save_class takes a class, got {type(cls).__name__}: pass the class itself, e.g. MyPConv2D.")
    source = _class_source(cls)
    path = saved_path(cls.__name__)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + textwrap.dedent(source).rstrip() + "\n", encoding="utf-8")
    return path


def load_class(name: str, fallback: type) -> type:
    """The class ``name`` saved by :func:`save_class`, else ``fallback``; prints one line saying which.

    Any error while importing the saved file (a name of its notebook it needs, a syntax error after an
    edit by hand) is reported in that line, and ``fallback`` is returned: the notebook goes on.
    """
    path = saved_path(name)
    library = f"{fallback.__module__}.{fallback.__qualname__}"
    where = f"student/{name}.py in the course's output folder"  # no machine's path in a stored output
    if not path.exists():
        print(f"No {name} saved by an earlier notebook ({where}): using {library}.")
        return fallback
    module_name = f"course_lib_student_{name}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # Keras looks classes up by module when it serialises them
        spec.loader.exec_module(module)
        cls = getattr(module, name)
    except Exception as error:  # noqa: BLE001 -- the student's code may raise anything
        sys.modules.pop(module_name, None)
        print(f"Your saved {name} ({where}) does not load ({type(error).__name__}: {error}): using {library}.")
        return fallback
    print(f"Using your {name}, saved by an earlier notebook ({where}).")
    return cls
