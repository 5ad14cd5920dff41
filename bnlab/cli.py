"""The ``bnlab`` command line (also ``python -m bnlab``): ``lab``, ``test``, ``bench``, ``demo`` and the
grading commands.

Each subcommand lives in its own module and registers itself with ``add_subcommand(subparsers)``;
their heavy imports happen inside the commands so ``bnlab --version`` stays instant. Bad arguments are
one line on stderr and exit code 2, found while parsing (see ``bnlab._cli_args``), before any work.
A command never ends in a traceback: Ctrl+C is exit code 130, a file-system error or an unexpected one
is a single line and exit code 1 (``BNLAB_TRACEBACK=1`` shows the traceback of an unexpected one).
"""
from __future__ import annotations

import importlib
import os
import sys

from bnlab._cli_args import ArgumentParser

# Modules that each define add_subcommand(subparsers) -> None, in the order of `bnlab --help`.
_SUBCOMMAND_MODULES = ("bnlab.launch", "bnlab.bench", "bnlab.demo", "bnlab.grading.cli")


def build_parser() -> ArgumentParser:
    from bnlab import __version__

    parser = ArgumentParser(prog="bnlab", description="Batch Norm course: tools for learners and instructors.")
    parser.add_argument("--version", action="version", version=f"bnlab {__version__}",
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", help="one of:")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommand(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _never_fail_to_print() -> None:
    """Let stdout/stderr write any character: a Windows pipe's code page (cp1252) has no γ or σ, and the
    messages have them. Such characters come out as escapes (\\u03b3) instead of a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and (stream.encoding or "").lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _never_fail_to_print()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    prog = f"bnlab {args.command}"
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `bnlab bench | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit cannot fail
        return 1
    except OSError as exc:
        print(f"{prog}: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("BNLAB_TRACEBACK") == "1":
            raise
        print(f"{prog}: unexpected error: {type(exc).__name__}: {_one_line(exc)} "
              "(this is a bug in bnlab; run again with BNLAB_TRACEBACK=1 set to see where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
