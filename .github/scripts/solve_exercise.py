"""Write a copy of an exercise notebook with the instructor's reference solution in its graded cells.

    python .github/scripts/solve_exercise.py ex01 OUT_DIR

CI then runs `bnlab check OUT_DIR/ex01_....ipynb` on it, as a learner who finished the exercise would.
The reference comes from the exercise's source notebook (exercises/instructor/exNN), read by bnlab's
authoring module, so bnlab must be installed first.
"""
import json
import re
import sys
from pathlib import Path

from bnlab.grading.author.authoring import solution_cells

ROOT = Path(__file__).resolve().parents[2]
GRADED = re.compile(r"# GRADED FUNCTION: (\w+)")


def main(ex_id: str, out_dir: str) -> None:
    (notebook,) = (ROOT / "exercises").glob(f"{ex_id}_*.ipynb")
    cells = solution_cells(ROOT / "exercises" / "instructor", ex_id)
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    filled = set()
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        match = GRADED.match(source)
        if cell["cell_type"] == "code" and match and match.group(1) in cells:
            cell["source"] = cells[match.group(1)]
            filled.add(match.group(1))
    if filled != set(cells):
        sys.exit(f"{notebook.name}: no graded cell for {sorted(set(cells) - filled)}")
    out = Path(out_dir) / notebook.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out} with the reference {', '.join(sorted(filled))}")


if __name__ == "__main__":
    main(*sys.argv[1:])
