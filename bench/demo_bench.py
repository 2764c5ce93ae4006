"""Time `marquee demo --no-app` (the batch part of `make demo`) step by step; target < 15 min on 2 CPU cores.

    .venv/bin/python bench/demo_bench.py                       # runs it in bench/work/demo
    .venv/bin/python bench/demo_bench.py --from-log FILE       # parse the output of an earlier run

JSON to bench/results/demo-<stamp>.json: each step's wall time as the command printed it, the
total, peak memory, and the headline metrics each pipeline recorded.
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, git_commit, machine, versions

sys.path.insert(0, str(ROOT))
STEP = re.compile(r"\[demo\] (.+?): done in ([0-9.]+)s")
TOTAL = re.compile(r"\[demo\] batch part finished in ([0-9.]+)s")


def parse(log: str) -> dict:
    steps = {}
    for name, secs in STEP.findall(log):
        steps[re.sub(r" \(.*\)$", "", name)] = float(secs)
    total = TOTAL.search(log)
    return {"steps_s": steps, "batch_total_s": float(total.group(1)) if total else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=ROOT / "bench" / "work" / "demo")
    ap.add_argument("--from-log", type=Path, help="parse this captured output instead of running the demo")
    args = ap.parse_args()
    cmd = [str(Path(sys.executable).parent / "marquee"), "demo", "--no-app", "--home", str(args.home)]
    result: dict = {"command": "marquee demo --no-app --home " + str(args.home.relative_to(ROOT)
                                                                     if args.home.is_relative_to(ROOT) else args.home)}
    if args.from_log:
        log = args.from_log.read_text(errors="replace")
        result["source"] = f"parsed from the captured output of that command ({args.from_log.name})"
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
        result["peak_rss_mb"] = int(rss.group(1)) / 1024 if rss else None
        wall = None
    else:
        shutil.rmtree(args.home, ignore_errors=True)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode:
            raise SystemExit(out.stderr[-3000:])
        log = out.stdout
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result.update(parse(log), wall_s=wall, target_s=900)
    from app.queries import headline_metrics
    from data import runs

    result["metrics"] = {p: {"model": r["model"], **headline_metrics(r["metrics"], n=6)}
                         for p in ("recsys", "sentiment", "forecast") if (r := runs.latest(p, args.home))}
    result.update(git_commit=git_commit(),
                  machine=machine("shared with other jobs (4 other helpers building and testing on the same 2 cores)"),
                  versions=versions("torch", "transformers", "pytorch_forecasting", "duckdb"))
    out_path = ROOT / "bench" / "results" / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out_path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
