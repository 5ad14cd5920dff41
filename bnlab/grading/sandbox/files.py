"""The grader's own folders for learner runs, and their safe removal (learner code may have filled them)."""
from __future__ import annotations

import atexit
import os
import tempfile
import threading

POSIX = os.name == "posix"


_root: str | None = None
_root_lock = threading.Lock()


def grader_root() -> str:
    """This process's folder for learner working directories and its private files (once per process).

    Root-owned, in the temporary folder; mode 0711 when learner code runs as a throwaway uid, so that
    uid can enter its own working directory but cannot list, rename or replace anything in it.
    """
    global _root
    with _root_lock:
        if _root is None:
            _root = tempfile.mkdtemp(prefix="bnlab-grader-")
            if POSIX and os.geteuid() == 0:
                os.chmod(_root, 0o711)
            atexit.register(remove_tree, _root)
        return _root


def workdir(uid: int | None) -> str:
    """A fresh empty working directory inside the grader's root-owned folder, owned by ``uid``."""
    path = tempfile.mkdtemp(prefix="bnlab-learner-", dir=grader_root())
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def remove_tree(path: str) -> None:
    """Delete a folder that learner code could have filled, safely and completely.

    File-descriptor based: it never follows a symbolic link, never re-resolves a path below ``path``
    (it walks with ``openat`` and climbs back with ``..``, checking it is the folder it came from), and
    holds two descriptors at a time, so a tree of any depth goes. No chmod except, when the grader
    is not root, of a folder it already holds open. Errors are swallowed: cleanup never raises.
    """
    if not POSIX:
        import shutil
        shutil.rmtree(path, ignore_errors=True)
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError:  # replaced by a file or a symbolic link: remove that entry itself, never its target
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    trail: list[tuple[str, tuple[int, int]]] = []  # (name in parent, (dev, ino) of the parent)
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            child = entry.name
                            break
                        os.unlink(entry.name, dir_fd=fd)
                    except PermissionError:
                        os.fchmod(fd, 0o700)  # only when not root: the learner made its own folder read-only
                        os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        pass
            if child is not None:
                here = os.fstat(fd)
                try:
                    sub = os.open(child, flags, dir_fd=fd)
                except PermissionError:
                    os.fchmod(fd, 0o700)
                    try:
                        os.chmod(child, 0o700, dir_fd=fd)
                        sub = os.open(child, flags, dir_fd=fd)
                    except OSError:
                        return
                except OSError:
                    return
                os.close(fd)
                fd = sub
                trail.append((child, (here.st_dev, here.st_ino)))
                continue
            if not trail:
                break
            name, parent_id = trail.pop()
            up = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = up
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != parent_id:  # moved while we were inside: stop, touch nothing more
                return
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                return
    except OSError:
        return
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass
