"""The ``bnlab`` command line: ``--version``, ``bench``, ``demo`` and the grading commands.

Each subcommand lives in its own module and registers itself with ``add_subcommand(subparsers)``;
they are imported only when needed so ``bnlab --version`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that each define add_subcommand(subparsers) -> None.
_SUBCOMMAND_MODULES = ("bnlab.bench", "bnlab.demo", "bnlab.grading.cli")


def build_parser() -> argparse.ArgumentParser:
    from bnlab import __version__

    parser = argparse.ArgumentParser(prog="bnlab", description="Batch Norm course: tools for learners and instructors.")
    parser.add_argument("--version", action="version", version=f"bnlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).add_subcommand(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
