"""The app's live panels against real, small trained models (no synthetic outputs).

A fast recommender (RP3beta) and a fast sentiment model (NB-weighted LR on 400 labelled review
texts) are trained and scored through their pipelines' APIs; the pages must then show what
the store holds and fold picks / typed text into the models live.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data import store
from data.ingest import ingest
from data.sources import reviews_csv

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


@pytest.fixture
def trained_home(demo_home: Path, tmp_path: Path) -> Path:
    from nlp import api as nlp_api
    from recsys import api as recsys_api

    run = recsys_api.train(demo_home, model="rp3beta")
    recsys_api.score(demo_home, run_id=run)
    labeled = tmp_path / "labeled.csv"
    pd.read_csv(reviews_csv()).groupby("label").head(200)[["text", "label"]].to_csv(labeled, index=False)
    run = nlp_api.train(demo_home, model="nblr", labeled=labeled, progress=False)
    nlp_api.score(demo_home, run_id=run, progress=False)
    return demo_home


def _page(name: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


def test_live_panels_use_the_trained_models(trained_home: Path, tmp_path: Path):
    with store.read(trained_home) as con:
        expected = con.execute("SELECT i.title FROM recommendations_latest r JOIN items i USING (item_id) "
                               "WHERE user_id = '1' ORDER BY rank").df()["title"].tolist()
        reviews = con.execute("SELECT count(*) FROM review_sentiment_latest").fetchall()[0][0]

    at = _page("recommendations")
    assert at.table[0].value["title"].tolist() == expected and len(expected) == 10
    picked = ["50", "181", "172"]   # Star Wars, Return of the Jedi, The Empire Strikes Back
    at.multiselect(key="cold_start").set_value(picked).run()
    assert not at.exception and not at.info, [i.value for i in at.info]
    cold = at.dataframe[1].value
    assert len(cold) == 10 and cold["title"].notna().all()
    assert not set(cold["item_id"]) & set(picked)        # never recommends what the visitor picked
    assert cold["reason"].str.contains("Star Wars|Return of the Jedi|Empire Strikes Back").any()

    # a title catalogued after the model trained (no events then) is left out of the picks, and said so
    (tmp_path / "new.csv").write_text("item_id,title\nnew1,A Brand New Film\n")
    ingest("items", tmp_path / "new.csv", trained_home)
    st.cache_data.clear()   # the catalogue the page lists is cached
    at = _page("recommendations")
    at.multiselect(key="cold_start").set_value(["new1", "50"]).run()
    assert not at.exception and [i.value for i in at.info] == [
        "Left out: A Brand New Film (no one had watched it when this model trained)."]
    assert len(at.dataframe[1].value) == 10
    at.multiselect(key="cold_start").set_value(["new1"]).run()
    assert "these are the most popular titles" in at.info[0].value
    assert (at.dataframe[1].value["reason"] == "popular").all()

    at = _page("sentiment")
    assert {m.label: m.value for m in at.metric}["Reviews scored"] == f"{reviews:,}"
    scores = {}
    for text in ("A wonderful, moving film with superb acting.", "Dull, boring and a complete waste of time."):
        at.text_area(key="review_text").set_value(text).run()
        at.button(key="score_review").click().run()
        assert not at.exception
        scores[text] = float({m.label: m.value for m in at.metric}["P(positive)"])
    good, bad = scores.values()
    assert good > 0.5 > bad
