"""Grading commands: ``bnlab check``, ``grade``, ``release``, ``gradescope``, ``export``, ``similarity``,
``demo-class``.

Registered by :func:`add_subcommand`; heavy imports happen inside each command so ``bnlab --version``
stays instant. ``python -m bnlab.grading.cli ...`` runs the same commands. Every bad argument is one
line on stderr and exit code 2, found before any long work starts.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from pathlib import Path

from bnlab._cli_args import positive_float, positive_int


def _limits(args, jail: bool = False):
    from bnlab.grading.sandbox.client import Limits

    return Limits(timeout=args.timeout, memory_mb=args.memory, jail=jail)


def _limits_note() -> str:
    """One line when this system cannot set every limit on learner code ("" when it can)."""
    from bnlab.grading.sandbox.client import limits_in_effect

    found = limits_in_effect()
    if {"CPU time", "memory", "processes", "file size"} <= set(found):
        return ""
    return (f"note: on this system only these limits apply to your code: {', '.join(found)} "
            "(the grader applies them all)")


def _course(args, public_only: bool = False, only: str | None = None):
    from bnlab.grading.checks import load_course
    from bnlab.grading.core.course import load_course_file

    if getattr(args, "course", None):
        return load_course_file(args.course)
    return load_course(getattr(args, "instructor", None), public_only=public_only, only=only)


def run_check(args) -> int:
    from bnlab.grading.sandbox import client as sandbox

    sandbox.prestart()  # the learner process's numpy loads while this one loads the checks
    from bnlab.grading.core.course import CourseError
    from bnlab.grading.core.engine import grade_notebook
    from bnlab.grading.core.report import console_report

    path = Path(args.notebook)
    match = re.match(r"(?i)(ex\d+)", path.name)
    try:
        if not match:
            raise CourseError(f"cannot tell the exercise of {path.name}: exercise notebooks are named exNN_...ipynb")
        ex_id = match.group(1).lower()
        graded = _course(args, public_only=True, only=ex_id).get(ex_id)
    except CourseError as exc:
        print(f"bnlab check: {exc}", file=sys.stderr)
        return 2
    note = _limits_note()
    if note:
        print(f"bnlab check: {note}", file=sys.stderr)
    start = time.monotonic()
    try:
        result = grade_notebook(path if path.exists() else None, graded.exercise, list(graded.public), _limits(args))
    except RuntimeError as exc:
        print(f"bnlab check: {exc}", file=sys.stderr)
        return 2
    print(console_report(result, public_only=True))
    if args.time:
        print(f"checked in {time.monotonic() - start:.2f} s", file=sys.stderr)
    return 0 if result.checks and all(c.passed for c in result.checks) else 1


class UsageError(ValueError):
    """A bad argument found after parsing (a path that does not fit); one line, exit code 2."""


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _check_out_folder(out: Path, submissions: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file; OUT is the folder that receives grades.csv and one "
                         "folder per student")
    if submissions.is_dir() and _inside(out, submissions):
        raise UsageError(f"--out {out} is inside SUBMISSIONS ({submissions}): the next run would grade it as a "
                         "student; choose a folder outside it")


def check_layout(submissions: Path) -> list[str]:
    """The student folders of ``submissions``; UsageError when it has none or has notebooks at its top."""
    if not submissions.is_dir():
        raise UsageError(f"SUBMISSIONS {submissions} is not a folder (one folder per student) nor a Canvas .zip")
    entries = list(os.scandir(submissions))
    strays = sorted(e.name for e in entries if e.name.lower().endswith(".ipynb") and not e.is_dir())
    if strays:
        raise UsageError(f"notebooks at the top of SUBMISSIONS belong to no student: {', '.join(strays[:5])}"
                         + (f" and {len(strays) - 5} more" if len(strays) > 5 else "")
                         + "; put each student's notebooks in a folder of their own (or pass a Canvas download "
                         "as it was downloaded)")
    students = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    if not students:
        raise UsageError(f"SUBMISSIONS {submissions} has no student folders: it should hold one folder per "
                         "student, or be a Canvas submissions download (.zip or its unzipped folder)")
    return students


def _jail_or_refusal(args) -> tuple[bool, str]:
    """(use the jail, "") or (False, why bnlab grade refuses). ``--no-jail`` makes it (False, "")."""
    from bnlab.grading.sandbox import jail

    if args.no_jail:
        return False, ""
    if not sys.platform.startswith("linux"):
        return False, (f"learner code is graded inside a bubblewrap jail, which needs Linux (this is {sys.platform}). "
                       "Grade on a Linux machine, or upload the Gradescope bundle (bnlab gradescope --out DIR); "
                       "--no-jail grades here without it (see bnlab grade --help for what that gives up)")
    ok, why = jail.probe()
    if not ok:
        return False, (f"learner code is graded inside a bubblewrap jail, and {why}. "
                       "--no-jail grades without it (see bnlab grade --help for what that gives up)")
    return True, ""


def _grading_key(args, command: str) -> bytes:
    """The grading key of ``--key-file`` (else $BNLAB_GRADING_KEY, else the instructor folder's grading.key),
    created with a note on stderr the first time. Raises GradingKeyError or CourseError."""
    from bnlab.grading.checks import instructor_dir
    from bnlab.grading.grade.grading_key import created_note, key_path, load_or_create

    course_file = getattr(args, "course", None)
    folder = Path(course_file).parent if course_file else instructor_dir(getattr(args, "instructor", None))
    path = key_path(args.key_file, folder)
    key, created = load_or_create(path)
    if created:
        print(f"bnlab {command}: {created_note(path)}", file=sys.stderr)
    return key


def run_grade(args) -> int:
    from bnlab.grading.core.course import CourseError
    from bnlab.grading.grade.canvas import CanvasError, staged_submissions, student_names
    from bnlab.grading.grade.gradebook import grade_submissions
    from bnlab.grading.grade.grading_key import GradingKeyError
    from bnlab.grading.grade.roster import RosterError
    from bnlab.grading.sandbox.client import isolation_of

    submissions, out = Path(args.submissions), Path(args.out)
    try:
        if not submissions.exists():
            raise UsageError(f"SUBMISSIONS {submissions} is not a folder: it does not exist")
        _check_out_folder(out, submissions)
        course = _course(args)
        roster = _roster(args)
    except (UsageError, CourseError, RosterError) as exc:
        print(f"bnlab grade: {exc}", file=sys.stderr)
        return 2
    start = time.monotonic()
    try:
        with staged_submissions(submissions, out) as folder:  # a Canvas download becomes one folder per student
            names = student_names(out, roster, check_layout(folder))
            jailed, refusal = _jail_or_refusal(args)
            if refusal:
                print(f"bnlab grade: {refusal}", file=sys.stderr)
                return 2
            limits = _limits(args, jail=jailed)
            key = _grading_key(args, "grade")  # created only now, when grading starts
            if jailed:
                from bnlab.grading.sandbox.jail import describe
                print(f"bnlab grade: learner code runs in a {describe(limits)}", file=sys.stderr)
            else:
                print(f"bnlab grade: warning: --no-jail: learner code runs as a plain {isolation_of(limits)}: it can "
                      "read every file its user can and use the network" + ("" if isolation_of(limits) != "process"
                      else ", and it runs as you") + "; see exercises/README.md", file=sys.stderr)
            summary = grade_submissions(folder, out, course, jobs=args.jobs, limits=limits, names=names, key=key)
    except (UsageError, CanvasError, FileNotFoundError, GradingKeyError) as exc:
        print(f"bnlab grade: {exc}", file=sys.stderr)
        return 2
    print(f"{summary.students} students: {summary.graded} graded, {summary.skipped} unchanged (skipped)"
          + (f", {len(summary.failed)} failed: {', '.join(summary.failed)}" if summary.failed else "")
          + f" in {time.monotonic() - start:.1f} s; grades in {out / 'grades.csv'}")
    return 1 if summary.failed else 0


def run_release(args) -> int:
    from bnlab.grading.author.bundles import BundleError, build_release

    try:
        out = build_release(args.out, args.source)
    except BundleError as exc:
        print(f"bnlab release: {exc}", file=sys.stderr)
        return 2
    print(f"student release written to {out} (no solutions, mutants or hidden checks)")
    return 0


def run_gradescope(args) -> int:
    from bnlab.grading.author.bundles import BundleError, build_gradescope
    from bnlab.grading.core.course import CourseError
    from bnlab.grading.grade.grading_key import GradingKeyError

    try:
        key = _grading_key(args, "gradescope")
        out = build_gradescope(args.out, args.instructor, args.source, args.exercises, key=key,
                               jail=not args.no_jail)
    except (BundleError, CourseError, GradingKeyError) as exc:
        print(f"bnlab gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"Gradescope autograder written to {out}; upload {out / 'autograder.zip'}")
    return 0


def _roster(args):
    """The --roster of ``args`` read (None without one); RosterError says what is wrong with it."""
    from bnlab.grading.grade.roster import read_roster

    return read_roster(args.roster) if getattr(args, "roster", None) else None


def run_export_canvas(args) -> int:
    from bnlab.grading.grade.canvas import CanvasError, class_points, fill_gradebook
    from bnlab.grading.grade.gradebook import atomic_write
    from bnlab.grading.grade.roster import RosterError

    gradebook, target = Path(args.gradebook), Path(args.out)
    try:
        if not gradebook.is_file():
            raise UsageError(f"--gradebook {gradebook} is not a file: export the gradebook from Canvas "
                             "(Grades, Export, Export Entire Gradebook) and pass that CSV")
        if target.exists():
            raise UsageError(f"--out {target} exists; choose a new file name (the export never overwrites a file)")
        points, maximum, key, unmatched = class_points(Path(args.grades), _roster(args), args.match)
        text, summary = fill_gradebook(gradebook, points, maximum, args.assignment, args.scale, key,
                                       args.missing_zero)
    except (UsageError, CanvasError, RosterError) as exc:
        print(f"bnlab export canvas: {exc}", file=sys.stderr)
        return 2
    atomic_write(target, text)
    print(f"{summary.filled} grades written into column {summary.column!r} of {target} (students matched by "
          f"{key}); import it in Canvas (Grades, Import)")
    _export_warnings(summary, unmatched)
    return 0


def _export_warnings(summary, unmatched: list[str]) -> None:
    """On stderr: who in the gradebook got no grade (or 0), and who was graded but not matched."""
    def some(names: list[str]) -> str:
        return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")

    blank = [n for n in summary.not_graded if n not in set(summary.zeroed)]
    if summary.zeroed:
        print(f"{len(summary.zeroed)} students of the gradebook have no graded submission and got 0 (--missing-zero): "
              + some(summary.zeroed), file=sys.stderr)
    if blank:
        print(f"{len(blank)} students of the gradebook have no graded submission (left as they were"
              + (", a grade already there is kept" if summary.zeroed else "; --missing-zero writes 0") + "): "
              + some(blank), file=sys.stderr)
    if summary.not_in_gradebook:
        print(f"{len(summary.not_in_gradebook)} graded students' {summary.key} are not in the gradebook: "
              + some(summary.not_in_gradebook), file=sys.stderr)
    if unmatched:
        print(f"{len(unmatched)} graded folders are not in the roster (not exported): " + some(unmatched),
              file=sys.stderr)


def run_similarity(args) -> int:
    from bnlab.grading.author.similarity import REPORT_MARK, similarity_report
    from bnlab.grading.core.course import CourseError
    from bnlab.grading.grade.canvas import CanvasError, staged_submissions

    submissions, target = Path(args.submissions), Path(args.out)
    try:
        if not submissions.exists():
            raise UsageError(f"SUBMISSIONS {submissions} is not a folder: it does not exist")
        if target.is_dir():
            raise UsageError(f"--out {target} is a folder; give the report's file name, e.g. similarity.html")
        if target.exists() and REPORT_MARK not in target.read_text(errors="replace")[:200]:
            raise UsageError(f"--out {target} exists and is not a similarity report; choose a new file name")
        if submissions.is_dir() and _inside(target, submissions):
            raise UsageError(f"--out {target} is inside SUBMISSIONS; choose a file outside it")
        start = time.monotonic()
        with staged_submissions(submissions, None) as folder:
            check_layout(folder)
            ranking = similarity_report(folder, target, instructor=args.instructor, top=args.top)
    except (UsageError, CanvasError, CourseError) as exc:
        print(f"bnlab similarity: {exc}", file=sys.stderr)
        return 2
    pairs = ranking.ranked
    print(f"{len(pairs)} pairs ranked, {len(ranking.apart)} too close to the reference to tell, in "
          f"{time.monotonic() - start:.1f} s; report in {target}"
          + (f"; most similar: {pairs[0].a} and {pairs[0].b} ({pairs[0].score:.2f})" if pairs else ""))
    for student, why in sorted(ranking.not_compared.items()):
        print(f"bnlab similarity: {student} not compared: {why}", file=sys.stderr)
    for student, why in sorted(ranking.partly_read.items()):
        print(f"bnlab similarity: {student} compared without {why}", file=sys.stderr)
    return 0


def run_demo_class(args) -> int:
    """A dry run: build a sample class, then grade, export and compare it with the commands a real class takes."""
    from bnlab.grading.author.demo_class import ASSIGNMENT, write_demo_class
    from bnlab.grading.checks import instructor_dir
    from bnlab.grading.core.course import CourseError

    out = Path(args.out)
    try:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"OUT {out} exists and is not an empty folder; choose a new one")
        demo = write_demo_class(out, instructor_dir(args.instructor), students=args.students)
    except (UsageError, CourseError, ValueError) as exc:
        print(f"bnlab demo-class: {exc}", file=sys.stderr)
        return 2
    print(f"a sample class of {len(demo.students)} students as Canvas gives it: {demo.download} (planted bugs: "
          + ", ".join(f"{s} {ex} {bug}" for s, b in demo.bugs.items() for ex, bug in b.items())
          + f"; {demo.copy_pair[1]} copied {demo.copy_pair[0]}) and a gradebook export: {demo.gradebook}")
    graded, filled, report = out / "graded", out / "canvas-import.csv", out / "similarity.html"
    common = [*(["--instructor", args.instructor] if args.instructor else [])]
    steps = [["grade", str(demo.download), "--out", str(graded), "--jobs", "2", *common,
              *(["--no-jail"] if args.no_jail else [])],
             ["export", "canvas", "--grades", str(graded), "--gradebook", str(demo.gradebook), "--out", str(filled),
              "--assignment", ASSIGNMENT],
             ["similarity", str(demo.download), "--out", str(report), *common]]
    for argv in steps:
        print("\n$ " + shlex.join(["bnlab", *argv]), flush=True)
        code = main(argv)
        if code:
            return code
    pages = sorted((graded / "students").glob("*/feedback.html"))
    print(f"\nfeedback pages ({len(pages)}): {graded / 'students'}/<student>/feedback.html, e.g. {pages[0]}\n"
          f"similarity report: {report}\nCanvas import: {filled}")
    if args.open:
        import webbrowser
        for page in (report, pages[0]):
            webbrowser.open(page.resolve().as_uri())
    return 0


# --- argument types and parsers -------------------------------------------------------------------

MIN_MEMORY_MB = 256  # a fresh Python importing numpy fails below about 100 MB of address space (measured)


def memory_mb(text: str) -> int:
    value = positive_int(text)
    if value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"expected at least {MIN_MEMORY_MB} MB (a fresh Python with numpy needs "
                                         f"about 100 MB before any learner code runs), got {text!r}")
    return value


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Report a bad argument as one line and exit code 2 (argparse would print the whole usage first)."""
    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error
    return parser


def _sandbox_options(p, timeout: float) -> None:
    p.add_argument("--timeout", type=positive_float, default=timeout, metavar="S",
                   help=f"wall-clock seconds per exercise notebook (default {timeout:g})")
    p.add_argument("--memory", type=memory_mb, default=1024, metavar="MB",
                   help=f"memory limit of each learner process, at least {MIN_MEMORY_MB} (default 1024); in the jail, "
                        "where a cgroup can be made, also of the whole jail (plus 128 MB)")
    p.add_argument("--course", help=argparse.SUPPRESS)  # a course file (tests; see course.load_course_file)


def _instructor_option(p) -> None:
    p.add_argument("--instructor", metavar="DIR",
                   help="folder with exNN/hidden.py (default: exercises/instructor of this checkout)")


def _key_option(p) -> None:
    p.add_argument("--key-file", metavar="FILE",
                   help="the grading key every student's hidden inputs are derived from (default: "
                        "$BNLAB_GRADING_KEY, else grading.key in the instructor folder, created on first use with "
                        "mode 0600). Keep it secret and backed up: regrading needs the same key")


def _source_option(p) -> None:
    p.add_argument("--source", metavar="DIR", help="the bnlab checkout to build from (default: the one this "
                                                   "package runs from)")


def add_subcommand(subparsers) -> None:
    def command(name: str, summary: str, description: str):
        return _one_line_errors(subparsers.add_parser(name, help=summary, description=description))

    p = command("check", "learners: run the public checks of an exercise notebook",
                "Run the public checks of one saved exercise notebook in an isolated process, as the grader "
                "does. Exit code 0 when every public check passes, 1 otherwise, 2 for a usage error.")
    p.add_argument("notebook", help="the saved exercise notebook, exNN_....ipynb")
    p.add_argument("--time", action="store_true", help="print how long the check took")
    _sandbox_options(p, 10.0)
    p.set_defaults(run=run_check)

    p = command("grade", "instructors: grade a folder of submissions or a Canvas download",
                "Grade SUBMISSIONS into OUT: grades.csv, and in students/<student>/ results.json (Gradescope "
                "format), feedback.md and feedback.html for the learner, grade.json for you. Rerunning skips "
                "unchanged students. Learner code runs in a bubblewrap jail (Linux; install the bubblewrap "
                "package). Exit code 0, 1 if the grader failed on a student, 2 for a usage error.")
    p.add_argument("submissions", metavar="SUBMISSIONS",
                   help="a folder with one folder per student, or a Canvas 'Download Submissions' .zip "
                        "(or its unzipped folder; students are then named <name>_<Canvas id>)")
    p.add_argument("--out", required=True, metavar="OUT", help="folder for the grades (created; not inside "
                                                                "SUBMISSIONS)")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="students graded in parallel (default 1)")
    _instructor_option(p)
    p.add_argument("--roster", metavar="ROSTER.csv",
                   help="title each feedback page with the student's name instead of their folder: a CSV with "
                        "the columns folder and name (the roster bnlab export canvas reads; see exercises/README.md), "
                        "or for a Canvas download the gradebook CSV exported from Canvas (matched by Canvas id)")
    _key_option(p)
    p.add_argument("--no-jail", action="store_true",
                   help="grade without the bubblewrap jail, where it cannot run. Gives up: learner code can then "
                        "read every file its user can (other students' submissions if readable, system files), "
                        "use the network, and, unless you grade as root, act as you (read and change your files, "
                        "signal your processes); it is still a separate, limited process returning plain data")
    _sandbox_options(p, 30.0)
    p.set_defaults(run=run_grade)

    p = command("release", "instructors: build the student release (no hidden material)",
                "Write the learners' copy of the course to DIR: course and exercise notebooks, the package with "
                "its public checks, a learner's README and a test command; never solutions, mutants or hidden "
                "checks (the copy is scanned, and removed if any is found).")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    _source_option(p)
    p.set_defaults(run=run_release)

    p = command("gradescope", "instructors: build the Gradescope autograder bundle",
                "Write setup.sh, run_autograder, the package, the hidden checks and the grading key to DIR, and "
                "DIR/autograder.zip to upload as a Gradescope assignment's autograder.")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")
    p.add_argument("--exercises", default="all", metavar="IDS",
                   help='what the Gradescope assignment grades: "all" (default) or e.g. "ex01,ex02"')
    p.add_argument("--no-jail", action="store_true",
                   help="grade without the bubblewrap jail (bnlab grade --no-jail says what that gives up). Without "
                        "it, setup.sh installs bubblewrap from the image's apt sources (BNLAB_BUBBLEWRAP_VERSION: "
                        "exactly that version) and a submission the jail cannot run for gets 0 and the reason")
    _instructor_option(p)
    _key_option(p)
    _source_option(p)
    p.set_defaults(run=run_gradescope)

    p = command("export", "instructors: write grades in another system's format",
                "Write the grades of a bnlab grade OUT folder in another system's format.")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    c = _one_line_errors(targets.add_parser(
        "canvas", help="fill a Canvas gradebook export with the points, ready to import",
        description="Fill the points of OUT/grades.csv into the assignment column of a gradebook CSV exported "
                    "from Canvas (Grades, Export); import the result in Canvas (Grades, Import). Students are "
                    "matched by Canvas id when OUT came from a Canvas download; for any other OUT (one folder "
                    "per student, e.g. from JupyterHub or a shared drive) pass --match or --roster."))
    c.add_argument("--grades", required=True, metavar="OUT", help="the folder bnlab grade wrote")
    c.add_argument("--gradebook", required=True, metavar="EXPORTED.csv", help="the gradebook CSV exported from Canvas")
    c.add_argument("--out", required=True, metavar="FILLED.csv", help="the CSV to write (a new file)")
    c.add_argument("--assignment", metavar="NAME_OR_ID",
                   help="the Canvas assignment column, by title or id (needed when the gradebook has several)")
    c.add_argument("--scale", action="store_true",
                   help="scale the points to the assignment's Points Possible when they differ (default: refuse)")
    c.add_argument("--roster", metavar="ROSTER.csv",
                   help="a CSV mapping each student folder to the gradebook: columns folder and one of id (Canvas "
                        "user id), sis_user_id, sis_login_id, optionally name; e.g. 'folder,sis_login_id' then "
                        "'jsmith,jsmith@uni.edu' (see exercises/README.md)")
    c.add_argument("--match", choices=["id", "sis_user_id", "sis_login_id"],
                   help="the gradebook column students are matched by: with --roster, which of its columns; "
                        "without, the student folders are named by it (e.g. JupyterHub user names that are SIS "
                        "Login IDs). Default: id, from OUT/canvas.csv")
    c.add_argument("--missing-zero", action="store_true",
                   help="write 0 for students of the gradebook with no graded submission, where their cell is "
                        "empty (default: leave their cell as it is, blank when they have no grade yet)")
    c.set_defaults(run=run_export_canvas)

    p = command("similarity", "instructors: rank pairs of students by near-identical graded code",
                "Compare the graded cells of every pair of students after normalising names, whitespace and "
                "comments (the stub and the reference solutions do not count) and write an HTML report of the "
                "pairs, most similar first, with the matching lines side by side. A lead to look at, not proof.")
    p.add_argument("submissions", metavar="SUBMISSIONS", help="as for bnlab grade: one folder per student, or a "
                                                               "Canvas download")
    p.add_argument("--out", required=True, metavar="REPORT.html", help="the report to write")
    p.add_argument("--top", type=positive_int, default=50, metavar="N", help="pairs shown in the report (default 50)")
    _instructor_option(p)
    p.set_defaults(run=run_similarity)

    p = command("demo-class", "instructors: a dry run on a sample class (grade, export to Canvas, similarity)",
                "Build a sample class in OUT as Canvas gives it (a submissions zip with two planted bugs and one copy "
                "pair, and a gradebook export), then run bnlab grade, bnlab export canvas and bnlab similarity on "
                "it, printing each command, and the paths of the feedback pages and the similarity report.")
    p.add_argument("out", metavar="OUT", nargs="?", default="bnlab-demo-class",
                   help="a new or empty folder (default: bnlab-demo-class)")
    p.add_argument("--students", type=positive_int, default=12, metavar="N",
                   help="class size, at least 10 (default 12)")
    p.add_argument("--open", action="store_true", help="open the similarity report and a feedback page in a browser")
    p.add_argument("--no-jail", action="store_true", help="as for bnlab grade")
    _instructor_option(p)
    p.set_defaults(run=run_demo_class)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.cli", description="bnlab's grading commands.")
    add_subcommand(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
