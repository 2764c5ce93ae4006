"""How the labels of a labelled file (`train|evaluate sentiment --labeled`) are read: binary (0/1, pos/neg, ...),
-1/1, or 1-5 star ratings; and what a run records of how they were read.

The model is binary, so a file is read on one scale, told by the labels it holds: a 2-5 makes it star-rated, a -1
makes it -1/1, anything else is binary. A label that fits no scale, or not the file's, is refused: guessing would
train on wrong labels.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import InputError

# a binary label is one of these words or a number equal to 0 or 1 ("1.0", "01", a Parquet DECIMAL's "1.00")
LABEL_WORDS = {"pos": 1, "neg": 0, "positive": 1, "negative": 0, "true": 1, "false": 0}
# Star ratings are read as sentiment work on Amazon and Yelp reviews reads them: 4-5 stars positive, 1-2 negative,
# 3 neutral and left out (the model is binary). A file is star-rated when a label is 2-5 stars, which no binary
# label spells; its '1' is then 1 star. Other scales (0-5, 1-10, half stars) have no agreed cut: refused.
STAR_LABELS = {1: 0, 2: 0, 4: 1, 5: 1}
NEUTRAL_STARS = 3
STAR_RULE = "4-5 stars positive, 1-2 negative, 3 left out as neutral"
# A file whose labels are -1 and 1 (no 0) is read -1 negative, 1 positive; a 0 beside a -1 would be neutral, a
# third class the binary model has no place for: refused.
SIGNED_RULE = "-1 negative, 1 positive"
# A file of 1s only reads as binary, all positive; were they 1-star ratings, nothing in the file could say so.
ALL_ONES = "every label 1: binary, all positive"
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
BINARY_LABELS = "0/1, pos/neg, positive/negative or true/false"


def read_labels(path: str | Path, labels: list) -> tuple[np.ndarray, np.ndarray, dict]:
    """The file's labels -> (0/1 label of each kept row, which rows are kept (a star file leaves out its 3s),
    what a run records of how they were read: {} for a plain binary file). A label that fits no scale, or not
    the file's, is an InputError naming its row."""
    keys = [_label_key(path, i, label) for i, label in enumerate(labels, start=1)]
    scale = _scale(path, labels, keys)
    if scale == "stars":
        stars = np.array([_stars(k) for k in keys])
        keep = stars != NEUTRAL_STARS
        if not keep.any():
            raise InputError(path, f"every label is {NEUTRAL_STARS} stars, which are left out as neutral "
                                   "(4-5 stars are positive, 1-2 negative): no review is left", column="label")
        values = np.array([STAR_LABELS[x] for x in stars[keep]], dtype=np.int64)
        return values, keep, {"stars": STAR_RULE, "neutral_left_out": int((~keep).sum())}
    keep = np.ones(len(keys), dtype=bool)
    if scale == "signed":
        return np.array([_signed(k) for k in keys], dtype=np.int64), keep, {"labels": SIGNED_RULE}
    values = np.array([_binary(k) for k in keys], dtype=np.int64)
    all_ones = bool(keys) and all(NUMBER.fullmatch(k) and float(k) == 1 for k in keys)
    return values, keep, {"labels": ALL_ONES} if all_ones else {}


def _label_key(path: str | Path, row: int, label) -> str:
    """A label as it is looked up (trimmed, lower case); an empty one is refused."""
    key = "" if pd.isna(label) else str(label).strip().lower()
    if not key:
        raise InputError(path, "empty label", row=row, column="label")
    return key


def _binary(key: str) -> int | None:
    """The 0/1 label a key spells ('pos', '1', '0.00'), or None."""
    if key in LABEL_WORDS:
        return LABEL_WORDS[key]
    return int(float(key)) if NUMBER.fullmatch(key) and float(key) in (0, 1) else None


def _signed(key: str) -> int | None:
    """The 0/1 label a -1/1 key spells ('-1' and '-1.0' negative, '1' positive), or None."""
    if not NUMBER.fullmatch(key):
        return None
    return {-1.0: 0, 1.0: 1}.get(float(key))


def _stars(key: str) -> int | None:
    """The whole star rating 1-5 a label spells ('4', '4.0'), or None (a word, 0, 3.5, 7, ...)."""
    if not NUMBER.fullmatch(key):
        return None
    x = float(key)
    return int(x) if x.is_integer() and 1 <= x <= 5 else None


def _not_a_label(label, key: str) -> str:
    """Why a label is refused; a number is told which scales are read and that others need mapping first."""
    if not NUMBER.fullmatch(key):
        return f"label {label!r} is not {BINARY_LABELS}, nor a whole star rating 1-5"
    return (f"label {label!r} is neither 0/1, -1/1 nor a whole star rating 1-5 ({STAR_RULE}); other scales (1-10, "
            "half stars, ...) have no agreed cut: map them to 0/1 or 1-5 first")


def _scale(path: str | Path, labels: list, keys: list[str]) -> str:
    """The file's scale: "stars" when a label is 2-5 stars, else "signed" when one is -1, else "binary". The
    first row that fits no scale, or not the file's, is an InputError: a 0 or a pos beside a 5 (0 stars or
    negative?), a 0 beside a -1 (neutral: a third class), a pos beside a -1."""
    star_row = next((i for i, k in enumerate(keys, start=1) if (_stars(k) or 0) >= 2), None)
    signed_row = next((i for i, k in enumerate(keys, start=1) if _signed(k) == 0), None)
    scale, first = ("stars", star_row) if star_row else ("signed", signed_row) if signed_row else ("binary", None)
    fits = {"stars": _stars, "signed": _signed, "binary": _binary}[scale]
    for i, (label, key) in enumerate(zip(labels, keys, strict=True), start=1):
        if fits(key) is not None:
            continue
        if _binary(key) is None and _stars(key) is None and _signed(key) is None:
            raise InputError(path, _not_a_label(label, key), row=i, column="label")
        seen = labels[first - 1]
        if scale == "stars":
            why = (f"label {label!r} is not a whole star rating 1-5, yet row {first} is rated {seen!r}: a file's "
                   f"labels are all stars 1-5 ({STAR_RULE}) or all {BINARY_LABELS}")
        elif _binary(key) == 0 and NUMBER.fullmatch(key):
            why = (f"label {label!r} beside row {first}'s {seen!r}: -1, 0 and 1 are three classes (negative, "
                   "neutral, positive), which have no binary reading: drop the 0 rows or map the labels to 0/1")
        else:
            why = (f"label {label!r} is not -1 or 1, yet row {first} is labelled {seen!r}: a file's labels are "
                   f"all -1/1 ({SIGNED_RULE}) or all {BINARY_LABELS}")
        raise InputError(path, why, row=i, column="label")
    return scale
