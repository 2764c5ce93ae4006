"""What every benchmark records: the machine, library versions, the commit, and timed subprocesses.

Benchmarks run Marquee through its CLI as subprocesses, so each phase is timed as a whole process
(wall and CPU seconds, peak resident memory from GNU time) and logged into the result JSON.
"""
from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVALKIT = ROOT.parent / "shared" / "protocols" / "evalkit.py"
SHARED_NOTE = "2-core machine shared with other jobs (other helpers' tests and benches ran at the same time)"


def git_commit() -> str:
    """$MARQUEE_BENCH_COMMIT when set (a copied tree whose .git is missing or stale, e.g. on a lent GPU
    machine), else HEAD."""
    if os.environ.get("MARQUEE_BENCH_COMMIT"):
        return os.environ["MARQUEE_BENCH_COMMIT"]
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def machine(note: str | None = None) -> dict:
    """CPU model, cores, memory, GPU (or none), Python, load average now, and a free-text note
    ($MARQUEE_BENCH_NOTE, else the shared-CPU note)."""
    note = note or os.environ.get("MARQUEE_BENCH_NOTE") or SHARED_NOTE
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        gpu = "none"
    mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "gpu": gpu,
            "python": platform.python_version(), "load_average_at_start": os.getloadavg(), "note": note}


def versions(*modules: str) -> dict:
    """`__version__` of each importable module; missing ones are left out."""
    out = {}
    for name in modules:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            continue
    return out


def run(cmd: list, log: list, env: dict | None = None) -> tuple[str, float, int, float]:
    """Run `cmd`, echo it, log it; returns (stdout, wall s, peak RSS MiB, CPU s). Exits on failure."""
    cmd = list(map(str, cmd))
    print("$", " ".join(cmd), flush=True)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as usage:
        t0 = time.perf_counter()
        res = subprocess.run(["/usr/bin/time", "-q", "-f", "%M %U %S", "-o", usage.name, *cmd], capture_output=True,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", **(env or {})})
        secs = time.perf_counter() - t0
        fields = (Path(usage.name).read_text().split() or ["0", "0", "0"])[-3:]
    peak, cpu = int(fields[0]) // 1024, float(fields[1]) + float(fields[2])
    log.append({"cmd": " ".join(cmd), "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
                "peak_rss_mib": peak, "rc": res.returncode})
    if res.returncode:
        sys.stderr.write(res.stderr[-3000:])
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")
    print(res.stdout, end="", flush=True)
    return res.stdout, secs, peak, cpu
