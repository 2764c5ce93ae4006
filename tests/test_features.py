"""Point-in-time features never leak: events at or after the cutoff change nothing in as_of(cutoff).
Also: the store refuses to open with a schema version it does not know, and `init` upgrades an older one."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from data import features, store
from data.errors import MarqueeError
from data.ingest import ingest
from data.paths import store_path
from tests.ingest_helpers import write

CUTOFF = "2021-06-01 00:00:00"
POINT_IN_TIME = ("interactions", "reviews", "item_engagement_daily")


def _features(home, as_of) -> dict[str, pd.DataFrame]:
    with store.read(home) as con:
        return {name: features.as_of(con, name, as_of).sort_values(
            list(features.as_of(con, name, as_of).columns[:3])).reset_index(drop=True) for name in POINT_IN_TIME}


@pytest.fixture
def history(home, tmp_path):
    ingest("items", write(tmp_path / "i.csv", "item_id,title\n1,A\n2,B\n"), home)
    ingest("interactions", write(tmp_path / "e.csv", "user_id,item_id,timestamp,rating\n"
                                 "u1,1,2021-05-01T10:00:00Z,4\nu2,1,2021-05-31T23:59:59Z,2\nu1,2,2021-05-20,5\n"), home)
    ingest("reviews", write(tmp_path / "r.csv", "review_id,text,user_id,item_id,timestamp\n"
                            "r1,Good,u1,1,2021-05-02\n"), home)
    return home


def test_events_at_or_after_cutoff_change_nothing(history, tmp_path):
    before = _features(history, CUTOFF)
    assert len(before["interactions"]) == 3 and len(before["reviews"]) == 1
    ingest("interactions", write(tmp_path / "late.csv", "user_id,item_id,timestamp,rating\n"
                                 f"u3,1,{CUTOFF},1\nu3,2,2021-06-01T00:00:01Z,1\nu1,1,2030-01-01,5\n"
                                 "u4,1,2021-06-01T01:00:00+02:00,3\n"), history)   # = 23:00 on May 31 UTC!
    ingest("reviews", write(tmp_path / "late_r.csv", "review_id,text,item_id,timestamp\n"
                            f"r2,Late,1,{CUTOFF}\nr3,Later,2,2022-01-01\n"), history)
    after = _features(history, CUTOFF)
    # the +02:00 event happened before the cutoff in UTC, so it is the one legitimate change
    early = after["interactions"][after["interactions"].user_id == "u4"]
    assert len(early) == 1
    pd.testing.assert_frame_equal(after["reviews"], before["reviews"])
    pd.testing.assert_frame_equal(after["interactions"][after["interactions"].user_id != "u4"]
                                  .reset_index(drop=True), before["interactions"])
    daily = after["item_engagement_daily"]
    may31 = daily[(daily.item_id == "1") & (pd.to_datetime(daily.day) == pd.Timestamp("2021-05-31"))]
    assert may31.events.tolist() == [2]   # u2 + the early u4 event
    assert pd.to_datetime(daily.day).max() < pd.Timestamp(CUTOFF)
    # with no cutoff everything is visible, and the cached table equals the uncut feature
    with store.read(history) as con:
        assert len(features.as_of(con, "interactions", None)) == 7
        cached = con.sql("SELECT item_id, day, events, users FROM item_engagement_daily ORDER BY ALL").fetchall()
        live = features.relation(con, "item_engagement_daily").order("ALL").fetchall()
    assert cached == [row[:4] for row in live]


def test_events_before_cutoff_do_show_up(history, tmp_path):
    ingest("interactions", write(tmp_path / "more.csv", "user_id,item_id,timestamp\nu9,2,2021-05-31T23:59:59Z\n"),
           history)
    assert "u9" in set(_features(history, CUTOFF)["interactions"].user_id)


def test_store_with_unknown_schema_version_refuses_to_open(home):
    con = duckdb.connect(str(store_path(home)))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    for opener in (store.read, store.write):
        with pytest.raises(MarqueeError, match="schema version 99"), opener(home):
            pass
    with pytest.raises(MarqueeError, match="schema version 99"):
        store.init(home)


def _as_version_1(home) -> None:
    """The store as version 1 left it: no review_ingested_at on scores."""
    con = duckdb.connect(str(store_path(home)))
    con.execute("ALTER TABLE review_sentiment DROP COLUMN review_ingested_at")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()


def test_init_upgrades_a_version_1_store_and_keeps_its_data(home, tmp_path, capsys):
    """Version 1 had no review_ingested_at on scores: opening such a store says to run `marquee init`, which adds
    it, filled where the review is unchanged since its score was published and NULL (scored again) where not,
    and says it upgraded the store (it said 'store ready', as for a new one); a second init has nothing to do."""
    from app.cli import main as cli
    from data import runs

    ingest("items", write(tmp_path / "i.csv", "item_id,title\n1,A\n"), home)
    ingest("reviews", write(tmp_path / "r.csv", "review_id,text,item_id\nr1,good,1\nr2,bad,1\n"), home)
    run = runs.start("sentiment", "tfidf", {}, home=home)
    runs.publish(run.run_id, {"review_sentiment": pd.DataFrame({"review_id": ["r1", "r2"], "p_positive": [0.9, 0.1],
                                                                "label": [1, 0]})}, home=home)
    ingest("reviews", write(tmp_path / "r2.csv", "review_id,text,item_id\nr2,great after all,1\n"), home)
    _as_version_1(home)
    with pytest.raises(MarqueeError, match="schema version 1, this Marquee needs 2; run `marquee init` to upgrade"), \
            store.read(home):
        pass
    assert cli(["init", "--home", str(home)]) == 0
    assert capsys.readouterr().out == f"upgraded the store at {store_path(home)} from schema version 1 to 2; its data stays\n"
    assert cli(["init", "--home", str(home)]) == 0
    assert capsys.readouterr().out == f"store ready at {store_path(home)}\n"
    with store.read(home) as con:
        got = con.execute("""SELECT s.review_id, s.p_positive, s.review_ingested_at = r.ingested_at
            FROM review_sentiment_latest s JOIN reviews r USING (review_id) ORDER BY 1""").fetchall()
    assert got == [("r1", 0.9, True), ("r2", 0.1, None)]


def test_load_demo_says_it_upgraded_an_older_store(home, capsys):
    """`load-demo` (and `demo`) bring an older store to this version too: it had happened without a word."""
    from app.cli import main as cli

    _as_version_1(home)
    assert cli(["load-demo", "--home", str(home)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"upgraded the store at {store_path(home)} from schema version 1 to 2; its data stays")


def test_engagement_feature_matches_its_plain_definition():
    """The two-level aggregate in FEATURES equals count(*) / count(DISTINCT user) / avg(rating) per item-day."""
    con = duckdb.connect()
    con.execute("""CREATE TABLE interactions AS SELECT 'u' || (i % 5) AS user_id, CAST(i % 11 AS VARCHAR) AS item_id,
        TIMESTAMP '2020-01-01' + to_seconds(i * 997) AS ts,
        CAST(CASE WHEN i % 3 = 0 THEN NULL ELSE i % 5 END AS DOUBLE) AS rating FROM range(20000) t(i)""")
    got = features.relation(con, "item_engagement_daily", "2020-04-01").order("ALL").fetchall()
    want = con.execute("""SELECT item_id, CAST(ts AS DATE), count(*), count(DISTINCT user_id), avg(rating)
        FROM interactions WHERE ts < TIMESTAMP '2020-04-01' GROUP BY ALL ORDER BY ALL""").fetchall()
    assert len(got) == len(want) > 100 and any(r[3] < r[2] for r in want)   # some users repeat within a day
    assert [r[:4] for r in got] == [r[:4] for r in want]
    assert all((a is None and b is None) or abs(a - b) < 1e-9 for a, b in zip([r[4] for r in got],
                                                                               [r[4] for r in want], strict=True))


def test_incremental_engagement_refresh_equals_full_recompute(history, tmp_path):
    """Each later ingest refreshes only the item-days it touched; the result equals a full recompute."""
    for k, rows in enumerate(["u5,1,2021-05-01T12:00:00Z,1\nu1,1,2021-05-01T10:00:00Z,4\n",   # one repeat
                              "u1,2,2021-05-20T08:00:00Z,3\nu6,2,2022-02-02,2\n"]):
        ingest("interactions", write(tmp_path / f"more{k}.csv", "user_id,item_id,timestamp,rating\n" + rows), history)
    with store.read(history) as con:
        cached = con.execute("SELECT * FROM item_engagement_daily ORDER BY ALL").fetchall()
        full = features.relation(con, "item_engagement_daily").order("ALL").fetchall()
    assert cached == full and len(cached) == 4


@pytest.mark.parametrize("cutoff", ["garbage", "", "NaT"])
def test_a_cutoff_that_is_not_a_time_is_one_clear_error(history, cutoff):
    with pytest.raises(MarqueeError, match=f"'{cutoff}' is not a date or time"), store.read(history) as con:
        features.as_of(con, "interactions", cutoff)
