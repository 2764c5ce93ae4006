"""The run registry, and publishing a run's outputs so readers see all of them or none.

A run is one trained model (`pipeline` is recsys, sentiment or forecast). Training starts the run,
saves artifacts under `$MARQUEE_HOME/artifacts/<run_id>/` and marks it succeeded; scoring later
publishes that run's outputs (rows tagged with its `run_id`) in one short transaction. The
`*_latest` views serve the outputs most recently published by a succeeded run.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from data import paths, run_owner, store
from data.errors import MarqueeError

PIPELINES = ("recsys", "sentiment", "forecast")
OUTPUT_TABLES = ("recommendations", "similar_items", "review_sentiment", "forecasts", "item_sentiment_daily")
# the column a run's rows are replaced by (publish's `replace_keys`): one score per review and run
OUTPUT_KEYS = {"review_sentiment": "review_id"}

INSERT_RUN = """INSERT INTO runs (run_id, pipeline, model, params, data_snapshot, artifact_uri, status, started_at)
VALUES ($run_id, $pipeline, $model, $params, $snapshot, $uri, 'running', $now)"""
# finished_at is when training finished: later publishes of the same run's outputs keep it
FINISH_RUN = """UPDATE runs SET finished_at = CASE WHEN status = 'succeeded' THEN finished_at ELSE $now END,
status = 'succeeded' WHERE run_id = $run_id"""
FAIL_RUN = "UPDATE runs SET status = 'failed', finished_at = $now, error = $error WHERE run_id = $run_id"
SET_METRICS = "UPDATE runs SET metrics = $metrics WHERE run_id = $run_id"
GET_RUN = "SELECT * FROM runs WHERE run_id = $run_id"
PRUNED = "SELECT artifact_uri IS NULL FROM runs WHERE run_id = $run_id"
LATEST_RUN = """SELECT * FROM runs WHERE pipeline = $pipeline AND status = 'succeeded'
ORDER BY finished_at DESC LIMIT 1"""
LIST_RUNS = """SELECT run_id, pipeline, model, status, started_at, finished_at, params, metrics, data_snapshot,
       artifact_uri, error
FROM runs ORDER BY started_at DESC LIMIT $limit"""
SET_MODEL = "UPDATE runs SET model = $model WHERE run_id = $run_id"
RECORD_OUTPUT = "INSERT OR REPLACE INTO run_outputs VALUES ($run_id, $table, $rows, $now)"
RUNNING = "SELECT run_id FROM runs WHERE status = 'running'"
# finished_at stays NULL: when the process died is not known
ABANDON_RUN = "UPDATE runs SET status = 'failed', error = $error WHERE run_id = $run_id AND status = 'running'"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Run:
    run_id: str
    pipeline: str
    model: str
    artifacts: Path   # where this run's model files go


def start(pipeline: str, model: str, params: Mapping[str, Any], data_snapshot: Mapping[str, Any] | None = None,
          home: str | os.PathLike | None = None) -> Run:
    """Register a new run as `running`; returns it with its artifact folder."""
    if pipeline not in PIPELINES:
        raise MarqueeError(f"unknown pipeline {pipeline!r} (one of {', '.join(PIPELINES)})")
    run_id = f"{pipeline}-{_now():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    folder = paths.artifacts_dir(run_id, home)
    try:
        run_owner.claim(folder)
        with store.write(home) as con:
            reap(con, home)
            con.execute(INSERT_RUN, {"run_id": run_id, "pipeline": pipeline, "model": model,
                                     "params": json.dumps(params, default=str),
                                     "snapshot": json.dumps(data_snapshot or {}, default=str),
                                     "uri": folder.relative_to(paths.home(home)).as_posix(), "now": _now()})
    except BaseException:   # not registered (a busy or full store): no folder left that no run names
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Run(run_id, pipeline, model, folder)


def abandoned(run_id: str, home: str | os.PathLike | None = None) -> str | None:
    """Why a `running` run can never finish (its process is gone: data.run_owner), or None while it may."""
    return run_owner.abandoned(paths.run_folder(run_id, home))


def abandoned_runs(con: duckdb.DuckDBPyConnection, home: str | os.PathLike | None = None) -> dict[str, str]:
    """The store's abandoned runs: run_id -> why (see `abandoned`)."""
    found = {run_id: abandoned(run_id, home) for (run_id,) in con.execute(RUNNING).fetchall()}
    return {run_id: why for run_id, why in found.items() if why}


def mark_failed(run_id: str, home: str | os.PathLike | None = None) -> None:
    """Mark a run stuck `running` failed by hand: one killed under a Marquee that recorded no owner, or on a
    machine that is gone, which `reap` cannot tell from a live one. Refused while its process is seen running."""
    folder = paths.run_folder(run_id, home)
    with store.write(home) as con:
        found = con.execute("SELECT status FROM runs WHERE run_id = $run_id", {"run_id": run_id}).fetchall()
        if not found:
            raise MarqueeError(f"unknown run {run_id!r} (see `marquee runs`)")
        if found[0][0] != "running":
            raise MarqueeError(f"run {run_id!r} is {found[0][0]}, not running: nothing to mark")
        if alive := run_owner.still_running(folder):
            raise MarqueeError(f"run {run_id!r} is still training ({alive}): stop it (Ctrl-C or kill) instead")
        con.execute(ABANDON_RUN, {"run_id": run_id, "error": "abandoned: marked failed by hand "
                                                             "(`marquee runs --mark-failed`)"})
    run_owner.release(folder)


def reap(con: duckdb.DuckDBPyConnection, home: str | os.PathLike | None = None) -> None:
    """Mark every abandoned run failed, in the caller's write transaction (the next train and prune call it).
    Its folder keeps any partial files, which `marquee prune` then removes."""
    for run_id, why in abandoned_runs(con, home).items():
        con.execute(ABANDON_RUN, {"run_id": run_id, "error": why})


def _disown(run_id: str, home: str | os.PathLike | None) -> None:
    """A finished run needs no owner any more (its status says it all)."""
    run_owner.release(paths.run_folder(run_id, home))


def _merge_metrics(con: duckdb.DuckDBPyConnection, run_id: str, metrics: Mapping[str, Any]) -> None:
    row = con.execute("SELECT metrics FROM runs WHERE run_id = $run_id", {"run_id": run_id}).fetchall()
    row = row[0] if row else None
    if row is None:
        raise MarqueeError(f"unknown run {run_id!r}")
    merged = {**json.loads(row[0] or "{}"), **metrics}
    con.execute(SET_METRICS, {"metrics": json.dumps(merged, default=float), "run_id": run_id})


def _insert_output(con: duckdb.DuckDBPyConnection, table: str, run_id: str, frame: Any, replace: bool,
                   keys: list | None = None) -> int:
    """Insert `frame` into output `table` tagged with `run_id`, after dropping the run's rows of `keys`
    (values of the table's OUTPUT_KEYS column) when given, and in a keyed table the run's rows that `frame`
    writes again; returns the run's rows in the table now."""
    if table not in OUTPUT_TABLES:
        raise MarqueeError(f"{table!r} is not an output table")
    if keys is not None and table not in OUTPUT_KEYS:
        raise MarqueeError(f"{table!r} has no key to replace rows by")
    if isinstance(frame, str | Path):
        con.read_parquet(str(frame)).create_view("_marquee_output", replace=True)
    else:
        con.register("_marquee_output", frame)
    if table == "item_sentiment_daily":   # a feature: one current version, wholly replaced
        con.execute("DELETE FROM item_sentiment_daily")
    elif replace:
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id", {"run_id": run_id})  # table is whitelisted
    elif table in OUTPUT_KEYS:   # one row per key and run, also when two scorers publish the same new reviews
        key = OUTPUT_KEYS[table]
        con.execute(f"DELETE FROM {table} WHERE run_id = $run_id AND ({key} IN (SELECT unnest($keys)) "
                    f"OR {key} IN (SELECT {key} FROM _marquee_output))",
                    {"run_id": run_id, "keys": list(keys or [])})   # table and column are whitelisted
    columns = [c[0] for c in con.execute("DESCRIBE _marquee_output").fetchall()]
    select = "SELECT * EXCLUDE (run_id), $run_id AS run_id" if "run_id" in columns else "SELECT *, $run_id AS run_id"
    con.execute(f"INSERT INTO {table} BY NAME {select} FROM _marquee_output", {"run_id": run_id})
    con.unregister("_marquee_output") if not isinstance(frame, str | Path) else con.execute("DROP VIEW _marquee_output")
    return con.execute(f"SELECT count(*) FROM {table} WHERE run_id = $run_id", {"run_id": run_id}).fetchall()[0][0]


def publish(run_id: str, outputs: Mapping[str, Any] | None = None, *, metrics: Mapping[str, Any] | None = None,
            replace: bool = True, replace_keys: Mapping[str, list] | None = None, model: str | None = None,
            home: str | os.PathLike | None = None) -> dict[str, int]:
    """Publish outputs and metrics of `run_id` and mark it succeeded, in one transaction.

    outputs: table name -> pandas DataFrame, Arrow table or Parquet path (columns by name; `run_id`
    is added). `replace` drops the run's earlier rows in those tables first; `replace=False`
    appends (incremental scoring), after dropping the run's rows whose key (OUTPUT_KEYS) is in
    `replace_keys[table]` and those it writes again: re-scored rows replace their own (also when two
    scorers publish the same reviews one after the other) and the rest are left alone, not rewritten.
    `model` renames the run's model (what `auto` chose, e.g. `auto:blend`).
    Returns the run's total rows per table after the call (appends included). Readers see everything or nothing of this call.
    """
    if not run_id:
        raise MarqueeError("publish needs a run_id")
    counts: dict[str, int] = {}
    with store.write(home) as con:
        found = con.execute(PRUNED, {"run_id": run_id}).fetchall()
        if not found:
            raise MarqueeError(f"unknown run {run_id!r}")
        if found[0][0] and outputs:   # a score that loaded the model before: its rows would make a pruned run served
            raise MarqueeError(f"run {run_id!r} was pruned (`marquee prune`) while it was scoring: nothing was "
                               f"published; score with a newer run (`marquee runs`)")
        for table, frame in (outputs or {}).items():
            counts[table] = _insert_output(con, table, run_id, frame, replace, (replace_keys or {}).get(table))
            con.execute(RECORD_OUTPUT, {"run_id": run_id, "table": table, "rows": counts[table], "now": _now()})
        if model is not None:
            con.execute(SET_MODEL, {"run_id": run_id, "model": model})
        if metrics:
            _merge_metrics(con, run_id, metrics)
        con.execute(FINISH_RUN, {"run_id": run_id, "now": _now()})
    _disown(run_id, home)
    return counts


def record_metrics(run_id: str, metrics: Mapping[str, Any], home: str | os.PathLike | None = None) -> None:
    """Merge `metrics` into the run's metrics JSON (e.g. after `evaluate`)."""
    with store.write(home) as con:
        _merge_metrics(con, run_id, metrics)


def failure(exc: BaseException) -> str:
    """A run's error from the exception that ended it. Ctrl-C and SIGTERM (which the CLI turns into a
    KeyboardInterrupt; DuckDB's own word for one landing in a query is "Query interrupted") say so: a job a
    scheduler stopped reads `interrupted`, not `KeyboardInterrupt: `."""
    if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"):
        return "interrupted (Ctrl-C or SIGTERM)"
    return f"{type(exc).__name__}: {exc}"


def fail(run_id: str, error: str, home: str | os.PathLike | None = None) -> None:
    with store.write(home) as con:
        con.execute(FAIL_RUN, {"run_id": run_id, "error": error[:2000], "now": _now()})
    _disown(run_id, home)
    with contextlib.suppress(OSError):   # a run that failed before saving anything leaves no empty folder
        (paths.run_folder(run_id, home)).rmdir()


def _row_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    """Runs as dicts of DuckDB's own values (NULL is None), their JSON columns parsed."""
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for run in out:
        for key in ("params", "metrics", "data_snapshot"):
            run[key] = json.loads(run[key] or "{}")
    return out


def _row_dict(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> dict | None:
    return next(iter(_row_dicts(con, sql, params)), None)


def _settled(run: dict, home: str | os.PathLike | None) -> dict:
    """An abandoned run as the next write will record it (`reap`): failed, with why; readers cannot write it."""
    why = abandoned(run["run_id"], home) if run["status"] == "running" else None
    return {**run, "status": "failed", "error": why} if why else run


def _located(run: dict | None, home: str | os.PathLike | None) -> dict | None:
    """artifact_uri as a full path: runs record it relative to the home, so a home can be moved or
    copied with its models. Runs recorded before that hold an absolute path, into the home it was then:
    the home's own folder of the run wins over it, as it does for `marquee prune` (which removes that one)."""
    if run is not None and run.get("artifact_uri"):
        own = paths.run_folder(run["run_id"], home)
        run["artifact_uri"] = str(own if own.is_dir() else paths.home(home) / run["artifact_uri"])
    return run


def get(run_id: str, home: str | os.PathLike | None = None) -> dict:
    """One run as a dict (params/metrics/data_snapshot decoded); MarqueeError if unknown."""
    with store.read(home) as con:
        run = _row_dict(con, GET_RUN, {"run_id": run_id})
    if run is None:
        raise MarqueeError(f"unknown run {run_id!r} (see `marquee runs`)")
    return _located(_settled(run, home), home)


def latest(pipeline: str, home: str | os.PathLike | None = None) -> dict | None:
    """The newest succeeded run of `pipeline`, or None."""
    with store.read(home) as con:
        return _located(_row_dict(con, LATEST_RUN, {"pipeline": pipeline}), home)


def resolve(pipeline: str, run_id: str | None, home: str | os.PathLike | None = None) -> dict:
    """`run_id` if given (must belong to `pipeline` and have succeeded), else the latest succeeded run; clear error if
    none."""
    run = get(run_id, home) if run_id else latest(pipeline, home)
    if run is None:
        raise MarqueeError(f"no trained {pipeline} model in the store: run `marquee train {pipeline}` first")
    if run["pipeline"] != pipeline:
        raise MarqueeError(f"run {run['run_id']!r} is a {run['pipeline']} run, not {pipeline}")
    if run["status"] != "succeeded":   # publishing a failed run's outputs would mark it succeeded
        raise MarqueeError(_unusable(run))
    if not run["artifact_uri"]:
        raise MarqueeError(f"the model files of run {run['run_id']!r} were removed by `marquee prune`: "
                           f"use a newer run (`marquee runs`) or train again")
    return run


def _unusable(run: dict) -> str:
    """Why a run that did not succeed has no model to score or evaluate (a failed one may keep partial files)."""
    if run["status"] == "failed":
        why = next(iter((run.get("error") or "").strip().splitlines()), "") or "no error recorded"
        return f"run {run['run_id']!r} failed ({why}): it has no model to use; see `marquee runs`"
    return f"run {run['run_id']!r} is still {run['status']}: it has no model to use until it succeeds"


def list_runs(limit: int = 50, home: str | os.PathLike | None = None) -> list[dict]:
    """The newest `limit` runs, newest first (not a DataFrame: pandas 3 would turn a NULL into NaN)."""
    with store.read(home) as con:
        listed = _row_dicts(con, LIST_RUNS, {"limit": limit})
    return [_settled(run, home) for run in listed]
