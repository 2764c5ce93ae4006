"""Store commands: init, load-demo, ingest, sql, export, runs, prune."""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime
from typing import Any

from app.cli import file_arg, positive_int, resolve_profile, run_id_arg
from app.text_table import render
from data.wording import plural

TABLE_CELL_CHARS = 120   # `marquee sql` tables cut longer values (csv and json keep them whole)


def init_store(home) -> str | None:
    """Create or upgrade the store; the line that says it upgraded one made by an older Marquee, else None."""
    from data import store
    from data.paths import store_path

    found = store.init(home)
    if found == store.SCHEMA_VERSION:
        return None
    return f"upgraded the store at {store_path(home)} from schema version {found} to {store.SCHEMA_VERSION}; its data stays"


def _init(args: argparse.Namespace) -> None:
    from data.paths import store_path

    print(init_store(args.home) or f"store ready at {store_path(args.home)}")


def _load_demo(args: argparse.Namespace) -> None:
    from data import demo

    if upgraded := init_store(args.home):   # demo.load would upgrade it without a word
        print(upgraded)
    counts = demo.load(args.home, profile=resolve_profile(args), seed=args.seed)
    print("loaded MovieLens-100k: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(demo.DEMO_JOIN_NOTE)


def _ingest(args: argparse.Namespace) -> None:
    from data import ingest

    result = ingest.ingest(args.entity, args.file, home=args.home, skip_invalid=args.skip_invalid,
                           rating_range=tuple(args.rating_range))
    print(result.summary())


# In DuckDB's JSON, outside strings: what JSON has no number for (NaN, infinities) and a number without its
# leading zero (DuckDB writes a DECIMAL(38,38) as -.5)
NOT_JSON = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:NaN|Infinity)|(?<!\d)\.(?=\d)')


def _json_text(text: str | None) -> str:
    """One value's JSON text from DuckDB's (`data.sql.fetch_readonly(cast="json")`) as it is, numbers digit for
    digit (Python would parse a DECIMAL into a float), but NaN and infinities as null and -.5 as -0.5."""
    if text is None:
        return "null"
    return NOT_JSON.sub(lambda m: m[0] if m[0][0] == '"' else "0." if m[0] == "." else "null", text)


def _json_object(names: list[str], row: tuple[str | None, ...]) -> str:
    """One row as a JSON object from its JSON-encoded names; a repeated name keeps its last value, as a dict does."""
    return "{" + ", ".join(f"{name}: {_json_text(value)}" for name, value in dict(zip(names, row, strict=True)).items()) + "}"


def _json_rows(columns: list[str], rows: list[tuple[str | None, ...]]) -> str:
    """The rows as a JSON array of objects, each value DuckDB's JSON text (`_json_text`), never parsed by Python."""
    names = [json.dumps(name, ensure_ascii=False) for name in columns]
    return "[" + ", ".join(_json_object(names, row) for row in rows) + "]"


def _sql(args: argparse.Namespace) -> None:
    """Table and CSV print every value as DuckDB writes it (`CAST(value AS VARCHAR)`; NULL: `NULL` in the table,
    an empty field in CSV); JSON keeps numbers, LISTs, STRUCTs and MAPs structured (see `_json_text`)."""
    from data import sql

    limits = {"home": args.home, "max_rows": args.max_rows, "cast": "json" if args.format == "json" else "text"}
    if args.timeout is not None:
        limits["timeout"] = args.timeout
    columns, rows, truncated, numeric = sql.fetch_readonly(args.query, **limits)
    if args.format == "table":
        if columns == ["explain_key", "explain_value"]:   # EXPLAIN: the plan as DuckDB draws it
            print("\n".join(str(value) for _, value in rows))
        elif not columns:
            print("(no columns)")
        else:
            print(render(columns, rows, right=numeric, max_chars=TABLE_CELL_CHARS) + ("" if rows else "\n(no rows)"))
    elif args.format == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        out.writerows([("" if v is None else v) for v in row] for row in rows)
    else:
        print(_json_rows(columns, rows))
    if truncated:
        print(f"(truncated: showing the first {args.max_rows:,} rows; raise --max-rows to see more)",
              file=sys.stderr)


def _export(args: argparse.Namespace) -> None:
    from data import export

    rows = export.export(args.name, args.file, home=args.home)
    print(f"exported {plural(rows, 'row')} of {args.name} to {args.file}")


def _took(started: Any, finished: Any) -> str:
    """A run's duration, e.g. 3m13s ("-" while it runs or when a time is missing)."""
    if started is None or finished is None:
        return "-"
    seconds = round((finished - started).total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _outcome(status: str, metrics: str | dict | None, error: str | None, max_chars: int = 80) -> str:
    """What a run came to in one short cell: its headline metrics (as many as fit), or its error's first line."""
    from app.run_metrics import HEADLINE, headline_metrics

    if status == "failed":
        first = (error or "").strip().splitlines()[:1]
        return (first[0][:max_chars] + ("..." if len(first[0]) > max_chars else "")) if first else "(no error recorded)"

    def label(key: str) -> str:   # validation.ndcg@10 -> ndcg@10; inner_backtest_wape.mean4 -> mean4 wape
        leaf = key.rpartition(".")[2]
        if any(word in leaf.lower() for word in HEADLINE):
            return leaf
        group, _, name = key.partition(".")
        word = next((w for w in HEADLINE if w in group.lower()), group)
        return f"{name} {word}" if name else key

    shown = ""
    for key, value in headline_metrics(metrics, n=3).items():
        part = (f"{label(key)} {value:,}" if isinstance(value, int) else   # a count: validation_users 0
                f"{label(key)} {value:.4f}" if abs(value) < 10 else f"{label(key)} {value:,.4g}")
        if shown and len(shown) + 2 + len(part) > max_chars:
            break
        shown = f"{shown}  {part}" if shown else part
    return shown


def _runs(args: argparse.Namespace) -> None:
    from data import runs

    if args.mark_failed:
        runs.mark_failed(args.mark_failed, args.home)
        print(f"marked run {args.mark_failed} failed; `marquee prune` removes its files")
        return
    listed = runs.list_runs(limit=args.limit, home=args.home)
    if args.format == "json":   # everything, params and metrics as JSON objects
        print(json.dumps([{k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()} for r in listed],
                         ensure_ascii=False))
        return
    if not listed:
        print("no runs yet: try `marquee train recsys`")
        return
    rows = [[r["run_id"], r["pipeline"], r["model"] or "-", r["status"] + ("" if r["artifact_uri"] else " (pruned)"),
             r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r["started_at"] else "-",
             _took(r["started_at"], r["finished_at"]), _outcome(r["status"], r["metrics"], r["error"])]
            for r in listed]
    print(render(["run_id", "pipeline", "model", "status", "started", "took", "metrics or error"], rows))


def _prune(args: argparse.Namespace) -> int:
    from data import prune

    report = prune.prune(keep=args.keep, dry_run=args.dry_run, home=args.home)
    print(report.summary(args.dry_run))
    for why in report.left:
        print(f"warning: cannot remove {why}; the next `marquee prune` tries again", file=sys.stderr)
    return 1 if report.left else 0


def register(cli) -> None:
    cli.command("init", "create the store, or upgrade one made by an older Marquee (idempotent)", _init)
    cli.command("load-demo", "load MovieLens-100k and the demo join of real review texts", _load_demo)
    p = cli.command("ingest", "validate and load your own CSV or Parquet file (all rows or none)", _ingest)
    p.add_argument("entity", choices=["users", "items", "interactions", "reviews"], help="what the file holds")
    p.add_argument("file", type=file_arg, help="a .csv, .tsv, .parquet or .pq file")
    p.add_argument("--skip-invalid", action="store_true",
                   help="load the good rows; keep the bad ones, with reasons, in rejected_rows")
    p.add_argument("--rating-range", nargs=2, type=float, default=[0.0, 10.0], metavar=("LO", "HI"),
                   help="accepted rating range (default 0 10)")
    p = cli.command("sql", "run one read-only SQL query against the store", _sql)
    p.add_argument("query", help="one SELECT-type statement, e.g. \"SELECT * FROM items LIMIT 5\"")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help=f"table cuts values at {TABLE_CELL_CHARS} characters; csv and json keep them whole")
    p.add_argument("--max-rows", type=positive_int, default=10_000, help="row cap (default 10000)")
    p.add_argument("--timeout", type=float, help="stop the query after this many seconds (default 120)")
    p = cli.command("export", "write a table or view to a .csv or .parquet file", _export)
    p.add_argument("name", metavar="TABLE_OR_VIEW", help="a table or view of the store, e.g. recommendations_latest")
    p.add_argument("file", type=file_arg, help="the file to write: .csv, .parquet or .pq")
    p = cli.command("runs", "list the run registry, newest first: headline metrics, or why a run failed", _runs)
    p.add_argument("--limit", type=positive_int, default=50, help="how many runs (default 50)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="json: every field, with the full params and metrics (default table)")
    p.add_argument("--mark-failed", type=run_id_arg, metavar="RUN_ID",
                   help="mark a run stuck `running` failed (killed where its process could not be checked: by an "
                        "older Marquee, or on another machine); refused while its process runs here")
    p = cli.command("prune", "remove old and failed runs' model files and outputs; keep their registry rows and metrics", _prune)
    p.add_argument("--keep", type=positive_int, default=3,
                   help="succeeded runs kept per pipeline, newest first (default 3); runs whose outputs the "
                        "*_latest views serve and runs still training are always kept (a killed run is not)")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
