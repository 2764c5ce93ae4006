"""Two real processes: a writer publishing runs for >= 10 s while this process reads.

DuckDB shuts readers out while another process writes; store.read must retry, so no reader
error reaches the caller, no half-published run is ever visible, and no write is lost.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from data import store
from tests.ingest_helpers import REPO

WRITER_SECONDS = 10.0
LATEST = """SELECT l.run_id, count(*) AS n, any_value(r.params) AS params, any_value(r.status) AS status
FROM recommendations_latest l JOIN runs r USING (run_id) GROUP BY l.run_id"""


def test_readers_never_fail_or_see_half_a_run_while_a_writer_publishes(home):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, str(REPO / "tests" / "concurrency_writer.py"), str(home),
                               str(WRITER_SECONDS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=REPO)
    reads, seen, started = 0, set(), time.monotonic()
    while writer.poll() is None:
        with store.read(home) as con:   # any exception here fails the test
            latest = con.execute(LATEST).fetchall()
        reads += 1
        if latest:
            assert len(latest) == 1, f"more than one run visible as latest: {latest}"
            run_id, n, params, status = latest[0]
            assert status == "succeeded" and n == json.loads(params)["rows"], f"partial run {run_id}: {n} rows"
            seen.add(run_id)
    elapsed = time.monotonic() - started
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    published = dict(line.split() for line in out.splitlines())
    print(f"{reads} reads, {len(seen)} distinct latest runs seen, {len(published)} runs published in {elapsed:.1f}s")
    assert elapsed >= WRITER_SECONDS and len(published) >= 3 and reads >= 20
    assert len(seen) >= 2, "the reader should have seen several different runs"
    with store.read(home) as con:   # nothing lost: every run succeeded with all its rows
        counts = dict(con.execute("SELECT run_id, count(*) FROM recommendations GROUP BY run_id").fetchall())
        statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM runs").fetchall()}
    assert statuses == {"succeeded"}
    assert {k: int(v) for k, v in published.items()} == counts
