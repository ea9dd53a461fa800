"""The ``freezeviz`` command: report, explain, stages, attrs, check, diff.

MODEL is a saved TorchScript file (``torch.jit.save``) or ``package.module:factory``, a
callable that returns an ``nn.Module`` or ``ScriptModule``. Mistakes (a missing file, a
factory that cannot be imported, an unknown preserved name, a module that does not freeze)
end with a message on stderr and a non-zero exit, never a traceback: exit 2 for wrong
command-line usage, 1 for a problem with the model (``check`` and ``diff``: also for a fate
that changed). Progress lines go to stderr, and so does anything the model prints while it is
built and frozen, so ``freezeviz attrs --json`` prints nothing but JSON on stdout.
"""

from __future__ import annotations

import os
import sys

from freezeviz.cli.io import EXIT_MODEL, EXIT_USAGE, PROG, Progress, UserError, print_error
from freezeviz.cli.model import error_message
from freezeviz.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    progress = Progress(args.quiet)
    from freezeviz.errors import FreezeError

    try:
        return args.func(args, progress)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`freezeviz attrs m.pt | head`); say nothing more
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_MODEL
    except (UserError, FreezeError) as exc:
        if args.traceback:
            raise
        print_error(error_message(exc))
        return getattr(exc, "code", EXIT_MODEL)
    except Exception as exc:
        if args.traceback:
            raise
        print_error(f"unexpected {type(exc).__name__}: {exc}\n"
                    f"(run again with --traceback to see where; if it is a freezeviz bug, please "
                    f"report it with that output)")
        return EXIT_MODEL
