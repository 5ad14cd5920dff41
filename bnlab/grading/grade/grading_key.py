"""The instructor's grading key: the secret that makes every student's hidden inputs their own.

The key is 32 random bytes stored as hex in one file, by default ``<instructor folder>/grading.key``
(next to the exercises' folders), created with mode 0600 the first time ``bnlab grade`` or ``bnlab gradescope``
needs it. ``--key-file PATH`` or ``$BNLAB_GRADING_KEY`` choose another file. Regrading a class needs
the same key (another key gives other hidden inputs, so other grades for borderline work): back it up
with the hidden checks. The student release never contains it; the Gradescope bundle carries a copy
(``instructor/grading.key``), which only the autograder reads.

How the key becomes a student's inputs is :mod:`bnlab.grading.core.student_inputs`.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

KEY_FILE = "grading.key"
KEY_ENV = "BNLAB_GRADING_KEY"
KEY_BYTES = 32
_HEX = re.compile(r"[0-9a-f]{32,}")


class GradingKeyError(ValueError):
    """The key file exists but cannot be used (unreadable, not a key)."""


def key_path(explicit: str | Path | None, instructor: str | Path) -> Path:
    """Where the key is: ``explicit`` (--key-file), else $BNLAB_GRADING_KEY, else ``<instructor>/grading.key``."""
    chosen = explicit or os.environ.get(KEY_ENV)
    return Path(chosen) if chosen else Path(instructor) / KEY_FILE


def read_key(path: Path) -> bytes:
    """The key stored in ``path`` (hex, at least 16 bytes), or :class:`GradingKeyError` saying what is wrong."""
    try:
        text = path.read_text(encoding="ascii").strip().lower()
    except (OSError, UnicodeDecodeError) as exc:
        raise GradingKeyError(f"cannot read the grading key {path}: {exc}") from None
    if not _HEX.fullmatch(text) or len(text) % 2:
        raise GradingKeyError(f"{path} is not a grading key: expected one line of at least 32 hexadecimal digits "
                        f"(as bnlab writes it), found {len(text)} characters")
    return bytes.fromhex(text)


def write_key(path: Path, key: bytes) -> None:
    """Write ``key`` to the new file ``path`` (mode 0600; FileExistsError if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")


def load_or_create(path: Path) -> tuple[bytes, bool]:
    """(the key in ``path``, whether it was created now). A new key is written with mode 0600, never over a file."""
    path = Path(path)
    if path.exists():
        return read_key(path), False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_key(path, secrets.token_bytes(KEY_BYTES))
        except FileExistsError:  # another run created it meanwhile: use theirs
            return read_key(path), False
    except OSError as exc:
        raise GradingKeyError(f"cannot create the grading key {path}: {exc.strerror or exc}; pass --key-file FILE "
                              "(or set BNLAB_GRADING_KEY) in a folder you can write, and keep that file") from None
    return read_key(path), True


def created_note(path: Path) -> str:
    """What ``bnlab grade`` prints when it has just created the key."""
    return (f"created the grading key {path} (mode 0600): every student's hidden inputs are derived from it. "
            "Back it up with the hidden checks; regrading needs the same key, and no student may see it")


def fingerprint(key: bytes) -> str:
    """A short one-way name of ``key`` (which key graded), safe to store beside grades."""
    return hashlib.sha256(b"bnlab key fingerprint\0" + key).hexdigest()[:16]
