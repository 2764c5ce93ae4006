"""Recommender commands: `marquee train|score|evaluate recsys`."""
from __future__ import annotations

import argparse

from app.cli import (
    EVENT_TYPES_HELP,
    event_types,
    file_arg,
    positive_int,
    print_json,
    resolve_profile,
    run_id_arg,
    threads_int,
    whole_number,
)
from data.wording import plural

MODELS = ["auto", "ease", "rp3beta", "ials", "gfcf", "mf", "lightgcn", "blend"]


def _train(args: argparse.Namespace) -> None:
    from recsys import api

    run_id = api.train(args.home, resolve_profile(args), args.device, args.seed, model=args.model,
                       as_of=args.as_of, weighting=args.weighting, threads=args.threads, event_types=args.event_types)
    from data import runs

    m = runs.get(run_id, args.home)["metrics"]
    ndcg = m["validation"]["ndcg@10"]
    measured = (f"validation nDCG@10 {ndcg:.4f}" if ndcg is not None else
                "not validated: no user has the 3 or more titles it takes to hold one out")
    print(f"trained recsys run {run_id}: {m['selected']} ({measured}, {m['train_seconds']:.1f} s)")


def _score(args: argparse.Namespace) -> None:
    from recsys import api

    out = api.score(args.home, args.run, args.device, k=args.k, history_file=args.history,
                    batch_size=args.batch_size, threads=1 if args.threads is None else args.threads)
    print(score_summary(out))
    why = "the run never learned (ingested or first watched after it trained)"
    if pairs := out["store_pairs_skipped"]:
        print(f"note: the store's events of {plural(out['store_titles_skipped'], 'title')} {why} were left out "
              f"({plural(pairs, 'user-title pair')}); retrain to use them")
    if rows := out["history_rows_skipped"]:
        print(f"note: {args.history}: {plural(rows, 'row')} skipped, naming titles {why}; retrain to fold them in")


def score_summary(out: dict) -> str:
    """What `score recsys` published, in one line (`marquee demo` prints it too), with the reason for users left
    without recommendations and for an empty similar_items."""
    titles = "the only title" if out["titles"] == 1 else f"all {out['titles']:,} titles"
    seen_all = (f"; {plural(out['users_seen_all'], 'user')} had already seen {titles} "
                "the run knows: nothing left to recommend to them" if out["users_seen_all"] else "")
    similar = plural(out["similar_items"], "similar_items row") + (
        "" if out["similar_items"] else f" ({_why_no_similar_items(out)})")
    return (f"run {out['run_id']}: {plural(out['recommendations'], 'recommendation')} for "
            f"{plural(out['users'], 'user')} ({out['folded_in_users']:,} folded in, {out['popular_users']:,} with "
            f"no history got popular titles{seen_all}), {similar}")


def _why_no_similar_items(out: dict) -> str:
    if out["titles"] == 1:
        return "the run knows only 1 title"
    if not out["training_users_with_two_titles"]:
        return "no user in the training data has two titles, so nothing links one title to another"
    return "the model rates no pair of titles as similar"


def _evaluate(args: argparse.Namespace) -> None:
    from recsys import api

    print_json(api.evaluate(args.home, args.run))


def register(cli) -> None:
    p = cli.verb("train", "recsys", "train recommenders, pick the best on a validation split, refit it", _train)
    p.add_argument("--model", choices=MODELS, default="auto",
                   help="auto (default): try every candidate and a blend, keep the best on validation (EASE, "
                        "not validated, when no user has the 3 titles it takes)")
    p.add_argument("--as-of", metavar="TIME", help="train only on interactions strictly before TIME")
    p.add_argument("--weighting", choices=["binary", "rating"], help="matrix values: rating (default; iALS uses them as confidence) or binary")
    p.add_argument("--threads", type=threads_int,
                   help="torch CPU threads (0: torch default; profile default: quick 1, with EASE's one big "
                        "factorisation on every core)")
    p.add_argument("--event-types", type=event_types, metavar="TYPES", help=EVENT_TYPES_HELP)

    s = cli.verb("score", "recsys", "write top-k recommendations for every user and similar_items", _score)
    s.add_argument("--run", type=run_id_arg, help="run id (default: the latest succeeded recsys run)")
    s.add_argument("--k", type=whole_number(1, 1000), default=10, help="recommendations per user")
    s.add_argument("--history", type=file_arg, metavar="FILE",
                   help="CSV/TSV/Parquet user_id,item_id[,timestamp,rating,event_type]: new users or new events, "
                        "folded in without retraining (read like `marquee ingest interactions`, but any rating; rows "
                        "of a title the run never learned are skipped, with a note; for a run of "
                        "--event-types, only rows of those types count when the file has event_type)")
    s.add_argument("--batch-size", type=positive_int, default=1024, help="users scored per batch")
    s.add_argument("--threads", type=threads_int, help="torch CPU threads (default 1; 0: torch default)")

    e = cli.verb("evaluate", "recsys", "the validation metrics of a run (recorded in the run)", _evaluate)
    e.add_argument("--run", type=run_id_arg, help="run id (default: the latest succeeded recsys run)")
