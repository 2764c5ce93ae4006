"""Forecast commands: `marquee train|score|evaluate forecast`."""
from __future__ import annotations

import argparse
import json

from app.cli import EVENT_TYPES_HELP, event_types, resolve_profile, run_id_arg, whole_number


def _train(args: argparse.Namespace) -> None:
    from forecasting import api

    run_id = api.train(args.home, profile=resolve_profile(args), device=args.device, seed=args.seed,
                       horizon=args.horizon, freq=args.freq, cutoff=args.cutoff, model=args.model,
                       event_types=args.event_types)
    from data import runs

    metrics = runs.get(run_id, args.home)["metrics"]
    scores = metrics["inner_backtest_wape"]
    chosen = (f"inner backtest WAPE {json.dumps({k: round(v, 3) for k, v in scores.items()})}" if scores else
              "too little history before the cutoff for an inner backtest, or no event in its windows: not selected, "
              "intervals not calibrated")
    print(f"trained {run_id}: recipe {metrics['selected']} ({chosen}, {metrics['train_seconds']:.0f}s)")


def _score(args: argparse.Namespace) -> None:
    from forecasting import api

    out = api.score(args.home, run_id=args.run, device=args.device)
    print(score_summary(out))


def score_summary(out: dict) -> str:
    """What `score forecast` published, in one line (`marquee demo` prints it too)."""
    from data.wording import plural

    no_genre = out["no_genre_titles"]
    from_genres = out["genre_fallback_titles"] - no_genre
    fallbacks = [f"{plural(from_genres, 'title')} from their genres"] if from_genres or not no_genre else []
    if no_genre:   # e.g. a catalogue without genres
        fallbacks.append(f"{plural(no_genre, 'title')} with no genre to go by, at the recent average of the "
                         "titles too little watched to model")
    return (f"published {plural(out['rows'], 'forecast row')} for {out['series']:,} series "
            f"({', '.join(fallbacks)}) from {out['run_id']}")


def _evaluate(args: argparse.Namespace) -> None:
    from app.cli import print_json
    from data import runs
    from forecasting import api

    run_id = runs.resolve("forecast", args.run, args.home)["run_id"]   # named in the output, like `evaluate recsys`
    backtest = api.evaluate(args.home, run_id=run_id, device=args.device, origins=args.origins)["backtest"]
    print_json({"run_id": run_id, "recipe": backtest["recipe"], "horizon": backtest["horizon"],
                "origins": list(backtest["origins"]), "mean": backtest["mean"]})


def register(cli) -> None:
    p = cli.verb("train", "forecast", "train the engagement forecaster (title and genre counts per week, or per day)", _train)
    p.add_argument("--horizon", type=whole_number(1, 366), default=None, help="periods to forecast (default 4)")
    p.add_argument("--freq", choices=["W", "D"], default=None, help="W: Monday-start weeks (default); D: days")
    p.add_argument("--cutoff", default=None,
                   help="YYYY-MM-DD: train on events before it (default: just after the last full period)")
    p.add_argument("--model", choices=["auto", "nhits", "tft", "mean4", "naive", "snaive"], default=None,
                   help="auto (default): the best on a rolling backtest inside the history")
    p.add_argument("--event-types", type=event_types, metavar="TYPES", help=EVENT_TYPES_HELP)
    p = cli.verb("score", "forecast", "publish forecasts(series_id, ds, p10, p50, p90, method) of a run", _score)
    p.add_argument("--run", type=run_id_arg, default=None, help="run id (default: the latest succeeded forecast run)")
    p = cli.verb("evaluate", "forecast", "rolling-origin backtest of a run; metrics go into the run", _evaluate)
    p.add_argument("--run", type=run_id_arg, default=None, help="run id (default: the latest succeeded forecast run)")
    p.add_argument("--origins", type=whole_number(1, 52), default=3, help="backtest origins inside the history")
