"""Every CSV bnlab writes goes through :func:`csv_text`, so no cell can run as a spreadsheet formula.

A cell whose text a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) gets a leading apostrophe, the spreadsheet's own "this is text" mark; a cell that
already starts with an apostrophe gets one more, so :func:`cell_value` gives back exactly what was
written. Plain numbers (``-1.5``) stay numbers. Learner-controlled text (folder and file names) and
names from Canvas reach these files, so the rule applies to every cell, not to chosen columns.
"""
from __future__ import annotations

import csv
import io
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell a spreadsheet shows as text, never evaluates (numbers are left as they are)."""
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) and not _NUMBER.match(text) else text


def cell_value(cell: str) -> str:
    """What :func:`spreadsheet_safe` was given (the inverse: one leading apostrophe removed)."""
    return cell[1:] if cell.startswith("'") else cell


def csv_text(rows) -> str:
    """The CSV text of ``rows`` (lists of cells), every cell passed through :func:`spreadsheet_safe`.

    Lines end in CRLF (RFC 4180): then Python's writer also quotes a cell holding a lone carriage return,
    which with LF endings it leaves bare, splitting the row for every reader.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def read_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (as dicts) of CSV text, each cell as it was before :func:`csv_text`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell_value(h) for h in next(reader, [])]
    return header, [dict(zip(header, (cell_value(c) for c in row))) for row in reader if row]
