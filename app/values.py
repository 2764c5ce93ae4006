"""DuckDB's Python values as exact text, shared by `marquee sql` and the dashboard's SQL page.

A DataFrame or a float would round a HUGEINT, retype a DECIMAL and print a BLOB as numbers; this
text is what DuckDB itself shows.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any


def text(value: Any) -> str:
    """A value as text: BLOBs escaped as DuckDB prints them (\\xNN), INTERVALs in ISO 8601, the rest str.
    (LISTs, STRUCTs and MAPs reach here already as DuckDB's own text: `data.sql.fetch_readonly(nested_as_text=True)`.)"""
    if isinstance(value, bytes | bytearray | memoryview):
        return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in bytes(value))
    if isinstance(value, timedelta):
        return duration(value)
    return str(value)


def duration(td: timedelta) -> str:
    """ISO 8601, e.g. P1DT2H3M4.5S (DuckDB hands INTERVALs to Python as timedelta)."""
    sign, td = ("-", -td) if td < timedelta(0) else ("", td)
    minutes, seconds = divmod(td.seconds + td.microseconds / 1e6, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{sign}P{td.days}DT{hours}H{minutes}M{seconds:g}S"
