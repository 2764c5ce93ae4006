"""Sentiment commands: `marquee train|score|evaluate sentiment`."""
from __future__ import annotations

import argparse
import json
import sys

from app.cli import (
    file_arg,
    folder_arg,
    positive_int,
    positive_number,
    print_json,
    resolve_profile,
    run_id_arg,
    whole_number,
)
from data.wording import plural


def _train(args: argparse.Namespace) -> None:
    from data import runs
    from nlp import api

    overrides = {"max_train": args.max_train, "max_len": args.max_len, "epochs": args.epochs,
                 "time_budget_s": args.time_budget}
    if args.no_blend:
        overrides["blend"] = False
    run_id = api.train(args.home, resolve_profile(args), args.device, args.seed, model=args.model,
                       labeled=args.labeled, **overrides)
    run = runs.get(run_id, args.home)
    print(train_summary(run_id, run["metrics"]))
    note = label_note(args.labeled, run["data_snapshot"] or {}) if args.labeled else None
    if note:
        print(note, file=sys.stderr)


def label_note(path, record: dict) -> str | None:
    """How a labelled file's labels were read, in one line, where it could have been read another way: star
    ratings (a user counting rows finds the 3-star ones gone), -1/1, or 1s only, which might be 1-star ratings
    (nlp.labels). None for a plain binary file."""
    from nlp.labels import ALL_ONES, SIGNED_RULE

    if "neutral_left_out" in record:
        return (f"note: {path}: labels read as star ratings (4-5 stars positive, 1-2 negative); "
                f"{plural(record['neutral_left_out'], 'row')} of 3 stars left out as neutral")
    if record.get("labels") == SIGNED_RULE:
        return f"note: {path}: labels read as -1 negative, 1 positive"
    if record.get("labels") == ALL_ONES:
        return (f"note: {path}: every label is 1, read as binary: all positive; were they 1-star ratings, "
                "the file would need other star values (2-5) to be read as stars")
    return None


def train_summary(run_id: str, metrics: str | dict | None) -> str:
    """What a training run came to, and whether fine-tuning was cut short by its time budget."""
    m = json.loads(metrics) if isinstance(metrics, str) else (metrics or {})
    line = f"trained sentiment run {run_id}"
    if isinstance(m.get("val"), dict) and "accuracy" in m["val"]:
        line += f": validation accuracy {m['val']['accuracy']:.3f} on {plural(m['val'].get('n', 0), 'review')}"
        majority = m.get("val_majority_share")
        if majority is not None and m["val"]["accuracy"] <= majority:
            line += (f"\nnote: no better than giving every validation review the commoner label ({majority:.3f}): "
                     "the model may not tell the rarer label apart; label more reviews of it")
    both = m.get("texts_with_both_labels")
    if both:
        line += (f"\nnote: {plural(both, 'text')} (ignoring case and spacing) {'is' if both == 1 else 'are'} labelled "
                 "both positive and negative; all copies of each stay together, in training or in validation")
    history = m.get("history") or {}
    if history.get("stopped") == "time_budget":
        done, planned = history.get("steps", 0), history.get("planned_steps")
        of = f" of {planned:,}" if planned else ""
        line += (f"\nnote: fine-tuning stopped at its time budget after {done:,}{of} steps, so the model may be "
                 "undertrained; --time-budget SECONDS gives it longer (a GPU is much faster)")
    return line


def _score(args: argparse.Namespace) -> None:
    from nlp import api

    out = api.score(args.home, args.run, args.device, input=args.input, output=args.output,
                    rescore_all=args.all, model_dir=args.model_dir, components=args.components)
    print(score_summary(out))


def score_summary(out: dict) -> str:
    """What `score sentiment` did, in one line (`marquee demo` prints it too): into a file, or the store."""
    if "output" in out:   # --input FILE --output FILE
        return (f"scored {plural(out['scored'], 'review')} into {out['output']}"
                + (f" ({plural(out['refused_empty'], 'empty text')} not scored)" if out["refused_empty"] else ""))
    changed = f"{out['changed']:,} of them changed since scored, " if out.get("changed") else ""
    return (f"run {out['run_id']}: scored {plural(out['scored'], 'new review')} ({changed}"
            f"{out['already_scored']:,} already scored, {out['refused_empty']:,} empty refused); "
            f"item_sentiment_daily: {plural(out['item_sentiment_daily_rows'], 'row')}")


def _evaluate(args: argparse.Namespace) -> None:
    from nlp import api
    from nlp.evaluation import eval_key

    out = api.evaluate(args.home, args.run, labeled=args.labeled, device=args.device)
    print_json(out)
    if args.labeled:   # said in words too, on stderr: stdout stays JSON for scripts
        result = out[eval_key(args.labeled)]
        note = label_note(args.labeled, result)
        if note:
            print(note, file=sys.stderr)
        for name, why in result.get("undefined", {}).items():
            print(f"note: {args.labeled}: {name} is undefined ({why})", file=sys.stderr)


def register(cli) -> None:
    p = cli.verb("train", "sentiment", "fine-tune MiniLM (or a TF-IDF/NB-LR baseline) on labelled reviews", _train)
    p.add_argument("--model", choices=["minilm", "tfidf", "nblr"], default="minilm",
                   help="minilm: fine-tuned transformer (default); tfidf: TF-IDF + LR baseline; nblr: NB-weighted LR")
    p.add_argument("--labeled", type=file_arg, metavar="FILE",
                   help="CSV/TSV/Parquet with text,label (0/1, pos/neg, -1/1, ... or stars 1-5: 4-5 positive, 1-2 "
                        "negative, 3 left out; default: the sentiment protocol's train part)")
    p.add_argument("--max-train", type=positive_int, help="cap on training reviews (profile default)")
    p.add_argument("--max-len", type=whole_number(16, 512), help="tokens per sequence (profile default)")
    p.add_argument("--epochs", type=whole_number(1, 100), help="passes over the training reviews (profile default)")
    p.add_argument("--time-budget", type=positive_number, help="stop fine-tuning after this many seconds (profile default)")
    p.add_argument("--no-blend", action="store_true", help="never blend the transformer with NB-weighted LR")

    s = cli.verb("score", "sentiment", "score the store's unscored reviews, or --input FILE --output FILE", _score)
    s.add_argument("--run", type=run_id_arg, help="run id (default: the latest succeeded sentiment run)")
    s.add_argument("--all", action="store_true", help="re-score every review, not only new or changed ones")
    s.add_argument("--input", type=file_arg, metavar="FILE",
                   help="CSV/TSV/Parquet with review_id,text to score (store untouched)")
    s.add_argument("--output", type=file_arg, metavar="FILE", help="where --input's scores go (.csv, .parquet or .pq)")
    s.add_argument("--model-dir", type=folder_arg, help="score with a saved model folder instead of a run")
    s.add_argument("--components", action="store_true",
                   help="with --output: also write each blended part's calibrated probability")

    e = cli.verb("evaluate", "sentiment", "a run's validation metrics (and on --labeled FILE)", _evaluate)
    e.add_argument("--run", type=run_id_arg, help="run id (default: the latest succeeded sentiment run)")
    e.add_argument("--labeled", type=file_arg, metavar="FILE",
                   help="also evaluate on this CSV/TSV/Parquet of text,label (0/1, pos/neg, -1/1, ... or stars 1-5, "
                        "3 left out; kept in the run as eval:<absolute path>)")
