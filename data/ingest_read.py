"""Stage a user's CSV or Parquet file in an in-memory DuckDB as the view `src`.

`src` has the file's columns (CSV: all VARCHAR, so validation sees exactly what was written;
Parquet: its own types) plus `__row`, the 1-based data row number used in every error message.
Structural problems (ragged rows, unterminated quotes, non-UTF-8 bytes, unreadable Parquet, an
empty file) become one-line InputErrors here, before any row is looked at.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from data.errors import InputError

CSV_DELIMITERS = {".csv": ",", ".tsv": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
RESERVED = ("__row", "file_row_number")   # names staging uses itself; a file's columns of these names are ignored


def connect(temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB to stage and check a file in (the store is never opened here); UTC, no
    progress bar, spilling to `temp_dir` when given (a big ingest)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if temp_dir is not None:
        con.execute("SET temp_directory = $dir", {"dir": str(temp_dir)})
    return con


def lit(value: str) -> str:
    """A SQL string literal (for the few places DuckDB takes no parameters: file paths in views)."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def utf8_name(path: Path) -> bool:
    """Whether `path` is UTF-8 text: a name's stray bytes reach Python as lone surrogates, which DuckDB takes
    for no path at all."""
    try:
        str(path).encode()
    except UnicodeEncodeError:
        return False
    return True


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_DELIMITERS:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InputError(path, f"unsupported file type {suffix or '(none)'!r}: use .csv, .tsv, .parquet or .pq")


def _csv_header(path: Path, delim: str) -> list[str]:
    with path.open("rb") as f:
        first = f.readline()
    if not first.strip():
        raise InputError(path, "file is empty (expected a header line naming the columns)")
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(path, "line 1 (the header) has bytes that are not UTF-8 text (save the file as UTF-8)"
                         ) from None
    if "\r" in line:
        raise InputError(path, "line 1 (the header) holds a carriage return: the file has old Mac (CR) line "
                               "endings or a line break inside a column name; save it with LF or CRLF endings")
    try:
        names = next(csv.reader([line], delimiter=delim, strict=True))
    except csv.Error as exc:
        why = "an unterminated quote" if "end of data" in str(exc) else str(exc)
        raise InputError(path, f"line 1 (the header) is not valid CSV: {why}") from None
    for i, name in enumerate(names, 1):
        if not name.strip():
            raise InputError(path, f"header column {i} has no name")
    lowered = [n.strip().lower() for n in names]
    dups = sorted({n for n in lowered if lowered.count(n) > 1})
    if dups:
        raise InputError(path, f"header names a column twice: {', '.join(dups)}", column=dups[0])
    return [n.strip() for n in names]


def _csv_error(path: Path, exc: duckdb.Error) -> InputError:
    """DuckDB's multi-line CSV error -> one line naming the file and line."""
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(m.group(1)) if m else None
    if "unicode" in text.lower() or "utf-8" in text.lower():
        reason = "bytes that are not UTF-8 text (save the file as UTF-8)"
    elif (cols := re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)):
        reason = f"ragged row: expected {cols.group(1)} fields, found {cols.group(2)}"
    elif "unterminated quote" in text.lower():
        reason = "unterminated quote"
    elif (size := re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)):
        reason = f"the line is {int(size.group(2)):,} bytes, more than the {int(size.group(1)):,} a CSV line may have"
    else:
        reason = "malformed CSV: " + text.splitlines()[0].removeprefix("Invalid Input Error: ")
    if line is None:
        return InputError(path, reason)
    return InputError(path, f"line {line}: {reason}", row=max(line - 1, 1))


def _numbered(con: duckdb.DuckDBPyConnection, names: list[str], source: str) -> None:
    """View `src`: `__row` (1-based file order, from the rowid of table `src_raw`) and the file's columns,
    named as in `names` (src_raw's own columns are c0, c1, ..., so no file column can hide `rowid`)."""
    columns = "".join(f", c{i} AS {ident(n)}" for i, n in enumerate(names) if n.lower() not in RESERVED)
    con.execute("SET preserve_insertion_order = true")   # rowid = file order
    con.execute(f"CREATE OR REPLACE TABLE src_raw AS SELECT * FROM {source}")
    con.execute(f"CREATE OR REPLACE VIEW src AS SELECT rowid + 1 AS __row{columns} FROM src_raw")


def stage(con: duckdb.DuckDBPyConnection, path: str | Path, *, max_line_bytes: int | None = None,
          allow_empty: bool = False) -> dict[str, tuple[str, str]]:
    """Create view `src` over `path`; returns {lower-case name: (name in file, DuckDB type)}.

    max_line_bytes: the longest CSV line read (DuckDB's default, 2 MB, when None); allow_empty: a file
    with a header but no rows is fine (an input that adds nothing), not an error.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    if not path.is_file():
        raise InputError(path, "no such file")
    if not utf8_name(path):
        raise InputError(path, "the file's path holds bytes that are not UTF-8 text, which DuckDB cannot open: rename it")
    fmt = file_format(path)
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    if fmt == "csv":
        delim = CSV_DELIMITERS[path.suffix.lower()]
        names = _csv_header(path, delim)
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
        size = f", max_line_size = {int(max_line_bytes)}" if max_line_bytes else ""
        try:
            _numbered(con, names, f"""read_csv({lit(path)}, columns = {columns}, header = true,
                auto_detect = false, delim = {lit(delim)}, quote = '"', escape = '"', strict_mode = true,
                null_padding = false{size})""")
        except duckdb.Error as exc:
            raise _csv_error(path, exc) from None
    else:
        try:
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(path)})").fetchall()]
            if "file_row_number" in (n.lower() for n in names):
                # a file column of that name hides DuckDB's own row number: copy the rows in file order
                renamed = ", ".join(f"{ident(n)} AS c{i}" for i, n in enumerate(names))
                _numbered(con, names, f"(SELECT {renamed} FROM read_parquet({lit(path)}))")
            else:
                keep = [ident(n) for n in names if n.lower() not in RESERVED]
                con.execute(f"""CREATE OR REPLACE VIEW src AS SELECT file_row_number + 1 AS __row, {", ".join(keep)}
                    FROM read_parquet({lit(path)})""")
            con.execute("DESCRIBE src").fetchall()
        except duckdb.Error as exc:
            raise InputError(path, "not a readable Parquet file: " + str(exc).splitlines()[0]) from None
    con.execute("SET preserve_insertion_order = false")   # from here on order comes from __row
    if not allow_empty and not con.execute("SELECT count(*) FROM src").fetchall()[0][0]:
        raise InputError(path, "no data rows (the file has only a header)" if fmt == "csv" else "no data rows")
    described = con.execute("DESCRIBE src").fetchall()
    return {name.lower(): (name, dtype) for name, dtype, *_ in described if name != "__row"}
