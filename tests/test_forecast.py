"""The engagement forecaster: series building, leakage, baselines, fallback, and a tiny N-HiTS run.

Every test builds its own small store: a handful of titles with known weekly event counts.
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main as marquee
from data import runs, store
from data.errors import MarqueeError
from forecasting import api, baselines, fallback, nets, series
from forecasting.config import make_config
from tests.ingest_helpers import marquee as marquee_process

START = pd.Timestamp("2024-01-01")          # a Monday
ITEMS = pd.DataFrame({
    "item_id": ["1", "2", "3", "4", "5", "6"],
    "title": ["Big Drama", "Comedy Hit", "Romcom", "Small Drama", "New Drama", "Old Comedy"],
    "genres": ["Drama", "Comedy", "Comedy|Romance", "Drama", "Drama", "Comedy"],
    "release_year": [2020, 2021, 2019, 2023, 2024, 1990],
})


def _load(home, events: pd.DataFrame, items: pd.DataFrame = ITEMS) -> None:
    """events: item_id, ts (+ user_id); written straight into a fresh store."""
    ev = events.assign(user_id=events.get("user_id", "u"), rating=4.0, event_type=events.get("event_type", "rating"))
    with store.write(home) as con:
        con.register("i", items)
        con.execute("INSERT INTO items BY NAME SELECT * FROM i")
        con.register("e", ev[["user_id", "item_id", "ts", "rating", "event_type"]])
        con.execute("INSERT INTO interactions BY NAME SELECT * FROM e")


def _weekly_events(counts: dict[str, list[int]], seed: int = 0) -> pd.DataFrame:
    """counts[item] = events per week from START; each at a random moment inside its week."""
    rng = np.random.default_rng(seed)
    rows = []
    for item, per_week in counts.items():
        for week, n in enumerate(per_week):
            offsets = rng.integers(0, 7 * 24 * 3600, size=n)
            rows += [(item, START + pd.Timedelta(weeks=week) + pd.Timedelta(seconds=int(s))) for s in offsets]
    return pd.DataFrame(rows, columns=["item_id", "ts"])


def _history(home, cutoff: str, freq: str = "W") -> series.History:
    with store.read(home) as con:
        return series.load_history(con, pd.Timestamp(cutoff), freq)


def test_series_match_a_hand_count(home):
    ts = pd.to_datetime([
        "2023-12-30 10:00",                       # partial first week (store starts on a Saturday): dropped
        "2024-01-01 00:00", "2024-01-07 23:59",   # week of Jan 1 (Monday 00:00 .. Sunday 23:59)
        "2024-01-08 00:00",                       # week of Jan 8
        "2024-01-22 12:00",                       # week of Jan 22 (Jan 15 is an empty week)
    ])
    events = pd.DataFrame({"item_id": ["1", "1", "3", "3", "1"], "ts": ts})
    events = pd.concat([events, pd.DataFrame({"item_id": ["2"], "ts": [pd.Timestamp("2024-01-16 09:00")]})])
    _load(home, events)
    hist = _history(home, "2024-01-29")
    assert hist.start == pd.Timestamp("2024-01-01")
    got = series.build_series(hist).set_index(["series_id", "ds"])["y"].to_dict()
    w = [pd.Timestamp(d) for d in ("2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22")]
    want = {
        ("item:1", w[0]): 1, ("item:1", w[1]): 0, ("item:1", w[2]): 0, ("item:1", w[3]): 1,
        ("item:3", w[0]): 1, ("item:3", w[1]): 1, ("item:3", w[2]): 0, ("item:3", w[3]): 0,
        ("item:2", w[2]): 1, ("item:2", w[3]): 0,                  # zeros only from its first event
        ("genre:Drama", w[0]): 1, ("genre:Drama", w[1]): 0, ("genre:Drama", w[2]): 0, ("genre:Drama", w[3]): 1,
        ("genre:Comedy", w[0]): 1, ("genre:Comedy", w[1]): 1, ("genre:Comedy", w[2]): 1, ("genre:Comedy", w[3]): 0,
        ("genre:Romance", w[0]): 1, ("genre:Romance", w[1]): 1, ("genre:Romance", w[2]): 0, ("genre:Romance", w[3]): 0,
    }
    assert got == want
    modeled = series.select_series(series.wide(hist), min_events=2)
    assert modeled == ["genre:Comedy", "genre:Drama", "genre:Romance", "item:1", "item:3"]
    assert series.fallback_titles(hist.items, modeled) == ["item:2", "item:4", "item:5", "item:6"]  # 4-6: no events
    with store.read(home) as con:
        assert series.default_cutoff(con, "W") == pd.Timestamp("2024-01-22")   # the last week is partial
        daily = series.load_history(con, pd.Timestamp("2024-01-09"), "D")
    assert daily.start == pd.Timestamp("2023-12-30")                   # a day is full from any hour on
    assert series.wide(daily).loc["item:3"].sum() == 2


def test_data_from_a_periods_first_day_counts_it_as_full(home):
    """Both ends are judged by day: data from Monday 00:05 to Sunday 23:00 is two full weeks (14 full days)."""
    ts = pd.to_datetime(["2024-01-01 00:05:35", "2024-01-03 12:00:00", "2024-01-08 09:00:00", "2024-01-14 23:00:00"])
    _load(home, pd.DataFrame({"item_id": "1", "ts": ts}))
    with store.read(home) as con:
        for freq, cutoff, periods in (("W", "2024-01-15", 2), ("D", "2024-01-15", 14)):
            assert series.default_cutoff(con, freq) == pd.Timestamp(cutoff)
            hist = series.load_history(con, pd.Timestamp(cutoff), freq)
            assert hist.start == START and len(hist.periods()) == periods
            assert hist.counts["y"].sum() == 4                       # the first Monday's event included


def test_an_event_after_the_cutoff_changes_nothing(home):
    counts = {"1": [5, 6, 7, 8, 9, 10], "2": [3, 3, 3, 3, 3, 3], "3": [0, 2, 2, 2, 2, 2]}
    _load(home, _weekly_events(counts))
    cutoff = START + pd.Timedelta(weeks=5)
    before = _history(home, str(cutoff.date()))
    late = pd.DataFrame({"item_id": ["1", "6", "2"], "user_id": "late",
                         "ts": [cutoff, cutoff + pd.Timedelta(days=2), cutoff + pd.Timedelta(weeks=3)]})
    with store.write(home) as con:
        con.register("late", late.assign(rating=5.0, event_type="rating"))
        con.execute("INSERT INTO interactions BY NAME SELECT * FROM late")
    after = _history(home, str(cutoff.date()))
    pd.testing.assert_frame_equal(series.build_series(before), series.build_series(after))
    genres = ["Comedy", "Drama", "Romance"]
    m_before, m_after = series.wide(before), series.wide(after)
    pd.testing.assert_frame_equal(m_before, m_after)
    pd.testing.assert_frame_equal(nets.model_frame(before, m_before, genres, 4), nets.model_frame(after, m_after, genres, 4))
    assert "item:6" not in m_after.index     # its only event is after the cutoff
    # a week later, that week's events (regular ones + the two late ones inside it) do count
    week5 = sum(c[5] for c in counts.values())
    assert _history(home, str((cutoff + pd.Timedelta(weeks=1)).date())).counts["y"].sum() == \
        before.counts["y"].sum() + week5 + 2


def test_baselines_on_a_hand_example():
    x = np.array([[1.0, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 4, 0, 0, 0]])
    np.testing.assert_array_equal(baselines.naive(x, 3), [[8, 8, 8], [0, 0, 0]])
    np.testing.assert_array_equal(baselines.mean_last(x, 2, 4), [[6.5, 6.5], [1, 1]])
    np.testing.assert_array_equal(baselines.seasonal_naive(x, 9, 7), [[2, 3, 4, 5, 6, 7, 8, 2, 3], [0, 0, 0, 4, 0, 0, 0, 0, 0]])


def test_genre_fallback_uses_the_titles_share_and_a_new_title_prior():
    weeks = pd.date_range("2024-01-01", periods=4, freq="7D")
    m = pd.DataFrame([[10, 10, 10, 10], [1, 1, 1, 1], [0, 0, 2, 2], [0, 0, 0, 0]],
                     index=["genre:Drama", "item:4", "item:5", "item:7"], columns=weeks, dtype=float)
    genres_of = {"item:4": ["Drama"], "item:5": ["Drama"], "item:7": ["Drama"]}
    genre_fc = {"genre:Drama": np.array([[10.0, 20.0, 30.0]] * 2)}
    out = fallback.forecast(["item:4", "item:5", "item:7"], genres_of, genre_fc, m, window=2, horizon=2)
    assert out["item:4"][:, 1] == pytest.approx([2.0, 2.0])     # 2 of the genre's 20 recent events
    assert out["item:5"][:, 1] == pytest.approx([4.0, 4.0])     # 4 of 20
    assert out["item:7"][:, 1] == pytest.approx([4.0, 4.0])     # no events: the share of a title launched lately
    for q in out.values():
        assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all() and (q >= 0).all()


def test_cli_baseline_run_scores_and_evaluates(home, capsys):
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "3": [5] * 20, "4": [0] * 16 + [1, 1, 1, 1]}
    _load(home, _weekly_events(counts))
    # quick pinned: `auto` is `full` on a GPU, whose 12-week look-back leaves these 20 weeks no backtest origin
    assert marquee(["train", "forecast", "--home", str(home), "--model", "mean4", "--cutoff", "2024-05-13",
                    "--profile", "quick"]) == 0
    assert marquee(["score", "forecast", "--home", str(home)]) == 0
    with store.read(home) as con:
        fc = con.sql("SELECT * FROM forecasts_latest").df()
    x4 = fc[fc.series_id == "item:2"]
    assert list(x4["p50"]) == [10.0] * 4 and list(x4["method"]) == ["mean4"] * 4
    assert marquee(["evaluate", "forecast", "--home", str(home), "--origins", "2"]) == 0
    metrics = runs.latest("forecast", home)["metrics"]
    assert set(metrics["backtest"]["mean"]) == {"recipe", "naive", "mean4"}
    assert metrics["backtest"]["mean"]["recipe"]["wape"] == pytest.approx(metrics["backtest"]["mean"]["mean4"]["wape"])
    assert marquee(["train", "forecast", "--home", str(home), "--cutoff", "2024-05-14"]) == 2   # a Tuesday
    assert "must start a period" in capsys.readouterr().err
    # weeks past the data would count as zero events, and a forecast of zeros would score perfectly
    assert marquee(["train", "forecast", "--home", str(home), "--model", "naive", "--cutoff", "2030-01-07"]) == 2
    assert "is after the data" in capsys.readouterr().err


@pytest.mark.parametrize("cutoff", ["", "NaT", "nan"])
def test_a_cutoff_pandas_reads_as_nat_is_not_a_date(home, capsys, cutoff):
    """pandas reads these as NaT: "NaT" crashed with an AttributeError, "" trained at the default cutoff."""
    _load(home, _weekly_events({"1": [5] * 8}))
    assert marquee(["train", "forecast", "--home", str(home), "--model", "mean4", "--cutoff", cutoff]) == 2
    assert capsys.readouterr().err == f"error: --cutoff {cutoff!r} is not a date (YYYY-MM-DD)\n"
    assert runs.list_runs(home=home) == []


def test_evaluate_leaves_out_an_origin_whose_window_has_no_event(home):
    """WAPE divides by the window's events: a week nobody watched anything must not score 1e9."""
    counts = {"1": [5] * 17 + [0] + [5], "2": [3] * 17 + [0] + [3]}      # week 17 (2024-04-29): no event at all
    _load(home, _weekly_events(counts))
    run_id = api.train(home, model="mean4", horizon=1, cutoff="2024-05-13", progress=False)
    origins = api.evaluate(home, run_id, origins=3, progress=False)["backtest"]["origins"]
    assert list(origins) == ["2024-04-22", "2024-05-06"]
    assert all(o[k]["wape"] < 10 for o in origins.values() for k in ("recipe", "naive", "mean4"))


def test_train_says_when_the_history_is_too_short_to_select(home, capsys):
    """Eight weeks: no inner backtest origin fits, so `auto` takes mean4 unselected and uncalibrated; say so."""
    _load(home, _weekly_events({"1": [5] * 8, "2": [3] * 8}))
    assert marquee(["train", "forecast", "--home", str(home), "--profile", "quick"]) == 0
    out = capsys.readouterr().out
    assert "recipe mean4 (too little history before the cutoff for an inner backtest" in out and "{}" not in out


def test_train_does_not_select_on_backtest_windows_without_an_event(home, capsys):
    """Sixteen busy weeks, then eight with no event before the cutoff: the inner windows all fall in the gap,
    where WAPE has nothing to divide by; train must not record (or choose by) a WAPE of about 1e11."""
    _load(home, _weekly_events({"1": [5] * 16 + [0] * 8 + [1], "2": [3] * 16}))
    assert marquee(["train", "forecast", "--home", str(home), "--profile", "quick", "--model", "mean4",
                    "--cutoff", "2024-06-17"]) == 0
    assert "no event in its windows" in capsys.readouterr().out
    assert runs.latest("forecast", home)["metrics"]["inner_backtest_wape"] == {}


def _tiny_counts() -> dict[str, list[int]]:
    """16 weeks of 4 busy titles; title 4 too small to model (a fallback), title 5 without events."""
    rng = np.random.default_rng(1)
    return {"1": list(rng.poisson(30, 16)), "2": list(rng.poisson(15, 16)), "3": list(rng.poisson(8, 16)),
            "6": list(rng.poisson(4, 16)), "4": [0] * 12 + [2, 1, 2, 1]}


TINY_NHITS = {"model": "nhits", "cutoff": "2024-04-22", "horizon": 3, "max_epochs": 1, "hidden_size": 8,
              "encoder_length": 6, "batch_size": 32, "progress": False}


def test_train_and_score_count_the_same_fallback_titles(home):
    """The run's data_snapshot, score's summary and forecasts_latest agree on the titles forecast from their
    genres: a title with too few events, and those with none before the cutoff."""
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "3": [5] * 20, "4": [0] * 16 + [1, 1, 1, 1]}
    _load(home, _weekly_events(counts))          # 4: too small; 5, 6: no events
    run_id = api.train(home, model="mean4", cutoff="2024-05-13", progress=False)
    out = api.score(home, run_id)
    with store.read(home) as con:
        published = con.sql("SELECT DISTINCT series_id FROM forecasts_latest WHERE method = 'genre_fallback'").df()
    assert sorted(published["series_id"]) == ["item:4", "item:5", "item:6"]
    assert runs.get(run_id, home)["data_snapshot"]["fallback_titles"] == out["genre_fallback_titles"] == 3


@pytest.mark.parametrize(("genres", "said"), [
    ([None] * 6, "(3 titles with no genre to go by, at the recent average of the titles too little watched to model)"),
    (list(ITEMS["genres"][:4]) + [None, "Comedy"], "(2 titles from their genres, 1 title with no genre to go by, at "),
], ids=["no-genres", "one-without"])
def test_score_says_which_fallback_titles_had_no_genre_to_go_by(home, capsys, genres, said):
    """Titles 4 (too few events), 5 and 6 (none) are not modeled: only those with a genre are forecast from it."""
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "3": [5] * 20, "4": [0] * 16 + [1, 1, 1, 1]}
    _load(home, _weekly_events(counts), ITEMS.assign(genres=genres))
    api.train(home, model="mean4", cutoff="2024-05-13", progress=False)
    assert marquee(["score", "forecast"]) == 0
    printed = capsys.readouterr().out
    assert said in printed and ("from their genres" in printed) == (genres[0] is not None)


def test_a_catalogue_without_genres_is_forecast_over_the_whole_horizon(home):
    """No genres at all: the titles too small to model still get one row per period of the horizon."""
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "4": [0] * 16 + [1, 1, 1, 1]}
    _load(home, _weekly_events(counts), ITEMS.assign(genres=None))
    api.score(home, api.train(home, model="mean4", cutoff="2024-05-13", progress=False))
    with store.read(home) as con:
        fc = con.sql("SELECT series_id, count(*) AS n FROM forecasts_latest GROUP BY series_id").df()
    assert dict(zip(fc["series_id"], fc["n"], strict=True)) == {f"item:{i}": 4 for i in ITEMS["item_id"]}


def test_a_catalogue_without_genres_or_a_busy_title_is_all_fallback(home):
    """Nothing to model (no genre, no title with min_events): every title still gets its forecast."""
    _load(home, _weekly_events({"1": [1] * 21, "2": [0] * 10 + [1] * 11}), ITEMS.assign(genres=None))
    out = api.score(home, api.train(home, model="mean4", cutoff="2024-05-13", progress=False))
    assert out["series"] == out["genre_fallback_titles"] == len(ITEMS) and out["rows"] == 4 * len(ITEMS)


def test_titles_without_genres_or_events_are_forecast_zero_not_nan(home):
    """No genre to borrow from and no title like them with an event: nothing says they will be watched."""
    _load(home, _weekly_events({"1": [20] * 20, "2": [10] * 20}), ITEMS.assign(genres=None))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # numpy's mean of nothing warned, then gave NaN
        api.score(home, api.train(home, model="mean4", cutoff="2024-05-13", progress=False))
    with store.read(home) as con:
        fc = con.sql("SELECT * FROM forecasts_latest WHERE method = 'genre_fallback'").df()
    assert sorted(fc["series_id"].unique()) == ["item:3", "item:4", "item:5", "item:6"]
    assert (fc[["p10", "p50", "p90"]] == 0).all().all()


def test_a_title_is_forecast_zero_before_its_release(home):
    """A title without events is 0 in the weeks that end before its release date (or Jan 1 of a future
    release year), and gets the new-title prior from its release week on."""
    upcoming = pd.DataFrame({"item_id": ["7", "8"], "title": ["Upcoming", "Next Year"], "genres": "Drama",
                             "release_date": pd.to_datetime(["2024-05-29", None]), "release_year": [2024, 2025]})
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "4": [0] * 16 + [2, 1, 2, 1]}
    _load(home, _weekly_events(counts), pd.concat([ITEMS, upcoming], ignore_index=True))
    api.score(home, api.train(home, model="naive", cutoff="2024-05-13", progress=False))
    with store.read(home) as con:
        fc = con.sql("SELECT series_id, ds, p10, p50, p90 FROM forecasts_latest ORDER BY ds").df()
    week = {sid: g[["p10", "p50", "p90"]].to_numpy() for sid, g in fc.groupby("series_id")}
    assert (week["item:7"][:2] == 0).all()          # weeks of May 13 and 20: before its Wednesday May 29 release
    assert (week["item:7"][2:, 1] > 0).all()        # its release week (May 27) on: the prior
    np.testing.assert_allclose(week["item:7"][2:], week["item:5"][2:])   # the same prior as a released new title
    assert (week["item:8"] == 0).all()              # only a year, 2025: not before Jan 1 2025
    assert (week["item:5"][:, 1] > 0).all()         # released in 2024, no events yet: the prior


def test_an_auto_run_is_registered_with_the_recipe_it_selected(home):
    """Like recsys' `auto:blend`: the runs table says what `auto` chose, not just `auto`."""
    counts = {"1": [20 + w for w in range(20)], "2": [10] * 20, "3": [5] * 20}
    _load(home, _weekly_events(counts))
    run_id = api.train(home, cutoff="2024-05-13", candidates=("mean4", "naive"), progress=False)
    run = runs.get(run_id, home)
    assert set(run["metrics"]["inner_backtest_wape"]) == {"mean4", "naive"}     # a real choice was made
    assert run["model"] == f"auto:{run['metrics']['selected']}"


def test_event_types_choose_what_the_series_count(home):
    """--event-types purchase: the series, the run and its forecasts count purchases only; a type the store
    lacks is refused, naming the types it has."""
    views = _weekly_events({"1": [10] * 20, "2": [6] * 20}).assign(event_type="view")
    buys = _weekly_events({"1": [2] * 20, "2": [1] * 20}, seed=1).assign(event_type="purchase")
    _load(home, pd.concat([views, buys], ignore_index=True))
    run_id = api.train(home, cutoff="2024-05-13", model="mean4", event_types=("purchase",), progress=False)
    run = runs.get(run_id, home)
    assert run["data_snapshot"]["events"] == (2 + 1) * 19 and run["params"]["event_types"] == ["purchase"]
    api.score(home, run_id)
    with store.read(home) as con:
        p50 = con.execute("SELECT p50 FROM forecasts_latest WHERE series_id = 'item:1'").fetchall()
    assert len(p50) == 4 and all(abs(v - 2.0) < 1e-9 for (v,) in p50)   # the mean of 4 weeks of 2 purchases
    with pytest.raises(MarqueeError, match="'purchse'.*'purchase', 'view'"):
        api.train(home, cutoff="2024-05-13", model="mean4", event_types=("purchse",), progress=False)
    with pytest.raises(MarqueeError, match="no interactions of type 'purchase' before the cutoff"):
        api.train(home, cutoff=str(START.date()), model="mean4", event_types=("purchase",), progress=False)


def test_event_types_on_the_command_line_name_a_type_holding_a_comma(home):
    """Ingest takes any event type name: `--event-types '"add,to,cart",purchase'` quotes one with commas, as CSV."""
    carts = _weekly_events({"1": [3] * 20}).assign(event_type="add,to,cart")
    views = _weekly_events({"1": [10] * 20}, seed=1).assign(event_type="view")
    _load(home, pd.concat([carts, views], ignore_index=True))
    assert marquee(["train", "forecast", "--home", str(home), "--model", "mean4", "--cutoff", "2024-05-13",
                    "--profile", "quick", "--event-types", '"add,to,cart"']) == 0
    run = runs.latest("forecast", home)
    carts_only = api.train(home, cutoff="2024-05-13", model="mean4", event_types=("add,to,cart",), progress=False)
    assert run["params"]["event_types"] == ["add,to,cart"]
    assert run["data_snapshot"]["events"] == runs.get(carts_only, home)["data_snapshot"]["events"] < 4 * 19


def test_tiny_nhits_run_writes_well_formed_forecasts(home):
    _load(home, _weekly_events(_tiny_counts()))
    run_id = api.train(home, inner_origins=1, **TINY_NHITS)
    run = runs.get(run_id, home)
    assert run["status"] == "succeeded" and run["metrics"]["selected"] == "nhits"
    artifacts = run["artifact_uri"]
    assert json.loads(Path(artifacts, "model.json").read_text())["arch"] == "nhits"
    out = api.score(home, run_id)
    with store.read(home) as con:
        fc = con.sql("SELECT * FROM forecasts_latest").df()
    weeks = set(pd.date_range("2024-04-22", periods=3, freq="7D").date)
    expected = {f"item:{i}" for i in ITEMS["item_id"]} | {"genre:Drama", "genre:Comedy", "genre:Romance"}
    assert set(fc["series_id"]) == expected and out["series"] == len(expected)
    assert fc.groupby("series_id")["ds"].apply(lambda d: set(pd.to_datetime(d).dt.date) == weeks).all()
    assert len(fc) == 3 * len(expected)
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all() and (fc["p10"] >= 0).all()
    method = fc.groupby("series_id")["method"].first()
    assert method["item:5"] == "genre_fallback" and method["item:4"] == "genre_fallback"
    assert method["item:1"] == "model" and method["genre:Drama"] == "model"
    # the new title's forecast comes from Drama's: the share of a recently launched Drama title (item 4)
    drama = fc[fc.series_id == "genre:Drama"].sort_values("ds")["p50"].to_numpy()
    new = fc[fc.series_id == "item:5"].sort_values("ds")["p50"].to_numpy()
    assert (new > 0).all() and np.allclose(new / drama, (new / drama)[0])
    with pytest.raises(MarqueeError):
        make_config("quick", freq="M")


def test_ctrl_c_while_a_network_trains_is_an_interrupt_not_lightnings_exit(home, monkeypatch, capsys):
    """Lightning turns a KeyboardInterrupt inside fit into sys.exit(1) and ignores SIGINT from then on: the command
    ended with exit 1, no error line, the run failed as `SystemExit: 1`."""
    import signal

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt   # as Ctrl-C lands inside an epoch

    _load(home, _weekly_events(_tiny_counts()))
    monkeypatch.setattr(nets, "cached_loader", lambda *a, **k: map(interrupted, range(1)))
    sigint = signal.getsignal(signal.SIGINT)
    assert marquee(["train", "forecast", "--home", str(home), "--model", "nhits", "--cutoff", "2024-04-22",
                    "--horizon", "3"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "error: interrupted"
    run = runs.list_runs(home=home)[0]
    assert run["status"] == "failed" and run["error"] == "interrupted (Ctrl-C or SIGTERM)"
    assert signal.getsignal(signal.SIGINT) is sigint


def test_commands_show_their_result_not_training_noise(home):
    """`marquee evaluate forecast > m.json` must save JSON: the refits' progress bar goes to stderr; and
    loading a network (score) shows no Lightning advice meant for pytorch-forecasting's authors."""
    _load(home, _weekly_events(_tiny_counts()))
    import pytorch_forecasting  # noqa: F401 - imported lazily by training; its imports add filters of their own (sympy)

    filters, level = list(warnings.filters), logging.getLogger("lightning.pytorch").level
    api.train(home, inner_origins=0, **TINY_NHITS)
    # hushed only while the libraries run: the caller's warning filters and logging levels are as they were
    assert warnings.filters == filters and logging.getLogger("lightning.pytorch").level == level
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        api.score(home)
    assert not [w for w in seen if "is an instance of `nn.Module`" in str(w.message)]
    out = marquee_process("evaluate", "forecast", "--origins", "1", home=home)
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)["mean"]) == {"recipe", "naive", "mean4"}


def _calibration_windows(seed: int = 0, n: int = 300, h: int = 4) -> list:
    """Quiet titles (~2 events a period) and busy ones (~200): Poisson truths around a flat p50."""
    from forecasting.backtest import Window

    rng = np.random.default_rng(seed)
    rate = np.where(np.arange(n) < n // 2, 2.0, 200.0)
    out = []
    for o in range(3):
        history = rng.poisson(rate[:, None], (n, 8)).astype(float)
        truth = rng.poisson(rate[:, None], (n, h)).astype(float)
        p50 = np.repeat(rate[:, None], h, axis=1)
        out.append(Window(pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=4 * o), [f"item:{i}" for i in range(n)],
                          history, truth, {"naive": np.stack([p50, p50, p50], axis=-1)}))
    return out


def test_intervals_are_calibrated_per_volume_band():
    """One pooled factor, set by the many quiet titles' large log errors, made busy titles' bands far too wide."""
    from forecasting import backtest

    windows = _calibration_windows()
    scales = backtest.calibrate(windows, "naive", 1.0)
    q = backtest.apply(_calibration_windows(seed=1)[0], "naive", 1.0, scales)
    truth = _calibration_windows(seed=1)[0].truth
    quiet, busy = slice(0, 150), slice(150, 300)
    for part in (quiet, busy):   # ~80% inside p10..p90 in each band, not just overall
        inside = (truth[part] >= q[part, :, 0]) & (truth[part] <= q[part, :, 2])
        assert 0.7 <= inside.mean() <= 0.95
    rel_width = (q[..., 2] - q[..., 0]) / q[..., 1]
    assert rel_width[busy].mean() < 0.5 * rel_width[quiet].mean()     # busy titles get the narrower band
    pooled = {"item": scales["item"][0], "genre": scales["genre"][0]}   # a run calibrated before bands
    assert backtest.apply(windows[0], "naive", 1.0, pooled).shape == q.shape


@pytest.mark.parametrize("cutoff", [None, "2024-02-26"])
def test_a_store_whose_events_all_fall_in_the_unfinished_last_week_says_so(home, capsys, cutoff):
    """Events on a Tuesday and a Wednesday only: the default cutoff is that week's Monday, and nothing is
    before it. The error says why that cutoff leaves nothing and names --freq D; an earlier cutoff the user
    chose gets the plain message."""
    _load(home, pd.DataFrame({"item_id": ["1", "2"], "ts": pd.to_datetime(["2024-03-05 10:00", "2024-03-06 12:00"])}))
    args = ["train", "forecast", "--home", str(home), "--model", "mean4"] + (["--cutoff", cutoff] if cutoff else [])
    assert marquee(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no interactions before the cutoff {cutoff or '2024-03-04'}")
    assert ("the week from 2024-03-04, which is not over" in err and "--freq D" in err) == (cutoff is None)
    assert runs.list_runs(home=home) == []
