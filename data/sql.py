"""Read-only analyst SQL over the store, shared by `marquee sql` and the app's SQL page.

Defence in depth: the store is opened read-only; external access, the local file system (DuckDB
would otherwise still let a query read the store's own files), extension loading and community
extensions are switched off and the configuration is then locked, so no later statement can
loosen it; and only ONE statement of type SELECT (which covers WITH, FROM-first, DESCRIBE, SHOW
and SUMMARIZE) or EXPLAIN of such a statement is accepted at all. Results are capped at
`max_rows`, a query running longer than `timeout` seconds is stopped, and one needing more memory
than `memory_limit_mib()` fails (a single value, up to DuckDB's 4 GB string limit, is not counted).
"""
from __future__ import annotations

import os
import re
import threading
from typing import Any, Literal, NamedTuple

import duckdb
import pandas as pd

from data import store
from data.errors import MarqueeError

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT = 120.0   # seconds


def memory_limit_mib() -> int:
    """What one analyst query may use: 40% of the machine's memory, at most 4 GiB. DuckDB's own default
    (80%) lets one query of the dashboard's SQL page take the server, and the machine, down with it."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):   # no sysconf (Windows): assume a small machine
        total = 4 * 2**30
    return max(256, min(4096, int(0.4 * total / 2**20)))


LOCKDOWN = (
    "SET enable_external_access = false",
    # the store's own files stay readable without this (DuckDB allows its database paths)
    "SET disabled_filesystems = 'LocalFileSystem'",
    "SET autoload_known_extensions = false",
    "SET autoinstall_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",
)
EXPLAIN_PREFIX = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)
ALLOWED = "SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"
SCHEMA_OVERVIEW = """
SELECT t.table_name, CASE t.table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS kind,
       c.column_name, c.data_type, c.ordinal_position
FROM information_schema.tables t
JOIN information_schema.columns c USING (table_catalog, table_schema, table_name)
WHERE t.table_schema = 'main'
ORDER BY kind, t.table_name, c.ordinal_position"""
# DuckDB type ids of number columns (bignum: VARINT, named varint before DuckDB 1.4); displays align them right
NUMBERS = frozenset({"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
                     "ubigint", "uhugeint", "float", "double", "decimal", "bignum", "varint"})
# How `fetch_readonly(cast=...)` has DuckDB write each column: #{} is its position (names may repeat)
CASTS = {"text": "CAST(#{} AS VARCHAR)", "json": "to_json(#{})"}
Cast = Literal["text", "json"]


class Result(NamedTuple):
    """One query's result: at most max_rows rows; truncated: whether more existed; numeric: per column, whether
    DuckDB typed it as a number (what a display aligns right once values are text)."""
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    numeric: list[bool]


class QueryRefused(MarqueeError):
    """The statement is not a single read-only query."""


def check_query(query: str) -> str:
    """Return the one allowed statement in `query`, or raise QueryRefused saying why."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryRefused("could not parse the query: " + str(exc).splitlines()[0]) from None
    if len(statements) != 1:
        raise QueryRefused(f"exactly one statement is allowed, got {len(statements)}")
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        inner, found = EXPLAIN_PREFIX.subn("", query, count=1)
        if not found:
            raise QueryRefused("write EXPLAIN [ANALYZE] at the start of the query")
        check_query(inner)   # EXPLAIN ANALYZE runs its statement: it must be a query too
    elif kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"{kind.name} statements are not allowed: only {ALLOWED} queries (read-only)")
    return query


def _locked_down(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"SET memory_limit = '{memory_limit_mib()}MiB'")
    for setting in LOCKDOWN:
        con.execute(setting)


def _cast(rel: duckdb.DuckDBPyRelation, cast: Cast | None) -> duckdb.DuckDBPyRelation:
    """`rel` with every column written by DuckDB itself as `CASTS[cast]` (VARCHAR columns already are text).
    Python values cannot be written back as DuckDB writes them: 0E-10 for 0.0000000000, .123000 for .123,
    9999-12-31 for infinity, 30 days for a month, 0.10000000149011612 for a FLOAT 0.1, a MAP as a dict."""
    if cast is None or (cast == "text" and all(t.id == "varchar" for t in rel.types)):
        return rel   # EXPLAIN's plan, too, stays as DuckDB drew it
    return rel.project(*(duckdb.SQLExpression(CASTS[cast].format(i) if cast == "json" or t.id != "varchar" else f"#{i}")
                         for i, t in enumerate(rel.types, start=1)))


def _run(query: str, home: str | os.PathLike | None, max_rows: int, timeout: float, cast: Cast | None = None
         ) -> tuple[list[str], list[tuple[Any, ...]], list[bool]]:
    """Check, then run `query` on a locked-down read-only connection: (columns, at most max_rows + 1 rows,
    numeric; none for a statement with no result). cast: see `_cast`.

    The query runs in a worker thread while this one waits: waiting can be cut short by the
    timeout or by Ctrl-C (which a thread blocked inside DuckDB would not notice), and either
    interrupts the query.
    """
    if max_rows < 1:
        raise MarqueeError("max_rows must be at least 1")
    if not timeout > 0:
        raise MarqueeError("timeout must be a positive number of seconds")
    check_query(query)
    with store.read(home) as con:
        _locked_down(con)
        outcome: dict[str, Any] = {}
        done = threading.Event()   # not Thread.join: a join cut short by Ctrl-C can report the thread finished

        def work() -> None:
            try:
                rel = con.sql(query)
                if rel is not None:
                    outcome["value"] = (rel.columns, _cast(rel, cast).limit(max_rows + 1).fetchall(),
                                        [t.id in NUMBERS for t in rel.types])
                else:
                    outcome["value"] = ([], [], [])
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="marquee-sql", daemon=True).start()
        try:
            finished = done.wait(timeout)
        finally:
            if not done.is_set():   # timed out, or Ctrl-C: stop the query before the connection closes
                con.interrupt()
                done.wait()
        if not finished:
            raise MarqueeError(f"query stopped after {timeout:g} s (raise the timeout to let it run longer)")
    error = outcome.get("error")
    if isinstance(error, duckdb.OutOfMemoryException):
        raise MarqueeError(f"query needs more than the {memory_limit_mib():,} MiB of memory an analyst query may "
                           "use: filter, aggregate or LIMIT it") from None
    if isinstance(error, duckdb.Error):
        raise MarqueeError("query failed: " + " ".join(str(error).split())) from None
    if error is not None:
        raise error
    return outcome["value"]


def fetch_readonly(query: str, home: str | os.PathLike | None = None, max_rows: int = DEFAULT_MAX_ROWS,
                   timeout: float = DEFAULT_TIMEOUT, cast: Cast | None = None) -> Result:
    """Run one read-only query; at most `max_rows` rows, each value (NULL: None) as

    - cast=None: DuckDB's own Python value (exact: HUGEINT, DECIMAL, UUID and BLOB keep what they are, where a
      DataFrame would round or retype them; but an INTERVAL's months arrive as 30 days, infinity as 9999-12-31);
    - cast="text": the text DuckDB writes for it, `CAST(value AS VARCHAR)` (for display);
    - cast="json": the JSON DuckDB writes for it, `to_json(value)`: numbers as numbers (HUGEINT and BIGNUM whole,
      DECIMAL digit for digit, NaN and infinities as the non-JSON NaN / Infinity / -Infinity), LISTs and ARRAYs as
      arrays, STRUCTs and MAPs as objects, every other value as its text above in a JSON string.

    Raises QueryRefused for anything but a query, MarqueeError for a query that fails or runs too long."""
    columns, rows, numeric = _run(query, home, max_rows, timeout, cast)
    return Result(list(columns), rows[:max_rows], len(rows) > max_rows, numeric)


def schema_overview(home: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every table and view of the store with its columns: table_name, kind, column_name, data_type."""
    with store.read(home) as con:
        return con.sql(SCHEMA_OVERVIEW).df()
