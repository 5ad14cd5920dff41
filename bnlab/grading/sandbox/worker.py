"""The learner side: run the graded cells, execute the checks' calls, send back plain data only.

Two uses, one code:

- :func:`execute_calls` runs calls against a namespace of learner functions and returns, per call,
  an outcome made of plain data. ``run_public_checks`` in a notebook uses it in the kernel.
- :func:`run_job` runs one job (graded cells, then calls) in a child forked by the one server
  (:mod:`bnlab.grading.sandbox.server`, in the bubblewrap jail or without it): the outcomes go to the
  results descriptor, the learner's printed output to the output descriptor. Run as a script
  (``python -I worker.py [LIMIT=...]``, the job on stdin, results on stdout) it is the same child on
  pipes, for systems where forking a process that loaded numpy is unsafe (``bnlab check`` off Linux).
  References to the results channel and ``os._exit`` are taken before any learner code runs. It imports
  only the standard library and numpy, never ``bnlab``: the reference must not be in the learner's process.

Nothing here computes, compares or judges anything: no expected value, no "unchanged" flag. The calls'
values, their arguments after the call and a fixed word for a failure go back; the grader decides.
The arrays of ``copy_check`` calls are, where the grader shares them (:mod:`.shared`), views onto memory
the grader reads itself after the job; the arguments reported here are the part learner code can forge.
"""
from __future__ import annotations

if __name__ == "__main__":  # limits first, before numpy or any learner code: "NAME=soft[,hard]" arguments
    import sys as _sys

    try:
        import resource as _resource  # POSIX only: on Windows no limit but the wall clock applies
    except ImportError:
        _resource = None
    _args = _sys.argv[1:]
    if _args[:1] == ["--site"]:  # the folder holding numpy inside the jail (python -S has no site-packages)
        _sys.path.insert(0, _args[1])
        _args = _args[2:]
    for _arg in _args if _resource is not None else ():  # (the jail's server sets limits per job instead)
        if "=" not in _arg:
            continue
        _name, _, _value = _arg.partition("=")
        _soft, _, _hard = _value.partition(",")
        try:  # a limit this system cannot set (RLIMIT_AS on macOS) is skipped; the wall clock still holds
            _resource.setrlimit(getattr(_resource, "RLIMIT_" + _name), (int(_soft), int(_hard or _soft)))
        except (ValueError, OSError, AttributeError):
            pass

import builtins
import errno
import importlib.util
import linecache
import mmap  # (an extension module: loaded before a job drops to a uid that may not read the interpreter's)
import os
import re
import sys
import traceback
from pathlib import Path

MAX_MESSAGE = 2000
CELL_PREFIX = "<graded cell"  # code object file names of learner code: "<graded cell 3: name>"
_KERNEL_CELL = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")  # a cell run in Jupyter (public checks in the kernel)


def _load_plain():
    if __package__:
        from bnlab.grading.sandbox import plain
        return plain
    spec = importlib.util.spec_from_file_location("_bnlab_plain", Path(__file__).with_name("plain.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plain = _load_plain()


def learner_traceback(exc: BaseException, memory_mb: int | None = None) -> str:
    """``Type: message`` plus the learner's own frames only (grader frames are trimmed)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith(CELL_PREFIX) or _KERNEL_CELL.search(f.filename)]
    lines = []
    if frames:
        lines.append("Traceback (your code, most recent call last):")
        shown = frames if len(frames) <= 8 else frames[:3] + [None] + frames[-3:]
        for f in shown:
            if f is None:
                lines.append(f"  ... {len(frames) - 6} more calls ...")
                continue
            where = f.filename.strip("<>") if f.filename.startswith(CELL_PREFIX) else "your notebook cell"
            lines.append(f"  {where}, line {f.lineno}, in {f.name}")
            if f.line:
                lines.append(f"    {f.line.strip()[:200]}")
    head = "\n".join(lines)
    if len(head) > MAX_MESSAGE:
        head = head[:MAX_MESSAGE] + " [...]"
    tail = [exception_line(exc)]
    if isinstance(exc, MemoryError) and memory_mb:
        tail.append(f"(the memory limit is {memory_mb} MB)")
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        tail.append("(the file size limit: the code printed or wrote too much)")
    return "\n".join(([head] if head else []) + tail)


def exception_line(exc: BaseException) -> str:
    """``TypeName: message`` (messages of SystemExit say what happened)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: your code called sys.exit({exc.code!r}); a graded function must return its result"
    try:
        message = str(exc)
    except Exception:
        message = "<message could not be shown>"
    message = message if len(message) <= 500 else message[:500] + " [...]"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def run_cells(cells, namespace: dict, memory_mb: int | None = None) -> str:
    """Exec the graded cells' source in ``namespace``; return "" or a message (syntax error, exception)."""
    for name, index, source in cells:
        filename = f"{CELL_PREFIX} {index + 1}: {name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as exc:
            where = f"line {exc.lineno}" if exc.lineno else "unknown line"
            text = f"\n    {exc.text.strip()}" if exc.text else ""
            return f"SyntaxError in the graded cell for {name} (cell {index + 1}), {where}: {exc.msg}{text}"
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - any learner failure is a message
            return (f"running the graded cell for {name} (cell {index + 1}) failed:\n"
                    + learner_traceback(exc, memory_mb))
    return ""


def _is_ref(x) -> bool:
    return type(x) is dict and set(x) == {"$ref", "index"}


def _resolve(x, store: dict, shared=()):
    """Replace Ref markers by the learner's stored results (raises KeyError for a failed call) and shared
    markers by the views onto the grader's memory (KeyError if that memory could not be mapped)."""
    if _is_ref(x):
        value = store[x["$ref"]]
        return value if x["index"] is None else value[x["index"]]
    if type(x) is dict and set(x) == {"$shared"}:
        if not isinstance(x["$shared"], int) or not 0 <= x["$shared"] < len(shared):
            raise KeyError(x["$shared"])
        return shared[x["$shared"]]
    if type(x) is tuple:
        return tuple(_resolve(v, store, shared) for v in x)
    if type(x) is list:
        return [_resolve(v, store, shared) for v in x]
    if type(x) is dict:
        return {k: _resolve(v, store, shared) for k, v in x.items()}
    return x


def _shared_views(layout, fd) -> list:
    """Writeable numpy views onto the grader's shared memory (descriptor ``fd``, closed here), one per array
    of ``layout`` ({"size", "arrays": [[offset, dtype, shape]]}); [] if there is none or it cannot be mapped."""
    if fd is None:
        return []
    try:
        import numpy as np

        memory = mmap.mmap(fd, int(layout["size"]))
        return [np.frombuffer(memory, dtype=np.dtype(dtype), count=int(np.prod(shape, dtype=np.int64)),
                              offset=int(offset)).reshape(shape) for offset, dtype, shape in layout["arrays"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []  # the calls that need them are "unusable": never a false "unchanged"
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


def _failure(exc: BaseException) -> str:
    """The grader-readable kind of a failed call, one of a fixed set (never learner text)."""
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file_size"
    return "exception"


def _inputs_after(call: dict, args: tuple, kwargs: dict) -> dict:
    """The call's arguments as they are after the call, as plain data, for the grader to compare with what
    it sent (None where the argument was an earlier call's result, which the grader never had).

    Learner code can replace this function or what it reads: the grader trusts it only to say "changed"
    (an argument rebound to a new array, which shared memory cannot see), never "unchanged"."""
    return {"args": [None if _is_ref(sent) else plain.to_plain(v) for sent, v in zip(call["args"], args)],
            "kwargs": {k: None if _is_ref(call["kwargs"][k]) else plain.to_plain(v) for k, v in kwargs.items()}}


def execute_calls(calls: list[dict], namespace: dict, memory_mb: int | None = None,
                  shared: list = ()) -> dict[str, dict]:
    """Run each call (dicts: function, args, kwargs, key, returns, copy_check) against ``namespace``;
    ``shared``: the views that ``{"$shared": k}`` markers in the arguments stand for.

    Returns ``{key: {"ok", "value", "error", "kind", "inputs", "not_implemented"}}`` with plain values:
    ``kind`` is a fixed word for a failure ("exception", "memory", "file_size", "missing", "unusable");
    ``inputs`` (with copy_check) the arguments after the call. Nothing here judges: the grader compares.
    """
    store: dict = {}
    outcomes: dict[str, dict] = {}
    for call in calls:
        key, name = call["key"], call["function"]
        outcome = {"ok": False, "value": None, "error": "", "kind": "", "inputs": None, "not_implemented": False}
        outcomes[key] = outcome
        function = namespace.get(name)
        if not callable(function):
            outcome["error"], outcome["kind"] = f"NameError: the graded function {name} is not defined", "missing"
            continue
        try:
            args = _resolve(tuple(call["args"]), store, shared)
            kwargs = _resolve(dict(call["kwargs"]), store, shared)
        except KeyError:
            outcome["error"] = f"could not call {name}: it needs the result of an earlier call that failed"
            outcome["kind"] = "unusable"
            continue
        except BaseException as exc:  # noqa: BLE001 - indexing the learner's own earlier result failed
            outcome["error"] = f"could not use the result of an earlier call: {exception_line(exc)}"
            outcome["kind"] = "unusable"
            continue
        try:
            result = function(*args, **kwargs)
        except NotImplementedError:
            outcome["not_implemented"], outcome["kind"] = True, "not_implemented"
            outcome["error"] = f"{name} is not implemented yet (it raised NotImplementedError)"
            continue
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt... are failures too
            outcome["error"], outcome["kind"] = learner_traceback(exc, memory_mb), _failure(exc)
            continue
        store[key] = result
        returns = call["returns"]
        try:
            if call["copy_check"]:
                outcome["inputs"] = _inputs_after(call, args, kwargs)
            if returns is None:
                outcome["value"] = plain.to_plain(result)
            else:
                need = max(returns) + 1
                items = (list(tuple.__iter__(result)) if isinstance(result, tuple)
                         else list(list.__iter__(result)) if isinstance(result, list) else None)
                if items is None or len(items) < need:
                    outcome["error"] = (f"{name} should return a tuple of at least {need} items; "
                                        f"it returned {plain.describe(plain.to_plain(result))}")
                    outcome["kind"] = "unusable"
                    continue
                outcome["value"] = tuple(plain.to_plain(item) if i in returns
                                         else plain.Foreign("a value kept in your process")
                                         for i, item in enumerate(items))
        except BaseException as exc:  # noqa: BLE001 - a hostile object failing conversion
            outcome["error"] = "the result could not be read as data: " + exception_line(exc)
            outcome["kind"] = "unusable"
            continue
        outcome["ok"] = True
    return outcomes


class _BlockReference:
    """A meta-path finder that refuses ``bnlab`` in the learner's process and remembers the attempt."""

    attempted = False

    def find_spec(self, name, path=None, target=None):
        if name == "bnlab" or name.startswith("bnlab."):
            _BlockReference.attempted = True
            raise ImportError("graded cells may not import bnlab (the reference implementation)")
        return None


def _write_all(write, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def run_job(job: dict, results_fd: int, shared_fd: int | None = None) -> None:
    """Run one job (graded cells, then calls), write its results to ``results_fd``; never returns (os._exit).
    ``shared_fd``: the grader's shared memory holding the copy_check calls' arrays, mapped before any
    learner code runs."""
    # References taken before learner code runs; learner monkeypatching cannot reach these names.
    _write, _close, _exit, _pack = os.write, os.close, os._exit, plain.pack
    nonce = str(job["nonce"]).encode()
    sys.argv = ["graded-notebook"]
    sys.meta_path.insert(0, _BlockReference())
    memory_mb = job.get("memory_mb")
    shared = _shared_views(job.get("shared"), shared_fd if job.get("shared") else None)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    setup_error = run_cells(job["cells"], namespace, memory_mb)
    outcomes = {} if setup_error else execute_calls(job["calls"], namespace, memory_mb, shared)
    results = {"setup_error": setup_error, "blocked_import": _BlockReference.attempted, "outcomes": outcomes}
    data = nonce + _pack(results)  # the nonce first: the grader checks it before it unpacks anything
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    try:
        _write_all(_write, results_fd, data)
        _close(results_fd)
    except OSError:
        _exit(71)
    _exit(0)


def main(argv: list[str]) -> None:
    """Exec mode: ``worker.py [--site DIR] [LIMIT=...]``, the job on stdin, results to stdout.

    The results channel is a private copy of stdout; fd 1 then points at stderr, so whatever the
    learner prints, from Python or from C, lands in the output stream, never among the results.
    """
    job = plain.unpack(sys.stdin.buffer.read())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    results_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)
    shared_fd = job.get("shared_fd")  # (inherited under the grader's own number)
    run_job(job, results_fd, shared_fd if isinstance(shared_fd, int) and shared_fd > 2 else None)


if __name__ == "__main__":
    main(sys.argv)
