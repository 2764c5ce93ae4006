"""Files read outside `marquee ingest` (`score --history`, `score --input`, `--labeled`), checked by
ingest's own reader and rules, so every file input takes the same formats and fails the same way.

The file is staged in a private in-memory DuckDB (the store is never opened), typed as the given
entity's columns, and the first problem (ragged row, bad value, duplicate key, ...) is raised as one
InputError naming the file, row and column. Only clean rows ever reach the caller.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd

from data.errors import InputError
from data.ingest_read import connect, file_format, ident, stage
from data.ingest_spec import RATING_RANGE, Entity
from data.ingest_validate import build_checked, find_problems, resolve_columns


def read_rows(path: str | os.PathLike, entity: Entity, *, max_line_bytes: int | None = None,
              allow_empty: bool = False, rating_range: tuple[float, float] | None = RATING_RANGE) -> pd.DataFrame:
    """The rows of `path` as `entity`'s store columns that the file has, in file order.

    entity.key is checked for duplicates only when the file has every key column (an optional id).
    max_line_bytes / allow_empty: as in `stage` (long texts to score; a header-only file adds nothing).
    rating_range: what a rating must lie in; None: any number (for a reader that uses only whether a row has one).
    """
    path = Path(path)
    con = connect()
    try:
        found = resolve_columns(entity, stage(con, path, max_line_bytes=max_line_bytes, allow_empty=allow_empty),
                                path)
        columns = [c.store_name for c in entity.columns if c.name in found]
        if not set(entity.key) <= set(columns):
            entity = replace(entity, key=())
        try:
            build_checked(con, entity, found, rating_range or (None, None), materialize=file_format(path) == "csv")
            if find_problems(con, entity, first_only=True):
                row, column, reason = con.execute("SELECT * FROM problems").fetchall()[0]
                raise InputError(path, reason, row=int(row), column=column)
            return con.execute(f"SELECT {', '.join(map(ident, columns))} FROM typed ORDER BY __row").df()
        except duckdb.Error as exc:
            raise InputError(path, "could not read the file: " + str(exc).splitlines()[0]) from None
    finally:
        con.close()
