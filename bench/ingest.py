"""Ingest benchmark: 10M generated interactions from Parquet (or CSV), validated through `marquee ingest`,
beside a bare DuckDB `COPY ... FROM` the same file into an unvalidated table, in the same run.

    .venv/bin/python bench/ingest.py [--rows 10000000] [--items 20000] [--users 100000] [--repeat 3] [--seed 42]
                                     [--format parquet|csv]

Writes bench/results/ingest-<UTC stamp>.json; the ratio is bare_time / validated_time (>= 0.5 is
the target: validation costs at most 2x the bare copy). Peak memory is the resident set of the
command's whole process tree, sampled every 20 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import duckdb
import psutil
from common import ROOT as REPO
from common import git_commit, machine

WORK = REPO / "bench" / "work"
RESULTS = REPO / "bench" / "results"
MARQUEE = [sys.executable, "-m", "app.cli"]
GENERATE_ITEMS = """COPY (SELECT CAST(i AS VARCHAR) AS item_id, 'Title ' || i AS title,
    ['Action', 'Comedy', 'Drama', 'Horror'][1 + i % 4] AS genres, 1950 + i % 70 AS release_year
    FROM range($items) t(i)) TO '{path}' (FORMAT parquet)"""
# Events over one year in time order; item popularity is long-tailed (cubic skew: the top 1% of
# titles get ~20% of events), users uniform. Same seed, same file.
GENERATE_EVENTS = """COPY (SELECT 'u' || (hash(i, $seed) % $users) AS user_id,
    CAST(CAST(floor($items * pow((hash(i, $seed + 1) % 1000000) / 1000000.0, 3)) AS BIGINT) AS VARCHAR) AS item_id,
    TIMESTAMP '2024-01-01' + to_seconds(CAST(i * (31536000 // $rows) + hash(i, $seed + 2) % (31536000 // $rows + 1)
                                             AS BIGINT)) AS timestamp,
    CAST(1 + hash(i, $seed + 3) % 5 AS DOUBLE) AS rating, 'rating' AS event_type
    FROM range($rows) t(i)) TO '{path}' {options}"""
WRITE_OPTIONS = {"parquet": "(FORMAT parquet, ROW_GROUP_SIZE 122880)", "csv": "(FORMAT csv, HEADER)"}
READ_OPTIONS = {"parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)"}
BARE_COPY = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE interactions (user_id VARCHAR, item_id VARCHAR, ts TIMESTAMP, rating DOUBLE, event_type VARCHAR)")
con.execute("COPY interactions FROM '" + sys.argv[2] + "' " + sys.argv[3])
print(con.execute("SELECT count(*) FROM interactions").fetchall()[0][0])
con.close()
"""


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd`; wall time, peak RSS of its process tree, and stderr lines with their arrival times."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, **(env or {})})
    peak, lines, stop = [0], [], threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
            except psutil.Error:
                pass
            time.sleep(0.02)

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append((round(time.monotonic() - start, 3), line.rstrip()))

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=read_stderr, daemon=True)]
    for t in threads:
        t.start()
    out = proc.stdout.read()
    proc.wait()
    wall = time.monotonic() - start
    stop.set()
    for t in threads:
        t.join(timeout=5)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(text for _, text in lines))
    return {"command": " ".join(cmd), "wall_s": round(wall, 3), "peak_rss_mb": round(peak[0] / 2**20, 1),
            "stdout": out.strip(), "stderr_timeline": lines}


def phases(timeline: list[tuple[float, str]], wall: float) -> dict[str, float]:
    """Seconds between the ingest's progress lines (reading / validating / publishing / refreshing /
    committing / done)."""
    marks = [(t, line.split()[0]) for t, line in timeline
             if line.split()[:1] in (["reading"], ["validating"], ["publishing"], ["refreshing"], ["committing"])]
    out, ends = {}, [t for t, _ in marks[1:]] + [wall]
    for (t, name), end in zip(marks, ends, strict=True):
        out[name + "_s"] = round(end - t, 3)
    out["startup_s"] = marks[0][0] if marks else None
    return out



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--users", type=int, default=100_000)   # ~100 events per user, like MovieLens
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", choices=sorted(WRITE_OPTIONS), default="parquet",
                    help="file format of the generated events (CSV: ISO timestamps, as COPY reads them)")
    ap.add_argument("--note", help="what else ran on the machine meanwhile (goes into the JSON; "
                                   "default: $MARQUEE_BENCH_NOTE, else the shared-machine note)")
    args = ap.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    work = WORK / f"ingest-{stamp}"
    work.mkdir(parents=True)
    items, events = work / "items.parquet", work / f"interactions.{args.format}"
    t0 = time.monotonic()
    params = {"rows": args.rows, "items": args.items, "users": args.users, "seed": args.seed}
    gen = duckdb.connect()
    gen.execute(GENERATE_ITEMS.format(path=items), {"items": args.items})
    gen.execute(GENERATE_EVENTS.format(path=events, options=WRITE_OPTIONS[args.format]), params)
    gen.close()
    generate_s = time.monotonic() - t0
    print(f"generated {args.rows:,} interactions in {generate_s:.1f}s ({events.stat().st_size / 2**20:.0f} MiB)",
          file=sys.stderr)

    validated_runs, bare_runs = [], []
    for rep in range(args.repeat):   # interleaved, so load from other jobs on the machine hits both alike
        home = work / f"home{rep}"
        subprocess.run([*MARQUEE, "init", "--home", str(home)], check=True, cwd=REPO, capture_output=True)
        subprocess.run([*MARQUEE, "ingest", "items", str(items), "--home", str(home)], check=True, cwd=REPO,
                       capture_output=True)
        validated = timed([*MARQUEE, "ingest", "interactions", str(events), "--home", str(home)])
        print(f"[{rep}] validated ingest: {validated['wall_s']}s  {validated['stdout']}", file=sys.stderr)
        bare = timed([sys.executable, "-c", BARE_COPY, str(work / f"bare{rep}.duckdb"), str(events),
                      READ_OPTIONS[args.format]])
        print(f"[{rep}] bare COPY: {bare['wall_s']}s ({bare['stdout']} rows)", file=sys.stderr)
        with duckdb.connect(str(home / "store.duckdb"), read_only=True) as con:
            stored = con.execute("SELECT count(*) FROM interactions").fetchall()[0][0]
        assert stored == args.rows == int(bare["stdout"]), (stored, bare["stdout"])
        validated_runs.append(validated)
        bare_runs.append(bare)

    v_wall = statistics.median(r["wall_s"] for r in validated_runs)
    b_wall = statistics.median(r["wall_s"] for r in bare_runs)
    ratio = b_wall / v_wall
    commit = git_commit()
    run_phases = [phases(r["stderr_timeline"], r["wall_s"]) for r in validated_runs]
    result = {
        "bench": "ingest", "command": "python bench/ingest.py " + " ".join(sys.argv[1:]), "git_commit": commit,
        "timestamp_utc": stamp, "machine": machine(args.note),
        "versions": {"python": platform.python_version(), "duckdb": duckdb.__version__},
        "params": {**params, "repeat": args.repeat, "format": args.format},
        "input_mib": round(events.stat().st_size / 2**20, 1),
        "generate_s": round(generate_s, 2),
        "validated": {"command": validated_runs[0]["command"], "median_wall_s": v_wall,
                      "rows_per_s": round(args.rows / v_wall),
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in validated_runs),
                      "runs": [{"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"], "phases": p}
                               for r, p in zip(validated_runs, run_phases, strict=True)],
                      "median_phases_s": {k: statistics.median(p[k] for p in run_phases) for k in run_phases[0]},
                      "summary": validated_runs[0]["stdout"]},
        "bare_copy": {"command": f"duckdb COPY interactions FROM {args.format} (fresh file, no checks)",
                      "median_wall_s": b_wall, "rows_per_s": round(args.rows / b_wall),
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in bare_runs),
                      "runs": [{"wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"]} for r in bare_runs]},
        "ratio_bare_over_validated": round(ratio, 3),
        # the bare copy computes no features: the same ratio with the validated run's feature refresh left out
        "ratio_excluding_feature_refresh": round(b_wall / statistics.median(
            r["wall_s"] - p.get("refreshing_s", 0) for r, p in zip(validated_runs, run_phases, strict=True)), 3),
        "ratio_per_run": [round(b["wall_s"] / v["wall_s"], 3) for v, b in zip(validated_runs, bare_runs, strict=True)],
        "target_ratio": 0.5, "meets_target": ratio >= 0.5,
        "note": "both timings are whole subprocesses (Python start-up included) on the same file, same run, "
                "interleaved; medians over the repeats",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ingest-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("validated", "bare_copy", "ratio_bare_over_validated",
                                             "ratio_excluding_feature_refresh")}, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
