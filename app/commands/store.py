"""Store commands: init, load-demo, runs."""
from __future__ import annotations

import argparse


def _init(args: argparse.Namespace) -> None:
    from data import store

    print(f"store ready at {store.init(args.home)}")


def _load_demo(args: argparse.Namespace) -> None:
    from app.cli import resolve_profile
    from data import demo

    counts = demo.load(args.home, profile=resolve_profile(args), seed=args.seed)
    print("loaded MovieLens-100k: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(demo.DEMO_JOIN_NOTE)


def _runs(args: argparse.Namespace) -> None:
    from data import runs

    df = runs.list_runs(limit=args.limit, home=args.home)
    print(df.to_string(index=False) if len(df) else "no runs yet: try `marquee train recsys`")


def register(cli) -> None:
    cli.command("init", "create the store (idempotent)", _init)
    cli.command("load-demo", "load MovieLens-100k and the demo join of real review texts", _load_demo)
    cli.command("runs", "list the run registry", _runs).add_argument("--limit", type=int, default=50)
