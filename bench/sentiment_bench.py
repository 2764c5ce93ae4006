"""Sentiment benchmark, through the `marquee` CLI, on the sentiment protocol's split.

    .venv/bin/python bench/sentiment_bench.py [--profile quick|full] [--smoke]

Steps: evalkit sentiment-split; for TF-IDF + LR and for MiniLM (`--profile`): `marquee train sentiment`,
`marquee score sentiment --input test.csv --output preds.csv`, evalkit sentiment-metrics. Then the
throughput of Marquee's batch scorer against a plain `transformers.pipeline("text-classification")` on
the same saved model and the same reviews, in this process. JSON to bench/results/.
--smoke: a tiny run (few steps, 200 test reviews) to check the script, not to report.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from common import EVALKIT, ROOT, git_commit, machine, run, versions

BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))






def evalkit_metrics(preds: Path, labels: Path, log: list) -> dict:
    out, *_ = run([sys.executable, EVALKIT, "sentiment-metrics", preds, labels], log)
    return json.loads(out)


def run_model(name: str, train_args: list[str], home: Path, split: Path, test: Path, log: list,
              components: bool = False, labels: Path | None = None) -> dict:
    """train -> score --input/--output -> evalkit, all through the CLI."""
    labels = labels or split / "test_labels.csv"
    out, train_s, *_ = run([BIN / "marquee", "train", "sentiment", "--home", home, *train_args], log)
    run_id = re.search(r"trained sentiment run (\S+?):?\s", out + "\n").group(1)   # "...run ID: validation accuracy ..."
    preds = split.parent / f"preds-{name}.csv"
    score_cmd = [BIN / "marquee", "score", "sentiment", "--home", home, "--run", run_id, "--input", test,
                 "--output", preds] + (["--components"] if components else [])
    _, score_s, *_ = run(score_cmd, log)
    n = len(pd.read_csv(test))
    res = {"run_id": run_id, "train_seconds": round(train_s, 1), "score_seconds": round(score_s, 1),
           "score_reviews_per_s": round(n / score_s, 1),
           "metrics": evalkit_metrics(preds, labels, log)}
    from data import runs

    info = runs.get(run_id, home)
    res["model"] = info["model"]
    res["params"] = info["params"]
    res["validation"] = {k: v for k, v in info["metrics"].items() if k.startswith("val") or k in
                         ("history", "n_train", "n_val", "total_train_seconds", "train_loss_first20",
                          "train_loss_last20", "nblr", "linear")}
    if components:
        p = pd.read_csv(preds)
        for part in [c for c in p.columns if c.startswith("p_") and c != "p_positive"]:
            path = split.parent / f"preds-{name}-{part}.csv"
            p[["review_id", part]].rename(columns={part: "p_positive"}).to_csv(path, index=False)
            res[f"metrics_{part}_only"] = evalkit_metrics(path, labels, log)
    return res


def throughput(model_dir: Path, texts: list[str], max_len: int, repeats: int = 1, device: str = "cpu") -> dict:
    """Reviews/s: Marquee's batch scorer vs transformers.pipeline, same model, texts, device and process.

    Marquee's scorer runs under bf16 autocast on CUDA and on a CPU with native bf16 (what `marquee score
    sentiment` does there); then its fp32 self is timed too, and the pipeline, besides its default fp32,
    also with its weights in bf16 as a stronger baseline."""
    import torch
    from transformers import pipeline

    from data.device import cpu_bf16_enabled
    from nlp.transformer import TransformerScorer, load_backbone

    dev = torch.device(device)
    tok, net = load_backbone(model_dir)
    res = {"reviews": len(texts), "max_len": max_len, "torch_threads": torch.get_num_threads(), "device": str(dev)}
    pipe_dev = 0 if dev.type == "cuda" else -1
    pipe = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=pipe_dev)
    kw = {"truncation": True, "max_length": max_len}
    scorer = TransformerScorer(tok, net, dev, max_len, "head_tail", batch_size=64)
    scorer.logits(texts[:16])
    pipe(texts[:4], **kw)

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return len(texts) / (time.perf_counter() - t0)

    # interleaved rounds, so that load from other jobs on the shared machine hits every side alike;
    # the median round is reported
    sides = {"marquee_head_tail_bs64": lambda: scorer.logits(texts),
             "pipeline_default_bs1": lambda: pipe(texts, **kw),
             "pipeline_bs64": lambda: pipe(texts, batch_size=64, **kw)}
    bf16 = dev.type == "cuda" or cpu_bf16_enabled()
    res["marquee_bf16"] = bf16
    if bf16:
        fp32 = TransformerScorer(tok, net, dev, max_len, "head_tail", batch_size=64, cpu_bf16=False)
        fp32.logits(texts[:16])
        sides["marquee_head_tail_bs64_fp32"] = lambda: fp32.logits(texts)
        z16, z32 = scorer.logits(texts), fp32.logits(texts)   # what bf16 changes in the answers
        p16, p32 = 1 / (1 + np.exp(-z16)), 1 / (1 + np.exp(-z32))
        res["bf16_label_flips_vs_fp32"] = int(((z16 > 0) != (z32 > 0)).sum())
        res["bf16_max_abs_p_diff_vs_fp32"] = float(np.abs(p16 - p32).max())
        try:
            pipe16 = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=pipe_dev,
                              dtype=torch.bfloat16)
            pipe16(texts[:4], **kw)
            sides["pipeline_bs64_bf16"] = lambda: pipe16(texts, batch_size=64, **kw)
        except Exception as exc:  # an older transformers without `dtype=`: keep the fp32 sides
            res["pipeline_bf16_error"] = f"{type(exc).__name__}: {exc}"
    rounds = {k: [] for k in sides}
    for _ in range(repeats):
        for k, fn in sides.items():
            rounds[k].append(timed(fn))
    for k, v in rounds.items():
        res[k] = float(np.median(v))
        res[f"{k}_rounds"] = [round(x, 2) for x in v]
    res["ratio_vs_pipeline_default"] = res["marquee_head_tail_bs64"] / res["pipeline_default_bs1"]
    res["ratio_vs_pipeline_bs64"] = res["marquee_head_tail_bs64"] / res["pipeline_bs64"]
    if "pipeline_bs64_bf16" in res:
        res["ratio_vs_pipeline_bs64_bf16"] = res["marquee_head_tail_bs64"] / res["pipeline_bs64_bf16"]
    if "marquee_head_tail_bs64_fp32" in res:
        res["ratio_bf16_vs_own_fp32"] = res["marquee_head_tail_bs64"] / res["marquee_head_tail_bs64_fp32"]
    res["ratio_vs_pipeline_bs64_per_round"] = [round(a / b, 2) for a, b in
                                               zip(rounds["marquee_head_tail_bs64"], rounds["pipeline_bs64"], strict=True)]
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", choices=["quick", "full"], default="quick")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--throughput-reviews", type=int, default=1000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["tfidf", "minilm", "throughput"])
    ap.add_argument("--test-sample", type=int, help="score only this many test reviews (seeded sample)")
    ap.add_argument("--throughput-model", type=Path,
                    help="only measure throughput, on this saved run folder (artifacts/<run_id>)")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved throughput rounds (median reported)")
    ap.add_argument("--throughput-device", default="cpu", choices=["cpu", "cuda"],
                    help="where both sides of the throughput comparison run")
    ap.add_argument("--tag", default="", help="names this variant's work folder and JSON")
    ap.add_argument("--train-args", default="", help="extra `marquee train sentiment` options for MiniLM, e.g. '--no-blend'")
    a = ap.parse_args()
    t_start = time.perf_counter()
    tag = f"-{a.tag}" if a.tag else ""
    work = ROOT / "bench" / "work" / f"sentiment-{a.profile}{tag}{'-smoke' if a.smoke else ''}"
    split, home = work / "split", work / "home"
    log: list = []
    result = {"bench": "sentiment", "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "started": datetime.now(UTC).isoformat(timespec="seconds"), "git_commit": git_commit(),
              "profile": a.profile, "smoke": a.smoke, "machine": machine(), "versions": versions("torch", "transformers", "sklearn", "numpy", "pandas", "duckdb")}
    run([sys.executable, EVALKIT, "sentiment-split", split], log)
    if a.throughput_model:
        meta = json.loads((a.throughput_model / "sentiment.json").read_text())
        texts = pd.read_csv(split / "test.csv").sample(a.throughput_reviews, random_state=0)["text"].tolist()
        result["throughput_model"] = str(a.throughput_model)
        result["throughput"] = throughput(a.throughput_model / "transformer", texts, meta["max_len"], a.repeats,
                                          a.throughput_device)
        out = ROOT / "bench" / "results" / f"sentiment-throughput-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        result["phases"], result["total_seconds"] = log, round(time.perf_counter() - t_start, 1)
        result["machine"]["load_average_now"] = os.getloadavg()
        out.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result["throughput"], indent=1))
        return
    test, labels = split / "test.csv", split / "test_labels.csv"
    if a.smoke or a.test_sample:
        small = pd.read_csv(test).sample(200 if a.smoke else a.test_sample, random_state=0)
        test, labels = work / "test-sample.csv", work / "test_labels-sample.csv"
        small.to_csv(test, index=False)
        lab = pd.read_csv(split / "test_labels.csv")
        lab[lab["review_id"].isin(small["review_id"])].to_csv(labels, index=False)
        result["test_sample"] = len(small)
    if home.exists():
        import shutil

        shutil.rmtree(home)
    run([BIN / "marquee", "init", "--home", home], log)

    # the default training set is the split's train.csv, row for row (the test part never reaches train)
    from nlp.data import protocol_train

    mine = protocol_train()
    theirs = pd.read_csv(split / "train.csv")
    result["default_training_set_equals_split_train_csv"] = bool(
        mine["review_id"].tolist() == theirs["review_id"].tolist() and mine["text"].tolist() == theirs["text"].tolist()
        and mine["label"].tolist() == theirs["label"].tolist())

    name = f"sentiment{tag}{'-smoke' if a.smoke else ''}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out = (work if a.smoke else ROOT / "bench" / "results") / name

    def save() -> None:   # after every phase, so a late failure keeps what was measured
        result["phases"] = log
        result["total_seconds"] = round(time.perf_counter() - t_start, 1)
        result["peak_rss_mb_children"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        result["peak_rss_mb_self"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["machine"]["load_average_now"] = os.getloadavg()
        out.write_text(json.dumps(result, indent=2, default=str))

    models = {}
    result["models"] = models
    tiny = ["--max-train", "64", "--time-budget", "20", "--max-len", "64"] if a.smoke else []
    if "tfidf" not in a.skip:
        models["tfidf"] = run_model("tfidf", ["--model", "tfidf", "--labeled", split / "train.csv"], home, split,
                                    test, log, labels=labels)
        save()
    if "minilm" not in a.skip:
        models[f"minilm_{a.profile}"] = run_model(f"minilm-{a.profile}", ["--profile", a.profile, *tiny, *a.train_args.split()], home,
                                                  split, test, log, components=True,
                                                  labels=labels)
        save()
    if "throughput" not in a.skip and "minilm" not in a.skip:
        from data import runs

        info = runs.get(models[f"minilm_{a.profile}"]["run_id"], home)
        texts = pd.read_csv(split / "test.csv").sample(200 if a.smoke else a.throughput_reviews,
                                                       random_state=0)["text"].tolist()
        try:
            result["throughput"] = throughput(Path(info["artifact_uri"]) / "transformer", texts,
                                              info["params"]["max_len"], a.repeats, a.throughput_device)
        except Exception as exc:  # keep the quality numbers even if this phase breaks
            result["throughput"] = {"error": f"{type(exc).__name__}: {exc}"}
    save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
