"""Argument types and the parser class of the ``bnlab`` command line: arguments checked while parsed.

Pass them as ``type=`` to ``add_argument``: a bad value is then a one-line usage error (exit code 2)
before any long work starts, e.g. ``bnlab demo: error: argument --steps: must be a positive integer; got '0'``.
``ArgumentParser`` is the parser class that prints that one line instead of the whole usage.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose usage errors are one line on stderr and exit code 2.

    argparse prints the whole usage before the error; for a command with many options that buries the
    one line that matters. Subparsers made by ``add_subparsers`` are of this class too.
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def install_hint(extra: str) -> str:
    """The command that installs one of pyproject.toml's extras, the same in PowerShell, cmd, zsh and bash
    (run in the course folder)."""
    return f'python -m pip install -e ".[{extra}]"'


def positive_int(text: str) -> int:
    """An integer >= 1 (a count of steps, repeats, threads)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds, megabytes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number; got {text!r}")
    return value


def output_file(text: str) -> Path:
    """A file to write: its folder must exist and be writable, and the path must not be a folder.

    Checked at parse time so that a typo in ``--out`` fails at once, not after minutes of work.
    """
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name, e.g. {str(path / 'out.png')!r}")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: the folder {str(folder)!r} is not writable")
    return path


def output_dir(text: str) -> Path:
    """A folder to write into: an existing writable folder, or one that can be created.

    The nearest existing ancestor must be a writable folder (not a file), so that making the missing
    folders later cannot fail for a reason known now.
    """
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create the folder {text!r}: {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {text!r}: {str(existing)!r} is not writable")
    return path

