"""Runs one analyst query in a process of its own (started by `data.sql.fetch_readonly`).

A process, not a thread: DuckDB notices an interrupt only between batches of rows, and one batch of a
costly function (levenshtein over long strings) can take minutes, holding a read connection that keeps
every writer out of the store. The parent kills this process at the timeout or on Ctrl-C, and a query
whose single value outgrows memory takes down only this process.

Reads one JSON request from stdin: {query, home, max_rows, cast, memory_mib}. Writes one JSON reply to
stdout: {columns, rows, numeric} with every value as the text (cast "text") or JSON (cast "json") that
DuckDB writes for it, or {error, message}. Only text crosses the pipe: nothing is unpickled.
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any

import duckdb

from data import store
from data.errors import MarqueeError
from data.parent_watch import exit_with_parent

LOCKDOWN = (
    "SET enable_external_access = false",
    # the store's own files stay readable without this (DuckDB allows its database paths)
    "SET disabled_filesystems = 'LocalFileSystem'",
    "SET autoload_known_extensions = false",
    "SET autoinstall_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",
)
# DuckDB type ids of number columns (bignum: VARINT, named varint before DuckDB 1.4); displays align them right
NUMBERS = frozenset({"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
                     "ubigint", "uhugeint", "float", "double", "decimal", "bignum", "varint"})
# A DECIMAL(w,s) in a type's text, outside quoted names and ENUM values
DECIMAL_TYPE = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\bDECIMAL\(\d+,(\d+)\)')


def _wide_decimals(type_text: str) -> str:
    """`type_text` with each DECIMAL(w,s) as DECIMAL(38,s), the same values: to_json writes a DECIMAL of up to 15
    digits through a double (1.20 as 1.2, 0.1000000000 as 0.1) and only a wider one as its own digits."""
    return DECIMAL_TYPE.sub(lambda m: f"DECIMAL(38,{m[1]})" if m[1] else m[0], type_text)


def _written(position: int, type_: duckdb.DuckDBPyType, cast: str) -> str:
    """How DuckDB is to write the column at `position` (names may repeat): its text, or its JSON with DECIMALs,
    nested ones too, digit for digit."""
    if cast == "text":
        return f"#{position}" if type_.id == "varchar" else f"CAST(#{position} AS VARCHAR)"
    wide = _wide_decimals(str(type_))
    return f"to_json(#{position})" if wide == str(type_) else f"to_json(CAST(#{position} AS {wide}))"


def _cast(rel: duckdb.DuckDBPyRelation, cast: str) -> duckdb.DuckDBPyRelation:
    """`rel` with every column written by DuckDB itself (`_written`).
    Python values cannot be written back as DuckDB writes them: 0E-10 for 0.0000000000, .123000 for .123,
    9999-12-31 for infinity, 30 days for a month, 0.10000000149011612 for a FLOAT 0.1, a MAP as a dict."""
    if cast == "text" and all(t.id == "varchar" for t in rel.types):
        return rel   # EXPLAIN's plan, too, stays as DuckDB drew it
    return rel.project(*(duckdb.SQLExpression(_written(i, t, cast)) for i, t in enumerate(rel.types, start=1)))


def run(request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (see the module docstring); the query was checked by the parent."""
    try:
        with store.read(request["home"]) as con:
            con.execute(f"SET memory_limit = '{int(request['memory_mib'])}MiB'")
            # no spilling: the local file system is off, so a sort or join past the limit would fail naming it
            con.execute("SET temp_directory = ''")
            for setting in LOCKDOWN:
                con.execute(setting)
            rel = con.sql(request["query"])
            if rel is None:
                return {"columns": [], "rows": [], "numeric": []}
            rows = _cast(rel, request["cast"]).limit(int(request["max_rows"]) + 1).fetchall()
            return {"columns": rel.columns, "rows": rows, "numeric": [t.id in NUMBERS for t in rel.types]}
    except duckdb.OutOfMemoryException:
        return {"error": "memory", "message": ""}
    except duckdb.Error as exc:
        return {"error": "failed", "message": " ".join(str(exc).split())}
    except MarqueeError as exc:   # no store, a busy one, another schema version
        return {"error": "store", "message": str(exc)}


def main() -> None:
    # `kill -9` of the command cannot take this process along: left running, the query would hold its read
    # connection, keeping every writer out of the store, for as long as it takes (minutes to hours)
    exit_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    reply = run(json.loads(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
