"""``bnlab check`` on a real exercise, the student release (free of hidden material), the Gradescope bundle."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnlab.grading.author.authoring import solution_text
from bnlab.grading.author.bundles import leaks
import grading_fixture as fx
from exercise_harness import INSTRUCTOR, ROOT, notebook_path, notebook_with, solution_cells

CLI = [sys.executable, "-m", "bnlab.cli"]


def _autograder_root(tmp_path: Path, *options: str) -> Path:
    """``bnlab gradescope --out tmp_path/bundle OPTIONS``, unzipped as Gradescope does into tmp_path/autograder."""
    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle), *options], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "autograder"
    shutil.copytree(bundle, root / "source")
    return root


def _solution_notebook(ex_id: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return notebook_with(ex_id, solution_cells(ex_id), folder / notebook_path(ex_id).name)


def test_bnlab_check_passes_a_correct_notebook_quickly_and_reports_a_stub(tmp_path):
    path = _solution_notebook("ex01", tmp_path)
    times = []
    for _ in range(2):  # the faster of two runs: a shared machine's load can slow any single one
        start = time.monotonic()
        result = subprocess.run(CLI + ["check", str(path)], capture_output=True, text=True, timeout=60)
        times.append(time.monotonic() - start)
        assert result.returncode == 0, result.stdout + result.stderr
    seconds = min(times)
    assert "All 3 public checks passed" in result.stdout or "public checks passed" in result.stdout
    assert "Hidden checks" in result.stdout and "all tests passed" not in result.stdout.lower()
    assert seconds < 3, f"bnlab check took {seconds:.2f} s"
    stub = subprocess.run(CLI + ["check", str(notebook_path("ex01"))], capture_output=True, text=True, timeout=60)
    assert stub.returncode == 1 and "not implemented yet" in stub.stdout


def test_bnlab_check_names_a_bad_file(tmp_path):
    odd = tmp_path / "homework.ipynb"
    odd.write_text("{}")
    result = subprocess.run(CLI + ["check", str(odd)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "exNN" in result.stderr
    empty = tmp_path / "ex01_batchnorm_forward.ipynb"
    empty.write_text("")
    result = subprocess.run(CLI + ["check", str(empty)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is empty" in result.stdout


def test_the_student_release_has_no_instructor_material(tmp_path):
    out = tmp_path / "release"
    result = subprocess.run(CLI + ["release", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    files = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert not [f for f in files if "instructor" in f.parts or "solutions" in f.parts or "mutants" in f.parts]
    assert leaks(out, INSTRUCTOR) == []
    assert not any("HIDDEN_CHECKS = " in p.read_text(errors="replace") for p in out.rglob("*.py"))
    shipped = {f.name for f in files if f.parts[0] == "exercises" and f.suffix == ".ipynb"}
    assert shipped == {p.name for p in (ROOT / "exercises").glob("*.ipynb")} and shipped
    assert (out / "bnlab" / "grading" / "checks" / "ex01.py").is_file()  # the public checks ship
    assert (out / "pyproject.toml").is_file()


def test_the_leak_scan_finds_planted_solution_code(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    solution = solution_text(INSTRUCTOR, "ex01")
    body = solution.split("# YOUR CODE STARTS HERE")[1].split("# YOUR CODE ENDS HERE")[0]
    (bundle / "notes.py").write_text("# copied\n" + "# YOUR CODE STARTS HERE" + body + "# YOUR CODE ENDS HERE\n")
    shutil.copy(INSTRUCTOR / "ex01" / "hidden.py", bundle / "renamed.py")
    assert sorted(leaks(bundle, INSTRUCTOR)) == ["notes.py", "renamed.py"]


LATE = {"created_at": "2026-03-02T10:30:00.123456-05:00",
        "assignment": {"due_date": "2026-03-01T23:59:00.000000-05:00", "late_due_date": "2026-03-05T23:59:00-05:00"},
        "users": [{"name": "Jane Doe", "email": "jane@example.edu", "id": 1234, "previous_submissions": []}]}


def test_the_gradescope_bundle_grades_a_submission_into_results_json(tmp_path):
    bundle = tmp_path / "bundle"
    result = subprocess.run(CLI + ["gradescope", "--out", str(bundle), *fx.jail_flags()], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (bundle / "autograder.zip").is_file() and os.access(bundle / "run_autograder", os.X_OK)
    assert not list(bundle.rglob("solutions")) and not list((bundle / "instructor").rglob("mutants*"))
    assert sorted(p.relative_to(bundle / "instructor").as_posix() for p in (bundle / "instructor").rglob("*.py")) \
        == sorted(p.relative_to(INSTRUCTOR).as_posix() for p in INSTRUCTOR.glob("ex[0-9][0-9]/hidden.py"))

    root = tmp_path / "autograder"  # Gradescope's layout: source/ (the unzipped bundle), submission/, results/
    shutil.copytree(bundle, root / "source")
    _solution_notebook("ex01", root / "submission")
    (root / "submission_metadata.json").write_text(json.dumps(LATE))
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    extra = results["extra_data"]
    if not fx.jail_flags():  # in the real jail (CI on Linux): this machine's bwrap and its package, recorded
        bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
        assert extra["isolation"] == "bubblewrap" and extra["bwrap"] == bwrap
        assert f"Isolation: learner code ran in a bubblewrap jail ({bwrap};" in results["output"]
        if shutil.which("dpkg-query"):
            package = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "bubblewrap"], capture_output=True,
                                     text=True).stdout
            assert extra["bubblewrap_package"] == package
    else:
        assert extra["isolation"] == "process" and "WITHOUT the bubblewrap jail" in results["output"]
    assert extra["late"] == {"late": True, "minutes_late": 631, "due_date": "2026-03-01T23:59:00-05:00",
                             "late_due_date": "2026-03-05T23:59:00-05:00", "after_late_due_date": False}
    assert "Submitted 10 h 31 min after the due date (2026-03-01T23:59-05:00)." in results["output"]
    ex01 = [t for t in results["tests"] if t["name"].startswith("ex01 ")]
    assert ex01 and all(t["score"] == t["max_score"] for t in ex01)
    assert {t["visibility"] for t in ex01} == {"visible", "after_published"}
    assert all(t["visibility"] == "after_published" for t in ex01 if "(hidden)" in t["name"])
    others = [t for t in results["tests"] if not t["name"].startswith("ex01 ")]
    assert others and all(t["score"] == 0 and "missing notebook" in t["output"] for t in others)
    assert results["score"] == pytest.approx(sum(t["score"] for t in ex01))  # lateness does not change it


def test_run_autograder_refuses_with_zero_and_the_reason_where_the_jail_cannot_run(tmp_path):
    root = _autograder_root(tmp_path, "--exercises", "ex01")
    _solution_notebook("ex01", root / "submission")
    tools = tmp_path / "bin"  # every command run_autograder needs, but no bwrap
    tools.mkdir()
    for name in ("bash", "chmod", "mkdir", "rm"):
        os.symlink(shutil.which(name), tools / name)
    env = {**os.environ, "PATH": str(tools), "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run([str(tools / "bash"), str(root / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == [] and results["extra_data"]["isolation"] == "none"
    assert "did not grade this submission: the bubblewrap jail that grades learner code cannot run" \
        in results["output"]
    assert "not your code's fault" in results["output"] and "bnlab gradescope --no-jail" in results["output"]
    assert "not installed" in results["output"] or "needs Linux" in results["output"]


def test_a_gradescope_assignment_can_grade_just_some_exercises(tmp_path):
    root = _autograder_root(tmp_path, "--exercises", "ex01", *fx.jail_flags())
    _solution_notebook("ex01", root / "submission" / "nested")  # Gradescope keeps the learner's folders
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["tests"] and all(t["name"].startswith("ex01 ") for t in results["tests"])
    assert results["score"] == sum(t["max_score"] for t in results["tests"])
    bad = subprocess.run(CLI + ["gradescope", "--out", str(tmp_path / "b2"), "--exercises", "ex99"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "ex99" in bad.stderr


def test_grading_without_the_hidden_checks_is_a_clear_error(tmp_path):
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    result = subprocess.run(CLI + ["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"),
                                   "--instructor", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert result.returncode == 2 and "hidden checks" in result.stderr and "--instructor" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bundles_refuse_to_overwrite_a_folder_in_use(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    for command in ("release", "gradescope"):
        result = subprocess.run(CLI + [command, "--out", str(tmp_path)], capture_output=True, text=True)
        assert result.returncode == 2 and "not empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_on_gradescope_a_stack_walk_never_shows_the_hidden_inputs(tmp_path):
    """During a call the learner walks to the worker's job and outcome records and rewrites the other calls'
    outcomes: ok=False, error=<every call's inputs as JSON>. Public errors are shown in a test marked visible;
    the hidden inputs now never share that process, and hidden checks show only the grader's words."""
    import numpy as np

    from bnlab.grading.checks import load_course
    from bnlab.grading.core.report import HIDDEN_WORDS
    from bnlab.grading.core.spec import Outcome
    from bnlab.grading.core.student_inputs import salted, student_salt
    from bnlab.grading.grade.grading_key import KEY_FILE, read_key

    root = _autograder_root(tmp_path, "--exercises", "ex01")
    walker = solution_cells("ex01")["batchnorm_forward"].replace("def batchnorm_forward(", "def _mine(") + '''

import gc, json, sys

def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    calls = next(o for o in gc.get_objects() if type(o) is dict and "calls" in o and "nonce" in o)["calls"]
    leak = "LEAK " + json.dumps([[np.asarray(a).tolist() for a in c["args"]] for c in calls])
    frame = sys._getframe()
    while frame is not None:
        for v in list(frame.f_locals.values()):
            if type(v) is dict and v and all(type(o) is dict and "ok" in o for o in v.values()):
                for o in v.values():
                    o["ok"], o["error"], o["value"] = False, leak, None
        frame = frame.f_back
    print(leak)
    return _mine(Z, gamma, beta, eps)
'''
    (root / "submission").mkdir(parents=True)
    notebook_with("ex01", {"batchnorm_forward": walker}, root / "submission" / notebook_path("ex01").name)
    env = {**os.environ, "BNLAB_AUTOGRADER_ROOT": str(root), "BNLAB_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (root / "results" / "results.json").read_text()
    results = json.loads(text)
    hidden = [t for t in results["tests"] if "(hidden)" in t["name"]]
    public = [t for t in results["tests"] if "(hidden)" not in t["name"]]
    # In each process every call's record but the last's is rewritten: the public ones show public inputs only.
    assert len(public) > 1 and public[-1]["score"] == public[-1]["max_score"] and public[0]["score"] == 0
    assert len(hidden) > 1 and hidden[-1]["score"] == hidden[-1]["max_score"]  # the last call's record: its own
    # A hidden check shows only the grader's fixed words for its outcome (report.shown_check).
    assert all(t["score"] == 0 and t["output"] == HIDDEN_WORDS[Outcome.FAILED] for t in hidden[:-1]), hidden
    # The hidden inputs this submission was graded with: salted by the bundle's key (no metadata: student "").
    salt = student_salt(read_key(root / "source" / "instructor" / KEY_FILE), "")
    numbers = [np.asarray(a) for c in load_course().get("ex01").hidden
               for call in salted(c, salt).calls() for a in call.args if np.ndim(a) == 2]
    unsalted = [np.asarray(a) for c in load_course().get("ex01").hidden for call in c.calls()
                for a in call.args if np.ndim(a) == 2]
    assert not any(np.array_equal(a, b) for a, b in zip(numbers, unsalted)), "the salt must change the inputs"
    assert numbers, "the hidden inputs of ex01"
    shown = [repr(float(v)) for a in numbers for v in a.ravel()[:4]]
    assert "LEAK [" not in json.dumps([t for t in results["tests"] if "(hidden)" in t["name"]])
    assert not [v for v in shown if v in text], "a hidden input in results.json"


# --- Gradescope: setup.sh on the image's own package manager (apt-get and python3 simulated; never the real
# apt-get), run_autograder's isolation and lateness ------------------------------------------------------------

UBUNTU_POLICY = """bubblewrap:
  Installed: (none)
  Candidate: 0.6.1-1ubuntu0.1
  Version table:
     0.6.1-1ubuntu0.1 500
        500 http://archive.ubuntu.com/ubuntu jammy-updates/main amd64 Packages
     0.6.1-1 500
        500 http://archive.ubuntu.com/ubuntu jammy/main amd64 Packages
"""
APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$STUBS/log"
case "$*" in
  "install -y bubblewrap="*)
    version=${3#bubblewrap=}
    awk -v v="$version" '$1 == v || ($1 == "***" && $2 == v) { found = 1 } END { exit !found }' "$STUBS/policy.txt" || {
      echo "E: Version '$version' for 'bubblewrap' was not found" >&2; exit 100
    }
    command -v bwrap >/dev/null || {
      printf '#!/bin/sh\\necho "bubblewrap %s"\\n' "${version%%-*}" > "$STUBS/bwrap"; chmod +x "$STUBS/bwrap"
    } ;;
esac
"""
APT_CACHE = """#!/bin/sh
[ "$*" = "policy bubblewrap" ] && cat "$STUBS/policy.txt"
"""
PYTHON3 = """#!/bin/sh
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin" && printf '#!/bin/sh\\necho "venv python $*" >> "$STUBS/log"\\n' > "$3/bin/python" \\
    && chmod +x "$3/bin/python"
  echo "python3 -m venv $3" >> "$STUBS/log"
  exit 0
fi
exec {python} "$@"
"""


def _image(tmp_path: Path, policy: str | None, real: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """A simulated image: stub apt-get (and apt-cache answering ``policy``, unless apt-cache is in ``real``) and
    python3 (the venv and pip only logged), the basic tools, and the ``real`` commands of this machine."""
    stubs, tools = tmp_path / "stubs", tmp_path / "tools"
    stubs.mkdir()
    tools.mkdir()
    scripts = {"apt-get": APT_GET, "python3": PYTHON3.format(python=sys.executable)}
    if policy is not None:
        scripts["apt-cache"] = APT_CACHE
        (stubs / "policy.txt").write_text(policy)
    for name, text in scripts.items():
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    for name in ("bash", "sh", "sed", "head", "cat", "awk", "mkdir", "chmod", *real):
        os.symlink(shutil.which(name), tools / name)
    root = tmp_path / "autograder"
    (root / "source" / "package").mkdir(parents=True)
    env = {"PATH": f"{stubs}:{tools}", "STUBS": str(stubs), "BNLAB_AUTOGRADER_ROOT": str(root)}
    return stubs, env


def _setup(tmp_path: Path, env: dict, jail: bool = True, **variables) -> subprocess.CompletedProcess:
    from bnlab.grading.author.bundles import SETUP_SH, _script

    script = tmp_path / "setup.sh"
    script.write_text(_script(SETUP_SH, "all", jail))
    return subprocess.run([shutil.which("bash"), str(script)], env={**env, **variables}, capture_output=True,
                          text=True, timeout=60)


def _log(stubs: Path) -> list[str]:
    return (stubs / "log").read_text().splitlines() if (stubs / "log").exists() else []


def test_setup_sh_on_ubuntu_installs_the_bubblewrap_the_image_offers_then_bnlab(tmp_path):
    stubs, env = _image(tmp_path, UBUNTU_POLICY)
    setup = _setup(tmp_path, env)
    assert setup.returncode == 0, setup.stderr
    assert _log(stubs) == ["apt-get update", "apt-get install -y bubblewrap=0.6.1-1ubuntu0.1",
                           f"python3 -m venv {env['BNLAB_AUTOGRADER_ROOT']}/venv",
                           f"venv python -m pip install --no-cache-dir {env['BNLAB_AUTOGRADER_ROOT']}/source/package"]
    assert "bubblewrap for the jail: bubblewrap 0.6.1 (package 0.6.1-1ubuntu0.1)" in setup.stdout


def test_setup_sh_honours_bnlab_bubblewrap_version_and_fails_loudly_when_the_image_lacks_it(tmp_path):
    stubs, env = _image(tmp_path, UBUNTU_POLICY)
    older = _setup(tmp_path, env, BNLAB_BUBBLEWRAP_VERSION="0.6.1-1")  # a version this image has
    assert older.returncode == 0, older.stderr
    assert "apt-get install -y bubblewrap=0.6.1-1" in _log(stubs)
    (stubs / "log").unlink()
    debian = _setup(tmp_path, env, BNLAB_BUBBLEWRAP_VERSION="0.8.0-2+deb12u1")  # the build machine's: not here
    assert debian.returncode == 1
    assert "bubblewrap 0.8.0-2+deb12u1 (BNLAB_BUBBLEWRAP_VERSION) is not available from this image's apt " \
           "sources, which offer 0.6.1-1ubuntu0.1" in debian.stderr
    assert "run_autograder refuses to grade" in debian.stderr and "--no-jail" in debian.stderr
    assert not [line for line in _log(stubs) if "venv" in line]  # stopped before building anything


def test_a_bundle_built_with_bnlab_bubblewrap_version_pins_it_and_setup_time_overrides(tmp_path, monkeypatch):
    from bnlab.grading.author.bundles import SETUP_SH, BundleError, _script

    monkeypatch.setenv("BNLAB_BUBBLEWRAP_VERSION", "0.6.1-1")
    assert 'BUBBLEWRAP_VERSION="${BNLAB_BUBBLEWRAP_VERSION:-0.6.1-1}"' in _script(SETUP_SH, "all")
    monkeypatch.setenv("BNLAB_BUBBLEWRAP_VERSION", "1; rm -rf /")
    with pytest.raises(BundleError, match="not a package version: '1; rm -rf /'"):
        _script(SETUP_SH, "all")
    monkeypatch.delenv("BNLAB_BUBBLEWRAP_VERSION")
    assert 'BUBBLEWRAP_VERSION="${BNLAB_BUBBLEWRAP_VERSION:-}"' in _script(SETUP_SH, "all")  # no build-machine pin


def test_setup_sh_stops_when_the_image_has_no_bubblewrap_unless_built_without_the_jail(tmp_path):
    stubs, env = _image(tmp_path, "")  # apt sources without the package: apt-cache policy prints nothing
    setup = _setup(tmp_path, env)
    assert setup.returncode == 1 and "offer no bubblewrap package" in setup.stderr
    no_jail = _setup(tmp_path, env, jail=False)
    assert no_jail.returncode == 0, no_jail.stderr
    assert not [line for line in _log(stubs) if "bubblewrap" in line] and "bubblewrap" not in no_jail.stdout
    (stubs / "apt-get").unlink()  # an image without apt-get and without bwrap
    assert "no apt-get" in _setup(tmp_path, env).stderr


def test_setup_sh_on_this_debian_takes_apt_caches_real_candidate(tmp_path):
    if not (shutil.which("apt-cache") and shutil.which("bwrap") and shutil.which("dpkg-query")):
        pytest.skip("needs Debian's apt-cache and an installed bubblewrap")
    policy = subprocess.run(["apt-cache", "policy", "bubblewrap"], capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"}, timeout=60).stdout
    candidate = next(line.split(":", 1)[1].strip() for line in policy.splitlines() if "Candidate:" in line)
    stubs, env = _image(tmp_path, None, real=("apt-cache", "bwrap"))
    (stubs / "policy.txt").write_text(policy)  # the stub apt-get installs only what the real table lists
    setup = _setup(tmp_path, env)
    assert setup.returncode == 0, setup.stderr
    assert f"apt-get install -y bubblewrap={candidate}" in _log(stubs)
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    assert f"bubblewrap for the jail: {bwrap} (package {candidate})" in setup.stdout


def test_submission_metadata_is_read_bounded_and_lateness_recorded():
    from bnlab.grading.core.report import late_note
    from bnlab.grading.grade.autograder import MAX_METADATA_BYTES, late_record, read_submission_metadata

    metadata = {"created_at": "2026-03-02T10:30:00.123456-05:00",
                "assignment": {"due_date": "2026-03-01T23:59:00.000000-05:00",
                               "late_due_date": "2026-03-02T08:00:00.000000-05:00"},
                "users": [{"name": "Jane Doe", "email": "jane@example.edu", "id": 1234}]}
    record = late_record(metadata)
    assert record == {"late": True, "minutes_late": 631, "due_date": "2026-03-01T23:59:00-05:00",
                      "late_due_date": "2026-03-02T08:00:00-05:00", "after_late_due_date": True}
    assert late_note(metadata) == ("Submitted 10 h 31 min after the due date (2026-03-01T23:59-05:00). That is "
                                   "also after the late due date (2026-03-02T08:00-05:00).")
    metadata["created_at"] = "2026-03-01T20:00:00-05:00"
    assert late_record(metadata)["late"] is False and late_note(metadata) == ""
    assert late_record({}) == {"late": None}
    with tempfile_root() as root:
        assert read_submission_metadata(root) == {}
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
        assert read_submission_metadata(root) == metadata
        for bad in ("[1, 2]", "{oops", " " * (MAX_METADATA_BYTES + 1) + "{}", "[" * 100000):
            (root / "submission_metadata.json").write_text(bad)
            assert read_submission_metadata(root) == {}


def tempfile_root():
    import tempfile
    from contextlib import contextmanager

    @contextmanager
    def made():
        with tempfile.TemporaryDirectory() as folder:
            yield Path(folder)
    return made()
