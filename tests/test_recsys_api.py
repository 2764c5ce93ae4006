"""The recommender through the store and the CLI: train, score, fold-in, cold start, errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from app.cli import main
from data import ingest, runs, store
from data.errors import InputError, MarqueeError
from recsys import api
from tests.recsys_fixtures import N_ITEMS, clustered_events

RECS = "SELECT user_id, item_id, rank, score, reason FROM recommendations WHERE run_id = $r ORDER BY user_id, rank"


def _fill(home: Path, tmp_path: Path) -> Path:
    items = pd.DataFrame({"item_id": [f"t{i}" for i in range(N_ITEMS)], "title": [f"Title {i}" for i in range(N_ITEMS)]})
    items.to_csv(tmp_path / "items.csv", index=False)
    clustered_events().to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"user_id": ["lonely"]}).to_csv(tmp_path / "users.csv", index=False)
    for entity, file in (("items", "items.csv"), ("interactions", "events.csv"), ("users", "users.csv")):
        ingest.ingest(entity, tmp_path / file, home)
    return home


@pytest.fixture
def store_home(home: Path, tmp_path: Path) -> Path:
    """The clustered viewing data ingested through `marquee ingest`, plus one user with no events."""
    return _fill(home, tmp_path)


def _recs(home, run_id) -> pd.DataFrame:
    with store.read(home) as con:
        return con.execute(RECS, {"r": run_id}).df()


@pytest.fixture(scope="module")
def scored_ro(tmp_path_factory):
    """Trained (EASE) and scored once per module; read it, or copy it (`scored`) to write."""
    folder = tmp_path_factory.mktemp("recsys")
    home = folder / "home"
    store.init(home)
    _fill(home, folder)
    run_id = api.train(home, "quick", "cpu", seed=5, model="ease")
    api.score(home, run_id, "cpu", k=5)
    return home, run_id, _recs(home, run_id)


@pytest.fixture
def scored(scored_ro, tmp_path, monkeypatch):
    home, run_id, recs = scored_ro
    copy = tmp_path / "scored"
    shutil.copytree(home, copy)
    monkeypatch.setenv("MARQUEE_HOME", str(copy))
    return copy, run_id, recs


def test_every_user_gets_k_unseen_titles_with_a_reason(scored):
    home, run_id, recs = scored
    events = clustered_events()
    assert set(recs["user_id"]) == set(events["user_id"]) | {"lonely"}
    assert (recs.groupby("user_id").size() == 5).all()
    seen = set(zip(events["user_id"], events["item_id"], strict=True))
    assert not [p for p in zip(recs["user_id"], recs["item_id"], strict=True) if p in seen]
    watched = events.groupby("user_id")["item_id"].apply(set)
    for row in recs[recs["user_id"] != "lonely"].itertuples():
        title = row.reason.removeprefix("because you watched ")
        assert f"t{title.removeprefix('Title ')}" in watched[row.user_id]   # explained by their own history


def test_user_without_history_gets_popular_titles_flagged_popular(scored):
    home, run_id, recs = scored
    lonely = recs[recs["user_id"] == "lonely"]
    assert (lonely["reason"] == "popular").all()
    top = clustered_events()["item_id"].value_counts().index[:5]
    assert lonely["item_id"].iloc[0] == top[0] == "t0"
    assert set(lonely["item_id"]) <= set(clustered_events()["item_id"].value_counts().index[:8])


def test_similar_items_and_recorded_validation_metrics(scored):
    home, run_id, _ = scored
    with store.read(home) as con:
        sims = con.execute("SELECT item_id, count(*) AS n FROM similar_items_latest GROUP BY ALL").df()
    assert len(sims) == N_ITEMS and (sims["n"] == 20).all()
    m = runs.get(run_id, home)["metrics"]
    assert m["selected"] == "ease" and 0 < m["validation"]["ndcg@10"] <= 1 and m["validation_users"] == 90
    ev = api.evaluate(home, run_id)
    assert ev["validation"] == m["validation"] and ev["recommended_seen_items"] == 0
    assert runs.get(run_id, home)["metrics"]["evaluation"]["catalog_coverage@10"] > 0


def test_fold_in_new_user_from_history_file_without_retraining(scored, tmp_path):
    home, run_id, before = scored
    hist = tmp_path / "new.csv"
    first_pick = before[before["user_id"] == "u0"]["item_id"].iloc[0]
    pd.DataFrame({"user_id": ["newbie"] * 5 + ["u0", "u0"],
                  "item_id": [f"t{i}" for i in range(20, 25)] + [first_pick, first_pick]}).to_csv(hist, index=False)
    assert main(["score", "recsys", "--home", str(home), "--k", "5", "--history", str(hist), "--device", "cpu"]) == 0
    recs = _recs(home, run_id)
    new = recs[recs["user_id"] == "newbie"]
    # the rest of cluster C (t0, watched by half of everyone, may slip in)
    assert len(new) == 5 and sum(25 <= int(i[1:]) < 30 for i in new["item_id"]) >= 4
    assert set(new["item_id"]) <= {"t0", "t25", "t26", "t27", "t28", "t29"}
    assert len(runs.list_runs(home=home)) == 1                                        # no retraining
    assert first_pick not in set(recs[recs["user_id"] == "u0"]["item_id"])            # a new event of a known user
    old = before[before["user_id"] == "u3"].reset_index(drop=True)
    assert recs[recs["user_id"] == "u3"].reset_index(drop=True).equals(old)          # others unchanged


def test_unknown_item_in_history_names_file_row_and_column(scored, tmp_path, capsys):
    home, run_id, before = scored
    hist = tmp_path / "bad.csv"
    pd.DataFrame({"user_id": ["a", "a"], "item_id": ["t1", "nope"]}).to_csv(hist, index=False)
    assert main(["score", "recsys", "--home", str(home), "--history", str(hist), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2" in err and "'item_id'" in err and "nope" in err
    assert "not in items: ingest the items first" in err      # as ingest says it: not a title the store has
    assert _recs(home, run_id).equals(before)                                        # nothing half-written
    with pytest.raises(InputError, match="missing required column.s. item_id"):
        pd.DataFrame({"user_id": ["a"]}).to_csv(hist, index=False)
        api.score(home, run_id, "cpu", history_file=str(hist))


def test_history_rows_of_titles_the_run_never_learned_are_skipped_and_counted(scored, tmp_path, capsys):
    """A title ingested after training (with events since) and a catalogued title nobody watched cannot be folded
    in without retraining: their rows are skipped with a one-line note, the file's other rows still count; the
    store's own events of such a title are left out with a note too."""
    home, run_id, before = scored
    (tmp_path / "late.csv").write_text("item_id,title\nlate,Late Arrival\nshelf,Never Watched\n")
    ingest.ingest("items", tmp_path / "late.csv", home)
    (tmp_path / "late_events.csv").write_text("user_id,item_id,timestamp\nu1,late,2025-01-01\n")
    ingest.ingest("interactions", tmp_path / "late_events.csv", home)
    hist = tmp_path / "hist.csv"
    hist.write_text("user_id,item_id\nnewbie,late\nnewbie,t20\nnewbie,t21\nonly_late,late\nonly_late,shelf\n")
    assert main(["score", "recsys", "--home", str(home), "--k", "5", "--history", str(hist), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and "(1 folded in, 2 with no history got popular titles)" in out[0]   # only_late, lonely
    why = "the run never learned (ingested or first watched after it trained)"
    assert out[1] == f"note: the store's events of 1 title {why} were left out (1 user-title pair); retrain to use them"
    assert out[2] == f"note: {hist}: 3 rows skipped, naming titles {why}; retrain to fold them in"
    recs = _recs(home, run_id)
    assert {"late", "shelf"}.isdisjoint(recs["item_id"])
    new = recs[recs["user_id"] == "newbie"]
    assert len(new) == 5 and "popular" not in set(new["reason"]) and {"t20", "t21"}.isdisjoint(new["item_id"])
    assert set(recs[recs["user_id"] == "only_late"]["reason"]) == {"popular"}
    plain = api.score(home, run_id, "cpu", k=5)
    assert plain["history_rows_skipped"] == 0 and plain["store_pairs_skipped"] == plain["store_titles_skipped"] == 1


@pytest.mark.parametrize(("content", "where"), [
    ("user_id,item_id\nnewu9,t1,t5\n", "row 1: line 2: ragged row: expected 2 fields, found 3"),
    ("user_id,item_id,timestamp\nnewu9,t1,2024-01-01\nnewu9,t2,notadate\n",
     "row 2, column 'timestamp': 'notadate' is not a timestamp"),
    ("user_id,item_id,ts\nnewu9,t1,1997-13-45\n", "row 1, column 'timestamp': '1997-13-45' is not a timestamp"),
    ("user_id,item_id,timestamp\nnewu9,t1,2999-01-01\n", "row 1, column 'timestamp': '2999-01-01' is outside"),
    ("user_id,user_id,item_id\nnewu9,u1,t1\n", "column 'user_id': header names a column twice"),
    ("user_id,item_id\nnewu9,\n", "row 1, column 'item_id': empty item_id"),
])
def test_history_file_is_checked_like_an_ingest_file(scored, tmp_path, capsys, content, where):
    home, run_id, before = scored
    hist = tmp_path / "hist.csv"
    hist.write_text(content)
    assert main(["score", "recsys", "--home", str(home), "--history", str(hist), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{hist}, {where}" in err
    assert _recs(home, run_id).equals(before)                                        # nothing published


def test_history_file_takes_what_ingest_takes_tsv_parquet_and_header_only(scored, tmp_path):
    home, run_id, before = scored
    tsv = tmp_path / "hist.tsv"
    tsv.write_text("user_id\titem_id\ttimestamp\nnewbie\tt20\t2024-02-01 10:00:00\nnewbie\tt21\t1706781600\n")
    out = api.score(home, run_id, "cpu", k=5, history_file=str(tsv))
    assert out["folded_in_users"] == 1 and set(_recs(home, run_id)["user_id"]) == set(before["user_id"]) | {"newbie"}
    pq = tmp_path / "hist.pq"
    pd.DataFrame({"user_id": [7], "item_id": ["t22"]}).to_parquet(pq)                   # whole-number ids, as ingest
    assert api.score(home, run_id, "cpu", k=5, history_file=str(pq))["folded_in_users"] == 1
    assert "7" in set(_recs(home, run_id)["user_id"])
    header_only = tmp_path / "none.csv"
    header_only.write_text("user_id,item_id\n")
    assert api.score(home, run_id, "cpu", k=5, history_file=str(header_only))["folded_in_users"] == 0


def test_recommend_for_history_cold_start_panel(scored):
    home, run_id, _ = scored
    out = api.recommend_for_history(["t10", "t11", "t12"], k=4, home=home)
    assert list(out.columns) == ["item_id", "score", "reason"] and len(out) == 4
    assert sum(13 <= int(i[1:]) < 20 for i in out["item_id"]) >= 3 and set(out["item_id"]) <= \
        {"t0", *(f"t{i}" for i in range(13, 20))}
    assert out["reason"].str.startswith("because you watched Title 1").all()
    assert (api.recommend_for_history([], k=3, home=home)["reason"] == "popular").all()
    with pytest.raises(MarqueeError, match="'zzz'"):
        api.recommend_for_history(["t1", "zzz"], home=home)


def test_same_seed_same_recommendations_with_auto(store_home):
    a = api.train(store_home, "quick", "cpu", seed=9)
    b = api.train(store_home, "quick", "cpu", seed=9)
    for r in (a, b):
        api.score(store_home, r, "cpu", k=5)
    m = runs.get(a, store_home)["metrics"]
    assert {"ease", "rp3beta", "ials", "gfcf"} <= set(m["candidates"]) and m["selected"] in m["candidates"]
    assert all(f"val_ndcg@10/{k}" in m for k in m["candidates"])
    ra, rb = _recs(store_home, a), _recs(store_home, b)
    assert ra[["user_id", "item_id", "rank"]].equals(rb[["user_id", "item_id", "rank"]])


def test_as_of_trains_only_on_earlier_events(store_home):
    events = clustered_events()
    cutoff = events["ts"].iloc[len(events) // 2]
    run_id = api.train(store_home, "quick", "cpu", model="rp3beta", as_of=str(cutoff))
    assert runs.get(run_id, store_home)["data_snapshot"]["interactions"] == int((events["ts"] < cutoff).sum())


def test_train_without_data_is_a_clear_error(home):
    with pytest.raises(MarqueeError, match="no interactions"):
        api.train(home, "quick", "cpu")
    with pytest.raises(MarqueeError, match="no trained recsys model"):
        api.score(home)


def test_events_ingested_since_training_are_folded_in(scored, tmp_path):
    """A title watched after training is not recommended; a viewer who arrived since gets picks made
    from their own events, not the popular list."""
    home, run_id, recs = scored
    user = recs.user_id.iloc[0]
    watched = recs[recs.user_id == user].item_id.iloc[0]   # their rank-1 pick, watched now
    newcomer = recs[recs.user_id == user].item_id.tolist()[1:3]
    events = pd.DataFrame({"user_id": [user, "arrived", "arrived"], "item_id": [watched, *newcomer],
                           "timestamp": ["2024-06-01T00:00:00"] * 3})
    events.to_csv(tmp_path / "since.csv", index=False)
    ingest.ingest("interactions", tmp_path / "since.csv", home)
    out = api.score(home, run_id, "cpu", k=5)
    after = _recs(home, run_id)
    assert watched not in set(after[after.user_id == user].item_id)
    mine = after[after.user_id == "arrived"]
    assert len(mine) == 5 and not set(mine.item_id) & set(newcomer) and (mine.reason != "popular").all()
    assert out["folded_in_users"] == 2
    unchanged = recs[recs.user_id == recs.user_id.iloc[-1]]   # no new events: the same picks as before
    assert after[after.user_id == unchanged.user_id.iloc[0]].item_id.tolist() == unchanged.item_id.tolist()


def test_a_catalogue_smaller_than_k_and_a_user_who_saw_everything(home, tmp_path):
    """Four titles (fewer than the k=10 of model selection), one viewer who watched all of them: train,
    score and evaluate still work."""
    pd.DataFrame({"item_id": list("ABCD"), "title": list("ABCD")}).to_csv(tmp_path / "items.csv", index=False)
    pd.DataFrame({"user_id": ["u1"] * 4 + ["u2", "u2", "u3"], "item_id": list("ABCD") + ["A", "B", "C"],
                  "timestamp": [100 + i for i in range(7)]}).to_csv(tmp_path / "events.csv", index=False)
    ingest.ingest("items", tmp_path / "items.csv", home)
    ingest.ingest("interactions", tmp_path / "events.csv", home)
    run_id = api.train(home, "quick", "cpu", model="ease")
    api.score(home, run_id, "cpu", k=10)
    recs = _recs(home, run_id)
    assert "u1" not in set(recs[recs.reason != "popular"].user_id)   # nothing left for u1 but the popular list
    assert set(recs[recs.user_id == "u3"].item_id) <= {"A", "B", "D"}   # never C, which u3 saw
    assert api.evaluate(home, run_id)["recommended_seen_items"] == 0


def test_event_types_choose_what_trains_and_what_scoring_folds_in(home, tmp_path):
    """Trained on purchases only, a run folds in only purchases when scoring: views since training do not
    make anyone a changed user. A misspelt type is a one-line CLI error naming the store's types."""
    _fill(home, tmp_path)
    buys = clustered_events(seed=1).assign(event_type="purchase")
    buys.to_csv(tmp_path / "buys.csv", index=False)
    ingest.ingest("interactions", tmp_path / "buys.csv", home)
    run_id = api.train(home, "quick", "cpu", seed=5, model="ease", event_types=["purchase"])
    run = runs.get(run_id, home)
    pairs = buys.drop_duplicates(["user_id", "item_id"])
    assert run["data_snapshot"]["interactions"] == len(pairs) and run["params"]["event_types"] == ["purchase"]
    out = api.score(home, run_id, "cpu", k=5)
    assert out["folded_in_users"] == 0
    recs = _recs(home, run_id).merge(pairs, on=["user_id", "item_id"])
    assert recs.empty   # a purchased title is never recommended back
    with pytest.raises(MarqueeError, match="'purchse'"):
        api.train(home, "quick", "cpu", model="ease", event_types=["purchse"])


def test_history_file_ratings_on_the_store_s_own_scale_are_taken(scored, tmp_path):
    """A store ingested with --rating-range 0 100 gets history files on that scale; score has no --rating-range,
    and fold-in uses only whether a row is rated, so any number passes (a non-number still does not)."""
    home, run_id, _ = scored
    hist = tmp_path / "hist.csv"
    hist.write_text("user_id,item_id,rating\nnewbie,t20,85\nnewbie,t21,\n")
    assert api.score(home, run_id, "cpu", k=5, history_file=str(hist))["folded_in_users"] == 1
    hist.write_text("user_id,item_id,rating\nnewbie,t20,lots\n")
    with pytest.raises(InputError, match=r"row 1, column 'rating': 'lots' is not a number"):
        api.score(home, run_id, "cpu", k=5, history_file=str(hist))


def test_filters_that_leave_nothing_are_named_not_an_empty_store(home, tmp_path):
    """The store has events, just none of the type before --as-of: say so, not "ingest some"."""
    _fill(home, tmp_path)
    buys = clustered_events(seed=1).assign(event_type="purchase", ts=pd.Timestamp("2030-01-01"))
    buys.drop_duplicates(["user_id", "item_id"]).to_csv(tmp_path / "buys.csv", index=False)
    ingest.ingest("interactions", tmp_path / "buys.csv", home)
    with pytest.raises(MarqueeError, match=r"^no interactions of type 'purchase' before 2029-01-01 to train on$"):
        api.train(home, "quick", "cpu", model="ease", as_of="2029-01-01", event_types=["purchase"])


def test_a_history_file_folds_in_only_the_run_s_event_types(home, tmp_path):
    """A purchases-only run folds in a history file's purchases, not its views or its rated rows without a type
    (ingest makes those 'rating'); a user the file names with none of them gets the popular titles."""
    _fill(home, tmp_path)
    buys = clustered_events(seed=1).assign(event_type="purchase")
    buys.to_csv(tmp_path / "buys.csv", index=False)
    ingest.ingest("interactions", tmp_path / "buys.csv", home)
    run_id = api.train(home, "quick", "cpu", seed=5, model="ease", event_types=["purchase"])
    (tmp_path / "hist.csv").write_text("user_id,item_id,event_type,rating\nnew_b,t1,purchase,\nnew_v,t1,view,\n"
                                       "new_v,t2,,\nnew_r,t1,,4\n")
    out = api.score(home, run_id, "cpu", k=5, history_file=str(tmp_path / "hist.csv"))
    assert out["folded_in_users"] == 1
    recs = _recs(home, run_id)
    reasons = recs[recs.user_id.str.startswith("new_")].groupby("user_id")["reason"].agg(set).to_dict()
    assert set(reasons) == {"new_b", "new_v", "new_r"}
    assert reasons["new_v"] == reasons["new_r"] == {"popular"} and "popular" not in reasons["new_b"]


NOTHING_TO_SHOW = [
    # titles, (user, title) events, what the summary must say
    ("ABC", [(u, t) for u in ("u1", "u2", "u3", "u4") for t in "ABC"],
     "0 recommendations for 0 users (0 folded in, 0 with no history got popular titles; 4 users had already seen "
     "all 3 titles the run knows: nothing left to recommend to them)"),
    ("ABC", [(f"u{i}", "ABC"[i % 3]) for i in range(6)],
     "0 similar_items rows (no user in the training data has two titles, so nothing links one title to another)"),
    ("A", [("u1", "A"), ("u2", "A")],
     "2 users had already seen the only title the run knows: nothing left to recommend to them), "
     "0 similar_items rows (the run knows only 1 title)"),
]


@pytest.mark.parametrize(("titles", "events", "said"), NOTHING_TO_SHOW, ids=["seen-all", "no-links", "one-title"])
def test_score_summary_says_why_it_published_nothing(home, tmp_path, capsys, titles, events, said):
    pd.DataFrame({"item_id": list(titles), "title": list(titles)}).to_csv(tmp_path / "items.csv", index=False)
    pd.DataFrame({"user_id": [u for u, _ in events], "item_id": [t for _, t in events],
                  "timestamp": range(100, 100 + len(events))}).to_csv(tmp_path / "events.csv", index=False)
    ingest.ingest("items", tmp_path / "items.csv", home)
    ingest.ingest("interactions", tmp_path / "events.csv", home)
    api.train(home, "quick", "cpu", model="ease")
    assert main(["score", "recsys"]) == 0
    assert said in capsys.readouterr().out


def test_a_run_that_failed_is_not_scored_even_with_its_model_files(scored, capsys):
    """A run that failed after saving its model (e.g. Ctrl-C as it published) keeps the files; scoring it
    published its recommendations and marked it succeeded."""
    home, run_id, _ = scored
    with store.write(home) as con:
        con.execute("UPDATE runs SET status = 'failed', error = 'KeyboardInterrupt: ' WHERE run_id = $r", {"r": run_id})
        con.execute("DELETE FROM recommendations")
    for verb in ("score", "evaluate"):
        assert main([verb, "recsys", "--run", run_id]) == 2
        assert capsys.readouterr().err == (f"error: run {run_id!r} failed (KeyboardInterrupt:): it has no model to "
                                           "use; see `marquee runs`\n")
    assert runs.get(run_id, home)["status"] == "failed" and _recs(home, run_id).empty


def test_too_few_titles_per_user_to_validate_is_said_not_scored_zero(home, tmp_path, capsys):
    """Two titles a user leave none to hold out: the run is trained but not validated, its metrics are null (not
    0.0, which reads as a model that misses everything), and a blend, which validation weighs, is refused."""
    pd.DataFrame({"item_id": list("ABCD"), "title": list("ABCD")}).to_csv(tmp_path / "items.csv", index=False)
    pairs = [("x", "A"), ("x", "B"), ("y", "B"), ("y", "C"), ("z", "C"), ("z", "D"), ("w", "A")]
    pd.DataFrame({"user_id": [u for u, _ in pairs], "item_id": [t for _, t in pairs],
                  "timestamp": 100}).to_csv(tmp_path / "events.csv", index=False)
    ingest.ingest("items", tmp_path / "items.csv", home)
    ingest.ingest("interactions", tmp_path / "events.csv", home)
    assert main(["train", "recsys", "--model", "auto", "--device", "cpu"]) == 0
    assert ": ease (not validated: no user has the 3 or more titles it takes to hold one out, " in capsys.readouterr().out
    m = runs.latest("recsys", home)["metrics"]
    assert m["selected"] == "ease" and m["validation_users"] == 0 and set(m["candidates"]) == {"ease"}
    assert set(m["validation"].values()) == {None}
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert "validation_users 0" in listed and "ndcg" not in listed       # a count, and no score it never measured
    assert main(["score", "recsys", "--device", "cpu"]) == 0
    assert main(["train", "recsys", "--model", "blend", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith("error: a blend is weighted on validation users, and no user has")
