"""`marquee ingest`: validate a user's file in an in-memory DuckDB, then publish it in one transaction.

All or nothing: the first bad row refuses the whole file (InputError naming file, row, column and
reason) and the store is untouched. With `skip_invalid` the good rows load and the bad ones land
in `rejected_rows` with their reasons. Re-ingesting the same rows never duplicates them: users,
items and reviews upsert by id; interactions skip events already stored (same user, item,
timestamp and event type). Users are implied by their events: unknown user ids in interactions
or reviews are registered in `users`. Items are not: an event's item must already exist.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data import features, store
from data.errors import InputError, MarqueeError
from data.ingest_read import connect, file_format, ident, stage
from data.ingest_spec import ENTITIES, RATING_RANGE, Entity
from data.ingest_validate import build_checked, find_problems, resolve_columns
from data.paths import staging_dir, store_path
from data.wording import plural

KNOWN_ITEMS = "SELECT item_id FROM items"
STORED_DATES = "SELECT item_id, release_date FROM items WHERE release_date IS NOT NULL"
REGISTER_USERS = """INSERT INTO users (user_id) SELECT user_id FROM memory.main.file_users WHERE user_id IS NOT NULL
ON CONFLICT DO NOTHING"""
INSERT_NEW_EVENTS = """INSERT INTO interactions (user_id, item_id, ts, rating, event_type)
SELECT g.user_id, g.item_id, g.ts, g.rating, g.event_type FROM memory.main.good g
WHERE NOT EXISTS (SELECT 1 FROM interactions i WHERE i.user_id = g.user_id AND i.item_id = g.item_id
                  AND i.ts = g.ts AND i.event_type = g.event_type)"""
INSERT_ALL_EVENTS = """INSERT INTO interactions (user_id, item_id, ts, rating, event_type)
SELECT user_id, item_id, ts, rating, event_type FROM memory.main.good"""   # first load: nothing to skip
TOUCHED = "(SELECT item_id, day FROM memory.main.day_totals)"
# Events: the (item, day, user) groups of 2+ rows or with a bad row, in one pass that proves the
# file clean when it finds no bad row and no repeated event. Two equal events share (item, day,
# user), so only such a group can hold one; a group of exactly 2 holds one only if both rows hash
# alike on (timestamp, event type): x XOR y = 0 iff x = y (a hash collision only costs a second
# look). Groups that may repeat get an exact second look.
EVENT_GROUPS = features.REPEAT_VISITS.format(
    events="memory.main.checked",
    extra=""", count(__err) AS errors,
           count(*) > 2 OR (count(*) = 2 AND bit_xor(hash(ts, event_type)) = 0) AS may_repeat""",
    having=" OR count(__err) > 0")
EVENT_REPEATS = """SELECT count(*) FROM (
    SELECT 1 FROM memory.main.typed c SEMI JOIN (SELECT item_id, day, user_id FROM memory.main.repeats WHERE may_repeat) p
        ON p.item_id = c.item_id AND p.day = CAST(c.ts AS DATE) AND p.user_id = c.user_id
    GROUP BY c.user_id, c.item_id, c.ts, c.event_type HAVING count(*) > 1)"""
# rejected_rows keeps the rejects of each file's latest load: loading it again replaces them
FORGET_REJECTS = 'DELETE FROM rejected_rows WHERE entity = $entity AND file = $file'
SAVE_REJECTS = """INSERT INTO rejected_rows (entity, file, "row", "column", reason, raw)
SELECT entity, file, "row", "column", reason, raw FROM memory.main.rejects"""


@dataclass
class IngestResult:
    entity: str
    file: str
    rows: int            # data rows in the file
    new: int             # rows added to the store
    updated: int         # rows whose id was already stored (upserted; 0 for interactions)
    unchanged: int       # rows already stored as they are (skipped, not duplicated)
    rejected: int        # rows refused (only with skip_invalid)
    users_registered: int = 0

    def summary(self) -> str:
        parts = [f"{self.entity}: {plural(self.rows, 'row')} read from {self.file}", f"{self.new:,} new"]
        if self.updated:
            parts.append(f"{self.updated:,} updated")
        if self.unchanged:
            parts.append(f"{self.unchanged:,} already in the store")
        parts.append(f"{self.rejected:,} rejected" + (" (see rejected_rows)" if self.rejected else ""))
        if self.users_registered:
            parts.append(f"{plural(self.users_registered, 'new user')} registered")
        return ", ".join(parts)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _copy_from_store(con: duckdb.DuckDBPyConnection, home: str | os.PathLike | None, table: str, query: str) -> None:
    """In-memory `table` from a query of the store, for checks that hold a file against what is stored."""
    with store.read(home) as s:
        rows = s.sql(query).to_arrow_table()
    con.register("_from_store", rows)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _from_store")   # table: a name of ours
    con.unregister("_from_store")


def _upsert(con: duckdb.DuckDBPyConnection, entity: Entity, present: list[str]) -> tuple[int, int, int]:
    """Insert-or-update entity rows by id, touching only the columns the file had; a row equal to the
    stored one is left alone (its ingested_at too). -> (new, updated, unchanged)."""
    key = ident(entity.key[0])
    cols = ", ".join(ident(c) for c in present)
    same = " AND ".join(f"s.{ident(c)} IS NOT DISTINCT FROM g.{ident(c)}" for c in present)
    stored = f"EXISTS (SELECT 1 FROM {entity.name} s WHERE s.{key} = g.{key})"
    equal = f"EXISTS (SELECT 1 FROM {entity.name} s WHERE s.{key} = g.{key} AND {same})"
    total, new, unchanged = con.execute(f"SELECT count(*), count(*) FILTER (NOT {stored}), count(*) FILTER ({equal}) "
                                        "FROM memory.main.good g").fetchall()[0]
    updates = [c for c in present if c != entity.key[0]]
    action = ("DO UPDATE SET " + ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in updates)
              + ", ingested_at = excluded.ingested_at" if updates else "DO NOTHING")   # when it last changed
    con.execute(f"INSERT INTO {entity.name} ({cols}) SELECT {cols} FROM memory.main.good g WHERE NOT {equal} "
                f"ON CONFLICT ({key}) {action}")   # names come from the entity spec, not the file
    return new, total - new - unchanged, unchanged


def _publish(con: duckdb.DuckDBPyConnection, entity: Entity, present: list[str], n_good: int
             ) -> tuple[int, int, int, int]:
    """Runs inside the store transaction. -> (new, updated, unchanged, users_registered)."""
    registered = 0
    if entity.registers_users and "user_id" in present:
        registered = con.execute(REGISTER_USERS).fetchall()[0][0]
    if entity.name == "interactions":
        empty = not con.execute("SELECT count(*) FROM interactions").fetchall()[0][0]
        new = con.execute(INSERT_ALL_EVENTS if empty else INSERT_NEW_EVENTS).fetchall()[0][0]
        # a first load builds the table from the totals it already has; later ones recompute the
        # (item, day) pairs they touched from the store; a file that added nothing changes no feature row
        if new:
            _say("refreshing item_engagement_daily ...")
            if empty:
                features.refresh_item_engagement_daily(con, loaded=("memory.main.day_totals", "memory.main.repeats"))
            else:
                features.refresh_item_engagement_daily(con, touched=TOUCHED)
        return new, 0, n_good - new, registered
    new, updated, unchanged = _upsert(con, entity, present)
    return new, updated, unchanged, registered


def _signature(file: Path) -> tuple[int, int] | None:
    try:
        st = file.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _implied(entity: str, found: dict) -> set[str]:
    """Store columns filled by a default even when the file lacks them (see DEFAULTS)."""
    return {"interactions": {"event_type"}, "reviews": {"source"},
            "items": {"release_year"} if "release_date" in found else set()}.get(entity, set())


def _clean_events(con: duckdb.DuckDBPyConnection) -> bool:
    """Build `repeats` from every row of an events file; True when that proves the file clean (no row
    with a problem, no repeated event), so the row-by-row listing of problems can be skipped."""
    con.execute("CREATE OR REPLACE TABLE repeats AS " + EVENT_GROUPS)
    errors, may_repeat = con.execute("SELECT sum(errors), count(*) FILTER (may_repeat) FROM repeats").fetchall()[0]
    return not errors and not (may_repeat and con.execute(EVENT_REPEATS).fetchall()[0][0])


def _validate(con: duckdb.DuckDBPyConnection, spec: Entity, file: Path, home: str | os.PathLike | None,
              skip_invalid: bool, rating_range: tuple[float, float]) -> tuple[int, int, dict]:
    """Stage and check `file`; leaves view `good` (rows to load), table `rejects`, table `file_users`
    (the user ids of the good rows, for an entity that registers users) and, for interactions,
    tables `day_totals` and `repeats` (see features.DAY_TOTALS) of the good rows.

    Raises InputError on the first problem unless `skip_invalid`. -> (rows, rejected, columns found).
    """
    _say(f"reading {file} ...")
    found = resolve_columns(spec, stage(con, file), file)
    if spec.references_items and "item_id" in found:
        _copy_from_store(con, home, "known_items", KNOWN_ITEMS)
    if spec.name == "items" and "release_year" in found and "release_date" not in found:
        _copy_from_store(con, home, "stored_dates", STORED_DATES)
    _say("validating ...")
    try:
        build_checked(con, spec, found, rating_range, materialize=file_format(file) == "csv")
        clean = spec.name == "interactions" and _clean_events(con)
        n_problems = 0 if clean else find_problems(con, spec, first_only=not skip_invalid)
    except duckdb.Error as exc:
        raise InputError(file, "could not read the file: " + str(exc).splitlines()[0]) from None
    if n_problems and not skip_invalid:
        row, column, reason = con.execute("SELECT * FROM problems").fetchall()[0]
        raise InputError(file, reason, row=int(row), column=column)
    rows = con.execute("SELECT count(*) FROM src").fetchall()[0][0]
    if n_problems:
        con.execute("""CREATE OR REPLACE TABLE rejects AS
            SELECT $entity AS entity, $file AS file, p."row", p."column", p.reason,
                   json_remove(to_json(s), '$.__row') AS raw
            FROM problems p JOIN src s ON s.__row = p."row" ORDER BY p."row" """,
                    {"entity": spec.name, "file": str(file)})
        con.execute("""CREATE OR REPLACE VIEW good AS SELECT * FROM memory.main.typed c
            WHERE NOT EXISTS (SELECT 1 FROM memory.main.rejects r WHERE r."row" = c.__row)""")
    else:
        con.execute("CREATE OR REPLACE VIEW good AS SELECT * FROM memory.main.typed")
    if spec.registers_users and "user_id" in found:   # the users the good rows imply, before the store is locked
        # (a NULL is dropped only on insert: filtered here, DuckDB would trim every row's id before the DISTINCT)
        users = "file_user_ids" if clean else "(SELECT DISTINCT user_id FROM memory.main.good)"
        con.execute(f"CREATE OR REPLACE TABLE file_users AS SELECT user_id FROM {users}")
    if spec.name == "interactions":
        if not clean:   # `repeats` of the good rows only
            con.execute("CREATE OR REPLACE TABLE repeats AS " + features.REPEAT_VISITS.format(
                events="memory.main.good", extra="", having=""))
        con.execute("CREATE OR REPLACE TABLE day_totals AS " + features.DAY_TOTALS.format(events="memory.main.good"))
    return rows, n_problems, found


def ingest(entity: str, path: str | os.PathLike, home: str | os.PathLike | None = None,
           skip_invalid: bool = False, rating_range: tuple[float, float] = RATING_RANGE) -> IngestResult:
    """Validate `path` as `entity` rows and publish them; InputError (store unchanged) on a bad row."""
    if entity not in ENTITIES:
        raise MarqueeError(f"unknown entity {entity!r} (one of {', '.join(ENTITIES)})")
    lo, hi = rating_range
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise MarqueeError(f"rating range: need two finite numbers LO < HI, got {lo:g} {hi:g}")
    spec, file = ENTITIES[entity], Path(path)
    if not store_path(home).exists():
        raise MarqueeError(f"no store at {store_path(home)}: run `marquee init` first")
    con = connect(staging_dir(home) / "duckdb_tmp")
    try:
        signature = _signature(file)
        rows, rejected, found = _validate(con, spec, file, home, skip_invalid, rating_range)
        present = [c.store_name for c in spec.columns if c.name in found or c.store_name in _implied(entity, found)]
        # how many are new is known only once they are written: the summary line says it
        _say(f"publishing the new or changed rows of {plural(rows - rejected, 'valid row')} ...")
        with store.write_attached(con, home):
            new, updated, unchanged, registered = _publish(con, spec, present, rows - rejected)
            con.execute(FORGET_REJECTS, {"entity": spec.name, "file": str(file)})
            if rejected:
                con.execute(SAVE_REJECTS)
            if _signature(file) != signature:   # loading re-reads a Parquet file: it must be the one checked
                raise InputError(file, "the file changed while it was being ingested; nothing was loaded")
            _say("committing ...")
    finally:
        con.close()
    return IngestResult(entity, str(file), rows, new, updated, unchanged, rejected, registered)
