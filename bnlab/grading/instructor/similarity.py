"""Which students' graded code is near-identical: ``bnlab similarity SUBMISSIONS --out report.html``.

Each student's graded cells (per exercise, read as the grader reads them) are tokenized with Python's
``tokenize``; comments, docstrings, blank lines and layout vanish, every name the learner chose becomes
``V`` (keywords, builtins, the stub's function and parameter names, attributes such as ``np.mean`` and
keyword arguments such as ``axis=`` stay).
Fingerprints: the hash of each statement, plus the winnowed k-gram hashes inside statements longer
than ``K`` tokens (winnowing: Schleimer, Wilkerson, Aiken 2003, the method behind MOSS), so a partly
edited long statement still matches in part. Statement order plays no part: renamed variables and
reordered lines keep every fingerprint.

What does not count: every fingerprint the exercise's stub or reference solution could produce. What
counts less: a fingerprint many students share (weight ``log((N + 1) / df)``, N students, df of them
have it; more than half the class: left out), so a common mistake weighs little and a rare shared
oddity a lot. Per exercise, a pair's overlap is ``shared / sqrt(W_a * W_b)`` of those weights (0 to 1);
the pair's score is the mean over the course's exercises, so a pair that wrote the same thing in one
exercise scores at most 1/6 for it, and a copy of a whole notebook set near 1. The report lists the
pairs by score with, per exercise, the lines whose normalized form both wrote (outside the stub and
reference) side by side. A high score is a reason to look, not proof: measured on a synthetic class,
honest students who happen to make the same choices in several exercises reach about 0.6.

Stdlib only: the learners write Python, and ``tokenize`` plus ~20 lines of winnowing does what a
general tool (e.g. copydetect: pygments, jinja2, tqdm, numpy, matplotlib) would, while keeping the
attribute names such a tool maps to one symbol and that tell numpy code apart.
"""
from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import html
import io
import keyword
import math
import re
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

K = 8          # tokens per k-gram
WINDOW = 4     # winnowing window: every run of K + WINDOW - 1 equal tokens is caught
COMMON = 0.5  # a fingerprint more than half the class has is left out (it weighs little, and costs n² pairs)
MIN_LINE_TOKENS = 4  # shorter lines ("return A, cache") are too common to show as a match
REPORT_MARK = "<!-- bnlab similarity report -->"
_KEEP_NAMES = set(dir(builtins)) | {"np", "numpy", "math", "self"}
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
         tokenize.ENCODING, tokenize.ENDMARKER}


@functools.lru_cache(maxsize=4096)
def normalized_tokens(source: str) -> tuple[tuple[str, int], ...]:
    """``source`` as (normalized token, line number) pairs; see the module docstring."""
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _fallback_tokens(source)
    given = _given_names(source)
    significant = [t for t in raw if t.type not in (tokenize.COMMENT, tokenize.NL)]
    following_of, upcoming = {}, None
    for tok in reversed(significant):  # each token's next significant token, in one pass
        following_of[id(tok)] = upcoming
        upcoming = tok
    out: list[tuple[str, int]] = []
    depth, previous = 0, tokenize.NEWLINE
    for tok in raw:
        kind, text, line = tok.type, tok.string, tok.start[0]
        if kind in _SKIP:
            if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                previous = tokenize.NEWLINE
                if out and out[-1][0] != ";":
                    out.append((";", line))
            continue
        following = following_of.get(id(tok))
        if kind == tokenize.STRING:
            if previous == tokenize.NEWLINE and following is not None and following.type in (tokenize.NEWLINE,
                                                                                           tokenize.ENDMARKER):
                previous = kind
                continue  # a docstring or a bare string statement: documentation, not code
            text = "S"
        elif kind == tokenize.NAME and not keyword.iskeyword(text):
            after_dot = bool(out) and out[-1][0] == "."
            keyword_argument = depth > 0 and following is not None and following.string == "="
            if not (after_dot or keyword_argument or text in _KEEP_NAMES or text in given):
                text = "V"
        elif kind == tokenize.OP:
            depth += text in "([{"
            depth -= text in ")]}" and depth > 0
        out.append((text, line))
        previous = kind
    return tuple(out)


def _given_names(source: str) -> set[str]:
    """The names the stub gives (functions and their parameters): the learner did not choose them."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in tree.body:  # graded cells define their functions at the top level
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
            args = node.args
            names.update(a.arg for a in args.posonlyargs + args.args + args.kwonlyargs)
    return names


def _fallback_tokens(source: str) -> list[tuple[str, int]]:
    """For code ``tokenize`` refuses (unbalanced brackets...): words and symbols per line, names as V."""
    out = []
    for number, line in enumerate(source.splitlines(), 1):
        for text in re.findall(r"\w+|[^\w\s]", line.split("#", 1)[0]):
            keep = keyword.iskeyword(text) or text in _KEEP_NAMES or text[0].isdigit()
            out.append((text if keep else "V", number))
        if out and out[-1][0] != ";":
            out.append((";", number))  # one statement per line
    return tuple(out)


def _hash(tokens: list[tuple[str, int]]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(t for t, _ in tokens).encode(), digest_size=8).digest(), "big")


def kgram_hashes(tokens: list[tuple[str, int]], k: int = K) -> list[int]:
    """The hash of every k-gram, in order (one hash for a text shorter than k)."""
    if not tokens:
        return []
    if len(tokens) < k:
        return [_hash(tokens)]
    return [_hash(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]


def winnow(hashes: list[int], window: int = WINDOW) -> set[int]:
    """Winnowing: the smallest hash of each window of ``window`` consecutive hashes (rightmost on ties)."""
    if len(hashes) <= window:
        return {min(hashes)} if hashes else set()
    chosen = set()
    for i in range(len(hashes) - window + 1):
        part = hashes[i:i + window]
        smallest = min(part)
        chosen.add(smallest)
    return chosen


def statements(tokens: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """``tokens`` cut into statements (the ``;`` markers :func:`normalized_tokens` leaves at each end)."""
    out, current = [], []
    for token in tokens:
        if token[0] == ";":
            if current:
                out.append(current)
            current = []
        else:
            current.append(token)
    return out + [current] if current else out


def features(tokens: list[tuple[str, int]]) -> list[int]:
    """Every statement's hash, plus the winnowed k-grams of statements longer than K tokens (so that a
    partly edited long statement still matches in part). Statement order plays no part."""
    found = []
    for statement in statements(tokens):
        found.append(_hash(statement))
        if len(statement) > K:
            found.extend(winnow(kgram_hashes(statement)))
    return found


def all_features(tokens: list[tuple[str, int]]) -> set[int]:
    """Every hash :func:`features` could pick, winnowed or not (what boilerplate removes)."""
    found = set()
    for statement in statements(tokens):
        found.add(_hash(statement))
        found.update(kgram_hashes(statement))
    return found


def normalized_lines(source: str) -> dict[int, str]:
    """Line number -> that line's normalized tokens joined (lines with tokens only)."""
    lines: dict[int, list[str]] = defaultdict(list)
    for text, line in normalized_tokens(source):
        if text != ";":
            lines[line].append(text)
    return {line: " ".join(tokens) for line, tokens in lines.items()}


# --- reading a class ------------------------------------------------------------------------------

def student_sources(folder: Path, exercise_ids: list[str]) -> dict[str, str]:
    """Exercise id -> the student's graded cells joined, for the notebooks the grader would grade."""
    from bnlab.grading.instructor.gradebook import match_notebooks
    from bnlab.grading.shared.notebook import NotebookError, read_graded_cells

    sources = {}
    for ex_id in exercise_ids:
        path, _ = match_notebooks(folder, ex_id)
        if path is None:
            continue
        try:
            cells = read_graded_cells(path)
        except NotebookError:
            continue
        sources[ex_id] = "\n".join(cell.source for cell in cells)
    return sources


def boilerplate_sources(ex_id: str, notebook: str, instructor: Path) -> list[str]:
    """The stub's graded cells and the reference solution of ``ex_id`` (texts that must not count)."""
    from bnlab.grading.instructor import authoring
    from bnlab.grading.shared.course import PACKAGE_DIR
    from bnlab.grading.shared.notebook import read_graded_cells

    texts = []
    for stub in (instructor.parent / notebook, PACKAGE_DIR.parent / "exercises" / notebook):
        if stub.is_file():
            texts.append("\n".join(c.source for c in read_graded_cells(stub)))
            break
    try:
        texts.append("\n".join(authoring.solution_cells(instructor, ex_id).values()))
    except (OSError, ValueError, KeyError):
        pass  # no reference for this exercise: only the stub is left out
    return texts


# --- scoring --------------------------------------------------------------------------------------

@dataclass
class Pair:
    a: str
    b: str
    score: float
    shared: float                      # weight of the shared fingerprints
    exercises: dict[str, float] = field(default_factory=dict)  # exercise -> shared weight


@dataclass
class ClassFingerprints:
    students: list[str]
    sources: dict[str, dict[str, str]]            # student -> exercise -> source
    prints: dict[str, dict[str, set[int]]]        # student -> exercise -> fingerprints (boilerplate removed)
    boilerplate_lines: dict[str, set[str]]         # exercise -> normalized lines of the stub and reference
    weight: dict[tuple[str, int], float]           # (exercise, fingerprint) -> weight


def fingerprint_class(sources: dict[str, dict[str, str]], boilerplate: dict[str, list[str]]) -> ClassFingerprints:
    """Fingerprints of every student's exercises, without the boilerplate's, and their weights."""
    removed = {ex: set().union(*(all_features(normalized_tokens(text)) for text in texts))
               for ex, texts in boilerplate.items()}
    lines = {ex: {line for text in texts for line in normalized_lines(text).values()} for ex, texts in boilerplate.items()}
    prints: dict[str, dict[str, set[int]]] = {}
    df: dict[tuple[str, int], int] = defaultdict(int)
    for student, by_exercise in sources.items():
        prints[student] = {}
        for ex, text in by_exercise.items():
            own = set(features(normalized_tokens(text))) - removed.get(ex, set())
            prints[student][ex] = own
            for h in own:
                df[ex, h] += 1
    n = len(sources)
    weight = {key: math.log((n + 1) / count) for key, count in df.items()}
    return ClassFingerprints(sorted(sources), sources, prints, lines, weight)


def rank_pairs(fp: ClassFingerprints, exercises: list[str] | None = None) -> list[Pair]:
    """Every pair that shares a fingerprint, most similar first."""
    exercises = exercises or sorted({ex for by_ex in fp.prints.values() for ex in by_ex})
    owners: dict[tuple[str, int], list[str]] = defaultdict(list)
    totals: dict[tuple[str, str], float] = defaultdict(float)  # (student, exercise) -> weight of own fingerprints
    for student in fp.students:
        for ex, own in fp.prints[student].items():
            for h in own:
                owners[ex, h].append(student)
    common = max(2, COMMON * len(fp.students))
    for (ex, h), students in owners.items():
        if len(students) <= common:  # code most of the class shares weighs next to nothing: left out
            for student in students:
                totals[student, ex] += fp.weight[ex, h]
    shared: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (ex, h), students in owners.items():
        if len(students) < 2 or len(students) > common:
            continue
        w = fp.weight[ex, h]
        for i, a in enumerate(students):
            for b in students[i + 1:]:
                shared[min(a, b), max(a, b)][ex] += w
    pairs = []
    for (a, b), by_exercise in shared.items():
        overlaps = {ex: amount / math.sqrt(totals[a, ex] * totals[b, ex]) for ex, amount in by_exercise.items()}
        score = sum(overlaps.values()) / len(exercises)
        pairs.append(Pair(a, b, round(score, 4), round(sum(by_exercise.values()), 3),
                          {ex: round(overlaps[ex], 3) for ex in sorted(overlaps)}))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return pairs


# --- the report -----------------------------------------------------------------------------------

def matching_lines(source_a: str, source_b: str, skip: set[str]) -> list[tuple[int, str, int, str]]:
    """(line in a, its text, line in b, its text) for each line of a whose normalized form b also has."""
    lines_a, lines_b = source_a.splitlines(), source_b.splitlines()
    where_b: dict[str, list[int]] = defaultdict(list)
    for number, norm in normalized_lines(source_b).items():
        where_b[norm].append(number)
    used: dict[str, int] = defaultdict(int)
    matches = []
    for number, norm in sorted(normalized_lines(source_a).items()):
        if norm in skip or len(norm.split()) < MIN_LINE_TOKENS or used[norm] >= len(where_b.get(norm, [])):
            continue
        other = where_b[norm][used[norm]]
        used[norm] += 1
        matches.append((number, lines_a[number - 1], other, lines_b[other - 1]))
    return matches


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem;
vertical-align: top; } td.code { font-family: monospace; white-space: pre; } .score { font-weight: bold; }
section { border-top: 2px solid #888; margin-top: 1.5rem; }
"""


def report_html(fp: ClassFingerprints, pairs: list[Pair], top: int) -> str:
    """The ranked pairs (the first ``top`` in detail) as a self-contained HTML page."""
    esc = html.escape
    rows = "".join(f'<tr><td>{i + 1}</td><td><a href="#pair{i + 1}">{esc(p.a)}</a></td><td>{esc(p.b)}</td>'
                   f'<td class="score">{p.score:.2f}</td><td>{p.shared:.1f}</td>'
                   f'<td>{esc(", ".join(p.exercises))}</td></tr>' for i, p in enumerate(pairs[:top]))
    parts = [REPORT_MARK, "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<title>Similarity report</title><style>{STYLE}</style></head><body>",
             "<h1>Similarity of graded code</h1>",
             f"<p>{len(fp.students)} students, {len(pairs)} pairs sharing any code beyond the stub and the reference "
             f"solution; the {min(top, len(pairs))} most similar below. Score: weighted overlap of normalized code "
             "(names, whitespace and comments ignored; code many students share weighs less), 0 to 1. "
             "A high score is a reason to look, not proof.</p>",
             "<table><tr><th>#</th><th>student</th><th>student</th><th>score</th><th>shared weight</th>"
             f"<th>exercises</th></tr>{rows}</table>"]
    for i, p in enumerate(pairs[:top]):
        parts.append(f'<section id="pair{i + 1}"><h2>{i + 1}. {esc(p.a)} and {esc(p.b)}: {p.score:.2f}</h2>')
        for ex in p.exercises:
            a_src, b_src = fp.sources[p.a].get(ex, ""), fp.sources[p.b].get(ex, "")
            matches = matching_lines(a_src, b_src, fp.boilerplate_lines.get(ex, set()))
            parts.append(f"<h3>{esc(ex)}: {len(matches)} matching lines</h3>")
            if matches:
                parts.append(f"<table><tr><th colspan=2>{esc(p.a)}</th><th colspan=2>{esc(p.b)}</th></tr>"
                             + "".join(f'<tr><td>{la}</td><td class="code">{esc(ta)}</td><td>{lb}</td>'
                                       f'<td class="code">{esc(tb)}</td></tr>' for la, ta, lb, tb in matches)
                             + "</table>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def similarity_report(submissions: Path, out: Path, instructor: str | Path | None = None, top: int = 50) -> list[Pair]:
    """Read the class in ``submissions`` (one folder per student), rank the pairs, write ``out``."""
    from bnlab.grading.instructor.gradebook import atomic_write, list_students
    from bnlab.grading.shared.course import instructor_dir, load_course

    folder = instructor_dir(instructor)
    exercises = [g.exercise for g in load_course(public_only=True).exercises]
    ids = [e.id for e in exercises]
    sources = {s: student_sources(Path(submissions) / s, ids) for s in list_students(Path(submissions))}
    boilerplate = {e.id: boilerplate_sources(e.id, e.notebook, folder) for e in exercises}
    fp = fingerprint_class(sources, boilerplate)
    pairs = rank_pairs(fp, ids)
    atomic_write(Path(out), report_html(fp, pairs, top))
    return pairs
