"""Short-lived connections to the DuckDB store.

DuckDB lets one process write and shuts every other process out, readers included, while it
does. So readers open a read-only connection per request and retry on a lock; writers open
one briefly, do all their work in a single transaction, and close (docs/schema.md, "Concurrency model").
"""
from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TypeVar

import duckdb

from data.errors import MachineError, MarqueeError, StoreBusyError, cannot, exit_code_for
from data.paths import store_path

SCHEMA_VERSION = 2
# what `marquee init` runs to bring a store of version N-1 to N (schema.sql then adds what is missing)
MIGRATIONS = {
    # a score records which version of its review it is of; scores published before knew only the publish time:
    # a review ingested since then is marked unknown (NULL), so it is scored again, as before the upgrade
    2: """ALTER TABLE review_sentiment ADD COLUMN review_ingested_at TIMESTAMP;
UPDATE review_sentiment s SET review_ingested_at = r.ingested_at FROM reviews r, run_outputs o
WHERE r.review_id = s.review_id AND o.run_id = s.run_id AND o.table_name = 'review_sentiment'
  AND r.ingested_at < o.published_at;""",
}
T = TypeVar("T")
_LOCK_WORDS = ("lock", "Conflicting", "being used by another process")


def _is_lock_error(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException | duckdb.ConnectionException) and any(
        w in str(exc) for w in _LOCK_WORDS)


def _retry_on_lock(open_fn: Callable[[], T], path: Path, timeout: float) -> T:
    """Call `open_fn`, retrying with jittered exponential backoff while another process holds `path`."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return open_fn()
        except duckdb.Error as exc:
            if not _is_lock_error(exc):   # not a DuckDB file, a folder, no permission, a full disk ...
                error = MachineError if exit_code_for(exc) == 1 else MarqueeError
                raise error(f"{path}: cannot open the store: {str(exc).splitlines()[0]}") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(f"{path}: store is busy (locked by another process for {timeout:.0f}s)") from exc
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)


def _connect(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    return _retry_on_lock(lambda: duckdb.connect(str(path), read_only=read_only), path, timeout)


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        row = next(iter(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()), None)
    except duckdb.CatalogException:
        raise MarqueeError(f"{path}: a DuckDB file but not a Marquee store (no `meta` table); "
                           "point --home at another folder") from None
    found = int(row[0]) if row else None
    if found is not None and found < SCHEMA_VERSION:
        raise MarqueeError(f"{path}: store has schema version {found}, this Marquee needs {SCHEMA_VERSION}; "
                           "run `marquee init` to upgrade it (its data stays)")
    if found != SCHEMA_VERSION:
        raise MarqueeError(f"{path}: store has schema version {found}, this Marquee needs {SCHEMA_VERSION}; "
                           "use the Marquee that made it, or move the store aside and run `marquee init` for a new one")


def _require(path: Path) -> None:
    if not path.exists():
        raise MarqueeError(f"no store at {path}: run `marquee init` (or `marquee load-demo`) first")


@contextmanager
def read(home: str | os.PathLike | None = None, timeout: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one request; closed (releasing the file) on exit."""
    path = store_path(home)
    _require(path)
    con = _connect(path, read_only=True, timeout=timeout)
    try:
        _check_version(con, path)
        yield con
    finally:
        con.close()


@contextmanager
def write(home: str | os.PathLike | None = None, timeout: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on a read-write connection: all of it commits, or none of it (on any error)."""
    path = store_path(home)
    _require(path)
    con = _connect(path, read_only=False, timeout=timeout)
    try:
        con.execute("SET TimeZone = 'UTC'")   # a column's DEFAULT current_timestamp (ingested_at) in UTC too
        _check_version(con, path)
        con.begin()
        try:
            yield con
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.close()


@contextmanager
def write_attached(con: duckdb.DuckDBPyConnection, home: str | os.PathLike | None = None,
                   timeout: float = 120.0) -> Iterator[str]:
    """Attach the store read-write to `con` (e.g. an in-memory staging database) for ONE transaction.

    Lets a job validate in its own in-memory DuckDB and then publish with a parallel
    `INSERT INTO store.t SELECT ... FROM memory.staged`, holding the store's lock only for the
    publish. Inside, unqualified names resolve to the store (`USE store`); the staging database
    is `memory`. Commits on exit, rolls back on any error, always detaches. Yields the alias.
    """
    path = store_path(home)
    _require(path)
    attach = "ATTACH '" + str(path).replace("'", "''") + "' AS store"  # ATTACH takes no parameters
    _retry_on_lock(lambda: con.execute(attach), path, timeout)
    try:
        con.execute("USE store")
        _check_version(con, path)
        con.begin()
        try:
            yield "store"
        except BaseException:
            con.rollback()
            raise
        con.commit()
    finally:
        con.execute("USE memory")
        con.execute("DETACH store")


def init(home: str | os.PathLike | None = None) -> int:
    """Create the store (idempotent): tables, views and the schema version; upgrade an older store's schema
    (MIGRATIONS). Returns the version the store had (SCHEMA_VERSION for a new one): `marquee init` says so."""
    path = store_path(home)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot(f"{path.parent}: cannot create the Marquee home folder", exc) from None
    con = _connect(path, read_only=False, timeout=120.0)
    try:
        row = None
        if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchall()[0][0]:
            row = next(iter(con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()), None)
        found = int(row[0]) if row else SCHEMA_VERSION
        if found > SCHEMA_VERSION:   # made by a newer Marquee
            _check_version(con, path)
        con.begin()
        for version in range(found + 1, SCHEMA_VERSION + 1):   # one transaction: upgraded wholly or not at all
            con.execute(MIGRATIONS[version])
        con.execute(resources.files("data").joinpath("schema.sql").read_text())
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', $v)", {"v": str(SCHEMA_VERSION)})
        con.commit()
    finally:
        con.close()
    return found
