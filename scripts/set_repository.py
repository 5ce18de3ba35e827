"""Point the course at its published repository: one command rewrites every place that names it.

    python scripts/set_repository.py OWNER/NAME [--root DIR]

The one source of truth is ``[project.urls] Repository`` in ``pyproject.toml``.  This script sets it
to ``https://github.com/OWNER/NAME`` and rewrites what must agree with it: the "Open in Colab" badge
of the README and of every notebook (``notebooks/`` and the solution key ``solutions/``), and every
notebook's Colab install cell (``pip install "course-lib @ git+https://github.com/OWNER/NAME"``).
``tests/test_project.py`` checks that they all agree.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REPOSITORY_LINE = re.compile(r'^(Repository\s*=\s*")https://github\.com/[^"]+(")', re.MULTILINE)
_BADGE = re.compile(r"(colab\.research\.google\.com/github/)[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/blob/)")
_INSTALL = re.compile(r"(course-lib @ git\+https://github\.com/)[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def files_naming_the_repository(root: Path) -> list[Path]:
    """The README, every notebook and its twin in the solution key: the files whose badge (and install cell)
    name the repository.  (``scripts/make_student_notebooks.py --check`` fails if only one twin changes.)"""
    return [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb")),
            *sorted((root / "solutions").glob("*.ipynb"))]


def set_repository(owner_name: str, root: Path = ROOT) -> list[Path]:
    """Rewrite pyproject.toml, the README and the notebooks to name ``owner_name``; return the changed files."""
    if not _OWNER_NAME.match(owner_name):
        raise ValueError(f"expected OWNER/NAME as on GitHub (e.g. my-school/inpainting-course), got {owner_name!r}")
    pyproject = root / "pyproject.toml"
    if not _REPOSITORY_LINE.search(pyproject.read_text()):
        raise ValueError(f"{pyproject} has no [project.urls] Repository = \"https://github.com/...\" line")
    rewrites = {pyproject: lambda text: _REPOSITORY_LINE.sub(rf"\g<1>https://github.com/{owner_name}\g<2>", text)}
    for path in files_naming_the_repository(root):
        rewrites[path] = lambda text: _INSTALL.sub(rf"\g<1>{owner_name}", _BADGE.sub(rf"\g<1>{owner_name}\g<2>", text))
    changed = []
    for path, rewrite in rewrites.items():
        text = path.read_text()
        if rewrite(text) != text:
            path.write_text(rewrite(text))
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repository", metavar="OWNER/NAME")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course repository (default: this one)")
    args = parser.parse_args(argv)
    try:
        changed = set_repository(args.repository, args.root)
    except (ValueError, OSError) as error:
        parser.exit(2, f"set_repository: {error}\n")
    print(f"{len(changed)} file(s) now name github.com/{args.repository}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
