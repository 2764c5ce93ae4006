"""Plain-text tables for the terminal (`marquee sql`, `marquee runs`): values as DuckDB gives them.

Kept off pandas on purpose: a DataFrame shows NULL four ways (None, NaN, <NA>, NaT), turns a HUGEINT
`sum()` into a float and pads every line to its widest cell. Here NULL is `NULL`, a number prints
exactly, numbers align right, and a cell longer than `max_chars` is cut with `...`. Columns align by what a
terminal shows: a wide (CJK) character takes two columns, a combining accent none.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

NULL = "NULL"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def width(text: str) -> int:
    """The columns `text` takes in a terminal."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell(value: Any, text: Callable[[Any], str] = str, max_chars: int | None = None) -> str:
    """One value as a table cell: NULL for None, line breaks shown as `\\n`."""
    shown = NULL if value is None else text(value).replace("\r", "\\r").replace("\n", "\\n")
    if max_chars is not None and len(shown) > max_chars:
        shown = shown[: max_chars - 3] + "..."
    return shown


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], text: Callable[[Any], str] = str,
           max_chars: int | None = None) -> str:
    """Columns and rows as aligned lines: a header, then one line per row (no trailing spaces)."""
    cells = [[cell(v, text, max_chars) for v in row] for row in rows]
    right = [bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows) for i in range(len(columns))]
    widths = [max([width(str(c))] + [width(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def pad(value: str, w: int, right: bool) -> str:
        fill = " " * (w - width(value))
        return fill + value if right else value + fill

    def line(values: Sequence[str]) -> str:
        return "  ".join(pad(v, w, r) for v, w, r in zip(values, widths, right, strict=True)).rstrip()

    return "\n".join([line([str(c) for c in columns]), *(line(r) for r in cells)])
