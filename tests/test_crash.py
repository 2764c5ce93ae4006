"""SIGKILL an ingest of a 1M-row file in the middle of its write: the store then opens and
holds all of that file or none of it (DuckDB's WAL replays only committed transactions)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from data import store
from data.ingest import ingest
from data.paths import store_path
from tests.ingest_helpers import REPO, to_parquet, write

ROWS = 1_000_000


def _events(home) -> int:
    with store.read(home) as con:
        return con.execute("SELECT count(*) FROM interactions").fetchall()[0][0]


def test_killed_ingest_leaves_all_or_nothing(home, tmp_path):
    ingest("items", write(tmp_path / "items.csv", "item_id,title\n" + "".join(f"{i},T{i}\n" for i in range(500))),
           home)
    big = to_parquet(tmp_path / "big.parquet", f"""
        SELECT 'u' || (i % 40000) AS user_id, CAST((i * 7919) % 500 AS VARCHAR) AS item_id,
               TIMESTAMP '2020-01-01' + to_seconds(i) AS timestamp, CAST(i % 5 + 1 AS DOUBLE) AS rating
        FROM range({ROWS}) t(i)""")
    db = store_path(home)
    size_before = os.path.getsize(db)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", "interactions", str(big), "--home", str(home)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    for line in proc.stderr:   # wait until validation is over and the store transaction begins
        if line.startswith("publishing"):
            break
    # DuckDB writes a big insert's row groups into the file before it commits: once the file
    # has grown by 2 MiB (of ~10 for the whole file), the insert is under way, not committed: kill it.
    deadline = time.monotonic() + 60
    while proc.poll() is None and os.path.getsize(db) < size_before + 2**21 and time.monotonic() < deadline:
        time.sleep(0.005)
    finished_first = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not finished_first and proc.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    held = _events(home)
    print(f"killed mid-write: store holds {held:,} of {ROWS:,} rows")
    assert held in (0, ROWS), f"store holds {held} of {ROWS} rows: a torn write"
    with store.read(home) as con:   # and the rest of the transaction agrees with it
        users = con.execute("SELECT count(*) FROM users").fetchall()[0][0]
        engaged = con.execute("SELECT coalesce(sum(events), 0) FROM item_engagement_daily").fetchall()[0][0]
    assert (users, engaged) == ((0, 0) if held == 0 else (40000, ROWS))
    # the store is healthy afterwards: the same file ingests to exactly one copy of it
    ingest("interactions", big, home)
    assert _events(home) == ROWS
