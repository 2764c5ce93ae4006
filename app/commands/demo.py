"""`marquee demo [--no-app]`: load the demo data, train and score all three pipelines, then serve the app.

Quick profile on a CPU, full on a GPU (`--profile auto`). Each step prints its wall time, so a
slow machine shows where the time goes. `--no-app` stops after the batch part (CI, batch use).
"""
from __future__ import annotations

import argparse
import importlib
import time

from app.cli import resolve_profile, whole_number

# (pipeline name in the registry and its module in app/commands, package whose api.py trains and scores it)
PIPELINES = (("recsys", "recsys"), ("sentiment", "nlp"), ("forecast", "forecasting"))


def _step(label: str, fn, *args, **kwargs):
    print(f"[demo] {label} ...", flush=True)
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"[demo] {label}: done in {time.perf_counter() - t0:.1f}s", flush=True)
    return out


def run_batch(home, profile: str, device: str, seed: int) -> dict[str, str]:
    """Load the demo, then train + score each pipeline; returns run ids by pipeline."""
    from app.commands.store import init_store
    from data import demo, paths
    from data.device import pick_device

    t0 = time.perf_counter()
    device = pick_device(device).type   # `auto` decided once, so the header names the device used
    print(f"[demo] store {paths.store_path(home)} · profile {profile} · device {device}", flush=True)
    if upgraded := _step("init store", init_store, home):
        print(f"[demo] {upgraded}", flush=True)
    counts = _step("load MovieLens-100k + demo reviews", demo.load, home, profile=profile, seed=seed)
    print("[demo] " + ", ".join(f"{v:,} {k}" for k, v in counts.items()), flush=True)
    run_ids = {}
    for pipeline, package in PIPELINES:
        api = importlib.import_module(f"{package}.api")
        run_id = _step(f"train {pipeline}", api.train, home=home, profile=profile, device=device, seed=seed)
        written = _step(f"score {pipeline} ({run_id})", api.score, home=home, run_id=run_id, device=device)
        print(f"[demo] {importlib.import_module(f'app.commands.{pipeline}').score_summary(written)}", flush=True)
        run_ids[pipeline] = run_id
    print(f"[demo] batch part finished in {time.perf_counter() - t0:.1f}s", flush=True)
    print(f"[demo] {demo.DEMO_JOIN_NOTE}", flush=True)
    return run_ids


def _demo(args: argparse.Namespace) -> int:
    run_batch(args.home, resolve_profile(args), args.device, args.seed)
    if args.no_app:
        print("[demo] done; start the dashboard with `marquee app`", flush=True)
        return 0
    from app.commands.app import serve

    return serve(args.home, args.port)


def register(cli) -> None:
    p = cli.command("demo", "everything end to end: demo data, train + score all pipelines, then the app", _demo)
    p.add_argument("--no-app", action="store_true", help="stop after the batch part (do not start the app)")
    p.add_argument("--port", type=whole_number(1, 65535), default=8501, help="port on 127.0.0.1 for the app")
