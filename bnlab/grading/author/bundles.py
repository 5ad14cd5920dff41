"""Bundles built from the source checkout: the student release and the Gradescope autograder.

- ``bnlab release --out DIR``: course notebooks, exercise stubs, the package with its public
  checks; never ``exercises/instructor/`` (solutions, mutants, hidden checks). The learner gets
  their own README and exercises/README.md, a .gitignore, and a test command (``python -m pytest``:
  ``tests/test_exercises.py`` runs each exercise's public checks, one test named after each exercise;
  nbval re-runs the notebooks but does not compare the output of the exercise cells that run the
  learner's code, which changes as they solve them). The copy is then scanned for any instructor
  file's content, and refused if one is found.
- ``bnlab gradescope --out DIR``: ``setup.sh`` (installs bubblewrap from the image's own apt sources, or
  the version ``BNLAB_BUBBLEWRAP_VERSION`` names; refuses a Python older than 3.10), ``run_autograder``
  (always writes results.json, saying which isolation ran), the package, the hidden checks (no solutions
  or mutants) and the grading key (``instructor/grading.key``, mode 0600: each student's hidden inputs
  are derived from it and their Gradescope id), plus ``autograder.zip``, ready to upload. The student
  release never holds the key.
"""
from __future__ import annotations

import json
import re
import shutil
import string
import zipfile
from pathlib import Path

from bnlab.grading.author.authoring import solution_text, source_notebooks
from bnlab.grading.author.mutants import mutant_sources
from bnlab.grading.core.course import PACKAGE_DIR

SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".pytest_cache")
TOP_FILES = ("README.md", "LICENSE", "pyproject.toml", "Makefile")  # `make lab` works in the release


class BundleError(ValueError):
    pass


def source_root(explicit: str | Path | None = None) -> Path:
    """The checkout the package runs from (it must hold pyproject.toml and exercises/)."""
    root = Path(explicit) if explicit else PACKAGE_DIR.parent
    if not (root / "pyproject.toml").is_file() or not (root / "exercises").is_dir():
        raise BundleError(f"{root} is not a bnlab source checkout (pyproject.toml and exercises/ expected); "
                          "build bundles from an editable install or pass --source")
    return root


def _fresh(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BundleError(f"--out {out} is an existing file; choose a new folder")
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"--out {out} exists and is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _copy_package(root: Path, dest: Path) -> None:
    shutil.copytree(root / "bnlab", dest / "bnlab", ignore=SKIP)
    for name in TOP_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)


_SOLUTION_BODY = re.compile(r"# YOUR CODE STARTS HERE\n(.*?)# YOUR CODE ENDS HERE", re.S)


def instructor_fingerprints(instructor: Path) -> tuple[set[bytes], list[str]]:
    """Whole contents of every instructor file, and the texts no bundle may contain: the bodies (between the
    YOUR CODE markers) of the solutions and of their mutants (stored as patches, so applied here), and the
    grading key, if the instructor folder holds it."""
    from bnlab.grading.grade.grading_key import KEY_FILE

    contents, texts = set(), []
    for path in instructor.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            data = path.read_bytes()
            contents.add(data)
            texts.append(data.decode("utf-8", "replace"))
    # the notebooks' JSON hides them
    texts += [solution_text(instructor, ex_id) for ex_id in source_notebooks(instructor)]
    for path in sorted(instructor.glob("ex[0-9][0-9]/mutants.py")):
        texts += mutant_sources(instructor, path.parent.name).values()
    bodies = list(dict.fromkeys(b.strip() for text in texts for b in _SOLUTION_BODY.findall(text) if b.strip()))
    key = (instructor / KEY_FILE).read_text(encoding="ascii", errors="replace").strip() \
        if (instructor / KEY_FILE).is_file() else ""
    bodies += [key] if key else []
    return contents, bodies


def _text_of(path: Path, data: bytes) -> str:
    """A file's text; for a notebook, its cells' sources joined (as a learner would see them)."""
    text = data.decode("utf-8", "replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                             else str(c.get("source", "")) for c in cells)
        except (ValueError, AttributeError):
            pass
    return text


def leaks(bundle: Path, instructor: Path) -> list[str]:
    """Files of ``bundle`` that are, or contain solution code from, ``instructor`` material."""
    contents, bodies = instructor_fingerprints(instructor)
    found = []
    for path in bundle.rglob("*"):
        if not path.is_file():
            continue
        rel = str(path.relative_to(bundle))
        parts = path.relative_to(bundle).parts
        if "instructor" in parts:
            found.append(rel)
            continue
        data = path.read_bytes()
        text = _text_of(path, data)
        if data in contents or any(body in text for body in bodies):
            found.append(rel)
    return found


RELEASE_TEMPLATE = Path(__file__).with_name("release_template")
PUBLIC_CHECK_CELL = "run_public_checks("
NBVAL_IGNORE = "nbval-ignore-output"


def _first_heading(path: Path) -> str:
    """The first markdown heading of a notebook (its title), without the #s."""
    try:
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            source = "".join(cell.get("source", "")) if cell.get("cell_type") == "markdown" else ""
            for line in source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    except (OSError, ValueError, AttributeError):
        pass
    return ""


def _markdown_table(header: tuple[str, str], rows: list[tuple[str, str]]) -> str:
    return "\n".join([f"| {header[0]} | {header[1]} |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def release_readmes(root: Path) -> dict[str, str]:
    """The learner's README.md and exercises/README.md, with the notebooks of ``root`` listed."""
    from bnlab.grading.checks import load_course

    notebooks = [(f"`notebooks/{p.name}`", _first_heading(p)) for p in sorted((root / "notebooks").glob("*.ipynb"))]
    exercises = [(g.exercise.notebook, ", ".join(f"`{f}`" for f in g.exercise.functions)
                  + (f" ({g.exercise.title})" if g.exercise.title else ""))
                 for g in load_course(public_only=True).exercises
                 if (root / "exercises" / g.exercise.notebook).is_file()]
    notebooks_table = _markdown_table(("notebook", "what it shows"), notebooks)
    readmes = {}
    for name, template, folder in (("README.md", "README.md", "exercises/"),
                                   ("exercises/README.md", "exercises_README.md", "")):
        table = _markdown_table(("notebook", "you write"), [(f"`{folder}{nb}`", what) for nb, what in exercises])
        text = (RELEASE_TEMPLATE / template).read_text(encoding="utf-8")
        readmes[name] = string.Template(text).substitute(notebooks=notebooks_table, exercises=table)
    return readmes


def tag_learner_output_cells(path: Path) -> None:
    """Tag the code cells that run the learner's functions (every ungraded code cell after the first graded
    one: the public checks, a gradient check, a training run) so nbval runs them without comparing their
    stored output, which was made with the stubs; tests/test_exercises.py checks the learner's work instead."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    seen_graded = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
        if source.lstrip("\n").startswith("# GRADED FUNCTION:"):
            seen_graded = True
        elif seen_graded or PUBLIC_CHECK_CELL in source:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if NBVAL_IGNORE not in tags:
                tags.append(NBVAL_IGNORE)
    path.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def build_release(out: str | Path, source: str | Path | None = None) -> Path:
    """The student bundle in ``out``; raises BundleError if instructor material would leak."""
    root = source_root(source)
    out = _fresh(Path(out))
    _copy_package(root, out)
    if (root / "notebooks").is_dir():
        shutil.copytree(root / "notebooks", out / "notebooks", ignore=SKIP)
    (out / "exercises").mkdir()
    for path in sorted((root / "exercises").iterdir()):
        if path.is_file() and path.suffix == ".ipynb":
            shutil.copy2(path, out / "exercises" / path.name)
            tag_learner_output_cells(out / "exercises" / path.name)
    for name, text in release_readmes(root).items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "tests").mkdir()
    shutil.copy2(RELEASE_TEMPLATE / "test_exercises.py", out / "tests" / "test_exercises.py")
    for name, target in (("conftest.py", "conftest.py"), ("pytest.ini", "pytest.ini"), ("gitignore", ".gitignore")):
        shutil.copy2(RELEASE_TEMPLATE / name, out / target)
    instructor = root / "exercises" / "instructor"
    found = leaks(out, instructor) if instructor.is_dir() else []
    if found:
        shutil.rmtree(out)
        raise BundleError("instructor material found in the release, bundle removed: " + ", ".join(found))
    return out


MIN_PYTHON = (3, 10)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image: a virtual environment with bnlab, and
# bubblewrap (the jail learner code runs in) from the image's own package manager: the version its apt
# sources offer (apt-cache policy's candidate), or exactly BNLAB_BUBBLEWRAP_VERSION when that is set (here,
# or when the bundle was built). It stops with an error when bubblewrap cannot be installed: run_autograder
# would refuse to grade without it. Every results.json names the bubblewrap that ran.
set -euo pipefail
ROOT="${BNLAB_AUTOGRADER_ROOT:-/autograder}"
JAIL="__JAIL__"  # "no" in a bundle built with --no-jail: learner code runs without bubblewrap
BUBBLEWRAP_VERSION="${BNLAB_BUBBLEWRAP_VERSION:-__BUBBLEWRAP__}"
no_bubblewrap() {
  echo "bnlab: $1" >&2
  echo "bnlab: without it run_autograder refuses to grade (results.json: 0 points and this reason). Grading" >&2
  echo "bnlab: without the jail needs a bundle built with 'bnlab gradescope --no-jail' (bnlab grade --help)." >&2
  exit 1
}
if command -v apt-get >/dev/null 2>&1; then
  apt-get update
  python3 -c "import ensurepip, venv" 2>/dev/null || apt-get install -y python3 python3-venv python3-pip
  if [ "$JAIL" = yes ]; then
    offered=$(LC_ALL=C apt-cache policy bubblewrap | sed -n 's/^ *Candidate: *//p' | head -n 1 || true)
    if [ -n "$BUBBLEWRAP_VERSION" ]; then
      apt-get install -y "bubblewrap=$BUBBLEWRAP_VERSION" || no_bubblewrap "bubblewrap $BUBBLEWRAP_VERSION \\
(BNLAB_BUBBLEWRAP_VERSION) is not available from this image's apt sources, which offer ${offered:-none}: \\
unset it to take theirs"
    else
      [ -n "$offered" ] && [ "$offered" != "(none)" ] \\
        || no_bubblewrap "this image's apt sources offer no bubblewrap package (apt-cache policy bubblewrap)"
      BUBBLEWRAP_VERSION="$offered"
      apt-get install -y "bubblewrap=$BUBBLEWRAP_VERSION" \\
        || no_bubblewrap "apt-get could not install bubblewrap $BUBBLEWRAP_VERSION, the version this image offers"
    fi
  fi
fi
if [ "$JAIL" = yes ]; then
  command -v bwrap >/dev/null 2>&1 || no_bubblewrap "bubblewrap (bwrap) is not installed\
$(command -v apt-get >/dev/null 2>&1 || echo ', and this image has no apt-get to install it')"
  echo "bnlab: bubblewrap for the jail: $(bwrap --version) (package ${BUBBLEWRAP_VERSION:-installed by the image})"
fi
if ! python3 -c "import sys; sys.exit(sys.version_info < __MIN_PYTHON__)"; then
  echo "bnlab: this image's Python is $(python3 -V 2>&1); bnlab needs Python __MIN_TEXT__ or newer: \\
choose a newer base image" >&2
  exit 1
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --no-cache-dir "$ROOT/source/package"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grades /autograder/submission into
# /autograder/results/results.json, which it always writes (with the reason when grading was impossible).
# BNLAB_AUTOGRADER_ROOT and BNLAB_PYTHON override the paths (tests).
set -uo pipefail
ROOT="${BNLAB_AUTOGRADER_ROOT:-/autograder}"
RESULTS="$ROOT/results/results.json"
DEFAULT_PYTHON="$ROOT/venv/bin/python"
[ -x "$DEFAULT_PYTHON" ] || DEFAULT_PYTHON=python3
PYTHON="${BNLAB_PYTHON:-$DEFAULT_PYTHON}"
fail() {  # a results.json that says what went wrong (plain text: no quotes or backslashes in $1)
  mkdir -p "$ROOT/results"
  printf '{"score": 0, "output": "The autograder could not grade this submission: %s", ' "$1" > "$RESULTS"
  printf '"tests": [], "extra_data": {"isolation": "none"}}\\n' >> "$RESULTS"
  echo "$1" >&2
  exit 0
}
"$PYTHON" -c "import sys; sys.exit(sys.version_info < __MIN_PYTHON__)" 2>/dev/null \\
  || fail "this image's Python is missing or older than __MIN_TEXT__, which bnlab needs; choose a newer base image"
# Learner code must not read the hidden checks or the package, should it run without the jail.
chmod go-rwx "$ROOT/source" "$ROOT/venv" 2>/dev/null || true
export BNLAB_INSTRUCTOR="$ROOT/source/instructor"
export PYTHONPATH="$ROOT/source/package"
cd "$ROOT"
rm -f "$RESULTS"
"$PYTHON" -m bnlab.grading.grade.autograder --root "$ROOT" --exercises "__EXERCISES__" __NO_JAIL__"$@"
code=$?
[ -s "$RESULTS" ] || fail "the grader stopped (exit code $code) before writing results; see the autograder output"
exit 0
"""


def bubblewrap_pin() -> str:
    """The bubblewrap package version a bundle's setup.sh installs: $BNLAB_BUBBLEWRAP_VERSION when building,
    else "" (the version the image's own apt sources offer; this machine's version may not exist there)."""
    import os

    pin = os.environ.get("BNLAB_BUBBLEWRAP_VERSION", "").strip()
    if pin and not re.fullmatch(r"[A-Za-z0-9.+~:-]+", pin):
        raise BundleError(f"BNLAB_BUBBLEWRAP_VERSION is not a package version: {pin!r} (e.g. 0.8.0-2+deb12u1)")
    return pin


def _script(text: str, exercises: str, jail: bool = True) -> str:
    return (text.replace("__EXERCISES__", exercises.replace(" ", ""))
            .replace("__BUBBLEWRAP__", bubblewrap_pin())
            .replace("__JAIL__", "yes" if jail else "no")
            .replace("__NO_JAIL__", "" if jail else "--no-jail ")
            .replace("__MIN_PYTHON__", repr(MIN_PYTHON))
            .replace("__MIN_TEXT__", ".".join(map(str, MIN_PYTHON))))


def build_gradescope(out: str | Path, instructor: str | Path | None = None, source: str | Path | None = None,
                     exercises: str = "all", jail: bool = True, *, key: bytes) -> Path:
    """The Gradescope autograder folder in ``out`` and ``out/autograder.zip``.

    exercises: "all" or a comma-separated list ("ex01,ex02"): what one Gradescope assignment grades.
    jail: False (``--no-jail``) grades without bubblewrap; otherwise a container where it cannot run gets
    results.json with 0 points and the reason, never a silent fallback.
    key: the grading key (:mod:`bnlab.grading.grade.grading_key`), written to ``instructor/grading.key``.
    """
    from bnlab.grading.grade.grading_key import KEY_FILE, write_key

    from bnlab.grading.checks import instructor_dir, load_course

    for ex_id in ([] if exercises == "all" else exercises.split(",")):
        load_course(instructor, only=ex_id.strip())  # an unknown id is a CourseError now, not at grading time

    root = source_root(source)
    folder = instructor_dir(instructor)
    out = _fresh(Path(out))
    _copy_package(root, out / "package")
    for hidden in sorted(folder.glob("ex[0-9][0-9]/hidden.py")):  # the hidden checks only: no source, no mutants
        (out / "instructor" / hidden.parent.name).mkdir(parents=True)
        shutil.copy2(hidden, out / "instructor" / hidden.parent.name / hidden.name)
    write_key(out / "instructor" / KEY_FILE, key)
    for name, text in (("setup.sh", _script(SETUP_SH, exercises, jail)),
                       ("run_autograder", _script(RUN_AUTOGRADER, exercises, jail))):
        (out / name).write_text(text)
        (out / name).chmod(0o755)
    with zipfile.ZipFile(out / "autograder.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.rglob("*")):
            if path.is_file() and path.name != "autograder.zip":
                info = zipfile.ZipInfo.from_file(path, str(path.relative_to(out)))
                with open(path, "rb") as f:
                    zf.writestr(info, f.read())
    return out
