"""Validate a staged file (`src`) in SQL: views that type it, then its problems in a table.

`typed` is each column cast to its store type; `checked` adds `__err`, the first thing wrong with
the row as {column, reason} (NULL when the row is fine). Over a Parquet file both are views, so
nothing is copied until something reads them; a CSV file (already in memory as text) is typed once
into a `checked` table. Duplicates within the file are a grouped pass over the valid rows.
Everything runs inside DuckDB, so a 10M-row file is validated at columnar speed; Python only
sees the (few) problems.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from data.errors import InputError
from data.ingest_read import ident, lit
from data.ingest_spec import COMPACT_DATES, EPOCH_LIMIT, UTC_OFFSETS, Column, Entity

INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT")
NUMERIC = (*INTEGERS, "FLOAT", "DOUBLE", "REAL", "DECIMAL")
TEMPORAL = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
# The file column types each kind accepts (CSV columns are all VARCHAR); None: any plain value but bytes.
ACCEPTED: dict[str, tuple[str, ...] | None] = {
    "id": (*INTEGERS, "VARCHAR", "UUID"), "text": None, "int": (*NUMERIC, "VARCHAR"),
    "double": (*NUMERIC, "VARCHAR"), "timestamp": (*NUMERIC, "VARCHAR", *TEMPORAL), "date": ("VARCHAR", *TEMPORAL)}
TYPE_WORDS = {"id": "text or whole numbers", "text": "text", "int": "numbers", "double": "numbers",
              "timestamp": "epoch seconds, ISO 8601 text or timestamps", "date": "dates or ISO 8601 text"}
STORE_TYPES = {"id": "VARCHAR", "text": "VARCHAR", "int": "INTEGER", "double": "DOUBLE",
               "timestamp": "TIMESTAMP", "date": "DATE"}
KIND_WORDS = {"int": "an integer", "double": "a number", "date": "a date (YYYY-MM-DD)",
              "timestamp": "a timestamp (epoch seconds or ISO 8601)"}
# Per-entity finishing touches, applied after typing (they may use other typed columns).
DEFAULTS = {
    "interactions": {"event_type": "coalesce(event_type, CASE WHEN rating IS NULL THEN 'view' ELSE 'rating' END)"},
    "items": {"release_year": "coalesce(release_year, CAST(year(release_date) AS INTEGER))"},
    "reviews": {"source": "coalesce(source, 'ingest')"},
}


def resolve_columns(entity: Entity, available: dict[str, tuple[str, str]], file: Path
                    ) -> dict[str, tuple[str, str]]:
    """Entity column name -> (name in the file, its type); refuses missing required columns."""
    found: dict[str, tuple[str, str]] = {}
    for col in entity.columns:
        for name in (col.name, *col.aliases):
            if name in available:
                found[col.name] = available[name]
                break
    missing = [c.name for c in entity.columns if c.required and c.name not in found]
    if missing:
        raise InputError(file, f"missing required column(s) {', '.join(missing)} for {entity.name} "
                         f"(found: {', '.join(n for n, _ in available.values())})", column=missing[0])
    for col in entity.columns:
        if col.name in found and not _accepts(col.kind, found[col.name][1]):
            name, dtype = found[col.name]
            raise InputError(file, f"the file's {name} column holds {dtype} values; {entity.name}.{col.name} "
                             f"takes {TYPE_WORDS[col.kind]}", column=col.name)
    return found


def _accepts(kind: str, dtype: str) -> bool:
    """Whether a file column of DuckDB type `dtype` can be read as `kind` (never lists, structs or bytes)."""
    base = dtype.split("(")[0].strip().upper()
    if dtype.rstrip().endswith("]") or base in ("STRUCT", "MAP", "UNION", "BLOB", "BIT"):
        return False
    accepted = ACCEPTED[kind]
    return accepted is None or base in accepted


def _typed(col: Column, src: str, dtype: str) -> str:
    """SQL turning file column `src` (of DuckDB type `dtype`) into the store type."""
    base = dtype.split("(")[0].upper()
    text = base == "VARCHAR"
    blank = f"NULLIF(trim({src}), '')" if text else src
    # ISO text starts with a digit: DuckDB would also read words such as 'epoch' or 'infinity'
    iso = f"CASE WHEN left({blank}, 1) BETWEEN '0' AND '9' THEN {blank} END"
    if col.kind == "id":
        return f"NULLIF(trim(CAST({src} AS VARCHAR)), '')"
    if col.kind == "text":
        return f"NULLIF(CAST({src} AS VARCHAR), '')"   # an empty text is no value, in CSV and Parquet alike
    if col.kind == "int":
        if base in INTEGERS:
            return f"TRY_CAST({src} AS INTEGER)"
        num = f"TRY_CAST({blank} AS DOUBLE)"   # '25.7' is not an integer (a cast would round it)
        return f"CASE WHEN {num} = trunc({num}) THEN TRY_CAST({num} AS INTEGER) END"
    if col.kind == "double":
        return f"TRY_CAST({blank} AS DOUBLE)"
    if col.kind == "date":
        return f"TRY_CAST({iso if text else src} AS DATE)"
    # timestamp: epoch seconds (number or numeric text), ISO 8601 text, or a native temporal type
    if base in NUMERIC or text:
        num = f"TRY_CAST({blank} AS DOUBLE)"
        epoch = f"CASE WHEN abs({num}) < {EPOCH_LIMIT:.0f} THEN to_timestamp({num}) END"
        if not text:
            return f"({epoch}) AT TIME ZONE 'UTC'"
        return (f"(CASE WHEN {num} IS NOT NULL THEN {epoch} "
                f"ELSE TRY_CAST({iso} AS TIMESTAMPTZ) END) AT TIME ZONE 'UTC'")
    if "WITH TIME ZONE" in dtype.upper():
        return f"{src} AT TIME ZONE 'UTC'"
    return f"TRY_CAST({src} AS TIMESTAMP)"


def _checks(col: Column, typed: str, raw: str, is_text: bool, rating_range: tuple[float, float],
            screen_id: bool = True, epoch: bool = False) -> list[tuple[str, str]]:
    """(condition, reason SQL) pairs for one column, in the order they are reported. screen_id: refuse ids
    with control or invisible characters (not needed where the id must match a stored one); epoch: the file
    column may hold epoch seconds (numbers, or text)."""
    shown = f"'''' || left(CAST({raw} AS VARCHAR), 60) || ''''"
    out: list[tuple[str, str]] = []
    present = f"({raw} IS NOT NULL AND trim({raw}) <> '')" if is_text else f"({raw} IS NOT NULL)"
    if col.kind == "id" and col.required:
        out.append((f"{typed} IS NULL", lit(f"empty {col.name}")))   # typed id: NULLIF(trim(raw), '')
    elif (col.required and col.kind != "text") or col.nonempty:   # a required text column may hold blanks
        out.append((f"NOT {present}", lit(f"empty {col.name}")))
    if col.kind == "id" and screen_id:
        # the GLOB (anything but printable ASCII) is twice as fast as the regex and rules out most ids
        out.append((f"{typed} GLOB '*[! -~]*' AND regexp_matches({typed}, '[\\p{{Cc}}\\p{{Cf}}]')",
                    lit(f"{col.name} holds a control or invisible character (tab, line break, zero-width space, ...)")))
    if col.kind in KIND_WORDS:
        out.append((f"{present} AND {typed} IS NULL", f"{shown} || {lit(' is not ' + KIND_WORDS[col.kind])}"))
    if col.kind == "timestamp" and is_text:
        out.extend(_offset_checks(typed, raw, shown))
    if epoch and col.kind == "timestamp":
        # a date written YYYYMMDD (20230101) reads as epoch seconds in August 1970, inside the allowed years:
        # refused, not silently stored 53 years early (no streaming service logged an event then)
        start, end = (datetime.fromtimestamp(n, UTC).strftime("%Y-%m-%d %H:%M:%S") for n in COMPACT_DATES)
        out.append((f"{typed} >= TIMESTAMP '{start}' AND {typed} < TIMESTAMP '{end}' "
                    f"AND TRY_CAST({raw} AS DOUBLE) IS NOT NULL",
                    f"{shown} || {lit(' reads as epoch seconds, a time in August 1970; write a date YYYY-MM-DD (2023-01-01, not 20230101)')}"))
    lo, hi = (rating_range if col.name == "rating" else (col.lo, col.hi))
    if lo is not None and col.kind in ("date", "timestamp"):
        kind = col.kind.upper()   # compared as values, so 'infinity' is out of range too
        cond = f"NOT ({typed} >= {kind} '{lo:04.0f}-01-01' AND {typed} < {kind} '{hi + 1:04.0f}-01-01')"
        out.append((cond, f"{shown} || {lit(f' is outside the years {lo:g}..{hi:g}')}"))
    elif lo is not None:
        cond = f"NOT ({typed} BETWEEN {lo} AND {hi})"
        if col.kind == "double":
            cond = f"(NOT isfinite({typed}) OR {cond})"
        out.append((cond, f"{shown} || {lit(f' is out of range {lo:g}..{hi:g}')}"))
    if col.max_chars:
        out.append((f"length({typed}) > {col.max_chars}",
                    f"'text is ' || length({typed}) || {lit(f' characters, more than the {col.max_chars:,} allowed')}"))
    return out


def _offset_checks(typed: str, raw: str, shown: str) -> list[tuple[str, str]]:
    """(condition, reason) pairs refusing ISO text with a UTC offset no place uses: DuckDB applies any two
    digits, so '+25:00', '+2500', '+25' and '+99:99' shift the time by a day or more, and '+05:75' is read
    as +06:15. Only text with a sign after its time is looked at ('+' anywhere, '-' after a ':'), two cheap
    scans for text without an offset; the offset DuckDB applied is then the text read as local time
    (TIMESTAMP drops the offset) minus the UTC time, which covers every offset form it reads and leaves
    numbers and zone names alone. Minutes are read off the text's tail ([+-]HH:MM or [+-]HHMM)."""
    lo, hi = UTC_OFFSETS
    has_offset = f"(contains({raw}, '+') OR {raw} LIKE '%:%-%')"
    applied = f"TRY_CAST({raw} AS TIMESTAMP) - {typed}"
    minutes = f"regexp_extract({raw}, '[0-9][+-][0-9]{{2}}:?([0-9]{{2}})\\s*$', 1)"
    return [(f"{has_offset} AND NOT ({applied} BETWEEN INTERVAL '{lo} hours' AND INTERVAL '{hi} hours')",
             f"{shown} || {lit(f' has a UTC offset outside -{-lo:02d}:00..+{hi:02d}:00')}"),
            (f"{has_offset} AND {typed} IS NOT NULL AND {minutes} >= '60'",
             f"{shown} || {lit(' has UTC offset minutes of 60 or more (write +06:15, not +05:75)')}")]


def _agreement_checks(entity: Entity, found: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(condition, column, reason) for columns that state one fact twice: an item's release_year and the year
    of its release_date must agree (which one is wrong cannot be told, so the row is refused, not mended).
    A file of release_year alone updates the year and leaves a stored date as it was, so the year is held
    against that date (`stored_dates`, loaded by the caller: see STORED_DATES)."""
    if entity.name != "items" or "release_year" not in found:
        return []
    if "release_date" in found:
        return [("year(release_date) <> release_year", "release_year",
                 "'release_year ' || release_year || ' disagrees with release_date ' || release_date")]
    stored = "(SELECT d.release_date FROM stored_dates d WHERE d.item_id = staged.item_id)"
    return [(f"release_year <> year({stored})", "release_year",
             f"'release_year ' || release_year || ' disagrees with the release_date ' || {stored} || "
             "' already stored for this item; add a release_date column (left empty, it clears the date)'")]


def build_checked(con: duckdb.DuckDBPyConnection, entity: Entity, found: dict[str, tuple[str, str]],
                  rating_range: tuple[float, float], materialize: bool = False) -> None:
    """Create `typed` (__row and the store columns) and `checked` (`typed` plus __err, the first problem
    of the row or NULL). Loading reads `typed`, so it never pays for the checks twice.

    Both are views over the file unless `materialize`: then `checked` is a table, typed once. That pays
    when the source is already in memory and costly to type (CSV: every value is text); re-reading a
    Parquet file is cheaper than copying it (measured: docs/benchmarks.md, "Ingest").
    """
    inner, cases = ["__row"], []
    for col in entity.columns:
        name = col.store_name
        if col.name not in found:
            inner.append(f"CAST(NULL AS {STORE_TYPES[col.kind]}) AS {ident(name)}")
            continue
        src_name, dtype = found[col.name]
        raw = ident("__raw_" + col.name)
        inner += [f"{_typed(col, ident(src_name), dtype)} AS {ident(name)}", f"{ident(src_name)} AS {raw}"]
        checks = _checks(col, ident(name), raw, dtype.upper() == "VARCHAR", rating_range,
                         screen_id=not (entity.references_items and col.name == "item_id"),
                         epoch=dtype.split("(")[0].upper() in (*NUMERIC, "VARCHAR"))
        cases += [(cond, col.name, reason) for cond, reason in checks]
    cases += _agreement_checks(entity, found)
    if entity.references_items and "item_id" in found:
        cases.append(("item_id IS NOT NULL AND item_id NOT IN (SELECT item_id FROM known_items)", "item_id",
                      "'unknown item_id ''' || item_id || ''' (not in items: ingest the items first)'"))
    err = "CASE " + " ".join(f"WHEN {cond} THEN {{'column': {lit(column)}, 'reason': {reason}}}"
                             for cond, column, reason in cases) + " END" if cases else "NULL"
    outer = [DEFAULTS.get(entity.name, {}).get(c.store_name, ident(c.store_name)) + f" AS {ident(c.store_name)}"
             for c in entity.columns]
    con.execute(f"CREATE OR REPLACE VIEW staged AS SELECT {', '.join(inner)} FROM src")
    kind = "TABLE" if materialize else "VIEW"
    con.execute(f"CREATE OR REPLACE {kind} checked AS SELECT __row, {', '.join(outer)}, {err} AS __err FROM staged")
    # over a view, `typed` skips the checks: DuckDB would still run the item lookup of an unused __err
    typed = "* EXCLUDE (__err) FROM checked" if materialize else f"__row, {', '.join(outer)} FROM staged"
    con.execute(f"CREATE OR REPLACE VIEW typed AS SELECT {typed}")
    if entity.registers_users and "user_id" in found:
        # every distinct user id of the file, typed from its distinct raw values: 10M events hold ~100k
        # users, and typing each row first costs ~3x as much
        src_name, dtype = found["user_id"]
        user = next(c for c in entity.columns if c.name == "user_id")
        con.execute(f"""CREATE OR REPLACE VIEW file_user_ids AS SELECT DISTINCT {_typed(user, "u", dtype)} AS user_id
            FROM (SELECT DISTINCT {ident(src_name)} AS u FROM src)""")


def find_problems(con: duckdb.DuckDBPyConnection, entity: Entity, first_only: bool) -> int:
    """Table `problems` ("row", "column", reason), by row; duplicates of `entity.key` (none when it is
    empty) name the row they repeat; rows with a key column left blank are not compared.
    -> how many (at most 1 with `first_only`)."""
    duplicates = ""
    if entity.key:
        key = ", ".join(ident(k) for k in entity.key)
        filled = " AND ".join(f"{ident(k)} IS NOT NULL" for k in entity.key)
        file_key = ", ".join("timestamp" if k == "ts" else k for k in entity.key)
        what = (f"duplicate {file_key} (same as row " if len(entity.key) == 1
                else f"duplicate event (same {file_key} as row ")
        con.execute(f"""CREATE OR REPLACE TABLE dup_rows AS
            WITH d AS (SELECT {key}, min(__row) AS first_row FROM checked WHERE __err IS NULL AND {filled}
                       GROUP BY ALL HAVING count(*) > 1)
            SELECT c.__row, d.first_row FROM checked c JOIN d USING ({key})
            WHERE c.__err IS NULL AND c.__row > d.first_row""")
        column = "timestamp" if len(entity.key) > 1 else entity.key[0]
        duplicates = f"""UNION ALL
            SELECT __row, {lit(column)}, {lit(what)} || first_row || ')' FROM dup_rows"""
    limit = "LIMIT 1" if first_only else ""
    con.execute(f"""CREATE OR REPLACE TABLE problems AS
        SELECT "row", "column", reason FROM (
            SELECT __row AS "row", __err.column AS "column", __err.reason AS reason
            FROM checked WHERE __err IS NOT NULL
            {duplicates})
        ORDER BY "row" {limit}""")
    return con.execute("SELECT count(*) FROM problems").fetchall()[0][0]
