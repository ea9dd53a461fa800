"""``python -m freezeviz``: the command line (see :mod:`freezeviz.cli`)."""

from freezeviz.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
