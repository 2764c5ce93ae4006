"""Plain-text tables for the terminal (`marquee sql`, `marquee runs`): text as DuckDB writes it.

Kept off pandas on purpose: a DataFrame shows NULL four ways (None, NaN, <NA>, NaT) and pads every line
to its widest cell. Here NULL is `NULL`, the columns the caller names align right (numbers), and a cell
longer than `max_chars` is cut with `...`. Columns align by what a terminal shows: a wide (CJK) character
takes two columns, a combining accent none.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence

NULL = "NULL"


def width(text: str) -> int:
    """The columns `text` takes in a terminal."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell(value: str | None, max_chars: int | None = None) -> str:
    """One value as a table cell: NULL for None, line breaks shown as `\\n`."""
    shown = NULL if value is None else value.replace("\r", "\\r").replace("\n", "\\n")
    if max_chars is not None and len(shown) > max_chars:
        shown = shown[: max_chars - 3] + "..."
    return shown


def render(columns: Sequence[str], rows: Sequence[Sequence[str | None]], right: Sequence[bool] | None = None,
           max_chars: int | None = None) -> str:
    """Columns and rows of text as aligned lines: a header, then one line per row (no trailing spaces);
    right: per column, whether to align it right (none by default)."""
    cells = [[cell(v, max_chars) for v in row] for row in rows]
    right = right or [False] * len(columns)
    widths = [max([width(str(c))] + [width(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def pad(value: str, w: int, right: bool) -> str:
        fill = " " * (w - width(value))
        return fill + value if right else value + fill

    def line(values: Sequence[str]) -> str:
        return "  ".join(pad(v, w, r) for v, w, r in zip(values, widths, right, strict=True)).rstrip()

    return "\n".join([line([str(c) for c in columns]), *(line(r) for r in cells)])
