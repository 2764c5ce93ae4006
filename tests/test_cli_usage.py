"""The command line as a person meets it: options where they are written, the help, what commands print."""
from __future__ import annotations

import argparse
import importlib
import json

import pytest

from app.cli import build_parser, main
from data import runs
from tests.ingest_helpers import marquee

LONG = 0.44665738347325024   # a metric as numpy hands it over: 17 significant digits


@pytest.mark.parametrize("line", [
    "--home A evaluate sentiment", "evaluate --home A sentiment", "evaluate sentiment --home A",
    "--home B evaluate --home A sentiment", "evaluate --home B sentiment --home A",   # the last one written wins
])
def test_home_is_read_wherever_it_is_written(tmp_path, line):
    args = [str(tmp_path / word) if word in ("A", "B") else word for word in line.split()]
    proc = marquee(*args, home=tmp_path / "env")
    assert proc.returncode == 2 and f"no store at {tmp_path / 'A' / 'store.duckdb'}" in proc.stderr, proc.stderr


def test_options_before_a_command_that_does_not_use_them(home):
    proc = marquee("--seed", "3", "--profile", "quick", "--device", "cpu", "runs", home=home)
    assert proc.returncode == 0 and "no runs yet" in proc.stdout, proc.stderr


@pytest.mark.parametrize("line", [
    "--home H --profile full --device cpu --seed 3 train recsys",
    "train --home H --profile full --device cpu --seed 3 recsys",
    "train recsys --home H --profile full --device cpu --seed 3",
    "--home X --profile quick --device cuda --seed 1 train --home H --seed 2 recsys --profile full --device cpu "
    "--seed 3",
])
def test_common_options_anywhere_on_the_line_last_one_wins(line):
    args = build_parser().parse_args(line.split())
    assert (args.home, args.profile, args.device, args.seed) == ("H", "full", "cpu", 3)


@pytest.mark.parametrize("line", ["train recsys", "runs", "evaluate forecast"])
def test_common_options_default_when_not_written(line):
    args = build_parser().parse_args(line.split())
    assert (args.home, args.profile, args.device, args.seed) == (None, "auto", "auto", 42)


@pytest.mark.parametrize("pipeline", ["recsys", "forecast"])
def test_event_types_quote_a_type_holding_a_comma_as_csv_does(pipeline, capsys):
    parse = build_parser().parse_args
    args = parse(["train", pipeline, "--event-types", '"add,to,cart", purchase,rating,purchase'])
    assert args.event_types == ("add,to,cart", "purchase", "rating")
    assert parse(["train", pipeline, "--event-types", "rating"]).event_types == ("rating",)
    for bad in ('"add,to', "rating,,purchase", ""):
        with pytest.raises(SystemExit):
            parse(["train", pipeline, "--event-types", bad])
        assert "quote one holding a comma" in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser, name: str = "marquee"):
    """(name, parser) of the root and every command under it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _parsers(p, f"{name} {sub}")


def _help(*command: str) -> str:
    parsers = dict(_parsers(build_parser()))
    return " ".join(parsers[" ".join(("marquee", *command))].format_help().split())


def test_every_argument_has_a_help():
    missing = [(name, action.dest) for name, parser in _parsers(build_parser()) for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert not missing


HELP_SHOWS = {   # command: words its --help shows (whitespace folded)
    "train recsys": ["--seed SEED random seed", "(default 42)", "(default auto)", "--device {auto,cpu,cuda} where"],
    "runs": ["(default 42)", "--home DIR folder of the store"],
    "app": ["--port PORT port on 127.0.0.1 to serve on (default 8501)"],
    "demo": ["(default 8501)"],
    "train sentiment": ["--epochs EPOCHS passes over the training reviews (profile default)"],
    "sql": ["keep them whole (default table)", "query one SELECT-type statement"],
    "score recsys": ["users scored per batch (default 1024)"],
    "evaluate forecast": ["backtest origins inside the history (default 3)"],
    "evaluate sentiment": ["--run RUN run id (default: the latest succeeded sentiment run)"],
}


@pytest.mark.parametrize("command", HELP_SHOWS)
def test_help_shows_defaults(command):
    text = _help(*command.split())
    assert [words for words in HELP_SHOWS[command] if words not in text] == []


def test_top_level_help_is_for_users():
    text = _help()
    assert "thin face" not in text
    assert "Start with `marquee demo`" in text and "$MARQUEE_HOME" in text and "./.marquee" in text


def _published(home, pipeline: str, metrics: dict | None = None) -> str:
    run = runs.start(pipeline, "m", {}, home=home)
    runs.publish(run.run_id, metrics=metrics or {"x": 1.0}, home=home)
    return run.run_id


def test_evaluate_recsys_json_has_6_significant_digits(home, capsys, monkeypatch):
    from recsys import api

    monkeypatch.setattr(api, "evaluate", lambda home, run: {"run_id": "r", "validation": {"ndcg@10": LONG},
                                                            "recommended_seen_items": 3})
    assert main(["evaluate", "recsys"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": "r", "validation": {"ndcg@10": 0.446657},
                                                   "recommended_seen_items": 3}


def test_evaluate_sentiment_names_the_kept_truncation_instead_of_repeating_it(home, capsys):
    kept, other = {"nll": LONG, "auc": 0.9}, {"nll": 0.5123456789, "auc": 0.8}
    run_id = _published(home, "sentiment", {"val": {"nll": LONG}, "val_transformer": kept,
                                            "val_truncation": {"head_tail": other, "chunk_pool": kept}})
    assert main(["evaluate", "sentiment"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "run_id": run_id, "model": "m", "val": {"nll": 0.446657}, "val_transformer": {"nll": 0.446657, "auc": 0.9},
        "truncation": "chunk_pool", "val_truncation": {"head_tail": {"nll": 0.512346, "auc": 0.8}}}


def test_evaluate_forecast_says_which_run_and_what_was_backtested(home, capsys, monkeypatch):
    from forecasting import api

    run_id, asked = _published(home, "forecast"), []

    def evaluate(home, run_id, device, origins):
        asked.append(run_id)
        return {"backtest": {"recipe": "mean4", "horizon": 4, "mean": {"recipe": {"wape": LONG}},
                             "origins": {"2024-03-04": {}, "2024-04-01": {}}}}

    monkeypatch.setattr(api, "evaluate", evaluate)
    assert main(["evaluate", "forecast", "--origins", "2"]) == 0
    assert asked == [run_id]
    assert json.loads(capsys.readouterr().out) == {"run_id": run_id, "recipe": "mean4", "horizon": 4,
                                                   "origins": ["2024-03-04", "2024-04-01"],
                                                   "mean": {"recipe": {"wape": 0.446657}}}


ONE = {"run_id": "run-1", "users": 1, "folded_in_users": 1, "popular_users": 1, "recommendations": 1,
       "titles": 1, "users_seen_all": 1, "training_users_with_two_titles": 1, "similar_items": 1,
       "scored": 1, "already_scored": 1, "refused_empty": 1, "item_sentiment_daily_rows": 1,
       "rows": 1, "series": 1, "genre_fallback_titles": 2, "no_genre_titles": 1}


@pytest.mark.parametrize("n", [1, 2])
def test_counts_are_worded_in_the_right_number(n):
    from app.commands import forecast, recsys, sentiment
    from data.ingest import IngestResult

    out = {k: n if isinstance(v, int) else v for k, v in ONE.items()}
    s = "" if n == 1 else "s"
    assert f"{n} recommendation{s} for {n} user{s} " in recsys.score_summary(out)
    assert f"scored {n} new review{s} " in sentiment.score_summary(out)
    assert f"scored {n} review{s} into x.csv ({n} empty text{s} not scored)" in sentiment.score_summary(
        {**out, "output": "x.csv"})
    assert f"published {n} forecast row{s} for {n} series ({n} title{s} from their genres, {n} title{s} with no" \
        in forecast.score_summary({**out, "genre_fallback_titles": 2 * n})
    summary = IngestResult("interactions", "f.csv", n, n, 0, 0, 0, users_registered=n).summary()
    assert f"{n} row{s} read from f.csv" in summary and f"{n} new user{s} registered" in summary


def test_demo_prints_the_score_summaries_and_the_device_it_uses(home, capsys, monkeypatch):
    """The batch part's printing, with the pipelines' train and score stubbed (they are tested elsewhere)."""
    import torch

    from app.commands import demo
    from data import demo as demo_data

    monkeypatch.setattr(demo_data, "load", lambda home, profile, seed: {"users": 1})
    for _, package in demo.PIPELINES:
        api = importlib.import_module(f"{package}.api")
        monkeypatch.setattr(api, "train", lambda **kwargs: "run-1")
        monkeypatch.setattr(api, "score", lambda **kwargs: ONE)
    demo.run_batch(home, "quick", "auto", 42)
    out = capsys.readouterr().out
    assert f"device {'cuda' if torch.cuda.is_available() else 'cpu'}\n" in out
    for pipeline, _ in demo.PIPELINES:
        assert f"[demo] {importlib.import_module(f'app.commands.{pipeline}').score_summary(ONE)}\n" in out
    assert "{" not in out


def test_train_sentiment_says_when_fine_tuning_ran_out_of_time():
    from app.commands.sentiment import train_summary

    cut = {"val": {"accuracy": 0.9333, "n": 300}, "history": {"steps": 66, "planned_steps": 300, "stopped": "time_budget"}}
    assert train_summary("s-1", json.dumps(cut)).splitlines() == [
        "trained sentiment run s-1: validation accuracy 0.933 on 300 reviews",
        "note: fine-tuning stopped at its time budget after 66 of 300 steps, so the model may be undertrained; "
        "--time-budget SECONDS gives it longer (a GPU is much faster)"]
    full = {"val": {"accuracy": 0.91, "n": 1}, "history": {"steps": 300, "planned_steps": 300, "stopped": "epochs"}}
    assert train_summary("s-2", full) == "trained sentiment run s-2: validation accuracy 0.910 on 1 review"
    assert train_summary("s-3", {"val": {"nll": 0.3}}) == "trained sentiment run s-3"   # e.g. a baseline's run
