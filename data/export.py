"""`marquee export`: one table or view of the store to CSV or Parquet, atomically.

The name must be one the store's catalog lists (so it can never smuggle SQL), and the file is
written beside its destination under a temporary name and renamed, so a reader never sees half
an export.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from data import store
from data.errors import MarqueeError, cannot
from data.ingest_read import ident, utf8_name
from data.output_file import replacing

CATALOG = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def export(name: str, file: str | os.PathLike, home: str | os.PathLike | None = None) -> int:
    """Write table/view `name` to `file` (.csv or .parquet); returns the number of rows."""
    target = Path(file)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise MarqueeError(f"{target}: unsupported export type {target.suffix or '(none)'!r}: use .csv or .parquet")
    if not utf8_name(target):
        raise MarqueeError(f"{target}: the path holds bytes that are not UTF-8 text, which DuckDB cannot write to: "
                           "choose another name")
    if not target.parent.is_dir():
        raise MarqueeError(f"{target}: folder {target.parent} does not exist")
    if target.is_dir():
        raise MarqueeError(f"{target}: is a folder; name a file to write")
    with store.read(home) as con:
        known = {row[0].lower(): row[0] for row in con.execute(CATALOG).fetchall()}
        if name.lower() not in known:
            raise MarqueeError(f"unknown table or view {name!r}; known: {', '.join(sorted(known.values()))}")
        rel = con.table(known[name.lower()])
        try:
            with replacing(target) as tmp:
                if fmt == "csv":
                    rel.write_csv(str(tmp), header=True)
                else:
                    rel.write_parquet(str(tmp))
                rows = con.execute(f"SELECT count(*) FROM {ident(known[name.lower()])}").fetchall()[0][0]
        except (duckdb.Error, OSError) as exc:
            raise cannot(f"{target}: cannot write the export", exc) from None
    return rows
