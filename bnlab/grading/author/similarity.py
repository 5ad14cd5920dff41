"""Which students' own graded code is near-identical: ``bnlab similarity SUBMISSIONS --out report.html``.

Each student's graded cells are read as the grader reads them, per function, each function once: in the
exercise that introduces it (ex02 repeats ex01's ``batchnorm_forward``; it counts in ex01 only, see
``Course.pasted_functions``). They are tokenized with Python's ``tokenize``; comments, docstrings, blank
lines and layout vanish, every name the learner chose becomes ``V`` (keywords, builtins, the stub's
function and parameter names, attributes such as ``np.mean`` and keyword arguments such as ``axis=`` stay).
Fingerprints: the hash of each statement, plus the winnowed k-gram hashes inside statements longer
than ``K`` tokens (winnowing: Schleimer, Wilkerson, Aiken 2003, the method behind MOSS), so a partly
edited long statement still matches in part. Statement order plays no part.

What is the student's own: every fingerprint and line the stub or the reference solution could give is left
out, so a student who kept the reference has no own code there. A fingerprint many students share weighs
less (``log((N + 1) / df)``; more than half the class: left out). A pair is judged only on the functions
where both wrote own code: per function, ``shared / sqrt(W_a * W_b)`` of those weights (0 to 1), and the
score is the mean over those functions. A pair with fewer than ``MIN_FUNCTIONS`` such functions is listed
apart, "too close to the reference to tell": a copy of near-reference work and two honest students who both
kept the reference look alike there. The report gives, per pair, the lines each wrote beyond the stub and the
reference, and per function the own lines both wrote, side by side. A high score is a reason to look, not
proof: on the synthetic class (``sample_class``) planted copies score 1.0, honest pairs up to about 0.8.

Learner data is hostile, and this runs as the grader does: a notebook is read with the grader's limits
(``read_graded_cells``, ``check_source_size``: at most 256 KB of graded source), code nested deeper than
``MAX_NESTING`` is refused by the grader's own ``check_parsable`` (the same on every Python version), and no
syntax tree is built. A student refused, or whose code fails to parse in any way (``PARSE_ERRORS``), is
listed as not compared, with the reason; a notebook the grader could not read is listed under "compared
without", and the student compared on the others; the report is written for everyone else. Memory: students are read
one at a time and only their own code is kept (at most ``MAX_OWN_LINES``, about 2 MB; a real submission
tens of KB), so the peak is about 60 MB, plus at most about 80 MB while one notebook at the source cap is
tokenized, plus 2 MB per student at worst (measured; tests/test_grading_similarity.py holds it under 150 MB
for a hostile class). Not bounded here: the notebook's JSON is read as the grader reads it, up to 32 MB,
and ``json`` builds one object per container, so 30 MB of ``[]`` costs about 800 MB (measured) in both.

Stdlib only: the learners write Python, and ``tokenize`` plus ~20 lines of winnowing does what a
general tool (e.g. copydetect: pygments, jinja2, tqdm, numpy, matplotlib) would, while keeping the
attribute names such a tool maps to one symbol and that tell numpy code apart.
"""
from __future__ import annotations

import builtins
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


def normalized_tokens(source: str) -> tuple[tuple[str, int], ...]:
    """``source`` as (normalized token, line number) pairs; see the module docstring."""
    try:
        significant = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                       if t.type not in (tokenize.COMMENT, tokenize.NL)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _fallback_tokens(source)
    given = _given_names(significant)
    out: list[tuple[str, int]] = []
    depth, previous = 0, tokenize.NEWLINE
    for i, tok in enumerate(significant):
        kind, text, line = tok.type, tok.string, tok.start[0]
        if kind in _SKIP:
            if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                previous = tokenize.NEWLINE
                if out and out[-1][0] != ";":
                    out.append((";", line))
            continue
        following = significant[i + 1] if i + 1 < len(significant) else None
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


def _given_names(tokens: list[tokenize.TokenInfo]) -> set[str]:
    """The names the stub gives (top-level functions and their parameters): the learner did not choose them.
    Read from the tokens (no syntax tree: nothing here can run out of stack on learner source)."""
    names, indent, i = set(), 0, 0
    while i < len(tokens):
        tok = tokens[i]
        indent += (tok.type == tokenize.INDENT) - (tok.type == tokenize.DEDENT)
        if indent == 0 and tok.string == "def" and i + 1 < len(tokens) and tokens[i + 1].type == tokenize.NAME:
            names.add(tokens[i + 1].string)
            depth, i = 0, i + 2
            while i < len(tokens):  # the parameter list: names right after "(", "," or a star, at depth 1
                text = tokens[i].string
                depth += (text in "([{") - (text in ")]}")
                if depth == 0 and text == ")":
                    break
                if depth == 1 and tokens[i].type == tokenize.NAME and tokens[i - 1].string in ("(", ",", "*", "**"):
                    names.add(text)
                i += 1
        i += 1
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


def normalized_lines(tokens: tuple[tuple[str, int], ...]) -> dict[int, str]:
    """Line number -> that line's normalized tokens joined (lines with tokens only)."""
    lines: dict[int, list[str]] = defaultdict(list)
    for text, line in tokens:
        if text != ";":
            lines[line].append(text)
    return {line: " ".join(found) for line, found in lines.items()}


# --- reading a class ------------------------------------------------------------------------------

Unit = tuple[str, str]  # (exercise, function): each function where it is introduced (see Course.pasted_functions)
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)  # of learner source: that student only


class NotCompared(ValueError):
    """A student's graded code the report will not read (too large, nested too deeply): the message says why."""


def student_sources(folder: Path, exercises: list, pasted: dict[str, tuple[str, ...]],
                    unread: list[str] | None = None) -> dict[Unit, str]:
    """(exercise, function) -> the student's graded cells of that function, for the notebooks the grader would
    grade; a function pasted again in a later exercise is read where it was introduced only.

    A notebook that is there but cannot be read (not JSON, no graded cells, …) is left out, and
    "exNN: why" appended to ``unread`` when it is given. Raises NotCompared when a notebook's graded cells
    exceed the grader's limits (size, nesting).
    """
    from bnlab.grading.core.notebook import NotebookError, check_parsable, check_source_size, read_graded_cells
    from bnlab.grading.grade.submissions import match_notebooks

    sources: dict[Unit, str] = {}
    for exercise in exercises:
        path, _ = match_notebooks(folder, exercise.id)
        if path is None:
            continue
        try:
            cells = read_graded_cells(path)
        except NotebookError as exc:  # the grader's feedback says why too; the other notebooks are compared
            if unread is not None:
                unread.append(f"{exercise.id}: {exc}")
            continue
        try:
            check_source_size(cells)
        except NotebookError as exc:
            raise NotCompared(f"{exercise.id}: {exc}") from None
        for cell in cells:
            if cell.name in pasted.get(exercise.id, ()):
                continue
            try:
                check_parsable(cell.source)
            except NotebookError as exc:
                raise NotCompared(f"{exercise.id}: graded cell {cell.name}: {exc}") from None
            unit = (exercise.id, cell.name)
            sources[unit] = sources[unit] + "\n" + cell.source if unit in sources else cell.source
    return sources


def boilerplate_sources(ex_id: str, notebook: str, instructor: Path) -> list[str]:
    """The stub's graded cells and the reference solution's of ``ex_id``, one text per cell (code that must
    not count; each cell is read on its own, as a student's function is)."""
    from bnlab.grading.author import authoring
    from bnlab.grading.core.course import PACKAGE_DIR
    from bnlab.grading.core.notebook import read_graded_cells

    texts = []
    for stub in (instructor.parent / notebook, PACKAGE_DIR.parent / "exercises" / notebook):
        if stub.is_file():
            texts += [c.source for c in read_graded_cells(stub)]
            break
    try:
        texts += list(authoring.solution_cells(instructor, ex_id).values())
    except (OSError, ValueError, KeyError):
        pass  # no reference for this exercise: only the stub is left out
    return texts


# --- what is the student's own --------------------------------------------------------------------

@dataclass
class Own:
    """What one student wrote in one function beyond the stub and the reference."""

    prints: set[int]                             # fingerprints neither the stub nor the reference could give
    lines: dict[str, list[tuple[int, str]]]      # normalized line -> (line number, text) of each such line

    @property
    def line_count(self) -> int:
        return sum(len(found) for found in self.lines.values())


@dataclass
class ClassFingerprints:
    students: list[str]                          # the students compared
    own: dict[str, dict[Unit, Own]]              # student -> function -> their own code in it
    weight: dict[tuple[Unit, int], float]        # (function, fingerprint) -> weight
    not_compared: dict[str, str] = field(default_factory=dict)  # student -> why their code was not read
    partly_read: dict[str, str] = field(default_factory=dict)   # student -> the notebooks left out, and why

    def own_lines(self, student: str) -> int:
        return sum(own.line_count for own in self.own[student].values())


def _boilerplate(texts: list[str]) -> tuple[set[int], set[str]]:
    """Every fingerprint and every normalized line the stub and the reference could give."""
    prints, lines = set(), set()
    for text in texts:
        tokens = normalized_tokens(text)
        prints |= all_features(tokens)
        lines |= set(normalized_lines(tokens).values())
    return prints, lines


def own_code(source: str, removed: set[int], skip_lines: set[str]) -> Own:
    """The fingerprints and lines of ``source`` beyond the boilerplate's (``removed``, ``skip_lines``)."""
    tokens = normalized_tokens(source)
    text = source.splitlines()
    lines: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for number, norm in sorted(normalized_lines(tokens).items()):
        if norm not in skip_lines and 0 < number <= len(text):
            lines[norm].append((number, text[number - 1]))
    return Own(set(features(tokens)) - removed, dict(lines))


# What one student's own code may hold: a real submission has a few hundred own lines at most (the whole course
# is about 400 lines), so these bound what the report keeps per student (about 2 MB) without touching real work.
MAX_OWN_LINES = 2000
MAX_OWN_PRINTS = 20000


def _own_of_student(by_unit: dict[Unit, str], removed: dict[str, tuple[set[int], set[str]]]) -> dict[Unit, Own]:
    own, lines, prints = {}, 0, 0
    for unit, text in by_unit.items():
        found = own[unit] = own_code(text, *removed.get(unit[0], (set(), set())))
        lines, prints = lines + found.line_count, prints + len(found.prints)
        if lines > MAX_OWN_LINES or prints > MAX_OWN_PRINTS:
            raise NotCompared(f"more own code than any exercise needs (over {MAX_OWN_LINES} lines or "
                              f"{MAX_OWN_PRINTS} fingerprints beyond the stub and the reference, at {unit[0]} "
                              f"{unit[1]}); compare it by hand")
    return own


def fingerprint_class(sources, boilerplate: dict[str, list[str]],
                      not_compared: dict[str, str] | None = None) -> ClassFingerprints:
    """Every student's own code per function (beyond the boilerplate of its exercise) and the weights.

    ``sources``: student -> function -> source, as a dict or as (student, sources) pairs read one at a time
    (a :class:`NotCompared` in place of the sources: that student's code was refused). A student whose source
    fails to parse in any way (``PARSE_ERRORS``) or exceeds ``MAX_OWN_LINES`` is listed in ``not_compared``.
    """
    removed = {ex: _boilerplate(texts) for ex, texts in boilerplate.items()}
    not_compared = dict(not_compared or {})
    own: dict[str, dict[Unit, Own]] = {}
    for student, by_unit in (sources.items() if isinstance(sources, dict) else sources):
        try:
            if isinstance(by_unit, NotCompared):
                raise by_unit
            own[student] = _own_of_student(by_unit, removed)
        except NotCompared as exc:
            not_compared[student] = str(exc)
        except PARSE_ERRORS as exc:
            not_compared[student] = f"its graded code could not be read ({type(exc).__name__}: {exc})"
    df: dict[tuple[Unit, int], int] = defaultdict(int)
    for by_unit in own.values():
        for unit, found in by_unit.items():
            for h in found.prints:
                df[unit, h] += 1
    n = len(own)
    weight = {key: math.log((n + 1) / count) for key, count in df.items()}
    return ClassFingerprints(sorted(own), own, weight, not_compared)


# --- scoring --------------------------------------------------------------------------------------

MIN_FUNCTIONS = 3  # a pair is judged only on functions where both wrote code of their own; fewer: set apart


@dataclass
class Pair:
    a: str
    b: str
    score: float                       # overlap of their own code over the functions both wrote own code in
    shared: float                      # weight of the shared fingerprints
    judged: int                        # functions where both wrote code beyond the stub and the reference
    functions: dict[Unit, float] = field(default_factory=dict)  # function -> its overlap (where they share)
    own_lines: tuple[int, int] = (0, 0)  # lines beyond the stub and the reference, a's and b's


@dataclass
class Ranking:
    ranked: list[Pair]                 # judged on MIN_FUNCTIONS or more functions, most similar first
    apart: list[Pair]                  # too close to the reference to tell, most similar first
    not_compared: dict[str, str]
    partly_read: dict[str, str] = field(default_factory=dict)


def rank_pairs(fp: ClassFingerprints) -> Ranking:
    """Every pair that shares a fingerprint of their own code, most similar first, the ones with too little own
    code to judge apart.

    Per function, each fingerprint a student wrote beyond the stub and reference weighs
    ``log((N + 1) / df)`` (one most of the class shares: left out); a pair's score is the weight it shares
    over the functions both wrote own code in, divided by the geometric mean of each one's weight there.
    """
    owners: dict[tuple[Unit, int], list[str]] = defaultdict(list)
    totals: dict[tuple[str, Unit], float] = defaultdict(float)  # weight of a student's own fingerprints
    for student in fp.students:
        for unit, found in fp.own[student].items():
            for h in found.prints:
                owners[unit, h].append(student)
    common = max(2, COMMON * len(fp.students))
    for (unit, h), students in owners.items():
        if len(students) <= common:  # code most of the class shares weighs next to nothing: left out
            for student in students:
                totals[student, unit] += fp.weight[unit, h]
    shared: dict[tuple[str, str], dict[Unit, float]] = defaultdict(lambda: defaultdict(float))
    for (unit, h), students in owners.items():
        if len(students) < 2 or len(students) > common:
            continue
        w = fp.weight[unit, h]
        for i, a in enumerate(students):
            for b in students[i + 1:]:
                shared[min(a, b), max(a, b)][unit] += w
    wrote = {s: {u for u in fp.own[s] if totals.get((s, u), 0) > 0} for s in fp.students}
    ranked, apart = [], []
    for (a, b), by_unit in shared.items():
        judged = wrote[a] & wrote[b]
        overlaps = {u: w / math.sqrt(totals[a, u] * totals[b, u]) for u, w in sorted(by_unit.items())}
        score = sum(overlaps.values()) / len(judged)
        overlaps = {u: round(value, 3) for u, value in overlaps.items()}
        pair = Pair(a, b, round(score, 4), round(sum(by_unit.values()), 3), len(judged), overlaps,
                    (fp.own_lines(a), fp.own_lines(b)))
        (ranked if len(judged) >= MIN_FUNCTIONS else apart).append(pair)
    for pairs in (ranked, apart):
        pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return Ranking(ranked, apart, dict(fp.not_compared), dict(fp.partly_read))


# --- the report -----------------------------------------------------------------------------------

def matching_lines(own_a: Own, own_b: Own) -> list[tuple[int, str, int, str]]:
    """(line in a, its text, line in b, its text) for each own line of a whose normalized form b also wrote."""
    matches = []
    for norm, found_a in own_a.lines.items():
        found_b = own_b.lines.get(norm, [])
        if len(norm.split()) < MIN_LINE_TOKENS:
            continue
        for (la, ta), (lb, tb) in zip(found_a, found_b):
            matches.append((la, ta, lb, tb))
    return sorted(matches)


# Fits a 1280 px window: tables take the page's width and share it out (table-layout: fixed), and code wraps
# inside its column instead of widening it, so no column is pushed off the right edge.
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; padding: 0 1rem; max-width: 1240px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; width: 100%; table-layout: fixed; }
td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; overflow-wrap: anywhere; }
td.code { font-family: monospace; white-space: pre-wrap; }
col.number { width: 3.5rem; } col.count { width: 6.5rem; } col.student { width: 12rem; }
.score { font-weight: bold; } section { border-top: 2px solid #888; margin-top: 1.5rem; }
"""


def _summary_table(pairs: list[Pair], first: int, anchor: str | None) -> str:
    esc = html.escape
    head = ('<table class="pairs"><colgroup><col class="number"><col class="student"><col class="student">'
            '<col class="count"><col class="count"><col class="count"><col></colgroup>'
            '<tr><th>#</th><th>student</th><th>student</th><th>score</th>'
            "<th>functions judged</th><th>own lines</th><th>functions that match</th></tr>")
    rows = []
    for i, p in enumerate(pairs[:first]):
        name = f'<a href="#{anchor}{i + 1}">{esc(p.a)}</a>' if anchor else esc(p.a)
        rows.append(f"<tr><td>{i + 1}</td><td>{name}</td><td>{esc(p.b)}</td><td class=\"score\">{p.score:.2f}</td>"
                    f"<td>{p.judged}</td><td>{p.own_lines[0]} / {p.own_lines[1]}</td>"
                    f"<td>{esc(', '.join(f'{ex} {fn}' for ex, fn in p.functions))}</td></tr>")
    return head + "".join(rows) + "</table>"


def _pair_section(fp: ClassFingerprints, p: Pair, anchor: str, label: str) -> str:
    """One pair in detail: their own lines, and per function the own lines both wrote, side by side."""
    esc = html.escape
    parts = [f'<section id="{anchor}"><h2>{label} {esc(p.a)} and {esc(p.b)}: {p.score:.2f}</h2>'
             f"<p>Own lines (beyond the stub and the reference): {esc(p.a)} {p.own_lines[0]}, {esc(p.b)} "
             f"{p.own_lines[1]}; both wrote own code in {p.judged} functions.</p>"]
    for unit in p.functions:
        own_a, own_b = fp.own[p.a].get(unit), fp.own[p.b].get(unit)
        matches = matching_lines(own_a, own_b) if own_a and own_b else []
        parts.append(f"<h3>{esc(unit[0])} {esc(unit[1])}: {len(matches)} matching own lines "
                     f"(overlap {p.functions[unit]:.2f})</h3>")
        if matches:
            parts.append('<table class="side"><colgroup><col class="number"><col><col class="number"><col>'
                         f"</colgroup><tr><th colspan=2>{esc(p.a)}</th><th colspan=2>{esc(p.b)}</th></tr>"
                         + "".join(f'<tr><td>{la}</td><td class="code">{esc(ta)}</td><td>{lb}</td>'
                                   f'<td class="code">{esc(tb)}</td></tr>' for la, ta, lb, tb in matches)
                         + "</table>")
    return "".join(parts) + "</section>"


def report_html(fp: ClassFingerprints, ranking: Ranking, top: int) -> str:
    """The ranked pairs and the pairs set apart (the first ``top`` of each in detail) and the students not
    compared, as one self-contained HTML page."""
    esc = html.escape
    ranked, apart = ranking.ranked, ranking.apart
    parts = [REPORT_MARK, "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<title>Similarity report</title><style>{STYLE}</style></head><body>",
             "<h1>Similarity of graded code</h1>",
             f"<p>{len(fp.students)} students compared. Only code beyond the stub and the reference solution counts "
             "(names, whitespace, comments and statement order ignored; code many students share weighs less), and "
             "each function once, in the exercise that introduces it (a cell pasted into a later notebook is not "
             f"counted again). A pair is judged on the functions both wrote code of their own in: {len(ranked)} pairs "
             f"with {MIN_FUNCTIONS} or more such functions are ranked below, the {min(top, len(ranked))} most similar "
             "in detail. Score: their shared own code over all their own code in those functions, 0 to 1. "
             "<b>Own lines</b>: lines each wrote beyond the stub and the reference. "
             "A high score is a reason to look, not proof.</p>",
             "<h2>Ranked pairs</h2>", _summary_table(ranked, top, "pair"),
             f"<h2>Too close to the reference to tell ({len(apart)} pairs)</h2>",
             f"<p>Pairs that share own code but wrote it in fewer than {MIN_FUNCTIONS} functions: the rest is the "
             "reference, which honest students share too, so their overlap says little. Compare them by hand if "
             f"their submissions matter; the {min(top, len(apart))} most similar:</p>",
             _summary_table(apart, top, "apart")]
    if ranking.not_compared:
        parts.append(f"<h2>Not compared ({len(ranking.not_compared)} students)</h2><ul>"
                     + "".join(f"<li>{esc(s)}: {esc(why)}</li>" for s, why in sorted(ranking.not_compared.items()))
                     + "</ul>")
    if ranking.partly_read:
        parts.append(f"<h2>Compared without some notebooks ({len(ranking.partly_read)} students)</h2>"
                     "<p>A notebook the grader could not read is left out; the student's other notebooks are "
                     "compared.</p><ul>"
                     + "".join(f"<li>{esc(s)}: {esc(why)}</li>" for s, why in sorted(ranking.partly_read.items()))
                     + "</ul>")
    for anchor, pairs in (("pair", ranked), ("apart", apart)):
        parts += [_pair_section(fp, p, f"{anchor}{i + 1}", f"{i + 1}." if anchor == "pair" else "Apart:")
                  for i, p in enumerate(pairs[:top])]
    parts.append("</body></html>\n")
    return "\n".join(parts)


def similarity_report(submissions: Path, out: Path, instructor: str | Path | None = None, top: int = 50) -> Ranking:
    """Read the class in ``submissions`` (one folder per student), rank the pairs, write ``out``."""
    from bnlab.grading.checks import instructor_dir, load_course
    from bnlab.grading.grade.gradebook import atomic_write
    from bnlab.grading.grade.submissions import list_students

    folder = instructor_dir(instructor)
    course = load_course(public_only=True)
    exercises = [g.exercise for g in course.exercises]
    pasted = {e.id: course.pasted_functions(e.id) for e in exercises}
    boilerplate = {e.id: boilerplate_sources(e.id, e.notebook, folder) for e in exercises}

    partly_read: dict[str, str] = {}

    def read_class():  # one student's sources at a time: only their own code is kept
        for student in list_students(Path(submissions)):
            unread: list[str] = []
            try:
                yield student, student_sources(Path(submissions) / student, exercises, pasted, unread)
            except NotCompared as exc:
                yield student, exc
            if unread:
                partly_read[student] = "; ".join(unread)

    fp = fingerprint_class(read_class(), boilerplate)
    fp.partly_read = {s: why for s, why in partly_read.items() if s not in fp.not_compared}
    ranking = rank_pairs(fp)
    atomic_write(Path(out), report_html(fp, ranking, top))
    return ranking
