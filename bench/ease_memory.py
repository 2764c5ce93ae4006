"""Peak memory of one EASE fit: the in-place `ease_weights` against the plain formula it replaced, same run.

    .venv/bin/python bench/ease_memory.py [--titles 10000] [--users 50000] [--interactions 1000000] [--repeat 2]
                                          [--device cpu|cuda]

Each fit runs in a fresh process on the same seeded sparse matrix (long-tailed title popularity), alternating
old and new; the process reports its peak resident memory (getrusage) above what it held before the fit (with
`--device cuda`: torch's peak GPU allocation), and the fit's seconds. The plain formula is `G += l2 * eye(I)`, `P = cholesky_inverse(cholesky(G))`,
`B = -P / diag(P)`, as `recsys/models/ease.py` had it. Writes bench/results/ease-memory-<UTC stamp>.json with
the ratio old/new of the extra peak, and the largest difference between the two B matrices.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
import torch
from common import ROOT, git_commit, machine

sys.path.insert(0, str(ROOT))
from recsys.models.ease import ease_weights  # noqa: E402

RESULTS = ROOT / "bench" / "results"
L2 = 500.0


def matrix(users: int, titles: int, interactions: int, seed: int = 42) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, titles + 1) ** 0.8
    cols = rng.choice(titles, interactions, p=popularity / popularity.sum())
    rows = rng.integers(0, users, interactions)
    X = sp.csr_matrix((np.ones(interactions, np.float32), (rows, cols)), shape=(users, titles))
    X.data[:] = 1.0   # repeats summed: back to 0/1, as EASE fits
    return X


def plain(X: sp.csr_matrix, l2: float, device: str = "cpu") -> torch.Tensor:
    G = torch.as_tensor((X.T @ X).toarray(), dtype=torch.float32, device=device)
    G += l2 * torch.eye(G.shape[0], device=device)
    P = torch.cholesky_inverse(torch.linalg.cholesky(G))
    B = -P / torch.diagonal(P)[None, :]
    B.fill_diagonal_(0.0)
    return B


def child(how: str, users: int, titles: int, interactions: int, out: str, device: str) -> None:
    """On the CPU the peak is the process's resident memory above its start; on CUDA, torch's peak allocation."""
    X = matrix(users, titles, interactions)
    cuda = device == "cuda"
    before = 0 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    B = (plain if how == "plain" else ease_weights)(X, L2, device)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(out, B[:200].cpu().numpy())   # a slice to compare the two by
    print(json.dumps({"how": how, "seconds": seconds, "extra_peak_mb": (peak - before) / 2**20,
                      "matrix_mb": titles * titles * 4 / 2**20}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--titles", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--interactions", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--child", choices=["plain", "inplace"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        torch.set_num_threads(1)   # as the quick profile's other work; the factorisation is not what is compared
        return child(args.child, args.users, args.titles, args.interactions, args.out, args.device)
    runs: dict[str, list[dict]] = {"plain": [], "inplace": []}
    slices = {}
    for rep in range(args.repeat):   # alternating, so load from other jobs hits both alike
        for how in ("plain", "inplace"):
            out = f"/tmp/ease-memory-{how}.npy"
            cmd = [sys.executable, __file__, "--child", how, "--out", out, "--device", args.device, "--titles", str(args.titles),
                   "--users", str(args.users), "--interactions", str(args.interactions)]
            got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            runs[how].append(got)
            slices[how] = np.load(out)
            print(f"[{rep}] {how}: {got['extra_peak_mb']:.0f} MB above the start, {got['seconds']:.1f} s",
                  file=sys.stderr)
    peak = {how: statistics.median(r["extra_peak_mb"] for r in rs) for how, rs in runs.items()}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    result = {"bench": "ease-memory", "command": "python " + " ".join(sys.argv), "git_commit": git_commit(),
              "timestamp_utc": stamp, "machine": machine(), "device": args.device, "titles": args.titles, "users": args.users,
              "interactions": args.interactions, "matrix_mb": runs["plain"][0]["matrix_mb"], "runs": runs,
              "median_extra_peak_mb": peak,
              "ratio_plain_over_inplace": round(peak["plain"] / peak["inplace"], 2),
              "max_abs_diff_B": float(np.abs(slices["plain"] - slices["inplace"]).max())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"ease-memory-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("median_extra_peak_mb", "ratio_plain_over_inplace", "max_abs_diff_B")}))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
