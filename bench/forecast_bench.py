"""Forecaster benchmark, through the `marquee` CLI, on the forecast protocol's three rolling origins.

    .venv/bin/python bench/forecast_bench.py [--origins 1998-01-26,1998-02-23,1998-03-23] [--profile quick]
                                             [--model auto] [--no-arima]

Per origin: evalkit `forecast-split OUT --cutoff C --horizon 4`; a fresh --home; `marquee init`,
`marquee ingest items items.csv`, `marquee ingest interactions train.csv` (history only: events before
C), `marquee train forecast --cutoff C --horizon 4`, `marquee score forecast`, `marquee export
forecasts_latest fc.csv`, then evalkit `forecast-metrics fc.csv truth.csv train.csv --items items.csv`.
Beside it, in the same run on the same history: evalkit's naive.csv and mean4.csv, and Nixtla
statsforecast AutoETS / AutoARIMA fit per series (bench-only dependency: `.venv/bin/pip install
statsforecast`). truth.csv reaches nothing but evalkit. JSON to bench/results/forecast-<time>.json.
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
WORK = ROOT / "bench" / "work" / "forecast"
ORIGINS = ("1998-01-26", "1998-02-23", "1998-03-23")
HORIZON = 4





def metrics(fc: Path, split: Path, log: list) -> dict:
    out, *_ = run([BIN / "python", EVALKIT, "forecast-metrics", fc, split / "truth.csv", split / "train.csv",
                    "--items", split / "items.csv"], log)
    return json.loads(out)


def statsforecast_models(split: Path, arima: bool) -> dict[str, tuple[pd.DataFrame, float]]:
    """AutoETS (and AutoARIMA) per series on evalkit's weekly history; name -> (forecasts, fit+predict seconds)."""
    sys.path.insert(0, str(EVALKIT.parent))
    import evalkit
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    truth = pd.read_csv(split / "truth.csv", parse_dates=["ds"])
    cut = truth["ds"].min()
    w = evalkit._weekly(pd.read_csv(split / "train.csv"), pd.read_csv(split / "items.csv"))
    grid = pd.MultiIndex.from_product([truth["series_id"].unique(),
                                       pd.date_range(evalkit.FIRST_FULL_WEEK, cut, freq="W-MON", inclusive="left")],
                                      names=["unique_id", "ds"]).to_frame(index=False)
    df = grid.merge(w.rename(columns={"series_id": "unique_id"}), on=["unique_id", "ds"], how="left").fillna({"y": 0})
    models = {"AutoETS": AutoETS(season_length=1)}
    if arima:
        models["AutoARIMA"] = AutoARIMA(season_length=1)
    out = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        sf = StatsForecast(models=[model], freq="W-MON", n_jobs=1)
        fc = sf.forecast(df=df, h=HORIZON, level=[80]).reset_index()
        secs = time.perf_counter() - t0
        fc = fc.rename(columns={"unique_id": "series_id", name: "p50", f"{name}-lo-80": "p10", f"{name}-hi-80": "p90"})
        out[name] = (fc[["series_id", "ds", "p10", "p50", "p90"]].assign(
            p10=lambda d: d["p10"].clip(lower=0), p50=lambda d: d["p50"].clip(lower=0),
            p90=lambda d: d["p90"].clip(lower=0)), secs)
    return out


def run_origin(origin: str, args, log: list) -> dict:
    base = WORK / origin
    shutil.rmtree(base, ignore_errors=True)
    split, home = base / "split", base / "home"
    run([BIN / "python", EVALKIT, "forecast-split", split, "--cutoff", origin, "--horizon", HORIZON], log)
    phases = {}
    marquee = [BIN / "marquee"]
    _, phases["init"], *_ = run([*marquee, "init", "--home", home], log)
    # evalkit's items.csv carries MovieLens' literal 'unkonwn' release years, which ingest rightly rejects;
    # ingest the same rows with those years left empty (genres untouched)
    items_csv = base / "items_clean.csv"
    items = pd.read_csv(split / "items.csv", dtype=str)
    items["release_year"] = pd.to_numeric(items["release_year"], errors="coerce").astype("Int32")
    items.to_csv(items_csv, index=False)
    _, phases["ingest_items"], *_ = run([*marquee, "ingest", "items", items_csv, "--home", home], log)
    _, phases["ingest_interactions"], *_ = run([*marquee, "ingest", "interactions", split / "train.csv", "--home", home], log)
    _, phases["train"], peak_train, _ = run([*marquee, "train", "forecast", "--cutoff", origin, "--horizon", HORIZON,
                                         "--model", args.model, "--profile", args.profile, "--home", home], log)
    _, phases["score"], *_ = run([*marquee, "score", "forecast", "--home", home], log)
    fc = base / "forecasts.csv"
    _, phases["export"], *_ = run([*marquee, "export", "forecasts_latest", fc, "--home", home], log)
    sys.path.insert(0, str(ROOT))
    from data import runs

    latest = runs.latest("forecast", home)
    result = {"phases_seconds": {k: round(v, 2) for k, v in phases.items()}, "train_peak_rss_mib": peak_train,
              "run_id": latest["run_id"], "run_metrics": latest["metrics"],
              "methods": pd.read_csv(fc)["method"].value_counts().to_dict(),
              "marquee": metrics(fc, split, log),
              "naive": metrics(split / "naive.csv", split, log), "mean4": metrics(split / "mean4.csv", split, log)}
    for name, (frame, secs) in statsforecast_models(split, args.arima).items():
        path = base / f"{name}.csv"
        frame.to_csv(path, index=False)
        result[name] = {**metrics(path, split, log), "fit_predict_seconds": round(secs, 2)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--origins", default=",".join(ORIGINS))
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--model", default="auto")
    ap.add_argument("--no-arima", dest="arima", action="store_false")
    args = ap.parse_args()
    started = time.perf_counter()
    log: list = []
    commit = git_commit()
    per_origin = {o: run_origin(o, args, log) for o in args.origins.split(",")}
    methods = [m for m in ("marquee", "naive", "mean4", "AutoETS", "AutoARIMA") if m in next(iter(per_origin.values()))]
    mean = {m: {k: float(np.mean([r[m]["all"][k] for r in per_origin.values()]))
                for k in ("wape", "mase", "coverage80") if k in next(iter(per_origin.values()))[m]["all"]}
            for m in methods}
    mean["marquee"]["train_seconds"] = float(np.mean([r["phases_seconds"]["train"] for r in per_origin.values()]))
    for m in ("AutoETS", "AutoARIMA"):
        if m in mean:
            mean[m]["fit_predict_seconds"] = float(np.mean([r[m]["fit_predict_seconds"] for r in per_origin.values()]))
            mean[m]["marquee_train_time_ratio"] = mean["marquee"]["train_seconds"] / max(mean[m]["fit_predict_seconds"], 1e-9)
    out = {"bench": "forecast", "command": " ".join([Path(sys.executable).name, *sys.argv]), "git_commit": commit,
           "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "versions": versions("torch", "pytorch_forecasting", "lightning", "numpy", "pandas", "duckdb", "statsforecast"),
           "protocol": "evalkit forecast-split/forecast-metrics, horizon 4, Monday weeks",
           "profile": args.profile, "model": args.model, "per_origin": per_origin, "mean": mean,
           "targets": {"mean_wape_max": 0.45, "below_every_statsforecast_model": True, "coverage80": [0.7, 0.9],
                       "quick_train_seconds_max": 180},
           "wall_seconds": round(time.perf_counter() - started, 1), "commands": log}
    dest = ROOT / "bench" / "results" / f"forecast-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(mean, indent=2))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
