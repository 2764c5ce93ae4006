"""Recommender benchmark, through the `marquee` CLI, on the recsys protocol's split (MovieLens-100k).

    .venv/bin/python bench/recsys_bench.py [--models auto,ease,rp3beta,ials] [--profile quick]

For each model (and `auto`): a fresh --home, `marquee init`, `marquee ingest items` (the catalog,
so the ids exist) and `marquee ingest interactions train.csv`, `marquee train recsys --model M`,
`marquee score recsys --k 10`, `marquee export recommendations_latest recs.csv`, then evalkit
`recsys-metrics recs.csv test.csv --train train.csv`. Beside them, on the same train.csv in this
process: popularity and implicit's ALS (bench-only dependency: `.venv/bin/pip install implicit`).
The test part reaches nothing but evalkit. JSON to bench/results/recsys-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from common import EVALKIT, ROOT, git_commit, machine, run, versions

BIN = Path(sys.executable).parent
WORK = ROOT / "bench" / "work" / "recsys"
sys.path.insert(0, str(ROOT))





def evalkit(recs: Path, split: Path, log: list) -> dict:
    out, *_ = run([sys.executable, EVALKIT, "recsys-metrics", recs, split / "test.csv", "--train",
                    split / "train.csv"], log)
    return json.loads(out)


def run_model(model: str, profile: str, split: Path, items_csv: Path, log: list, device: str = "cpu") -> dict:
    """Fresh store -> ingest -> train -> score -> export -> evalkit, all through the CLI."""
    folder = WORK / model
    shutil.rmtree(folder, ignore_errors=True)
    home = folder / "home"
    mq = [BIN / "marquee"]
    run([*mq, "init", "--home", home], log)
    _, ingest_items_s, *_ = run([*mq, "ingest", "items", items_csv, "--home", home], log)
    _, ingest_s, *_ = run([*mq, "ingest", "interactions", split / "train.csv", "--home", home], log)
    out, train_s, train_rss, train_cpu = run([*mq, "train", "recsys", "--model", model, "--profile", profile, "--device", device,
                                  "--seed", "42", "--home", home], log)
    _, score_s, score_rss, score_cpu = run([*mq, "score", "recsys", "--k", "10", "--device", device, "--home", home], log)
    recs = folder / "recs.csv"
    run([*mq, "export", "recommendations_latest", recs, "--home", home], log)
    ev, *_ = run([*mq, "evaluate", "recsys", "--home", home], log)
    evaluation = json.loads(ev)
    return {"model": model, "selected": evaluation["selected"], "train_s": round(train_s, 2),
            "score_s": round(score_s, 2), "train_plus_score_s": round(train_s + score_s, 2),
            "train_cpu_s": round(train_cpu, 2), "score_cpu_s": round(score_cpu, 2),
            "ingest_s": round(ingest_items_s + ingest_s, 2), "peak_rss_mib": max(train_rss, score_rss),
            "validation": evaluation["validation"],
            "validation_candidates": {k: v["ndcg@10"] for k, v in evaluation["candidates"].items()},
            "test": evalkit(recs, split, log)}


def popularity(split: Path, log: list) -> dict:
    t0 = time.perf_counter()
    train = pd.read_csv(split / "train.csv")
    order = train["item_id"].value_counts().index.to_numpy()
    seen = train.groupby("user_id")["item_id"].apply(set)
    rows = [(u, i, r + 1) for u, s in seen.items()
            for r, i in enumerate([i for i in order[:200] if i not in s][:10])]
    secs = time.perf_counter() - t0
    path = WORK / "popularity.csv"
    pd.DataFrame(rows, columns=["user_id", "item_id", "rank"]).to_csv(path, index=False)
    return {"model": "popularity", "train_plus_score_s": round(secs, 2), "test": evalkit(path, split, log)}


def implicit_als(split: Path, log: list, factors: int = 64, regularization: float = 50.0, iterations: int = 15,
                 alpha: float = 10.0) -> dict:
    """implicit's CPU ALS on the same train.csv (binary matrix), top 10 with seen titles filtered.
    regularization 50 as the issue says; alpha 10 (implicit's default alpha=1 scores 0.247 here)."""
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares

    train = pd.read_csv(split / "train.csv")
    users, uidx = np.unique(train["user_id"], return_inverse=True)
    items, iidx = np.unique(train["item_id"], return_inverse=True)
    X = sp.csr_matrix((np.ones(len(train), np.float32), (uidx, iidx)), shape=(len(users), len(items)))
    model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                    iterations=iterations, random_state=42)
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(X, show_progress=False)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    ids, _ = model.recommend(np.arange(len(users)), X, N=10, filter_already_liked_items=True)
    rec_s, rec_cpu = time.perf_counter() - t0, time.process_time() - c0
    path = WORK / "implicit_als.csv"
    pd.DataFrame({"user_id": np.repeat(users, 10), "item_id": items[ids.ravel()],
                  "rank": np.tile(np.arange(1, 11), len(users))}).to_csv(path, index=False)
    return {"model": "implicit ALS", "params": {"factors": factors, "regularization": regularization,
                                                 "alpha": alpha, "iterations": iterations},
            "train_s": round(fit_s, 2), "score_s": round(rec_s, 2), "train_plus_score_s": round(fit_s + rec_s, 2),
            "train_cpu_s": round(fit_cpu, 2), "score_cpu_s": round(rec_cpu, 2),
            "test": evalkit(path, split, log)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="auto,ease,rp3beta,ials,blend")
    ap.add_argument("--profile", default="quick", choices=["quick", "full"])
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"],
                    help="`marquee train/score recsys --device` (the baselines stay on the CPU)")
    args = ap.parse_args()
    started = datetime.now(UTC)
    log: list = []
    WORK.mkdir(parents=True, exist_ok=True)
    split = WORK / "split"
    run([sys.executable, EVALKIT, "recsys-split", split], log)
    from data.demo import ml100k_items

    items_csv = WORK / "items.csv"
    ml100k_items().to_csv(items_csv, index=False)
    import torch

    torch.set_num_threads(1)   # baselines on one thread, like quick-profile Marquee (same shared machine)
    baselines = [popularity(split, log)]
    try:
        baselines.append(implicit_als(split, log))
    except ImportError:
        print("implicit is not installed: skipping the implicit ALS baseline", file=sys.stderr)
    models = [run_model(m, args.profile, split, items_csv, log, args.device) for m in args.models.split(",")]
    als = next((b for b in baselines if b["model"] == "implicit ALS"), None)
    for m in models:
        if als:
            m["train_time_vs_implicit_als"] = round(m["train_s"] / max(als["train_s"], 1e-9), 1)
            m["train_plus_score_vs_implicit_als"] = round(m["train_plus_score_s"] / als["train_plus_score_s"], 1)
    result = {"bench": "recsys", "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "started": started.isoformat(timespec="seconds"),
              "git_commit": git_commit(),
              "machine": machine(), "versions": versions("torch", "numpy", "pandas", "duckdb", "scipy", "implicit"), "profile": args.profile, "device": args.device,
              "protocol": "evalkit recsys-split (MovieLens-100k, per-user random 75/25, seed 42), nDCG@10 etc. "
                          "from evalkit recsys-metrics; model choices made on a validation split of train.csv only",
              "notes": ["train_s / score_s are wall seconds of the `marquee` subprocess (includes Python start-up "
                        "and store I/O); the baselines are timed in-process around fit / recommend only",
                        "validation nDCG@10 is on a per-user 20% holdout of the training data (fewer relevant "
                        "titles per user than the test split, so lower numbers)"],
              "models": models, "baselines": baselines, "phases": log}
    out = ROOT / "bench" / "results" / f"recsys-{started:%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, default=float))
    print(f"wrote {out}")
    for r in [*baselines, *models]:
        print(f"{r['model']:>14}  nDCG@10 {r['test']['ndcg@10']:.4f}  train+score {r['train_plus_score_s']:.1f} s  "
              f"leaked {r['test']['recommended_train_items']}")


if __name__ == "__main__":
    main()
