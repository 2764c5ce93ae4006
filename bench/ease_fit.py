"""EASE's I x I factorisation on one torch thread (the quick profile's setting) against every core, same run.

    .venv/bin/python bench/ease_fit.py --home STORE [--repeat 2] [--l2 500]

STORE is any Marquee store; a large catalog shows the difference (e.g. `bench/gen_store.py /tmp/scale
--interactions 2000000 --users 100000 --items 20000`). The Gram matrix is built once as EASE builds it,
then `cholesky_inverse(cholesky(G))` is timed alternately on 1 thread and on all cores. Writes
bench/results/ease-fit-<UTC stamp>.json; the ratio is one-thread time / all-core time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
import torch
from common import ROOT, git_commit, machine

sys.path.insert(0, str(ROOT))
from data.device import cpu_threads, factorising  # noqa: E402
from recsys import dataset  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def factorise(G: torch.Tensor) -> float:
    start = time.perf_counter()
    torch.cholesky_inverse(torch.linalg.cholesky(G))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--l2", type=float, default=500.0)
    args = ap.parse_args()
    X = dataset.load(args.home).matrix
    X = (X > 0).astype(np.float32)
    G = torch.as_tensor((X.T @ X).toarray(), dtype=torch.float32)
    G += args.l2 * torch.eye(G.shape[0])
    cpu = torch.device("cpu")
    one, every = [], []
    for rep in range(args.repeat):   # alternating, so load from other jobs hits both alike
        with cpu_threads(cpu, 1):
            one.append(factorise(G))
        with factorising(cpu):
            every.append(factorise(G))
            threads = torch.get_num_threads()
        print(f"[{rep}] one thread {one[-1]:.1f}s, {threads} threads {every[-1]:.1f}s", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = {"bench": "ease-fit", "command": "python " + " ".join(sys.argv), "git_commit": git_commit(),
           "timestamp_utc": stamp, "machine": machine(), "titles": int(G.shape[0]), "users": int(X.shape[0]),
           "interactions": int(X.nnz), "all_core_threads": threads,
           "one_thread_s": [round(t, 2) for t in one], "all_cores_s": [round(t, 2) for t in every],
           "ratio_one_over_all": round(statistics.median(one) / statistics.median(every), 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"ease-fit-{stamp}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"ratio {out['ratio_one_over_all']} -> {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
