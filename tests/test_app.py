"""The Streamlit app, page by page, through AppTest against a small store with published outputs.

The store is the demo store (MovieLens-100k + the demo join) plus synthetic pipeline outputs
published the way the pipelines publish theirs (`runs.start` / `runs.publish`), so these tests
check the app, not the models: every page renders, shows the store's numbers, and reacts.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.markdown_text import md_escape
from data import runs, store
from data.ingest import ingest
from tests.test_runs import trainer

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
PAGES = ["overview", "recommendations", "titles", "sentiment", "forecasts", "sql", "runs"]


def publish_synthetic_outputs(home: Path) -> dict:
    """Publish one recsys (two runs), sentiment and forecast run of deterministic outputs; returns facts."""
    with store.read(home) as con:
        inter = con.execute("SELECT user_id, item_id, ts, rating FROM interactions").df()
        reviews = con.execute("SELECT review_id, user_id, item_id, ts FROM reviews").df()
        items = con.execute("SELECT item_id, title, genres FROM items").df()
    popular = inter.groupby("item_id").size().sort_values(ascending=False, kind="stable").index.tolist()
    titles = dict(zip(items["item_id"], items["title"], strict=True))

    # recommendations: the 10 most popular titles each user has not seen; reason = their first title
    seen = inter.groupby("user_id")["item_id"].agg(set)
    first = inter.sort_values("ts", kind="stable").groupby("user_id")["item_id"].first()
    rows = []
    for user_id, items_seen in seen.items():
        picks = [i for i in popular[:60] if i not in items_seen][:10]
        reason = f"because you watched {titles[first[user_id]]}"
        rows += [(user_id, i, r + 1, 1.0 - r * 0.05, reason) for r, i in enumerate(picks)]
    recs = pd.DataFrame(rows, columns=["user_id", "item_id", "rank", "score", "reason"])
    similar = pd.DataFrame([(a, b, r + 1, 0.9 - r * 0.1) for a in popular[:100]
                            for r, b in enumerate([x for x in popular[:8] if x != a][:5])],
                           columns=["item_id", "similar_item_id", "rank", "score"])
    old = runs.start("recsys", "popularity", {"k": 10}, home=home)
    runs.publish(old.run_id, metrics={"ndcg@10": 0.251, "precision@10": 0.21}, home=home)
    rec = runs.start("recsys", "bpr", {"factors": 64, "epochs": 5}, home=home)
    runs.publish(rec.run_id, {"recommendations": recs, "similar_items": similar},
                 metrics={"ndcg@10": 0.402, "precision@10": 0.33}, home=home)

    # sentiment: p_positive follows the rating the review was attached to
    rated = reviews.merge(inter, on=["user_id", "item_id", "ts"], how="left")
    p = np.where(rated["rating"] >= 4, 0.85, 0.15) + (np.arange(len(rated)) % 10) / 100
    scored = pd.DataFrame({"review_id": rated["review_id"], "p_positive": p, "label": (p >= 0.5).astype("int32")})
    daily = (rated.assign(day=rated["ts"].dt.floor("D"), p=p).groupby(["item_id", "day"])
             .agg(reviews=("p", "size"), mean_p_positive=("p", "mean")).reset_index())
    sent = runs.start("sentiment", "minilm", {"max_len": 128}, home=home)
    runs.publish(sent.run_id, {"review_sentiment": scored, "item_sentiment_daily": daily},
                 metrics={"accuracy_imdb": 0.85, "accuracy_rt": 0.8}, home=home)

    # forecasts: 4 weeks after the data for the 40 busiest titles (half rising, half falling) and 3 genres
    start = (inter["ts"].max().normalize() - pd.Timedelta(days=inter["ts"].max().weekday()) + pd.Timedelta(days=7))
    weeks = [start + pd.Timedelta(days=7 * w) for w in range(4)]
    rows = []
    for n, item_id in enumerate(popular[:40]):
        level = 30.0 if n % 2 == 0 else 0.5
        rows += [(f"item:{item_id}", d, level * 0.6, level, level * 1.4, "model") for d in weeks]
    for g in ("Drama", "Comedy", "Action"):
        rows += [(f"genre:{g}", d, 300.0, 500.0, 700.0, "model") for d in weeks]
    fc = pd.DataFrame(rows, columns=["series_id", "ds", "p10", "p50", "p90", "method"])
    fc["ds"] = pd.to_datetime(fc["ds"]).dt.date
    fore = runs.start("forecast", "nhits", {"horizon": 4}, home=home)
    runs.publish(fore.run_id, {"forecasts": fc}, home=home,
                 metrics={"selected": "nhits", "inner_backtest_wape": {"nhits": 0.48, "mean4": 0.531, "naive": 0.619},
                          "train_seconds": 12.5})
    user = "1"
    return {"user": user, "user_top": titles[recs[recs["user_id"] == user].iloc[0]["item_id"]],
            "user2": "2", "user2_top": titles[recs[recs["user_id"] == "2"].iloc[0]["item_id"]],
            "recsys_run": rec.run_id, "forecast_run": fore.run_id, "rising": titles[popular[0]],
            "titles": len(items), "events": len(inter)}


@pytest.fixture(scope="module")
def app_store(demo_home_ro: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("app") / "home"
    shutil.copytree(demo_home_ro, home)
    return home, publish_synthetic_outputs(home)


@pytest.fixture
def app_home(app_store, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    monkeypatch.setenv("MARQUEE_HOME", str(app_store[0]))
    return app_store


def page(name: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception, at.exception
    if name != "overview":
        at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "title", "header", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def test_overview_shows_the_store_and_latest_runs(app_home):
    home, facts = app_home
    at = page("overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Titles"] == f"{facts['titles']:,}" and metrics["Events"] == f"{facts['events']:,}"
    assert metrics["Users"] == "943" and metrics["ndcg@10"] == "0.402"   # the newest recsys run, not the older one
    assert "Demo join" in texts(at)
    assert len(at.get("vega_lite_chart")) >= 1
    # MovieLens runs Saturday 1997-09-20 to Wednesday 1998-04-22: those two weeks would look like slumps
    assert "Left out: the weeks of 1997-09-15 and 1998-04-20, which the data covers only in part." in texts(at)


def test_recommendations_follow_the_selected_user(app_home):
    home, facts = app_home
    at = page("recommendations")
    recs = at.table[0].value
    assert recs["title"].iloc[0] == facts["user_top"] and recs["reason"].str.startswith("because you watched").all()
    shown = pa.ipc.open_stream(at.table[0].proto.arrow_data.styler.display_values).read_pandas()
    assert shown["score"].str.fullmatch(r"\d+\.\d{3}").all()        # as rounded in SQL, not to 4 decimals
    assert "only the order matters" in texts(at)
    at.selectbox(key="user").set_value(facts["user2"]).run()
    assert not at.exception
    assert "History of user 2" in texts(at)
    assert list(at.dataframe[0].value.columns) == ["ts", "title", "event_type", "rating"]   # views vs ratings
    assert at.table[0].value["title"].iloc[0] == facts["user2_top"]
    side_by_side = at.dataframe[1].value
    assert set(side_by_side["model"]) == {"bpr", "popularity"} and "ndcg@10" in side_by_side.columns


def test_a_user_without_picks_in_a_scored_run_is_told_why(app_store, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(app_store[0], home)
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    (tmp_path / "users.csv").write_text("user_id\nnewcomer\n")
    ingest("users", tmp_path / "users.csv", home)
    at = page("recommendations")
    at.selectbox(key="user").set_value("newcomer").run()
    assert not at.exception and "No picks for user newcomer in the latest run" in texts(at)
    assert "No recommendations yet" not in texts(at)


def test_a_short_history_is_counted_in_plain_words(home, tmp_path):
    tiny_store(home, tmp_path)
    at = page("recommendations")
    at.selectbox(key="user").set_value("u3").run()
    assert not at.exception and "1 event:" in [c.value for c in at.caption]     # not "1 events; the 1 most recent:"


def test_cold_start_without_a_loadable_model_says_what_to_do(app_home):
    at = page("recommendations")
    at.multiselect(key="cold_start").set_value(["50", "181"]).run()
    assert not at.exception
    # the synthetic run has no model files: the panel must explain, and the rest of the page still renders
    assert [i.value for i in at.info if "recommender" in i.value.lower() or "recsys" in i.value.lower()]
    assert "Models side by side" in texts(at)


def test_titles_page_shows_forecast_similar_and_reviews(app_home):
    home, facts = app_home
    at = page("titles")
    at.text_input(key="title_search").set_value("Star Wars").run()
    assert not at.exception
    assert at.header[0].value.startswith("Star Wars")
    shown = texts(at)
    assert "Most positive" in shown and "Most negative" in shown and "P(positive)" in shown
    assert "Demo join" in shown
    assert "p10-p90" in shown                         # the fan chart, not the "no forecast" empty state
    assert len(at.dataframe[0].value) == 5             # similar titles
    at.text_input(key="title_search").set_value("zzzz no such title").run()
    assert "No title matches" in texts(at)


def test_a_title_without_similar_ones_says_why_not_to_score_again(app_home):
    """The synthetic run lists similar titles for the 100 most watched only: a rare title has none, and the
    page must not ask to run the recommender that already ran."""
    with store.read(app_home[0]) as con:
        rare, title = con.execute("SELECT i.item_id, it.title FROM interactions i JOIN items it USING (item_id) "
                                  "GROUP BY ALL ORDER BY count(*), i.item_id LIMIT 1").fetchall()[0]
    at = page("titles")
    at.text_input(key="title_search").set_value(title).run()
    at.selectbox(key="title").set_value(rare).run()
    assert not at.exception
    assert "No title is similar to this one yet" in texts(at) and "marquee score recsys" not in texts(at)


def tiny_store(home: Path, tmp_path: Path) -> None:
    """Four titles over five weeks that end on a Wednesday (2024-01-31), so the last week is partial.

    a: 2 events in week 1, 1 in week 4, nothing between; 2 scored reviews (one each side of 0.5).
    b, c, d: 2 events a week for four weeks, and b one more on the final Wednesday; b has one negative review,
    c none, d one that no run has scored. Forecasts (from 2024-01-29): a +0.3/week on 0.75 (too little
    volume to count), b +50%, c +5% (too small a change), d -50%.
    """
    (tmp_path / "items.csv").write_text("item_id,title,genres\na,100% Pure,Drama\nb,Plain_Name,Drama\n"
                                        "c,Other,Drama\nd,Fourth,Drama\n")
    events = ["u1,a,2024-01-01 10:00", "u2,a,2024-01-01 11:00", "u1,a,2024-01-22 10:00"]
    events += [f"u{n},{t},2024-01-{d + 7 * w:02d} 10:00" for t in "bcd" for w in range(4) for n, d in ((1, 1), (2, 2))]
    events.append("u3,b,2024-01-31 10:00")
    (tmp_path / "interactions.csv").write_text("user_id,item_id,timestamp\n" + "\n".join(events) + "\n")
    (tmp_path / "reviews.csv").write_text("review_id,text,item_id,timestamp\nr1,Loved it,a,2024-01-01\n"
                                          "r2,Meh,a,2024-01-02\nr3,Dull,b,2024-01-02\nr4,Fine,d,2024-01-02\n")
    for entity in ("items", "interactions", "reviews"):
        ingest(entity, tmp_path / f"{entity}.csv", home)
    scored = pd.DataFrame({"review_id": ["r1", "r2", "r3"], "p_positive": [0.9, 0.3, 0.2], "label": [1, 0, 0]})
    daily = pd.DataFrame({"item_id": ["a", "b"], "day": pd.to_datetime(["2024-01-01", "2024-01-02"]).date,
                          "reviews": [2, 1], "mean_p_positive": [0.6, 0.2]})
    sent = runs.start("sentiment", "minilm", {}, home=home)
    runs.publish(sent.run_id, {"review_sentiment": scored, "item_sentiment_daily": daily}, home=home)
    weeks = pd.date_range("2024-01-29", periods=2, freq="7D").date
    fc = pd.DataFrame([(f"item:{t}", d, 0.0, p50, p50 * 2, "model") for t, p50 in
                       (("a", 1.05), ("b", 3.0), ("c", 2.1), ("d", 1.0)) for d in weeks],
                      columns=["series_id", "ds", "p10", "p50", "p90", "method"])
    fore = runs.start("forecast", "auto", {}, home=home)
    runs.publish(fore.run_id, {"forecasts": fc}, home=home)


def test_title_weekly_is_zero_filled_and_leaves_out_the_partial_last_week(home, tmp_path):
    from app import queries as q

    tiny_store(home, tmp_path)
    weekly = q.title_detail("a")["weekly"]
    assert [f"{w:%m-%d}" for w in weekly["week"]] == ["01-01", "01-08", "01-15", "01-22", "01-29"]
    assert weekly["events"].tolist() == [2, 0, 0, 1, 0] and weekly["partial"].tolist() == [False] * 4 + [True]
    full, note = q.full_weeks(weekly)
    assert full["events"].tolist() == [2, 0, 0, 1] and "week of 2024-01-29" in note
    assert q.full_weeks(weekly.head(4))[1] == ""


def test_title_reviews_each_once_on_their_side_and_empty_states_say_why(home, tmp_path):
    from app import queries as q

    assert q.no_sentiment_reason({"reviews": 3, "scored": 0, "sentiment_run": 0}).endswith(
        "`marquee train sentiment && marquee score sentiment`")
    tiny_store(home, tmp_path)
    a, b, c, d = (q.title_detail(t) for t in "abcd")
    assert a["positive"]["review_id"].tolist() == ["r1"] and a["negative"]["review_id"].tolist() == ["r2"]
    assert b["positive"].empty and b["negative"]["review_id"].tolist() == ["r3"]
    assert q.no_sentiment_reason(c["reviews"]) == "This title has no reviews."
    assert q.no_sentiment_reason(d["reviews"]) == "Reviews not scored yet: run `marquee score sentiment`"
    at = page("titles")
    at.selectbox(key="title").set_value("b").run()
    shown = texts(at)
    assert shown.count("P(positive) =") == 1 and "Only 1 scored review for this title" in shown
    assert "No review reads as positive" in shown
    at.selectbox(key="title").set_value("c").run()
    assert "This title has no reviews." in texts(at) and "train sentiment" not in texts(at)


def test_title_caption_names_only_what_the_catalogue_has(home, tmp_path):
    """A catalogue without release years (or genres) shows no empty field between dangling separators."""
    tiny_store(home, tmp_path)
    (tmp_path / "more.csv").write_text("item_id,title,release_year\ny,Dated,1999\nz,Bare,\n")
    ingest("items", tmp_path / "more.csv", home)
    at = page("titles")
    captions = {}
    for search in ("Pure", "Dated", "Bare"):
        at.text_input(key="title_search").set_value(search).run()
        captions[search] = at.caption[0].value
    assert captions == {"Pure": "id a · Drama", "Dated": "id y · 1999", "Bare": "id z"}


def test_title_search_is_a_literal_substring(home, tmp_path):
    from app import queries as q

    tiny_store(home, tmp_path)
    assert q.search_titles("%")["title"].tolist() == ["100% Pure"]
    assert q.search_titles("_")["title"].tolist() == ["Plain_Name"]
    assert q.search_titles("plain")["item_id"].tolist() == ["b"] and q.search_titles("d")["item_id"].tolist() == ["d"]


def test_titles_page_lists_titles_of_a_store_without_events(home, tmp_path):
    """Titles and reviews only (a sentiment user): the page said 'No titles yet: run marquee ingest items'."""
    (tmp_path / "items.csv").write_text("item_id,title\nm2,Second\nm1,First\n")
    (tmp_path / "reviews.csv").write_text("review_id,text,item_id,timestamp\nr1,Loved it,m2,2024-01-01\n")
    ingest("items", tmp_path / "items.csv", home)
    ingest("reviews", tmp_path / "reviews.csv", home)
    at = page("titles")
    assert not at.exception and not at.error
    assert at.selectbox(key="title").options == ["First", "Second"]
    assert "No titles yet" not in texts(at) and at.header[0].value == "First"


def test_sentiment_page_of_a_store_without_reviews_asks_for_reviews(home, tmp_path):
    """It asked to train and score, which scores nothing when no review was ingested."""
    at = page("sentiment")
    assert not at.exception and at.info[0].value.startswith("No reviews in the store yet: `marquee ingest reviews FILE`")
    (tmp_path / "reviews.csv").write_text("review_id,text\nr1,Loved it\n")
    ingest("reviews", tmp_path / "reviews.csv", home)
    st.cache_data.clear()   # read the store now, not the frames cached a moment ago
    at = page("sentiment")
    assert at.info[0].value == "No scored reviews yet: run `marquee train sentiment && marquee score sentiment`"


def test_movers_need_volume_and_a_real_change(home, tmp_path):
    from app import queries as q

    tiny_store(home, tmp_path)
    got = q.forecast_overview()
    assert got["rising"]["item_id"].tolist() == ["b"] and got["falling"]["item_id"].tolist() == ["d"]
    assert got["rising"]["relative_change"].iloc[0] == pytest.approx(0.5)


def test_movers_of_a_run_of_some_event_types_count_those_types(home, tmp_path):
    """A run of `--event-types view` forecasts views: b's recent level is its 2 views a week, not its views and
    clicks (6 a week), so a forecast of 3 a week is a rise, not a fall. Without types, clicks count too."""
    from app import queries as q

    tiny_store(home, tmp_path)
    clicks = [f"u9,b,2024-01-{d:02d} 1{n}:00,click" for d in range(1, 29, 7) for n in range(4)]
    (tmp_path / "clicks.csv").write_text("user_id,item_id,timestamp,event_type\n" + "\n".join(clicks) + "\n")
    ingest("interactions", tmp_path / "clicks.csv", home)
    fc = pd.DataFrame([("item:b", d, 0.0, 3.0, 6.0, "model") for d in pd.date_range("2024-01-29", periods=2).date],
                      columns=["series_id", "ds", "p10", "p50", "p90", "method"])
    fore = runs.start("forecast", "auto", {"event_types": ["view"]}, home=home)
    runs.publish(fore.run_id, {"forecasts": fc}, home=home)
    got = q.forecast_overview()
    assert got["event_types"] == ["view"] and got["falling"].empty
    assert got["rising"][["item_id", "recent", "forecast"]].values.tolist() == [["b", 2.0, 3.0]]
    # the genre chart beside it counts views too: 27 in the four full weeks, 43 with b's 16 clicks
    typed, every_type = q.genre_history("Drama", "W", ["view"])[0], q.genre_history("Drama", "W")[0]
    assert (typed["events"].sum(), every_type["events"].sum()) == (27, 43)
    every = runs.start("forecast", "auto", {}, home=home)
    runs.publish(every.run_id, {"forecasts": fc}, home=home)
    st.cache_data.clear()
    got = q.forecast_overview()
    assert got["event_types"] == [] and got["falling"][["item_id", "recent"]].values.tolist() == [["b", 6.0]]

def test_a_daily_forecast_run_is_compared_and_drawn_per_day(home, tmp_path):
    """A daily run's p50 is per day: the movers compare it with the mean per day of the last 4 weeks (not per
    week), and the charts continue a daily history, labelled so."""
    from app import queries as q

    tiny_store(home, tmp_path)
    days = pd.date_range("2024-02-01", periods=7).date   # a whole week: every weekday once
    fc = pd.DataFrame([(s, d, p50 / 2, p50, p50 * 2, "model") for s, p50 in
                       (("item:b", 0.5), ("item:d", 0.125), ("genre:Drama", 1.0)) for d in days],
                      columns=["series_id", "ds", "p10", "p50", "p90", "method"])
    fore = runs.start("forecast", "naive", {"freq": "D", "horizon": 7}, home=home)
    runs.publish(fore.run_id, {"forecasts": fc}, home=home)
    got = q.forecast_overview()
    # b: 7 events in the 28 days before Feb 1, 0.25 a day, forecast 0.5 a day; d: 6 (0.214 a day) to 0.125
    assert got["rising"]["item_id"].tolist() == ["b"] and got["falling"]["item_id"].tolist() == ["d"]
    assert got["freq"] == "D"
    assert got["rising"][["recent", "forecast", "relative_change"]].iloc[0].tolist() == pytest.approx([0.25, 0.5, 1.0])
    daily = q.title_detail("b")["daily"]         # from its first event (Jan 1) to the end of the data (Jan 31)
    assert len(daily) == 31 and daily["events"].sum() == 9 and daily["events"].iloc[-1] == 1
    at = page("titles")
    at.selectbox(key="title").set_value("b").run()
    assert "A daily forecast run" in texts(at) and "Daily engagement and forecast" in texts(at)
    assert '"Events per day"' in at.get("vega_lite_chart")[0].proto.spec
    at = page("forecasts")
    assert "Mean events per day forecast" in texts(at) and "A daily forecast run" in texts(at)
    assert "naive (last day) and mean4 (mean of the last 4 days)" in texts(at)
    assert '"Events per day"' in at.get("vega_lite_chart")[0].proto.spec


def test_daily_movers_compare_a_weekend_with_recent_weekends(home, tmp_path):
    """A daily run over a Saturday and a Sunday forecasts weekend days: a title as busy as on its last four
    weekends is not rising, though it is busier than its mean day. w: 1 event a weekday, 3 a weekend day."""
    from app import queries as q

    (tmp_path / "items.csv").write_text("item_id,title\nw,Weekender\n")
    days = pd.date_range("2024-01-06", "2024-02-02")          # 4 weeks, Saturday to Friday
    events = [f"u{n},w,{d:%Y-%m-%d} 10:00" for d in days for n in range(3 if d.dayofweek >= 5 else 1)]
    (tmp_path / "interactions.csv").write_text("user_id,item_id,timestamp\n" + "\n".join(events) + "\n")
    for entity in ("items", "interactions"):
        ingest(entity, tmp_path / f"{entity}.csv", home)
    weekend = pd.date_range("2024-02-03", periods=2).date
    fc = pd.DataFrame([("item:w", d, 2.0, 3.0, 4.0, "model") for d in weekend],
                      columns=["series_id", "ds", "p10", "p50", "p90", "method"])
    fore = runs.start("forecast", "naive", {"freq": "D", "horizon": 2}, home=home)
    runs.publish(fore.run_id, {"forecasts": fc}, home=home)
    got = q.forecast_overview()
    assert got["rising"].empty and got["falling"].empty
    movers = q.frame(q.MOVERS, min_weekly=q.MOVERS_MIN_WEEKLY, period_days=1)
    assert movers[["recent", "forecast"]].values.tolist() == [[pytest.approx(3.0), 3.0]]   # not 44 / 28 a day


def test_sentiment_page_by_genre_and_over_time(app_home):
    at = page("sentiment")
    metrics = {m.label: m.value for m in at.metric}
    with store.read(app_home[0]) as con:
        n = con.execute("SELECT count(*) FROM reviews").fetchall()[0][0]
    assert metrics["Reviews scored"] == f"{n:,}"
    assert len(at.get("vega_lite_chart")) == 2
    at.text_area(key="review_text").set_value("A wonderful film.").run()
    at.button(key="score_review").click().run()
    assert not at.exception


def test_sentiment_by_genre_labels_counts_and_leaves_out_small_genres(app_home):
    from app import queries as q

    data = q.sentiment_overview(min_genre_reviews=100)
    by_genre = data["by_genre"]
    assert len(by_genre) and (by_genre["reviews"] >= 100).all()
    assert by_genre["label"].tolist() == [f"{g} ({n:,})" for g, n in by_genre[["genre", "reviews"]].itertuples(index=False)]
    assert len(data["small_genres"]) == len(q.sentiment_overview(min_genre_reviews=1)["by_genre"]) - len(by_genre)


def _sentiment_by_genre_says(home: Path, tmp_path: Path, items: str, reviews: str) -> str:
    """The By genre panel's info once `reviews` (CSV text) of `items` (CSV text) are scored."""
    (tmp_path / "items.csv").write_text(items)
    (tmp_path / "reviews.csv").write_text(reviews)
    for entity in ("items", "reviews"):
        ingest(entity, tmp_path / f"{entity}.csv", home)
    with store.read(home) as con:
        keys = con.execute("SELECT review_id, item_id, ts FROM reviews").df()
    scored = pd.DataFrame({"review_id": keys["review_id"], "p_positive": 0.7, "label": 1})
    daily = (keys.dropna().assign(day=lambda d: d["ts"].dt.date).groupby(["item_id", "day"], as_index=False)
             .agg(reviews=("review_id", "size")).assign(mean_p_positive=0.7))
    run = runs.start("sentiment", "nblr", {}, home=home)
    runs.publish(run.run_id, {"review_sentiment": scored, "item_sentiment_daily": daily}, home=home)
    at = page("sentiment")
    assert not at.exception
    return at.info[0].value


def test_sentiment_by_genre_says_why_it_is_empty_once_reviews_are_scored(tmp_path, monkeypatch):
    """Not "run `marquee score sentiment`" (it just ran): too few reviews per genre, a catalogue without
    genres, or reviews without a title or a time."""
    from app.queries import MIN_GENRE_REVIEWS

    def fresh(name: str) -> Path:
        home = tmp_path / name / "home"
        store.init(home)
        monkeypatch.setenv("MARQUEE_HOME", str(home))
        return home

    reviews = "review_id,text,item_id,timestamp\nr1,Loved it,a,2024-01-01\nr2,Meh,b,2024-01-02\n"
    said = _sentiment_by_genre_says(fresh("few"), tmp_path / "few", "item_id,title,genres\na,A,Drama\nb,B,Drama\n",
                                    reviews)
    assert said == f"No genre has {MIN_GENRE_REVIEWS} scored reviews yet: Drama \\(2\\)."   # escaped markdown
    said = _sentiment_by_genre_says(fresh("nogenre"), tmp_path / "nogenre", "item_id,title\na,A\nb,B\n", reviews)
    assert said.startswith("None of the reviewed titles has a genre")
    said = _sentiment_by_genre_says(fresh("untitled"), tmp_path / "untitled", "item_id,title,genres\na,A,Drama\n",
                                    "review_id,text,timestamp\nr1,Loved it,2024-01-01\n")
    assert said.startswith("No scored review names both a title and a time")


def test_sentiment_try_your_own_review_reads_plainly(app_home, monkeypatch):
    from app import live

    at = page("sentiment")
    at.button(key="score_review").click().run()
    assert "Type a review" in texts(at)
    monkeypatch.setattr(live, "predict_texts", lambda texts: ([0.2], None))
    at.text_area(key="review_text").set_value("Dull and long.").run()
    at.button(key="score_review").click().run()
    metrics = {m.label: m for m in at.metric}
    assert metrics["Reads as"].value == "negative" and metrics["P(positive)"].value == "0.200"
    assert not any(m.delta for m in at.metric)   # no arrow: a delta would draw one next to plain text


def test_forecasts_page_rising_falling_and_backtest(app_home):
    home, facts = app_home
    at = page("forecasts")
    rising, falling = at.dataframe[0].value, at.dataframe[1].value
    assert len(rising) == 10 and len(falling) == 10
    assert (rising["change"] > 0).all() and (falling["change"] < 0).all()
    backtest = at.dataframe[2].value
    assert backtest["method"].tolist() == ["nhits", "mean4", "naive"]          # sorted by WAPE
    assert backtest["wape"].tolist() == pytest.approx([0.48, 0.531, 0.619])
    assert backtest["chosen"].tolist() == [True, False, False]
    at.selectbox(key="genre").set_value("genre:Drama").run()
    assert not at.exception


def test_sql_page_runs_reads_and_refuses_writes(app_home):
    at = page("sql")
    at.text_area(key="sql_query").set_value("SELECT count(*) AS n FROM items").run()
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert int(at.dataframe[-1].value["n"].iloc[0]) == app_home[1]["titles"]
    assert "recommendations_latest (view)" in at.selectbox(key="schema_table").options
    at.text_area(key="sql_query").set_value("SELECT item_id FROM items").run()
    at.number_input(key="sql_max_rows").set_value(5).run()
    at.button(key="sql_run").click().run()
    assert len(at.dataframe[-1].value) == 5 and any("truncated at 5" in c.value for c in at.caption)
    at.text_area(key="sql_query").set_value("DELETE FROM items").run()
    at.button(key="sql_run").click().run()
    assert not at.exception and at.error, "a write must be refused with an error"
    with store.read(app_home[0]) as con:
        assert con.execute("SELECT count(*) FROM items").fetchall()[0][0] == app_home[1]["titles"]


def test_sql_page_shows_exact_values_and_keeps_the_result(app_home):
    at = page("sql")
    at.text_area(key="sql_query").set_value("SELECT 12345678901234567890::HUGEINT AS h, '\\x01x'::BLOB b, "
                                            "1.10::DECIMAL(5, 2) d, INTERVAL 1 DAY i, 42 AS n, 2.5::DOUBLE AS f").run()
    at.button(key="sql_run").click().run()
    row = at.dataframe[-1].value.iloc[0]
    assert (row["h"], row["b"], row["d"], row["i"]) == ("12345678901234567890", "\\x01x", "1.10", "1 day")
    assert (row["n"], row["f"]) == (42, 2.5)   # numbers that read the same stay numbers
    assert "1 row" in [c.value for c in at.caption]
    at.number_input(key="sql_max_rows").set_value(5).run()   # any rerun (a download too) keeps the result
    assert not at.exception and at.dataframe[-1].value.iloc[0]["h"] == "12345678901234567890"


def test_sql_page_shows_nested_values_as_duckdb_writes_them(app_home):
    """A MAP is not a STRUCT, and ['a,b', 'NULL'] holds two strings (not three values, one NULL)."""
    at = page("sql")
    at.text_area(key="sql_query").set_value("SELECT MAP {'k': 1} AS m, ['a,b', 'NULL', NULL] AS l, [true] AS b").run()
    at.button(key="sql_run").click().run()
    row = at.dataframe[-1].value.iloc[0]
    assert (row["m"], row["l"], row["b"]) == ("{k=1}", "['a,b', 'NULL', NULL]", "[true]")


def test_sql_result_suffixes_repeated_names_and_keeps_nulls_for_csv(app_home):
    from app.queries import sql_result

    df, truncated, numbers = sql_result("SELECT 18446744073709551616::HUGEINT AS h, NULL::INTEGER AS n, 1.5 AS n, 'x' AS s", 10)
    assert df.to_csv(index=False) == "h,n,n_1,s\n18446744073709551616,,1.5,x\n"
    assert not truncated and numbers == ["h", "n", "n_1"]


def test_sql_page_shows_every_value_as_duckdb_writes_it(app_home):
    """Each value reads as DuckDB's CAST(... AS VARCHAR) (NULL stays missing); number columns align right."""
    from tests.test_sql import SCALAR_CASES, duckdb_text

    want, numeric = duckdb_text(app_home[0], SCALAR_CASES)
    at = page("sql")
    at.text_area(key="sql_query").set_value("SELECT " + ", ".join(f"{c} AS c{i}" for i, c in enumerate(SCALAR_CASES))).run()
    at.button(key="sql_run").click().run()
    assert not at.exception, at.exception
    shown = [None if pd.isna(v) and not isinstance(v, str) and str(v) != "nan" else str(v)
             for v in at.dataframe[-1].value.iloc[0].tolist()]
    assert shown == want
    config = json.loads(at.dataframe[-1].proto.columns or "{}")
    right = [config.get(f"c{i}", {}).get("alignment") == "right" for i in range(len(SCALAR_CASES))]
    assert right == numeric


def test_sql_page_keeps_numbers_sortable_where_they_read_the_same(app_home):
    """Whole numbers and doubles that read back as DuckDB writes them are numbers (9 sorts before 10); a DECIMAL
    zero (0.0000000000) or a HUGEINT past 2**53 stays DuckDB's text."""
    at = page("sql")
    at.text_area(key="sql_query").set_value(
        "SELECT n, n / 4 AS q, 0::DECIMAL(18, 10) AS d, (2::HUGEINT ** 60)::HUGEINT AS big "
        "FROM (VALUES (9), (10), (NULL)) t(n)").run()
    at.button(key="sql_run").click().run()
    df = at.dataframe[-1].value
    assert str(df["n"].dtype) == "Int64" and df["n"].tolist()[:2] == [9, 10] and pd.isna(df["n"].iloc[2])
    assert df["q"].tolist()[:2] == [2.25, 2.5]
    assert df["d"].tolist() == ["0.0000000000"] * 3 and df["big"].tolist() == [str(2**60)] * 3


def test_runs_page_lists_and_compares(app_home):
    home, facts = app_home
    at = page("runs")
    registry = at.dataframe[0].value
    assert len(registry) == 4 and set(registry["pipeline"]) == {"recsys", "sentiment", "forecast"}
    compare = at.dataframe[-1].value.set_index("name")   # all pipelines: still two recsys runs side by side
    assert compare.loc["ndcg@10", "B - A"] == pytest.approx(0.402 - 0.251)
    metrics = at.dataframe[1].value                      # the newest run (forecast): a name / value table
    assert metrics.columns.tolist() == ["name", "value"] and metrics["name"].iloc[0] == "inner_backtest_wape.nhits"
    at.radio(key="runs_pipeline").set_value("recsys").run()
    assert not at.exception and len(at.dataframe[0].value) == 2
    compare = at.dataframe[-1].value.set_index("name")
    assert compare.loc["ndcg@10", "B - A"] == pytest.approx(0.402 - 0.251)   # B: newest (bpr), A: popularity
    assert compare.loc["factors", "B"] == "64" and compare.loc["factors", "A"] == "-"


def test_runs_page_shows_a_failed_run_beside_a_good_one(home):
    """A failed run has no metrics and a good one no error: neither is a NaN the page trips on or shows."""
    good = runs.start("forecast", "naive", {"horizon": 4}, home=home)
    runs.publish(good.run_id, metrics={"selected": "naive"}, home=home)
    bad = runs.start("forecast", "nhits", {"horizon": 4}, home=home)
    runs.fail(bad.run_id, "MarqueeError: nhits needs at least 8 periods of history before the cutoff", home)
    at = page("runs")
    assert not at.exception and [e.value for e in at.error] == [    # the newest: the failed one, as plain text
        "MarqueeError\\: nhits needs at least 8 periods of history before the cutoff"]
    at.selectbox(key="run").set_value(good.run_id).run()
    assert not at.exception and not at.error
    assert at.dataframe[1].value["name"].tolist() == ["selected"]



def test_runs_page_says_a_pruned_run_was_pruned(home):
    """A pruned run has no outputs left: the page told to `marquee score` it, which fails (its model is gone too),
    and listed it as a plain `succeeded` where `marquee runs` says `(pruned)`."""
    from data import prune

    old, new = (runs.start("forecast", "naive", {"horizon": 4}, home=home) for _ in range(2))
    for run in (old, new):
        runs.publish(run.run_id, metrics={"selected": "naive"}, home=home)
    prune.prune(keep=1, home=home)
    at = page("runs")
    assert at.dataframe[0].value.set_index("run_id")["status"].to_dict() == {
        old.run_id: "succeeded (pruned)", new.run_id: "succeeded"}
    at.selectbox(key="run").set_value(old.run_id).run()
    assert not at.exception and "removed by `marquee prune`" in texts(at).lower() and "marquee score" not in texts(at)
    at.selectbox(key="run").set_value(new.run_id).run()
    assert "No outputs published yet (`marquee score forecast`)." in texts(at)


def test_runs_page_shows_a_killed_runs_run_failed_not_running(home):
    killed, run_id = trainer(home)
    killed.kill()
    killed.wait()
    at = page("runs")
    assert not at.exception and len(at.error) == 1 and at.error[0].value.startswith("abandoned\\: process")
    assert at.dataframe[0].value.set_index("run_id").loc[run_id, "status"] == "failed"

def test_a_run_without_metrics_beside_runs_with_them(home, tmp_path):
    """A succeeded run published without metrics (tiny_store's sentiment and forecast runs, a recsys run here)
    beside runs with them: pandas 3 reads the NULLs of such a text column as NaN, which broke the Overview and
    the recsys models table ('float' object has no attribute 'items')."""
    from app import queries as q

    tiny_store(home, tmp_path)
    for metrics in (None, {"ndcg@10": 0.4}):
        run = runs.start("recsys", "bpr", {"k": 10}, home=home)
        runs.publish(run.run_id, metrics=metrics, home=home)
    at = page("overview")
    assert {m.label: m.value for m in at.metric}["ndcg@10"] == "0.4"
    assert q.pipeline_runs("recsys")["ndcg@10"].isna().tolist() == [False, True]   # newest first
    assert q.pipeline_params("recsys")["k"].tolist() == ["10", "10"]
    at.switch_page("views/recommendations.py").run()
    assert not at.exception and "Models side by side" in texts(at)


def test_empty_store_pages_say_which_command_fills_them(home):
    for name in PAGES:
        at = page(name)
        shown = texts(at)
        assert "marquee" in shown, f"{name}: empty state should name a command"


def test_missing_store_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path / "nowhere"))
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception
    assert "marquee init" in at.error[0].value
    assert "marquee demo" in at.info[0].value


def test_every_page_goes_through_the_router(tmp_path, monkeypatch):
    """The page files sat in `app/pages/`, which Streamlit took for an old-style multipage app: it listed the files
    in the sidebar and ran a page's file without main.py, so a missing store was a traceback past the first page."""
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path / "nowhere"))
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    for name in PAGES[1:]:
        at.switch_page(f"views/{name}.py").run()
        assert not at.exception, (name, at.exception)
        assert [e.value for e in at.error] == [md_escape(f"no store at {tmp_path / 'nowhere' / 'store.duckdb'}: run "
                                                         "`marquee init` (or `marquee load-demo`) first")], name


def test_an_older_store_is_told_to_upgrade_not_to_load_the_demo(tmp_path, monkeypatch):
    """A store of schema version 1 holds the user's data: the page says to run `marquee init` (which upgrades it),
    without the no-store advice to load the demo, whose users, titles and reviews would replace theirs of the same ids."""
    store.init(tmp_path)
    with store.write(tmp_path) as con:
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path))
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert not at.exception and not at.info
    assert "schema version 1" in at.error[0].value and md_escape("run `marquee init` to upgrade") in at.error[0].value


def test_backtest_table_prefers_the_rolling_origin_evaluation():
    from app.queries import backtest_table

    evaluated = {"selected": "nhits", "inner_backtest_wape": {"nhits": 0.5},
                 "backtest": {"mean": {"recipe": {"wape": 0.45, "mase": 0.8, "coverage80": 0.79},
                                       "naive": {"wape": 0.62, "mase": 1.1, "coverage80": 0.5},
                                       "mean4": {"wape": 0.53, "mase": 0.9, "coverage80": 0.6}}}}
    df, source = backtest_table(evaluated)
    assert df["method"].tolist() == ["recipe", "mean4", "naive"] and "evaluate" in source
    assert df.loc[0, "coverage80"] == pytest.approx(0.79) and df.loc[0, "chosen"]
    assert backtest_table(None)[0].empty and backtest_table({"other": 1})[0].empty


def test_pages_wait_out_a_job_that_is_writing(app_home):
    """Another process holds the write lock for ~2 s (as a publishing job does): the page waits, then renders."""
    import subprocess
    import sys
    import time

    home, facts = app_home
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom data import store\nwith store.write(sys.argv[1]):\n"
         "    print('locked', flush=True)\n    time.sleep(2)\n", str(home)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        st.cache_data.clear()   # make the page read the store now, not earlier tests' cached frames
        t0 = time.perf_counter()
        at = AppTest.from_file(MAIN, default_timeout=60).run()
        waited = time.perf_counter() - t0
    finally:
        holder.wait(timeout=30)
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Titles"] == f"{facts['titles']:,}"
    assert waited > 0.5   # it really met the lock (and retried) rather than reading a stale cache


def _bars(chart) -> tuple[dict, list[dict]]:
    spec = chart.to_dict()
    return spec["encoding"], spec["datasets"][spec["data"]["name"]]


def _vega_field(row: dict, field: str):
    """A field as Vega-Lite reads it: an unescaped dot is a step into a nested object."""
    for step in re.split(r"(?<!\\)\.", field):
        row = row[step.replace("\\.", ".")]
    return row


def test_ranked_bars_draw_metrics_with_dots_in_their_names():
    from app.charts import ranked_bars

    df = pd.DataFrame({"run_id": ["a", "b"], "validation.ndcg@10": [0.45, 0.40]})
    enc, rows = _bars(ranked_bars(df, "run_id", "validation.ndcg@10", "nDCG@10"))
    # Vega-Lite reads `validation.ndcg@10` as row["validation"]["ndcg@10"]: the field must be a plain key
    assert [_vega_field(row, enc["x"]["field"]) for row in rows] == [0.45, 0.40]
    assert [_vega_field(row, enc["y"]["field"]) for row in rows] == ["a", "b"]
    assert enc["y"]["sort"] == "-x"                                   # higher is better: largest on top


def test_ranked_bars_put_the_best_on_top_and_highlight_the_chosen():
    from app.charts import HIGHLIGHT, ranked_bars

    backtest = pd.DataFrame({"method": ["nhits", "mean4", "naive"], "wape": [0.48, 0.53, 0.62],
                             "chosen": [True, False, False]})
    enc, rows = _bars(ranked_bars(backtest, "method", "wape", "WAPE", lower_is_better=True, highlight="chosen"))
    assert enc["y"]["sort"] == "x"                                    # lowest WAPE on top, as in the table
    assert enc["color"]["condition"] == {"test": "datum.highlight", "value": HIGHLIGHT}
    assert [row["highlight"] for row in rows] == [True, False, False]


def test_compare_runs_reads_headline_then_changed_params_then_the_rest():
    from app.queries import compare_runs

    def run(model: str, ndcg: float, seed: int = 42) -> dict:
        metrics = {"validation": {"ndcg@10": ndcg, "precision@10": 0.3}, "train_seconds": 5.9,
                   "params": {"l2": 500.0 + seed}, "candidates": {"ease": {"validation": {"ndcg@10": 0.44}}},
                   "val_ndcg@10/ease": 0.44}
        return {"metrics": json.dumps(metrics), "params": json.dumps({"model": model, "seed": seed})}

    compare = compare_runs(run("auto", 0.45), run("ease", 0.44, seed=43))
    assert compare["name"].tolist() == ["validation.ndcg@10", "validation.precision@10", "model", "params.l2", "seed",
                                        "train_seconds", "candidates.ease.validation.ndcg@10", "val_ndcg@10/ease"]
    delta = dict(zip(compare["name"], compare["B - A"], strict=True))
    assert delta["validation.ndcg@10"] == pytest.approx(-0.01)
    assert pd.isna(delta["seed"]) and pd.isna(delta["params.l2"])   # settings that changed, not measurements


def test_compare_pair_defaults_to_two_runs_of_one_pipeline():
    from app.queries import compare_pair

    def frame(*runs: str, status: str = "succeeded") -> pd.DataFrame:   # newest first, as runs() lists them
        return pd.DataFrame({"run_id": runs, "pipeline": [r.rstrip("0123456789") for r in runs], "status": status})

    assert compare_pair(frame("sentiment2", "forecast1", "sentiment1")) == ("sentiment1", "sentiment2")
    assert compare_pair(frame("forecast1", "recsys2", "sentiment1", "recsys1")) == ("recsys1", "recsys2")
    assert compare_pair(frame("forecast1", "recsys1")) == ("recsys1", "forecast1")   # nothing to pair: newest two


@pytest.fixture(scope="module")
def unscored_store(app_store, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """The app store plus a newer recsys run that was trained (a blend, validation metrics) but never scored."""
    home = tmp_path_factory.mktemp("unscored") / "home"
    shutil.copytree(app_store[0], home)
    newer = runs.start("recsys", "auto:blend", {"model": "auto", "seed": 42}, home=home)
    runs.publish(newer.run_id, home=home, metrics={
        "validation": {"ndcg@10": 0.5}, "params": {"components": [{"kind": "ease", "weight": 1.0}]}})
    forecast = runs.start("forecast", "auto:naive", {"model": "auto"}, home=home)
    runs.publish(forecast.run_id, home=home, metrics={"selected": "naive", "inner_backtest_wape": {"naive": 0.7}})
    return home, app_store[1], newer.run_id


def test_a_trained_but_unscored_run_is_flagged_not_served(unscored_store, monkeypatch):
    home, facts, newer = unscored_store
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    at = page("overview")
    assert {m.label: m.value for m in at.metric}["ndcg@10"] == "0.402"   # the run serving the top picks
    assert any(newer in i.value and "marquee score recsys" in i.value for i in at.info)
    assert "nan" not in [i.value for i in at.info]      # sentiment's missing note is no note, not NaN
    from app import queries as q
    assert q.serving_run("recsys")["run_id"] == facts["recsys_run"]   # what the cold-start panel uses
    at.switch_page("views/recommendations.py").run()
    assert any(newer in i.value for i in at.info)
    assert facts["recsys_run"] in texts(at)
    assert q.forecast_overview()["run"]["run_id"].tolist() == [facts["forecast_run"]]   # not the unscored one


def test_models_side_by_side_keeps_parameters_apart(unscored_store, monkeypatch):
    home, facts, newer = unscored_store
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    at = page("recommendations")
    side_by_side, params = at.dataframe[1].value, at.dataframe[2].value
    assert "validation.ndcg@10" in side_by_side.columns and not side_by_side.columns.str.startswith("params.").any()
    assert params.set_index("run_id").loc[newer, "params.components"].startswith('[{"kind": "ease"')
    assert params.set_index("run_id").loc[facts["recsys_run"], "factors"] == "64"


def test_metrics_table_reads_headline_first_and_summarises_arrays():
    from app.queries import metrics_table

    metrics = {"selected": "nhits", "train_seconds": 12.5, "calibration": {"item": [[0.8128238360220379, 0.9981504392800913, 1.0, 1.278]] * 2},
               "inner_backtest_wape": {"naive": 0.62, "nhits": 0.48}, "val_wape/nhits": 0.5}
    table = metrics_table(json.dumps(metrics)).set_index("name")["value"]
    assert table.index.tolist() == ["inner_backtest_wape.nhits", "inner_backtest_wape.naive", "selected",
                                    "train_seconds", "calibration.item", "val_wape/nhits"]
    assert table["calibration.item"] == "array 2 × 4" and table["inner_backtest_wape.nhits"] == "0.48"


def test_any_user_id_can_be_typed_and_an_unknown_one_is_named(app_home, monkeypatch):
    from app import queries as q

    monkeypatch.setattr(q, "users", lambda limit=5000: ["1", "2"])   # a big store: the list suggests only a few

    def typed(user_id: str) -> AppTest:
        """The page after typing an id and Enter. AppTest's set_value only picks listed options, and cannot
        rerun a page holding an unlisted one: set the widget's state before the page first renders."""
        at = AppTest.from_file(MAIN, default_timeout=60)
        at.session_state["user"] = user_id
        return at.run().switch_page("views/recommendations.py").run()

    at = typed("943")
    assert not at.exception and "History of user 943" in texts(at) and len(at.table[0].value) == 10
    at = typed("no-such-user")
    assert not at.exception and "Unknown user id: no\\-such\\-user" in at.warning[0].value
    assert "History of user" not in texts(at)


def test_event_types_of_a_run_are_read_from_its_params():
    from app.queries import event_types_of

    assert event_types_of('{"event_types": ["purchase", "rating"], "horizon": 4}') == ["purchase", "rating"]
    assert event_types_of({"event_types": None}) == [] and event_types_of(None) == [] and event_types_of("{}") == []


def test_names_from_the_store_read_as_plain_text_not_markdown(home, tmp_path):
    """Titles, genres and user ids are data: Streamlit renders headers, captions and st.table cells as markdown,
    which drew `$x$` as LaTeX, `# Heading` as a heading and `[link](http://x.y)` as a live link."""

    (tmp_path / "items.csv").write_text("item_id,title,genres\na,$x$ **bold**,**G**\nb,[link](http://x.y),Drama\n"
                                        "c,# Heading,Drama\n")
    (tmp_path / "interactions.csv").write_text("user_id,item_id,timestamp\n**u**,a,2024-01-01\n")
    for entity in ("items", "interactions"):
        ingest(entity, tmp_path / f"{entity}.csv", home)
    recs = pd.DataFrame({"user_id": "**u**", "item_id": ["b", "c"], "rank": [1, 2], "score": [0.9, 0.8],
                         "reason": "because you watched $x$ **bold**"})
    run = runs.start("recsys", "ease", {}, home=home)
    runs.publish(run.run_id, {"recommendations": recs}, home=home)
    at = page("titles")
    at.selectbox(key="title").set_value("a").run()
    assert at.header[0].value == md_escape("$x$ **bold**") and "\\*\\*G\\*\\*" in at.caption[0].value
    at.switch_page("views/recommendations.py").run()
    assert not at.exception and "History of user \\*\\*u\\*\\*" in texts(at)
    shown = pa.ipc.open_stream(at.table[0].proto.arrow_data.styler.display_values).read_pandas()
    assert shown["title"].tolist() == [md_escape("[link](http://x.y)"), md_escape("# Heading")]
    assert shown["reason"].tolist() == [md_escape("because you watched $x$ **bold**")] * 2
    assert at.table[0].value["title"].tolist() == ["[link](http://x.y)", "# Heading"]     # the data stays raw


def test_md_escape_leaves_no_colour_directive_or_entity():
    assert md_escape(":red[r] &amp;") == "\\:red\\[r\\] \\&amp;"


def test_a_failed_run_is_named_on_the_overview_and_its_error_read_plainly(home):
    """The Overview said "No forecast run yet" after one failed, the Runs page asked to score the failed run, and
    its error, which quotes data, rendered as markdown."""
    bad = runs.start("forecast", "nhits", {}, home=home)
    runs.fail(bad.run_id, "ValueError: title **x** costs $5 and $6", home)
    at = page("overview")
    assert not at.exception and [w.value for w in at.warning] == [
        f"The newest forecast run `{bad.run_id}` failed: see Runs for why."]
    at.switch_page("views/runs.py").run()
    assert not at.exception and "None: the run failed." in texts(at) and "marquee score" not in texts(at)
    assert at.error[0].value == "ValueError\\: title \\*\\*x\\*\\* costs \\$5 and \\$6"


def test_typed_text_and_ingested_event_types_read_plainly_in_messages(home, tmp_path):
    """A search, a typed user id, a SQL error (DuckDB quotes the query) and a run's event types went into
    markdown as they were: `$x$` drew LaTeX, `**x**` bold."""
    tiny_store(home, tmp_path)
    (tmp_path / "users.csv").write_text("user_id\n**new**\n")
    ingest("users", tmp_path / "users.csv", home)
    recsys = runs.start("recsys", "ease", {}, home=home)
    runs.publish(recsys.run_id, {"recommendations": pd.DataFrame(
        {"user_id": ["u1"], "item_id": ["b"], "rank": [1], "score": [1.0], "reason": ["r"]})}, home=home)
    fore = runs.start("forecast", "auto", {"event_types": ["*view*"]}, home=home)
    runs.publish(fore.run_id, {"forecasts": pd.DataFrame({"series_id": ["item:b"], "ds": [pd.Timestamp("2024-01-29").date()],
                                                          "p10": [0.0], "p50": [3.0], "p90": [6.0], "method": ["m"]})},
                 home=home)
    at = page("titles")
    at.text_input(key="title_search").set_value("$x$").run()
    assert at.info[0].value == "No title matches '\\$x\\$'."
    at.switch_page("views/recommendations.py").run()
    at.selectbox(key="user").set_value("**new**").run()
    assert "No picks for user \\*\\*new\\*\\* in the latest run" in texts(at)
    at.switch_page("views/forecasts.py").run()
    assert at.info[0].value.startswith("This forecast run counts only \\*view\\* events")
    at.switch_page("views/sql.py").run()
    at.text_area(key="sql_query").set_value('SELECT * FROM "**nope**"').run()
    at.button(key="sql_run").click().run()
    assert not at.exception and "Table with name \\*\\*nope\\*\\* does not exist" in at.error[0].value
