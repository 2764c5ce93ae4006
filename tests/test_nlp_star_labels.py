"""Labelled files read on another scale than 0/1 (`train|evaluate sentiment --labeled`): star ratings (4-5 stars
positive, 1-2 negative, 3 left out), -1/1, and a file of 1s only, which might be 1-star ratings."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.cli import main as cli
from data import runs, store
from nlp import api
from tests.test_nlp_model import toy_reviews

NEUTRAL = ["it was fine I guess", "an average film", "neither here nor there", "some parts work, some do not"]


def starred(n: int, seed: int = 0, neutral: int = 4) -> pd.DataFrame:
    """toy_reviews rated 4-5 (positive) or 1-2 (negative) stars, then `neutral` 3-star rows."""
    toy = toy_reviews(n, seed)
    rng = np.random.default_rng(seed)
    stars = np.where(toy["label"] == 1, rng.integers(4, 6, n), rng.integers(1, 3, n))
    mid = pd.DataFrame({"text": [NEUTRAL[i % len(NEUTRAL)] + f" ({i})" for i in range(neutral)], "label": 3})
    return pd.concat([toy.assign(label=stars), mid], ignore_index=True)


def _runs(home) -> list[dict]:
    with store.read(home) as con:
        return con.execute("SELECT run_id, status FROM runs").df().to_dict("records")


def test_star_ratings_are_read_as_positive_negative_and_left_out(tmp_path):
    from nlp.data import read_labeled

    frame = pd.DataFrame({"text": list("abcdefg"), "label": [" 5 ", "4.0", "3", "2", "1", "1.0", "3.0"]})
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"s{suffix}"
        frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
        df, record = read_labeled(path)
        assert (df["text"].tolist(), df["label"].tolist()) == (list("abdef"), [1, 1, 0, 0, 0])
        assert record["neutral_left_out"] == 2
    numbers = frame.assign(label=[5, 4, 3, 2, 1, 1, 3])          # Parquet integers are read the same way
    numbers.to_parquet(path)
    assert read_labeled(path)[0]["label"].tolist() == [1, 1, 0, 0, 0]


def test_binary_files_are_unchanged_even_where_1_could_be_a_star(tmp_path):
    """Only a 2-5 makes a file star-rated: 0/1, a file of 1s and words read as before (1 positive); the file of 1s
    is marked, so a command can say how it was read."""
    from nlp.data import read_labeled
    from nlp.labels import ALL_ONES

    for labels, want, record in (([1, 0, 1], [1, 0, 1], {}), ([1, "1.0"], [1, 1], {"labels": ALL_ONES}),
                                 (["pos", "NEG", "1.0"], [1, 0, 1], {}), (["pos", "1"], [1, 1], {})):
        path = tmp_path / "b.csv"
        pd.DataFrame({"text": ["x", "y", "z"][: len(labels)], "label": labels}).to_csv(path, index=False)
        df, read_as = read_labeled(path)
        assert (df["label"].tolist(), read_as) == (want, record)


def test_binary_labels_spelled_as_other_numbers_are_0_and_1(tmp_path):
    """A 0/1 written '01', '+1' or '1.00' (a Parquet DECIMAL column, an export's zero padding) is the number 0 or
    1: it was a KeyError traceback in a binary file and '0.00' was refused as 'neither 0/1 nor a star'."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from nlp.data import read_labeled

    path = tmp_path / "b.csv"
    pd.DataFrame({"text": list("abcd"), "label": ["01", "0.00", "+1", "1."]}).to_csv(path, index=False)
    assert read_labeled(path)[0]["label"].tolist() == [1, 0, 1, 1]
    decimals = pa.array([decimal.Decimal(x) for x in ("1.00", "0.00", "1.00")], pa.decimal128(5, 2))
    pq.write_table(pa.table({"text": list("xyz"), "label": decimals}), tmp_path / "d.parquet")
    assert read_labeled(tmp_path / "d.parquet")[0]["label"].tolist() == [1, 0, 1]


def test_train_on_stars_leaves_out_3_and_says_so_in_one_line(home, tmp_path, capsys):
    path = tmp_path / "stars.csv"
    frame = starred(120, neutral=7)
    frame.to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == (f"note: {path}: labels read as star ratings (4-5 stars positive, 1-2 negative); "
                            "7 rows of 3 stars left out as neutral\n")
    (run,) = _runs(home)
    snap = runs.get(run["run_id"], home)["data_snapshot"]
    assert (snap["rows"], snap["positive"], snap["neutral_left_out"]) == (120, int((frame["label"] >= 4).sum()), 7)
    test = toy_reviews(40, seed=9)
    p = np.asarray(api.predict_texts(test["text"].tolist(), home, run["run_id"]))
    assert ((p >= 0.5) == (test["label"] == 1)).all()


def test_evaluate_on_stars_counts_what_was_left_out(home, tmp_path, capsys):
    binary = tmp_path / "binary.csv"
    toy_reviews(120).to_csv(binary, index=False)
    run_id = api.train(home, model="tfidf", labeled=binary, progress=False)
    path = tmp_path / "stars.csv"
    starred(20, seed=3, neutral=5).to_csv(path, index=False)
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(path)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)[f"eval:{path.resolve()}"]
    assert (result["n"], result["positive"], result["negative"], result["neutral_left_out"]) == (20, 10, 10, 5)
    assert result["accuracy"] == 1.0 and result["auc"] == 1.0
    assert captured.err == (f"note: {path}: labels read as star ratings (4-5 stars positive, 1-2 negative); "
                            "5 rows of 3 stars left out as neutral\n")
    assert runs.get(run_id, home)["metrics"][f"eval:{path.resolve()}"]["neutral_left_out"] == 5


AMBIGUOUS = {
    "zero_to_five": ([5, 4, 0, 1], "row 3, column 'label': label '0' is not a whole star rating 1-5, yet row 1 is "
                     "rated '5': a file's labels are all stars 1-5 (4-5 stars positive, 1-2 negative, 3 left out as "
                     "neutral) or all 0/1, pos/neg, positive/negative or true/false"),
    "stars_and_words": ([2, "pos", 5], "row 2, column 'label': label 'pos' is not a whole star rating 1-5, yet row 1 "
                        "is rated '2'"),
    "one_to_ten": ([1, 4, 9, 10], "row 3, column 'label': label '9' is neither 0/1, -1/1 nor a whole star rating 1-5 "
                   "(4-5 stars positive, 1-2 negative, 3 left out as neutral); other scales (1-10, half stars, ...) "
                   "have no agreed cut: map them to 0/1 or 1-5 first"),
    "half_stars": ([1, 5, 3.5], "row 3, column 'label': label '3.5' is neither 0/1, -1/1 nor a whole star rating 1-5"),
    "minus_one_zero_one": ([-1, 1, 0, 1], "row 3, column 'label': label '0' beside row 1's '-1': -1, 0 and 1 are "
                           "three classes (negative, neutral, positive), which have no binary reading: drop the 0 "
                           "rows or map the labels to 0/1"),
    "minus_one_and_words": ([1, -1, "pos"], "row 3, column 'label': label 'pos' is not -1 or 1, yet row 2 is "
                            "labelled '-1': a file's labels are all -1/1 (-1 negative, 1 positive) or all 0/1, "
                            "pos/neg, positive/negative or true/false"),
    "stars_and_minus_one": ([5, -1], "row 2, column 'label': label '-1' is not a whole star rating 1-5, yet row 1 "
                            "is rated '5'"),
    "all_neutral": ([3, 3, 3], "column 'label': every label is 3 stars, which are left out as neutral (4-5 stars "
                    "are positive, 1-2 negative): no review is left"),
}


@pytest.mark.parametrize("case", AMBIGUOUS)
@pytest.mark.parametrize("verb", ["train", "evaluate"])
def test_ambiguous_scales_are_one_line_errors_and_nothing_is_written(home, tmp_path, capsys, case, verb):
    labels, where = AMBIGUOUS[case]
    path = tmp_path / f"{case}.csv"
    pd.DataFrame({"text": [f"review {i}" for i in range(len(labels))], "label": labels}).to_csv(path, index=False)
    if verb == "evaluate":
        toy = tmp_path / "toy.csv"
        toy_reviews(40).to_csv(toy, index=False)
        run_id = api.train(home, model="tfidf", labeled=toy, progress=False)
    args = ["--model", "tfidf"] if verb == "train" else []
    assert cli([verb, "sentiment", "--home", str(home), *args, "--labeled", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}, {where}") and err.count("\n") == 1, err
    if verb == "train":
        assert _runs(home) == []
    else:
        assert not any(k.startswith("eval:") for k in runs.get(run_id, home)["metrics"])


def test_stars_of_one_side_are_refused_in_stars(home, tmp_path, capsys):
    path = tmp_path / "low.csv"
    low = starred(40, neutral=4).query("label != 4 and label != 5")
    low.to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "nblr", "--labeled", str(path)]) == 2
    assert capsys.readouterr().err == (f"error: {path}, column 'label': needs both positive (4-5 stars) and negative "
                                       "(1-2 stars) reviews, 3 stars being left out, to train\n")
    assert _runs(home) == []


def test_minus_one_and_one_are_read_as_negative_and_positive(tmp_path):
    from nlp.data import read_labeled
    from nlp.labels import SIGNED_RULE

    path = tmp_path / "signed.csv"
    pd.DataFrame({"text": list("abcde"), "label": ["-1", "1", "-1.0", "+1", " -1 "]}).to_csv(path, index=False)
    df, record = read_labeled(path)
    assert (df["label"].tolist(), record) == ([0, 1, 0, 1, 0], {"labels": SIGNED_RULE})


def test_train_and_evaluate_on_minus_one_and_one_say_how_they_were_read(home, tmp_path, capsys):
    path = tmp_path / "signed.csv"
    frame = toy_reviews(120).assign(label=lambda d: d["label"] * 2 - 1)
    frame.to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 0
    note = f"note: {path}: labels read as -1 negative, 1 positive\n"
    assert capsys.readouterr().err == note
    (run,) = _runs(home)
    snap = runs.get(run["run_id"], home)["data_snapshot"]
    assert (snap["rows"], snap["positive"], snap["labels"]) == (120, 60, "-1 negative, 1 positive")
    test = toy_reviews(40, seed=9)
    p = np.asarray(api.predict_texts(test["text"].tolist(), home, run["run_id"]))
    assert ((p >= 0.5) == (test["label"] == 1)).all()   # -1 learnt as negative, not as a third or a positive label
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(path)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)[f"eval:{path.resolve()}"]
    assert (result["positive"], result["negative"], result["accuracy"]) == (60, 60, 1.0)
    assert captured.err == note


def test_training_on_minus_ones_only_is_refused_in_their_terms(home, tmp_path, capsys):
    path = tmp_path / "negative.csv"
    toy_reviews(40).assign(label=-1).to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 2
    assert capsys.readouterr().err == (f"error: {path}, column 'label': needs both positive (1) and negative (-1) "
                                       "labels to train\n")
    assert _runs(home) == []


def test_a_file_of_1s_is_refused_for_training_and_evaluated_as_all_positive_with_a_note(home, tmp_path, capsys):
    """1s only could be 1-star ratings: nothing in the file can tell, so it is read as binary, all positive, and
    the user is told so in one line (training needs two labels anyway)."""
    path = tmp_path / "ones.csv"
    toy_reviews(40).assign(label=1).to_csv(path, index=False)
    assert cli(["train", "sentiment", "--home", str(home), "--model", "tfidf", "--labeled", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}, column 'label': needs both positive (1) and negative (0) labels to train; every label is 1, "
        "read as positive: were they 1-star ratings, the file needs its other star values too\n")
    assert _runs(home) == []
    binary = tmp_path / "binary.csv"
    toy_reviews(120).to_csv(binary, index=False)
    run_id = api.train(home, model="tfidf", labeled=binary, progress=False)
    assert cli(["evaluate", "sentiment", "--home", str(home), "--labeled", str(path)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)[f"eval:{path.resolve()}"]
    assert (result["positive"], result["negative"]) == (40, 0)
    assert captured.err.splitlines()[0] == (
        f"note: {path}: every label is 1, read as binary: all positive; were they 1-star ratings, the file would "
        "need other star values (2-5) to be read as stars")
    recorded = runs.get(run_id, home)["metrics"][f"eval:{path.resolve()}"]
    assert recorded["labels"] == "every label 1: binary, all positive"
