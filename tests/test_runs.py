"""The run registry and atomic publishing."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data import runs, store
from data.errors import MarqueeError


def _recs(user: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [user] * n, "item_id": [str(i) for i in range(n)], "rank": range(1, n + 1),
                         "score": [1.0 / (i + 1) for i in range(n)], "reason": ["popular"] * n})


def _latest(home, table: str) -> pd.DataFrame:
    with store.read(home) as con:
        return con.sql(f"SELECT * FROM {table}_latest").df()


def test_latest_view_serves_newest_succeeded_run(home):
    first = runs.start("recsys", "ease", {}, home=home)
    runs.publish(first.run_id, {"recommendations": _recs("u1", 3)}, home=home)
    second = runs.start("recsys", "mf", {}, home=home)
    assert set(_latest(home, "recommendations").run_id) == {first.run_id}   # second not published yet
    runs.publish(second.run_id, {"recommendations": _recs("u2", 5)}, home=home)
    latest = _latest(home, "recommendations")
    assert set(latest.run_id) == {second.run_id} and len(latest) == 5


def test_failed_publish_leaves_nothing(home):
    run = runs.start("recsys", "ease", {}, home=home)
    bad = pd.DataFrame({"item_id": ["1"], "similar_item_id": ["2"], "rank": ["first"], "score": [1.0]})  # rank: not an int
    with pytest.raises(duckdb.ConversionException):
        runs.publish(run.run_id, {"recommendations": _recs("u9", 2), "similar_items": bad}, home=home)
    with store.read(home) as con:
        assert con.sql("SELECT count(*) FROM recommendations").fetchall()[0][0] == 0
        assert con.sql("SELECT status FROM runs").fetchall()[0][0] == "running"


def test_metrics_merge_and_resolve(home):
    run = runs.start("forecast", "nhits", {"horizon": 4}, home=home)
    runs.publish(run.run_id, metrics={"val_wape": 0.4}, home=home)
    runs.record_metrics(run.run_id, {"backtest": {"wape": 0.41}}, home=home)
    got = runs.resolve("forecast", None, home=home)
    assert got["run_id"] == run.run_id and got["metrics"] == {"val_wape": 0.4, "backtest": {"wape": 0.41}}
    with pytest.raises(MarqueeError, match="not recsys"):
        runs.resolve("recsys", run.run_id, home=home)
    with pytest.raises(MarqueeError, match="marquee train sentiment"):
        runs.resolve("sentiment", None, home=home)


def test_appending_publishes_count_the_runs_total_rows(home):
    run = runs.start("recsys", "ease", {}, home=home)
    assert runs.publish(run.run_id, {"recommendations": _recs("u1", 3)}, home=home) == {"recommendations": 3}
    assert runs.publish(run.run_id, {"recommendations": _recs("u2", 4)}, replace=False, home=home) == {"recommendations": 7}
    with store.read(home) as con:
        assert con.sql("SELECT \"rows\" FROM run_outputs").fetchall() == [(7,)]
        assert con.sql("SELECT count(*) FROM recommendations_latest").fetchall() == [(7,)]


def test_scoring_an_older_run_does_not_make_it_the_latest_model(home):
    old = runs.start("recsys", "ease", {}, home=home)
    runs.publish(old.run_id, home=home)
    new = runs.start("recsys", "ials", {}, home=home)
    runs.publish(new.run_id, home=home)
    runs.publish(old.run_id, {"recommendations": _recs("u1", 2)}, home=home)   # re-score with the old model
    assert runs.latest("recsys", home)["run_id"] == new.run_id
    assert set(_latest(home, "recommendations").run_id) == {old.run_id}      # its outputs are what is live


def test_a_home_moves_with_its_model_files(home, tmp_path):
    """Runs record their folder relative to the home, so a copied home reads its own copy."""
    run = runs.start("recsys", "ease", {}, home=home)
    (run.artifacts / "model.json").write_text("{}")
    runs.publish(run.run_id, home=home)
    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    shutil.rmtree(home)
    found = Path(runs.get(run.run_id, moved)["artifact_uri"])
    assert found == moved.resolve() / "artifacts" / run.run_id and (found / "model.json").exists()
    assert Path(runs.latest("recsys", moved)["artifact_uri"]) == found


def test_a_failed_run_leaves_no_empty_folder(home):
    run = runs.start("recsys", "ease", {}, home=home)
    assert run.artifacts.is_dir()
    runs.fail(run.run_id, "ValueError: nothing to train on", home=home)
    assert not run.artifacts.exists() and runs.get(run.run_id, home)["status"] == "failed"
    kept = runs.start("recsys", "ease", {}, home=home)
    (kept.artifacts / "partial.json").write_text("{}")   # something was saved: kept for a post-mortem
    runs.fail(kept.run_id, "KeyboardInterrupt: ", home=home)
    assert (kept.artifacts / "partial.json").exists()
