"""Small helpers shared by the ingest / sql / concurrency tests: write files, snapshot the store."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from data import store

STORE_TABLES = ("users", "items", "interactions", "reviews", "rejected_rows", "item_engagement_daily")
MARQUEE = [sys.executable, "-m", "app.cli"]
REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str | bytes) -> Path:
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def to_parquet(path: Path, select: str) -> Path:
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def snapshot(home: Path) -> dict[str, list]:
    """Every row of the user-data tables (sorted), to prove a refused file changed nothing."""
    with store.read(home) as con:
        return {t: sorted(map(repr, con.execute(f"SELECT * EXCLUDE (ingested_at) FROM {t}"
                                                if t in ("users", "items", "interactions", "reviews")
                                                else f"SELECT * FROM {t}").fetchall()))
                for t in STORE_TABLES}


def count(home: Path, sql: str) -> int:
    with store.read(home) as con:
        return con.execute(sql).fetchall()[0][0]


def marquee(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MARQUEE_HOME": str(home)}
    return subprocess.run([*MARQUEE, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)
