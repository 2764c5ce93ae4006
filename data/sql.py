"""Read-only analyst SQL over the store, shared by `marquee sql` and the app's SQL page.

Defence in depth: the store is opened read-only; file access, extension loading and community
extensions are switched off and the configuration is then locked, so no later statement can
loosen it; and only ONE statement of type SELECT (which covers WITH, FROM-first, DESCRIBE, SHOW
and SUMMARIZE) or EXPLAIN of such a statement is accepted at all. Results are capped at
`max_rows`.
"""
from __future__ import annotations

import os
import re

import duckdb
import pandas as pd

from data import store
from data.errors import MarqueeError

DEFAULT_MAX_ROWS = 10_000
LOCKDOWN = (
    "SET enable_external_access = false",
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
    for setting in LOCKDOWN:
        con.execute(setting)


def run_readonly(query: str, home: str | os.PathLike | None = None, max_rows: int = DEFAULT_MAX_ROWS
                 ) -> pd.DataFrame:
    """Run one read-only query; at most `max_rows` rows.

    Returns a DataFrame whose `attrs["truncated"]` says whether more rows existed. Raises
    QueryRefused for anything but a query, MarqueeError for a query that fails.
    """
    if max_rows < 1:
        raise MarqueeError("max_rows must be at least 1")
    check_query(query)
    with store.read(home) as con:
        _locked_down(con)
        try:
            rel = con.sql(query)
            frame = rel.limit(max_rows + 1).df() if rel is not None else pd.DataFrame()
        except duckdb.Error as exc:
            raise MarqueeError("query failed: " + " ".join(str(exc).split())) from None
    truncated = len(frame) > max_rows
    frame = frame.head(max_rows)
    frame.attrs["truncated"] = truncated
    return frame


def schema_overview(home: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every table and view of the store with its columns: table_name, kind, column_name, data_type."""
    with store.read(home) as con:
        return con.sql(SCHEMA_OVERVIEW).df()
