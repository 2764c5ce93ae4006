"""Store commands: init, load-demo, ingest, sql, export, runs."""
from __future__ import annotations

import argparse
import sys


def _init(args: argparse.Namespace) -> None:
    from data import store

    print(f"store ready at {store.init(args.home)}")


def _load_demo(args: argparse.Namespace) -> None:
    from app.cli import resolve_profile
    from data import demo

    counts = demo.load(args.home, profile=resolve_profile(args), seed=args.seed)
    print("loaded MovieLens-100k: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(demo.DEMO_JOIN_NOTE)


def _ingest(args: argparse.Namespace) -> None:
    from data import ingest

    result = ingest.ingest(args.entity, args.file, home=args.home, skip_invalid=args.skip_invalid,
                           rating_range=tuple(args.rating_range))
    print(result.summary())


def _sql(args: argparse.Namespace) -> None:
    from data import sql

    frame = sql.run_readonly(args.query, home=args.home, max_rows=args.max_rows)
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        print(frame.to_json(orient="records", date_format="iso"))
    else:
        print(frame.to_string(index=False) if len(frame.columns) else "(no columns)")
    if frame.attrs.get("truncated"):
        print(f"(truncated: showing the first {args.max_rows:,} rows; raise --max-rows to see more)",
              file=sys.stderr)


def _export(args: argparse.Namespace) -> None:
    from data import export

    rows = export.export(args.name, args.file, home=args.home)
    print(f"exported {rows:,} rows of {args.name} to {args.file}")


def _runs(args: argparse.Namespace) -> None:
    from data import runs

    df = runs.list_runs(limit=args.limit, home=args.home)
    print(df.to_string(index=False) if len(df) else "no runs yet: try `marquee train recsys`")


def register(cli) -> None:
    cli.command("init", "create the store (idempotent)", _init)
    cli.command("load-demo", "load MovieLens-100k and the demo join of real review texts", _load_demo)
    p = cli.command("ingest", "validate and load your own CSV or Parquet file (all rows or none)", _ingest)
    p.add_argument("entity", choices=["users", "items", "interactions", "reviews"])
    p.add_argument("file", help="a .csv, .tsv, .parquet or .pq file")
    p.add_argument("--skip-invalid", action="store_true",
                   help="load the good rows; keep the bad ones, with reasons, in rejected_rows")
    p.add_argument("--rating-range", nargs=2, type=float, default=[0.0, 10.0], metavar=("LO", "HI"),
                   help="accepted rating range (default 0 10)")
    p = cli.command("sql", "run one read-only SQL query against the store", _sql)
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=10_000, help="row cap (default 10000)")
    p = cli.command("export", "write a table or view to a .csv or .parquet file", _export)
    p.add_argument("name", metavar="TABLE_OR_VIEW")
    p.add_argument("file")
    cli.command("runs", "list the run registry", _runs).add_argument("--limit", type=int, default=50)
