"""Read-only analyst SQL over the store, shared by `marquee sql` and the app's SQL page.

Defence in depth: the store is opened read-only; external access, the local file system (DuckDB
would otherwise still let a query read the store's own files), extension loading and community
extensions are switched off and the configuration is then locked, so no later statement can
loosen it; and only ONE statement of type SELECT (which covers WITH, FROM-first, DESCRIBE, SHOW
and SUMMARIZE) or EXPLAIN of such a statement is accepted at all; a PIVOT that reads its IN list from the data
(several statements to DuckDB) only as a query, run inside SELECT * FROM (...). Results are capped at
`max_rows`; each query runs in a process of its own (data/sql_worker.py), killed when it runs
longer than `timeout` seconds, and one needing more memory than `memory_limit_mib()` fails (a
single value, up to DuckDB's 4 GB string limit, is not counted: it can only end that process).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Literal, NamedTuple

import duckdb
import pandas as pd

from data import paths, store
from data.errors import MarqueeError

DEFAULT_MAX_ROWS = 10_000
DEFAULT_TIMEOUT = 120.0   # seconds
MAX_TIMEOUT = 86_400.0    # a day: the OS waits at most about 24 days on the worker (Python overflows past it)
MEMORY_RULE = "40% of this machine's memory, 256 MiB to 4 GiB"   # how memory_limit_mib() sets it; not configurable


def memory_limit_mib() -> int:
    """What one analyst query may use: 40% of the machine's memory, at most 4 GiB. DuckDB's own default
    (80%) lets one query of the dashboard's SQL page take the server, and the machine, down with it."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):   # no sysconf (Windows): assume a small machine
        total = 4 * 2**30
    return max(256, min(4096, int(0.4 * total / 2**20)))


EXPLAIN_PREFIX = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?", re.IGNORECASE)
ALLOWED = "SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"
WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "COPY")   # what DuckDB takes as a CTE's body besides SELECT
PIVOT_ONLY_IN_QUERIES = ("a PIVOT without IN (...) runs as several statements (DuckDB reads its values from the data "
                         "first), so it is allowed only in a query of its own: PIVOT ... or SELECT ... FROM (PIVOT ...); "
                         "in EXPLAIN or elsewhere, list the values: PIVOT t ON col IN ('a', 'b') ...")
SCHEMA_OVERVIEW = """
SELECT t.table_name, CASE t.table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS kind,
       c.column_name, c.data_type, c.ordinal_position
FROM information_schema.tables t
JOIN information_schema.columns c USING (table_catalog, table_schema, table_name)
WHERE t.table_schema = 'main'
ORDER BY kind, t.table_name, c.ordinal_position"""
Cast = Literal["text", "json"]


class Result(NamedTuple):
    """One query's result: at most max_rows rows; truncated: whether more existed; numeric: per column, whether
    DuckDB typed it as a number (what a display aligns right once values are text)."""
    columns: list[str]
    rows: list[tuple[str | None, ...]]
    truncated: bool
    numeric: list[bool]


class QueryRefused(MarqueeError):
    """The statement is not a single read-only query."""


def _tokens(query: str) -> list[tuple[int, str, duckdb.token_type]]:
    """(start, text, kind) of each token of `query`; DuckDB's token positions count UTF-8 bytes."""
    text, found = query.encode(), duckdb.tokenize(query)
    ends = [start for start, _ in found[1:]] + ([len(text)] if found else [])
    return [(start, text[start:end].decode(errors="replace").strip(), kind)
            for (start, kind), end in zip(found, ends, strict=True)]


def _without_tail(query: str) -> str:
    """`query` without the semicolons and comments after its last statement: the worker runs a query as a
    subquery, where `SELECT 1; -- done` would not parse."""
    end = len(query.encode())
    for start, word, kind in reversed(_tokens(query)):
        if kind != duckdb.token_type.comment and not word.startswith(";"):
            break
        end = start
    return query.encode()[:end].decode()


def check_query(query: str) -> str:
    """Return the one allowed statement in `query`, as the worker is to run it (checked as such), or raise
    QueryRefused saying why."""
    try:
        query.encode()
    except UnicodeEncodeError as exc:   # a shell argument's stray bytes reach Python as lone surrogates
        raise QueryRefused(f"the query holds bytes that are not UTF-8 text (at character {exc.start + 1})") from None
    query = _without_tail(query)
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryRefused("could not parse the query: " + str(exc).splitlines()[0]) from None
    if not statements:
        raise QueryRefused(f"the query holds no statement, only spaces or comments: write one {ALLOWED} query")
    if len(statements) != 1:
        raise QueryRefused(f"exactly one statement is allowed, got {len(statements)}")
    kind = statements[0].type
    if (verb := _write_in_parentheses(query)) is not None:
        raise QueryRefused(f"{verb} inside a query is not allowed: only {ALLOWED} queries (read-only)")
    if kind == duckdb.StatementType.MULTI:
        return _pivot_as_query(query)
    if kind == duckdb.StatementType.EXPLAIN:
        inner, found = EXPLAIN_PREFIX.subn("", query, count=1)
        if not found:
            raise QueryRefused("write EXPLAIN [ANALYZE] at the start of the query")
        check_query(inner)   # EXPLAIN ANALYZE runs its statement: it must be a query too
    elif kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"{kind.name} statements are not allowed: only {ALLOWED} queries (read-only)")
    return query


def _write_in_parentheses(query: str) -> str | None:
    """The statement verb that opens a parenthesis in `query`, if any: DuckDB parses
    `WITH a AS (DELETE FROM items RETURNING *) SELECT * FROM a` (or COPY, INSERT, UPDATE) as a SELECT, which
    only the read-only store and the locked file system would stop. Comments in between are skipped."""
    words = [word.upper() for _, word, kind in _tokens(query) if kind != duckdb.token_type.comment]
    return next((verb for opening, verb in zip(words, words[1:], strict=False)   # pairs of neighbours
                 if opening == "(" and verb in WRITE_VERBS), None)


def _pivot_as_query(query: str) -> str:
    """`query` inside SELECT * FROM (...), where it can only be a query, or QueryRefused. DuckDB plans a PIVOT that
    takes its IN list from the data as several statements (MULTI): one CREATE TEMPORARY TYPE ... AS ENUM (SELECT
    DISTINCT ...) over the pivot's own source for each list, then the statement holding the PIVOT, whose type
    Python cannot see. As the one statement of a text that starts with SELECT, that statement is a query."""
    wrapped = f"SELECT * FROM (\n{query}\n)"
    try:
        statements = duckdb.extract_statements(wrapped)
    except duckdb.Error:
        statements = []
    if len(statements) != 1:
        raise QueryRefused(PIVOT_ONLY_IN_QUERIES)
    return wrapped


def _run(query: str, home: str | os.PathLike | None, max_rows: int, timeout: float, cast: Cast
         ) -> tuple[list[str], list[tuple[str | None, ...]], list[bool]]:
    """Check `query`, then run it in a worker process (data/sql_worker.py): (columns, at most max_rows + 1
    rows, numeric; none for a statement with no result). The process is killed at the timeout or on
    Ctrl-C, wherever DuckDB is (an interrupt would wait for the end of a batch: minutes for some)."""
    if max_rows < 1:
        raise MarqueeError("max_rows must be at least 1")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise MarqueeError(f"timeout must be a positive number of seconds, at most {MAX_TIMEOUT:,.0f} (a day)")
    request = {"query": check_query(query), "home": str(paths.home(home)), "max_rows": max_rows, "cast": cast,
               "memory_mib": memory_limit_mib()}
    # -P: the worker's `data` package is Marquee's, never a `data/` folder in the user's working directory
    proc = subprocess.Popen([sys.executable, "-P", "-m", "data.sql_worker", str(os.getpid())], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(json.dumps(request).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MarqueeError(f"query stopped after {timeout:g} s (raise the timeout to let it run longer)") from None
    except BaseException:   # Ctrl-C: the query must not run on
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0 or not out:
        why = (err.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise MarqueeError(f"query failed: its process ended without an answer ({why}); "
                           "a single huge value can exhaust memory: filter, aggregate or LIMIT it")
    reply = json.loads(out)
    if reply.get("error") == "memory":
        raise MarqueeError(f"query needs more than the {request['memory_mib']:,} MiB of memory an analyst query may "
                           f"use ({MEMORY_RULE}) and cannot spill to disk: narrow it (filter, aggregate or LIMIT)")
    if reply.get("error") == "failed":
        raise MarqueeError("query failed: " + reply["message"])
    if "error" in reply:
        raise MarqueeError(reply["message"])
    return reply["columns"], [tuple(row) for row in reply["rows"]], reply["numeric"]


def fetch_readonly(query: str, home: str | os.PathLike | None = None, max_rows: int = DEFAULT_MAX_ROWS,
                   timeout: float = DEFAULT_TIMEOUT, cast: Cast = "text") -> Result:
    """Run one read-only query; at most `max_rows` rows, each value (NULL: None) as

    - cast="text": the text DuckDB writes for it, `CAST(value AS VARCHAR)` (exact: a DataFrame or Python
      would round a HUGEINT, write 0E-10 for a DECIMAL zero, 30 days for a month, 9999-12-31 for infinity);
    - cast="json": the JSON DuckDB writes for it, `to_json(value)`: numbers as numbers (HUGEINT and BIGNUM whole,
      DECIMAL digit for digit, nested too, as its text above; NaN and infinities as the non-JSON NaN / Infinity /
      -Infinity, a DECIMAL(38, 38) as the non-JSON -.5), LISTs and ARRAYs as arrays, STRUCTs and MAPs as objects,
      every other value as its text above in a JSON string.

    Raises QueryRefused for anything but a query, MarqueeError for a query that fails or runs too long."""
    columns, rows, numeric = _run(query, home, max_rows, timeout, cast)
    return Result(list(columns), rows[:max_rows], len(rows) > max_rows, numeric)


def schema_overview(home: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every table and view of the store with its columns: table_name, kind, column_name, data_type."""
    with store.read(home) as con:
        return con.sql(SCHEMA_OVERVIEW).df()
