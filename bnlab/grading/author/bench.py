"""Grading benchmark: ``python -m bnlab.grading.author.bench [--students 100] [--jobs 2]``.

Builds a synthetic class (each student submits every exercise: the reference solution, an untouched
stub or one of the instructor's mutants, seeded), grades it with ``bnlab grade``'s code path into a
temporary folder and prints the time; then times ``bnlab check`` on one correct notebook (a fresh
process, as a learner runs it). Targets: under 120 s for 100 students with 2 jobs, under 3 s for
one check. Needs the instructor folder (solutions, mutants, hidden checks).
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bnlab.grading.author.authoring import solution_cells as reference_cells
from bnlab.grading.author.authoring import source_notebooks
from bnlab.grading.author.mutants import mutant_sources
from bnlab.grading.checks import instructor_dir, load_course
from bnlab.grading.core.notebook import GradedCell, split_cells, with_cells
from bnlab.grading.grade.gradebook import grade_submissions
from bnlab.grading.sandbox.client import Limits

def synthetic_class(folder: Path, students: int, seed: int = 0) -> dict[str, int]:
    """Write ``students`` folders into ``folder``; returns how many submissions of each kind were made."""
    root = instructor_dir()
    exercises_dir = root.parent
    rng = np.random.default_rng(seed)
    kinds = {"solution": 0, "stub": 0, "mutant": 0}
    for graded in load_course().exercises:
        ex_id = graded.exercise.id
        notebook_file = exercises_dir / graded.exercise.notebook
        if not notebook_file.is_file() or ex_id not in source_notebooks(root):
            continue
        stub_nb = json.loads(notebook_file.read_text())
        solution_cells = reference_cells(root, ex_id)
        mutants = list(mutant_sources(root, ex_id).values())  # full texts, sorted by mistake name
        for i in range(students):
            kind = rng.choice(["solution", "stub", "mutant"], p=[0.6, 0.2, 0.2])
            if kind == "mutant" and not mutants:
                kind = "solution"
            cells = dict(solution_cells)
            if kind == "mutant":
                cells.update(split_cells(mutants[int(rng.integers(len(mutants)))]))
            nb = stub_nb if kind == "stub" else with_cells(stub_nb, cells)
            target = folder / f"student{i:03d}" / graded.exercise.notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(nb))
            kinds[str(kind)] += 1
    return kinds


def run_cost(runs: int = 20) -> str:
    """What one run costs (a trivial notebook, median): in a student's jail (one jail serves one student's
    notebooks), in a new jail (each student's first notebook), and in the same server without the jail."""
    from bnlab.grading.sandbox.client import jail_session, run_learner

    cells = [("f", 0, "# GRADED FUNCTION: f\ndef f():\n    return 1\n")]
    calls = [{"function": "f", "args": (), "kwargs": {}, "key": "f", "returns": None, "copy_check": False}]

    def median(jailed: bool) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            run_learner(cells, calls, Limits(jail=jailed))
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    with jail_session():
        run_learner(cells, calls, Limits(jail=True))  # start this session's jail once
        shared = median(True)
    fresh = median(True)  # outside a session: a new jail per run
    with jail_session():
        run_learner(cells, calls, Limits())  # start this session's server (no jail) once
        forked = median(False)
    return (f"one run (median of {runs}): {shared * 1000:.0f} ms in a student's jail, {fresh * 1000:.0f} ms in a "
            f"new jail, {forked * 1000:.0f} ms forked without it; {notebook_cost()}")


def notebook_cost(runs: int = 10) -> str:
    """What grading one correct notebook of the first exercise costs in a student's jail (median): its cells
    and calls run twice, public checks in one process and hidden ones in another."""
    from bnlab.grading.core.engine import grade_cells
    from bnlab.grading.sandbox.client import jail_session

    graded = load_course().exercises[0]
    cells = [GradedCell(name, 0, source)
             for name, source in reference_cells(instructor_dir(), graded.exercise.id).items()]
    times = []
    with jail_session():
        grade_cells(cells, graded.exercise, graded.checks, Limits(jail=True))
        for _ in range(runs):
            start = time.perf_counter()
            result = grade_cells(cells, graded.exercise, graded.checks, Limits(jail=True))
            times.append(time.perf_counter() - start)
    return (f"one {graded.exercise.id} notebook (public + hidden checks, {result.points:g}/{result.max_points:g}): "
            f"{np.median(times) * 1000:.0f} ms in a student's jail")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnlab.grading.author.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--no-jail", action="store_true", help="grade without the bubblewrap jail")
    args = parser.parse_args(argv)
    course = load_course()
    from bnlab.grading.sandbox import jail
    jailed = not args.no_jail and jail.probe()[0]
    print(f"learner code runs in a {jail.describe()}" if jailed else "learner code runs without the jail")
    if jailed:
        print(run_cost())
    with tempfile.TemporaryDirectory(prefix="bnlab-bench-") as tmp:
        tmp = Path(tmp)
        kinds = synthetic_class(tmp / "submissions", args.students)
        n_ex = len(course.exercises)
        start = time.monotonic()
        summary = grade_submissions(tmp / "submissions", tmp / "out", course, jobs=args.jobs,
                                    limits=Limits(timeout=args.timeout, jail=jailed), progress=io.StringIO())
        batch = time.monotonic() - start
        rows = (tmp / "out" / "grades.csv").read_text().splitlines()[1:]
        print(f"bnlab grade: {summary.students} students x {n_ex} exercises ({kinds}) with --jobs {args.jobs}: "
              f"{batch:.1f} s ({batch / max(1, summary.students * n_ex):.3f} s per notebook); target < 120 s; "
              f"{len(rows)} rows in grades.csv")
        first = course.exercises[0].exercise
        notebook = next((tmp / "submissions").glob(f"*/{first.notebook}"))
        correct = tmp / first.notebook
        correct.write_text(json.dumps(with_cells(json.loads(notebook.read_text()),
                                                 reference_cells(instructor_dir(), first.id))))
        start = time.monotonic()
        check = subprocess.run([sys.executable, "-m", "bnlab.grading.cli", "check", str(correct)],
                               capture_output=True, text=True)
        one = time.monotonic() - start
        print(f"bnlab check {first.notebook} (correct): {one:.2f} s, exit code {check.returncode}; target < 3 s")
    return 0 if batch < 120 and one < 3 and check.returncode == 0 and not summary.failed else 1


if __name__ == "__main__":
    sys.exit(main())
