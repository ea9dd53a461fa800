"""``python -m freezeviz``: the command line (see :mod:`freezeviz.cli`)."""

import sys

import freezeviz

if getattr(freezeviz, "__file__", None) is None:
    # a folder named freezeviz/ without __init__.py (a clone's root) shadows the package: it
    # imports as an empty namespace package and the command line cannot start
    folders = ", ".join(str(p) for p in freezeviz.__path__)
    sys.exit(f"freezeviz: Python imported the folder(s) {folders} as an empty package named "
             "freezeviz instead of the installed package (that is also why `freezeviz.freeze` "
             "is missing there). Run from another folder, or run `pip install -e .` in the "
             "clone's root and start Python there.")

from freezeviz.cli import main  # noqa: E402  (after the check: it imports the package's parts)

if __name__ == "__main__":
    raise SystemExit(main())
