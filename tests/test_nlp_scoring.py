"""Sentiment scoring: incremental store scoring, the daily aggregate, files in and out, bad input."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import main as cli
from data import store
from nlp import api
from tests.test_nlp_model import toy_reviews

REVIEWS = pd.DataFrame({
    "review_id": ["r1", "r2", "r3", "r4", "r5"],
    "user_id": ["u1", "u2", "u3", "u1", "u2"],
    "item_id": ["i1", "i1", "i1", "i2", None],
    "ts": [datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 18), datetime(2024, 1, 2, 8), datetime(2024, 1, 1, 12),
           datetime(2024, 1, 3, 1)],
    "text": ["the film was great and wonderful", "honestly awful and boring", "i loved it, brilliant",
             "dull, dreadful, tedious", "superb and moving"],
})


def _add_reviews(home, frame: pd.DataFrame) -> None:
    with store.write(home) as con:
        con.register("_r", frame)
        con.execute("INSERT INTO reviews BY NAME SELECT * FROM _r")


def _rows(home, sql: str) -> pd.DataFrame:
    with store.read(home) as con:
        return con.execute(sql).df()


@pytest.fixture
def tfidf_run(home, tmp_path):
    labeled = tmp_path / "labeled.csv"
    toy_reviews(120).to_csv(labeled, index=False)
    return api.train(home, model="tfidf", labeled=labeled, progress=False)


def test_tfidf_baseline_learns_a_separable_toy_set(tfidf_run, home):
    test = toy_reviews(40, seed=9)
    p = np.asarray(api.predict_texts(test["text"].tolist(), home, tfidf_run))
    assert ((p >= 0.5) == (test["label"] == 1)).all()
    assert not any(f.suffix in (".pkl", ".joblib") for f in (home / "artifacts" / tfidf_run).rglob("*"))


def test_incremental_scoring_never_rescores_and_daily_matches_hand_computation(tfidf_run, home):
    _add_reviews(home, REVIEWS.iloc[:3])
    first = api.score(home, tfidf_run, progress=False)
    assert first["scored"] == 3
    before = _rows(home, "SELECT review_id, p_positive FROM review_sentiment").set_index("review_id")

    _add_reviews(home, REVIEWS.iloc[3:])
    second = api.score(home, tfidf_run, progress=False)
    assert (second["scored"], second["already_scored"]) == (2, 3)
    third = api.score(home, tfidf_run, progress=False)
    assert third["scored"] == 0
    scores = _rows(home, "SELECT * FROM review_sentiment_latest ORDER BY review_id")
    assert scores["review_id"].tolist() == ["r1", "r2", "r3", "r4", "r5"]     # each exactly once
    assert (scores.set_index("review_id").loc[before.index, "p_positive"] == before["p_positive"]).all()
    assert set(scores["label"]) <= {0, 1} and (scores["run_id"] == tfidf_run).all()

    # by hand: i1 on Jan 1 has r1 and r2; i1 on Jan 2 has r3; i2 on Jan 1 has r4; r5 has no item
    p = scores.set_index("review_id")["p_positive"]
    daily = _rows(home, "SELECT item_id, CAST(day AS VARCHAR) AS day, reviews, mean_p_positive, run_id "
                        "FROM item_sentiment_daily ORDER BY item_id, day")
    assert daily[["item_id", "day", "reviews"]].values.tolist() == [
        ["i1", "2024-01-01", 2], ["i1", "2024-01-02", 1], ["i2", "2024-01-01", 1]]
    np.testing.assert_allclose(daily["mean_p_positive"], [(p["r1"] + p["r2"]) / 2, p["r3"], p["r4"]])
    assert (daily["run_id"] == tfidf_run).all()

    again = api.score(home, tfidf_run, rescore_all=True, progress=False)
    assert again["scored"] == 5
    assert _rows(home, "SELECT count(*) AS n FROM review_sentiment")["n"][0] == 5


def test_a_review_ingested_again_with_another_text_is_scored_again(tfidf_run, home, tmp_path, capsys):
    """Its old text's score stayed (the Titles page listed 'awful and boring' as most positive)."""
    (tmp_path / "items.csv").write_text("item_id,title\ni1,One\n")
    first = tmp_path / "reviews.csv"
    first.write_text("review_id,text,item_id,timestamp\nr1,the film was great and wonderful,i1,2024-01-01\n"
                     "r2,superb and moving,i1,2024-01-01\n")
    edit = tmp_path / "edit.csv"
    edit.write_text("review_id,text\nr1,the film was awful and boring\n")
    assert cli(["ingest", "items", str(tmp_path / "items.csv"), "--home", str(home)]) == 0
    assert cli(["ingest", "reviews", str(first), "--home", str(home)]) == 0
    assert api.score(home, tfidf_run, progress=False)["scored"] == 2
    assert cli(["ingest", "reviews", str(edit), "--home", str(home)]) == 0
    capsys.readouterr()
    assert cli(["score", "sentiment", "--home", str(home), "--run", tfidf_run]) == 0
    assert "scored 1 new review (1 of them changed since scored, 1 already scored" in capsys.readouterr().out
    scores = _rows(home, "SELECT review_id, p_positive, label FROM review_sentiment_latest ORDER BY review_id")
    assert scores["review_id"].tolist() == ["r1", "r2"] and scores["label"].tolist() == [0, 1]
    daily = _rows(home, "SELECT reviews, mean_p_positive FROM item_sentiment_daily")
    assert daily["reviews"].tolist() == [2]
    assert daily["mean_p_positive"][0] == pytest.approx(scores["p_positive"].mean())
    assert cli(["ingest", "reviews", str(edit), "--home", str(home)]) == 0     # the same row again: no change
    assert api.score(home, tfidf_run, progress=False)["scored"] == 0


def test_a_review_changed_while_scoring_ran_is_scored_again(tfidf_run, home, tmp_path, monkeypatch):
    """A review ingested again between scoring's read and its publish: the score published is of the old text, and
    it had counted as current from then on (the change predated the publish); its score says which version it is of."""
    from data import runs

    (tmp_path / "items.csv").write_text("item_id,title\ni1,One\n")
    first, edit = tmp_path / "reviews.csv", tmp_path / "edit.csv"
    first.write_text("review_id,text,item_id\nr1,the film was great,i1\nr2,superb and moving,i1\n")
    edit.write_text("review_id,text,item_id\nr2,the film was awful and boring,i1\n")
    assert cli(["ingest", "items", str(tmp_path / "items.csv"), "--home", str(home)]) == 0
    assert cli(["ingest", "reviews", str(first), "--home", str(home)]) == 0
    real_publish = runs.publish

    def publish_after_an_edit(run_id, outputs=None, **kw):   # the edit lands while the scores are computed
        assert cli(["ingest", "reviews", str(edit), "--home", str(home)]) == 0
        return real_publish(run_id, outputs, **kw)

    monkeypatch.setattr(runs, "publish", publish_after_an_edit)
    assert api.score(home, tfidf_run, progress=False)["scored"] == 2
    monkeypatch.setattr(runs, "publish", real_publish)
    stale = _rows(home, "SELECT label FROM review_sentiment_latest WHERE review_id = 'r2'")["label"][0]
    out = api.score(home, tfidf_run, progress=False)
    assert (out["scored"], out["changed"], out["already_scored"]) == (1, 1, 1)
    labels = _rows(home, "SELECT review_id, label FROM review_sentiment_latest ORDER BY review_id")
    assert stale == 1 and labels["label"].tolist() == [1, 0]   # r2's score is now of its new, negative text
    assert api.score(home, tfidf_run, progress=False)["scored"] == 0


def test_scoring_after_a_change_rewrites_only_the_changed_reviews_scores(tfidf_run, home, tmp_path, monkeypatch):
    """One edited review made the publish delete and write again every score of the run (a million for one edit)."""
    from data import runs

    written = []   # the review_sentiment rows each publish writes (the real publish runs)
    real_publish = runs.publish

    def publish(run_id, outputs=None, **kw):
        written.append(sorted(outputs["review_sentiment"]["review_id"]))
        return real_publish(run_id, outputs, **kw)

    monkeypatch.setattr(runs, "publish", publish)
    (tmp_path / "items.csv").write_text("item_id,title\ni1,One\n")
    first, edit = tmp_path / "reviews.csv", tmp_path / "edit.csv"
    first.write_text("review_id,text,item_id,timestamp\n" + "".join(
        f"r{i},{t},i1,2024-01-0{i}\n" for i, t in enumerate(["the film was great", "superb and moving",
                                                              "dull and tedious", "i loved it"], start=1)))
    edit.write_text("review_id,text\nr2,the film was awful and boring\nr5,brilliant and wonderful\n")
    assert cli(["ingest", "items", str(tmp_path / "items.csv"), "--home", str(home)]) == 0
    assert cli(["ingest", "reviews", str(first), "--home", str(home)]) == 0
    assert api.score(home, tfidf_run, progress=False)["scored"] == 4
    rows = "SELECT review_id, p_positive, label FROM review_sentiment_latest ORDER BY review_id"
    before = _rows(home, rows).set_index("review_id")

    assert cli(["ingest", "reviews", str(edit), "--home", str(home)]) == 0
    out = api.score(home, tfidf_run, progress=False)
    assert (out["scored"], out["changed"], out["already_scored"]) == (2, 1, 3)
    assert written[-1] == ["r2", "r5"]                                             # not the 3 unchanged
    after = _rows(home, rows).set_index("review_id")
    assert after.index.tolist() == ["r1", "r2", "r3", "r4", "r5"]                 # each once
    assert after.loc[["r1", "r3", "r4"]].equals(before.loc[["r1", "r3", "r4"]]) and after.loc["r2", "label"] == 0
    daily = _rows(home, "SELECT sum(reviews) AS n, sum(reviews * mean_p_positive) AS s FROM item_sentiment_daily")
    p = after.loc[["r1", "r2", "r3", "r4"], "p_positive"]                          # r5 has no title
    assert (daily["n"][0], daily["s"][0]) == (4, pytest.approx(p.sum()))

    with store.write(home) as con:    # a text emptied outside ingest: its old score goes, the rest stay
        con.execute("UPDATE reviews SET text = '', ingested_at = (SELECT max(published_at) FROM run_outputs) "
                    "+ INTERVAL 1 SECOND WHERE review_id = 'r3'")
    out = api.score(home, tfidf_run, progress=False)
    assert (out["scored"], out["changed"], out["refused_empty"]) == (0, 1, 1) and written[-1] == []
    assert _rows(home, rows).set_index("review_id").equals(after.drop(index="r3"))


@pytest.fixture
def tokyo(monkeypatch):
    """The process's local time zone 9 hours ahead of UTC (DuckDB takes it for a new connection's TimeZone)."""
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_reviews_written_in_another_time_zone_are_not_scored_again(tfidf_run, home, tokyo):
    """A store write's DEFAULT current_timestamp was local time: ingested_at 9 hours ahead of the UTC
    publish times, so every review looked changed since it was scored and was scored again each time."""
    _add_reviews(home, REVIEWS)
    assert api.score(home, tfidf_run, progress=False)["scored"] == 5
    assert api.score(home, tfidf_run, progress=False)["scored"] == 0


def test_bad_texts_in_the_store_are_refused_or_scored_never_a_crash(tfidf_run, home, capsys):
    huge = "great " * 200_000                                    # ~1.2 MB
    _add_reviews(home, pd.DataFrame({"review_id": ["e", "h", "ok"], "text": ["   ", huge, "awful"]}))
    assert cli(["score", "sentiment", "--home", str(home)]) == 0          # the latest run, through the CLI
    captured = capsys.readouterr()
    assert "scored 2 new reviews" in captured.out and "1 empty refused" in captured.out
    assert "review 'e': empty text" in captured.err
    p = _rows(home, "SELECT review_id, p_positive FROM review_sentiment").set_index("review_id")["p_positive"]
    assert p["h"] > 0.5 > p["ok"]


def test_input_output_round_trip_with_long_and_empty_rows(tfidf_run, home, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_bytes(b"review_id,text,extra\n"
                    b"a,the film was great and wonderful,x\n"
                    b"b,awful and boring,y\n"
                    b"c,,z\n"
                    b"d," + b"superb " * 750_000 + b",w\n")                   # a 5 MB line
    dst = tmp_path / "out.csv"
    assert cli(["score", "sentiment", "--home", str(home), "--input", str(src), "--output", str(dst)]) == 0
    assert "row 3, column 'text': empty text" in capsys.readouterr().err
    out = pd.read_csv(dst)
    assert list(out.columns) == ["review_id", "p_positive", "label"]
    assert out["review_id"].tolist() == ["a", "b", "d"]
    assert out["label"].tolist() == [1, 0, 1]
    pq = tmp_path / "out.parquet"
    assert cli(["score", "sentiment", "--home", str(home), "--run", tfidf_run, "--input", str(dst.with_name("in.csv")),
                "--output", str(pq)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(pq).reset_index(drop=True), out, check_dtype=False)
    assert _rows(home, "SELECT count(*) AS n FROM review_sentiment")["n"][0] == 0   # store untouched
    ints = tmp_path / "ints.parquet"                  # numbers as text: `marquee ingest reviews` takes them too
    pd.DataFrame({"review_id": [1, 2], "text": [7, 8]}).to_parquet(ints)
    assert cli(["score", "sentiment", "--home", str(home), "--input", str(ints), "--output", str(dst)]) == 0
    assert pd.read_csv(dst, dtype=str)["review_id"].tolist() == ["1", "2"]


def _bad_inputs(folder) -> list[tuple]:
    """(file, where the one-line error points) for inputs `marquee ingest reviews` would refuse too."""
    cases = {"ragged.csv": (b"review_id,text\nr1,good,extra\n", "row 1: line 2: ragged row: expected 2 fields, found 3"),
             "dup.csv": (b"review_id,text\nr1,good\nr1,bad\n", "row 2, column 'review_id': duplicate review_id (same as row 1)"),
             "bytes.csv": (b"review_id,text\nr1,good\nr2,awful \xff\xfe boring\n", "row 2: line 3: bytes that are not UTF-8"),
             "head.csv": (b"review_id,review_id,text\nr1,r2,good\n", "column 'review_id': header names a column twice")}
    out = []
    for name, (content, where) in cases.items():
        (folder / name).write_bytes(content)
        out.append((folder / name, where))
    lists = folder / "lists.parquet"
    pd.DataFrame({"review_id": ["r1", "r2"], "text": [["good"], ["bad"]]}).to_parquet(lists)
    return [*out, (lists, "column 'text': the file's text column holds VARCHAR[] values")]


def test_bad_input_files_are_one_line_errors_and_write_nothing(tfidf_run, home, tmp_path, capsys):
    dst = tmp_path / "out" / "scores.csv"
    for src, where in _bad_inputs(tmp_path):
        assert cli(["score", "sentiment", "--home", str(home), "--input", str(src), "--output", str(dst)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{src}, {where}" in err, err
        assert not dst.exists()


def test_components_without_an_output_file_is_refused_not_ignored(tfidf_run, home, capsys):
    """Its help says "with --output": on the store it was silently dropped while the store was scored."""
    _add_reviews(home, REVIEWS)
    assert cli(["score", "sentiment", "--home", str(home), "--components"]) == 2
    assert capsys.readouterr().err == ("error: --components writes the blended parts into --output; it goes with "
                                       "--input/--output\n")
    assert _rows(home, "SELECT count(*) AS n FROM review_sentiment")["n"][0] == 0


def test_unwritable_outputs_are_one_line_errors_and_leave_no_temp_file(tfidf_run, home, tmp_path, capsys):
    work = tmp_path / "work"
    (work / "folder").mkdir(parents=True)
    (work / "afile").write_text("")
    src = work / "in.csv"
    src.write_text("review_id,text\nr1,good\n")
    targets = {work / "folder": "is a folder", work / "afile" / "out.csv": "cannot write the output"}
    if Path("/proc/self").is_dir():                    # Linux: a place no file can be created
        targets[Path("/proc/nope.csv")] = "cannot write the output"
    for dst, reason in targets.items():
        assert cli(["score", "sentiment", "--home", str(home), "--input", str(src), "--output", str(dst)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {dst}: {reason}") and err.count("\n") == 1, err
        assert not list(dst.parent.glob(f".{dst.name}.*.tmp"))
    assert sorted(p.name for p in work.iterdir()) == ["afile", "folder", "in.csv"]      # nothing half-written
    assert not list((work / "folder").iterdir()) and (work / "afile").read_text() == ""
    assert cli(["score", "sentiment", "--home", str(home), "--all", "--input", str(src), "--output",
                str(work / "o.csv")]) == 2   # --all is about the store: never silently dropped
    assert "use one or the other" in capsys.readouterr().err and not (work / "o.csv").exists()


def test_an_output_of_another_type_is_refused_not_written_as_csv(tfidf_run, home, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("review_id,text\nr1,good\n")
    for name in ("out.tsv", "out.json", "out.txt", "out"):
        dst = tmp_path / name
        assert cli(["score", "sentiment", "--home", str(home), "--input", str(src), "--output", str(dst)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {dst}: unsupported output type") and err.count("\n") == 1, err
        assert not dst.exists()
    assert cli(["score", "sentiment", "--home", str(home), "--input", str(src), "--output", str(tmp_path / "o.PQ")]) == 0
    assert pd.read_parquet(tmp_path / "o.PQ")["review_id"].tolist() == ["r1"]


def test_labeled_file_errors_name_file_row_and_column(home, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["good", "bad", "fine"], "label": [1, "maybe", 0]}).to_csv(bad, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 2, column 'label': label 'maybe' is not 0/1, pos/neg, positive/negative or true/false" in err
    blank = tmp_path / "blank.csv"
    blank.write_text("text,label\ngood,1\nbad,\n")     # was "label nan is not 0/1 (or pos/neg)"
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(blank)]) == 2
    assert capsys.readouterr().err == f"error: {blank}, row 2, column 'label': empty label\n"
    missing = tmp_path / "nolabel.csv"
    pd.DataFrame({"text": ["good"]}).to_csv(missing, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--labeled", str(missing)]) == 2
    assert "missing required column(s) label" in capsys.readouterr().err
    assert _rows(home, "SELECT count(*) AS n FROM runs")["n"][0] == 0


@pytest.mark.parametrize("model", ["tfidf", "nblr"])
def test_labelled_texts_without_a_word_are_refused_before_a_run_starts(home, tmp_path, capsys, model):
    """Emoji and one-letter words: scikit-learn's "empty vocabulary" traceback, and a failed run left behind."""
    bad = tmp_path / "emoji.csv"
    pd.DataFrame({"text": ["😀", "👍 a", "😍"] * 4 + ["😡", "👎 b", "🤮"] * 4, "label": [1] * 12 + [0] * 12}).to_csv(
        bad, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", model, "--labeled", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}, column 'text': no text has a word") and err.count("\n") == 1, err
    assert _rows(home, "SELECT count(*) AS n FROM runs")["n"][0] == 0


def test_a_training_part_without_a_word_is_one_error_not_a_traceback():
    from data.errors import MarqueeError
    from nlp.linear import LinearTextModel

    with pytest.raises(MarqueeError, match="the training part of the labelled texts: no text has a word"):
        LinearTextModel.fit("nblr", ["😀", "a", "😡", "b"], np.array([1, 1, 0, 0]))


def test_training_no_better_than_the_commoner_label_says_so(home, tmp_path, capsys):
    """60 positives and 2 negatives: 'validation accuracy 0.857 on 7 reviews', what calling all 7 positive scores."""
    few = tmp_path / "few.csv"
    pd.concat([toy_reviews(120).query("label == 1"), toy_reviews(4).query("label == 0")]).to_csv(few, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(few)]) == 0
    first, note = capsys.readouterr().out.splitlines()
    assert first.endswith("validation accuracy 0.857 on 7 reviews")
    assert note.startswith("note: no better than giving every validation review the commoner label (0.857)")
    balanced = tmp_path / "balanced.csv"
    toy_reviews(120).to_csv(balanced, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(balanced)]) == 0
    assert "note:" not in capsys.readouterr().out


def test_labeled_file_is_read_strictly_and_refuses_repeated_ids(home, tmp_path, capsys):
    good = toy_reviews(12)
    cases = {}
    ids = good.assign(review_id=[f"r{i}" for i in range(len(good))])
    cases["dup.csv"] = (ids.assign(review_id=["r0", "r1", "r1"] + ids["review_id"].tolist()[3:]),
                        "row 3, column 'review_id': duplicate review_id (same as row 2)")
    flipped = pd.concat([ids, ids.iloc[[0]].assign(label=1 - ids["label"].iloc[0])], ignore_index=True)
    cases["conflict.parquet"] = (flipped, f"row {len(flipped)}, column 'review_id': duplicate review_id (same as row 1)")
    for name, (frame, where) in cases.items():
        path = tmp_path / name
        frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
        assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{path}, {where}" in err, err
    raw = tmp_path / "bytes.csv"
    raw.write_bytes(good.to_csv(index=False).encode() + b"caf\xe9 was great,1\n")
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(raw)]) == 2
    assert f"{raw}, row {len(good) + 1}: line {len(good) + 2}: bytes that are not UTF-8" in capsys.readouterr().err
    assert _rows(home, "SELECT count(*) AS n FROM runs")["n"][0] == 0
    same_text = pd.concat([good, good.iloc[[0]]], ignore_index=True)      # no id column: repeats are not judged
    same_text.assign(review_id=[""] * len(same_text)).to_csv(raw, index=False)   # nor blank ids
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(raw)]) == 0


def _imbalanced(n_pos: int, n_neg: int) -> pd.DataFrame:
    """A labelled file with `n_neg` negatives, each from its own source (one-row (label, source) groups)."""
    toy = toy_reviews(2 * max(n_pos, n_neg))
    pos, neg = toy[toy["label"] == 1].head(n_pos), toy[toy["label"] == 0].head(n_neg)
    return pd.concat([pos.assign(source="rt"), neg.assign(source=[f"s{i}" for i in range(n_neg)])],
                     ignore_index=True)


@pytest.mark.parametrize("model", ["tfidf", "nblr"])
def test_a_label_with_too_few_texts_is_refused_before_a_run_starts(home, tmp_path, capsys, model):
    from nlp.data import MIN_TEXTS_PER_LABEL

    short = tmp_path / "short.csv"
    _imbalanced(11, MIN_TEXTS_PER_LABEL - 1).to_csv(short, index=False)
    repeated = tmp_path / "repeated.csv"    # enough rows, but copies of one text: they stay on one side of the split
    neg = _imbalanced(11, 1)
    pd.concat([neg, neg.tail(1).assign(text=lambda d: "  " + d["text"].str.upper())]).to_csv(repeated, index=False)
    for path in (short, repeated):
        assert cli(["train", "sentiment", "--home", str(home), "--model", model, "--labeled", str(path)]) == 2
        err = capsys.readouterr().err
        assert err == (f"error: {path}, column 'label': each label needs at least {MIN_TEXTS_PER_LABEL} different "
                       f"texts, ignoring case and spacing (found {MIN_TEXTS_PER_LABEL - 1} labelled 0)\n")
    assert _rows(home, "SELECT count(*) AS n FROM runs")["n"][0] == 0
    assert not any((home / "artifacts").glob("*"))

    enough = tmp_path / "enough.csv"     # the boundary, with each negative from its own source
    _imbalanced(10, MIN_TEXTS_PER_LABEL).to_csv(enough, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", model, "--labeled", str(enough)]) == 0
    assert _rows(home, "SELECT status FROM runs")["status"].tolist() == ["succeeded"]


@pytest.mark.parametrize("n_pos", [2, 3, 10, 40])
@pytest.mark.parametrize("n_neg", [2, 3, 5])
@pytest.mark.parametrize("sources", ["none", "one each", "shared"])
def test_the_validation_split_leaves_every_label_in_both_parts(n_pos, n_neg, sources):
    from nlp.data import train_val_split

    df = pd.DataFrame({"text": [f"review {i}" for i in range(n_pos + n_neg)], "label": [1] * n_pos + [0] * n_neg})
    if sources != "none":
        df["source"] = [f"s{i}" if sources == "one each" else "rt" for i in range(len(df))]
    for seed in range(5):
        tr, va = train_val_split(df, 0.1, None, seed)
        assert set(tr["label"]) == {0, 1} and set(va["label"]) == {0, 1}
        assert len(tr) + len(va) == len(df)


@pytest.mark.parametrize("sources", ["one each", "a few tiny"])
def test_many_small_sources_still_leave_most_rows_for_training(sources):
    """Each (label, source) group gives validation a row; with one source per row that was every row."""
    from nlp.data import train_val_split

    n = 400
    df = pd.DataFrame({"text": [f"review {i}" for i in range(n)], "label": [i % 2 for i in range(n)],
                       "source": [f"s{i}" if sources == "one each" else ("tiny" if i < 4 else "big") for i in range(n)]})
    tr, va = train_val_split(df, 0.1, None, seed=0)
    assert len(va) == pytest.approx(40, abs=2) and len(tr) + len(va) == n
    assert set(va["label"]) == {0, 1}


def test_big_sources_still_stratify_the_validation_split():
    from nlp.data import train_val_split

    df = pd.DataFrame({"text": [f"review {i}" for i in range(1000)], "label": [i % 2 for i in range(1000)],
                       "source": ["imdb" if i < 800 else "rt" for i in range(1000)]})
    for seed in range(3):
        _, va = train_val_split(df, 0.1, None, seed)
        assert va.groupby(["source", "label"]).size().to_dict() == {("imdb", 0): 40, ("imdb", 1): 40,
                                                                     ("rt", 0): 10, ("rt", 1): 10}


def _with_repeats(n: int, seed: int = 0) -> pd.DataFrame:
    """n labelled rows where about half the texts come 2-4 times, in other case and spacing."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        text = f"Review number {i} of the film"
        variants = [text, f"  {text.upper()}", text.replace(" ", "  \t") + "\n", text.lower()]
        copies = int(rng.integers(2, 5)) if rng.random() < 0.5 else 1
        rows += [(variants[c], i % 2) for c in range(copies)]
    return pd.DataFrame(rows, columns=["text", "label"]).sample(frac=1.0, random_state=seed, ignore_index=True)


@pytest.mark.parametrize("max_val", [None, 12])
def test_every_copy_of_a_text_lands_on_one_side_of_the_validation_split(max_val):
    """Copies on both sides let validation 'predict' reviews training had learnt: inflated validation accuracy."""
    from nlp.data import text_keys, train_val_split

    df = _with_repeats(200).assign(source=lambda d: np.where(d.index % 3 == 0, "imdb", "rt"))
    for seed in range(5):
        tr, va = train_val_split(df, 0.2, max_val, seed)
        assert not set(text_keys(tr["text"])) & set(text_keys(va["text"]))
        assert len(tr) + len(va) == len(df) and set(tr["label"]) == set(va["label"]) == {0, 1}
        assert len(va) == pytest.approx(max_val or 0.2 * len(df), abs=2)
        again = train_val_split(df, 0.2, max_val, seed)[1]
        assert again.equals(va)                                                # deterministic under the seed
    assert set(text_keys(train_val_split(df, 0.2, max_val, 1)[1]["text"])) != set(text_keys(va["text"]))


def test_copies_with_conflicting_labels_stay_together_and_are_counted(home, tmp_path, capsys):
    from nlp.data import repeated_texts, text_keys, train_val_split

    good = toy_reviews(120).drop_duplicates("text", ignore_index=True)
    clash = pd.DataFrame({"text": ["It was OK", "it  was ok ", "It was OK", "Not bad at all", "not bad AT ALL"],
                          "label": [1, 0, 1, 0, 1]})
    df = pd.concat([good, clash, good.head(3)], ignore_index=True)
    assert repeated_texts(df) == {"repeated_texts": 5, "texts_with_both_labels": 2}
    for seed in range(10):
        tr, va = train_val_split(df, 0.3, None, seed)
        assert not set(text_keys(tr["text"])) & set(text_keys(va["text"]))

    path = tmp_path / "clash.csv"
    df.to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 0
    assert ("note: 2 texts (ignoring case and spacing) are labelled both positive and negative; all copies of each "
            "stay together, in training or in validation") in capsys.readouterr().out
    metrics = _rows(home, "SELECT metrics FROM runs")["metrics"][0]
    assert '"repeated_texts": 5' in metrics and '"texts_with_both_labels": 2' in metrics


def test_evaluate_reports_validation_metrics(tfidf_run, home):
    out = api.evaluate(home, tfidf_run)
    assert out["run_id"] == tfidf_run and 0.0 <= out["val"]["accuracy"] <= 1.0
    assert {"nll", "brier", "auc", "temperature"} <= set(out["val"])


def test_labelled_files_of_one_name_keep_separate_results(tfidf_run, home, tmp_path, capsys):
    """Both were recorded as `eval:reviews.csv`: the second file's result overwrote the first's."""
    import json

    right, wrong = toy_reviews(20, seed=3), toy_reviews(20, seed=3).assign(label=lambda d: 1 - d["label"])
    a, b = tmp_path / "a" / "reviews.csv", tmp_path / "b" / "reviews.csv"
    for path, frame in ((a, right), (b, wrong)):
        path.parent.mkdir()
        frame.to_csv(path, index=False)
        assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(path)]) == 0
    capsys.readouterr()
    out = api.evaluate(home, tfidf_run)
    assert out[f"eval:{a.resolve()}"]["accuracy"] == 1.0 and out[f"eval:{b.resolve()}"]["accuracy"] == 0.0

    right.head(12).to_csv(a, index=False)        # the same file again: its result is replaced, not added
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(a)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [k for k in printed if k.startswith("eval:")] == [f"eval:{a.resolve()}", f"eval:{b.resolve()}"]
    assert printed[f"eval:{a.resolve()}"]["n"] == 12 and printed[f"eval:{b.resolve()}"]["n"] == 20
    recorded = json.loads(_rows(home, "SELECT metrics FROM runs")["metrics"][0])
    assert sorted(k for k in recorded if k.startswith("eval:")) == sorted(k for k in printed if k.startswith("eval:"))


def test_a_file_of_one_label_is_evaluated_with_what_is_defined(tfidf_run, home, tmp_path, capsys):
    """evaluate --labeled refused it ('needs both positive (1) and negative (0) labels'), yet its accuracy exists."""
    import json

    texts = toy_reviews(8, seed=5).query("label == 1")["text"].tolist() + ["the film was awful and dull"]
    only = tmp_path / "only_positive.csv"
    pd.DataFrame({"text": texts, "label": "pos"}).to_csv(only, index=False)
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(only)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)[f"eval:{only.resolve()}"]
    p = np.asarray(api.predict_texts(texts, home, tfidf_run))
    assert result["accuracy"] == pytest.approx(float((p >= 0.5).mean()), abs=1e-6) and result["accuracy"] < 1
    assert (result["n"], result["positive"], result["negative"]) == (5, 5, 0)
    assert {"nll", "brier"} <= set(result) and "auc" not in result
    assert "every review here is positive" in result["undefined"]["auc"]
    assert captured.err.endswith(f"note: {only}: auc is undefined (ROC AUC ranks positive reviews against negative "
                                 "ones; every review here is positive)\n")
    assert "NaN" not in _rows(home, "SELECT metrics FROM runs")["metrics"][0]

    both = tmp_path / "both.csv"
    toy_reviews(6, seed=5).to_csv(both, index=False)
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(both)]) == 0
    two = json.loads(capsys.readouterr().out)[f"eval:{both.resolve()}"]
    assert two["auc"] == 1.0 and "undefined" not in two and (two["positive"], two["negative"]) == (3, 3)

    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(only)]) == 2
    assert capsys.readouterr().err == (f"error: {only}, column 'label': needs both positive (1) and negative (0) "
                                       "labels to train\n")


def test_default_training_set_is_the_protocol_train_part(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "shared" / "protocols" / "evalkit.py"
    if not path.exists():
        pytest.skip("evalkit.py not beside the repo")
    from nlp.data import protocol_train

    spec = importlib.util.spec_from_file_location("evalkit", path)
    evalkit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evalkit)
    evalkit.sentiment_split(tmp_path)
    theirs = pd.read_csv(tmp_path / "train.csv")
    ours = protocol_train()
    assert ours["review_id"].tolist() == theirs["review_id"].tolist()
    assert ours["label"].tolist() == theirs["label"].tolist()
    assert not set(ours["review_id"]) & set(pd.read_csv(tmp_path / "test.csv")["review_id"])


def test_a_perfectly_separated_validation_split_does_not_sharpen_scores(tfidf_run, home):
    """A small labelled file the model gets all right on validation gave T at its 0.05 bound: every score
    0 or 1, and a text with no known word scored by the model's bias alone, times 20 (0.93)."""
    assert api.evaluate(home, tfidf_run)["val"]["accuracy"] == 1.0
    unknown, negative = api.predict_texts(["素晴らしい映画 😀", "the film was awful and dull"], home, tfidf_run)
    assert 0.3 < unknown < 0.7
    assert 1e-4 < negative < 0.5
