"""Batch scoring: the store's reviews into `review_sentiment` (+ `item_sentiment_daily`), or a file into a file.

Incremental by default: only reviews this run has not scored yet, or that were ingested again with a change
since it scored them, are read, scored and written (a changed review's new score replaces its old one; the
run's other scores are not rewritten); the daily per-title aggregate is then recomputed from all of the
run's scores (old and new) and published with them in one transaction. Empty texts are refused (no
evidence to score), never a crash.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from data import features, runs, store
from data.errors import InputError, cannot
from data.output_file import replacing
from nlp.data import read_texts
from nlp.model import SentimentModel

# The run's scores, each marked `changed` when its review was ingested again with another text since the version
# the score is of (ingested_at moves only when a row changes; each score keeps the one it read, so a review changed
# while a long scoring ran is caught too): such a review is scored again, its old score replaced, while the
# unchanged ones are neither rescored nor rewritten.
RUN_SCORES = """
SELECT s.review_id, s.p_positive, r.ingested_at IS DISTINCT FROM s.review_ingested_at AS changed
FROM review_sentiment s JOIN reviews r USING (review_id) WHERE s.run_id = $run_id"""
VERSIONS = "SELECT review_id, ingested_at AS review_ingested_at FROM reviews"
CHUNK = 8192   # reviews per predict call: bounds memory on big stores
PARQUET = (".parquet", ".pq")


def _warn(lines: list[str], limit: int = 10) -> None:
    for line in lines[:limit]:
        print(f"warning: {line}", file=sys.stderr)
    if len(lines) > limit:
        print(f"warning: ... and {len(lines) - limit} more", file=sys.stderr)


def _score_frame(model: SentimentModel, df: pd.DataFrame, progress: bool, with_parts: bool = False
                 ) -> tuple[pd.DataFrame, pd.Series]:
    """(review_id, p_positive, label[, p_<part>]) for rows with non-empty text; returns (scores, refused mask)."""
    empty = df["text"].str.strip() == ""
    keep = df[~empty]
    outs = []
    for start in range(0, len(keep), CHUNK):
        part = keep.iloc[start:start + CHUNK]
        res = model.predict(part["text"].tolist(), progress=progress, with_parts=with_parts)
        p, parts = res if with_parts else (res, {})
        frame = pd.DataFrame({"review_id": part["review_id"].to_numpy(), "p_positive": p,
                              "label": (p >= 0.5).astype(np.int32)})
        for name, values in parts.items():
            frame[f"p_{name}"] = values
        outs.append(frame)
    cols = {"review_id": pd.Series(dtype=str), "p_positive": pd.Series(dtype="float64"),
            "label": pd.Series(dtype="int32")}
    return (pd.concat(outs, ignore_index=True) if outs else pd.DataFrame(cols)), empty


def daily_aggregate(scores: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Per title and day: review count and mean p_positive (reviews without item_id or ts are left out).

    scores: (review_id, p_positive); reviews: (review_id, item_id, ts). -> (item_id, day, reviews, mean_p_positive)
    """
    m = scores.merge(reviews, on="review_id", how="inner")
    m = m[m["item_id"].notna() & m["ts"].notna()]
    m = m.assign(day=pd.to_datetime(m["ts"]).dt.floor("D"))
    out = (m.groupby(["item_id", "day"], sort=True)
             .agg(reviews=("p_positive", "size"), mean_p_positive=("p_positive", "mean")).reset_index())
    out["day"] = out["day"].dt.date
    return out.astype({"reviews": "int64", "mean_p_positive": "float64"})


def score_store(model: SentimentModel, run_id: str, home=None, rescore_all: bool = False,
                progress: bool = True) -> dict:
    """Score the reviews `run_id` has not scored yet, or that changed since it scored them (all with
    rescore_all), and publish them."""
    stale: list[str] = []
    old = pd.DataFrame({"review_id": pd.Series(dtype=str), "p_positive": pd.Series(dtype="float64")})
    with store.read(home) as con:
        rel = features.relation(con, "reviews")
        keys = rel.select("review_id, item_id, ts").df()
        todo = rel.select("review_id, text").join(con.sql(VERSIONS), "review_id")
        if not rescore_all:
            scores = con.sql(RUN_SCORES, params={"run_id": run_id})
            current = scores.filter("NOT changed")
            todo = todo.join(current.select("review_id"), "review_id", how="anti")
            old = current.select("review_id, p_positive").df()
            stale = [r for (r,) in scores.filter("changed").select("review_id").fetchall()]
        todo = todo.order("review_id").df()
    new, empty = _score_frame(model, todo, progress)
    new = new.merge(todo[["review_id", "review_ingested_at"]], on="review_id", how="left")
    refused = todo.loc[empty, "review_id"].tolist()
    _warn([f"review {r!r}: empty text, not scored" for r in refused])
    daily = daily_aggregate(pd.concat([old, new[["review_id", "p_positive"]]], ignore_index=True), keys)
    # a changed review's old score goes (one now empty, refused, too); the run's other scores stay as they are
    counts = runs.publish(run_id, {"review_sentiment": new, "item_sentiment_daily": daily}, replace=rescore_all,
                          replace_keys={"review_sentiment": stale}, home=home)
    return {"run_id": run_id, "scored": len(new), "already_scored": len(old), "changed": len(stale),
            "refused_empty": len(refused), "item_sentiment_daily_rows": int(counts["item_sentiment_daily"])}


def _write(frame: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet (by suffix) atomically: a reader never sees half a file, and a failed write
    leaves nothing behind (one error line, not a traceback: exit 1 for a full disk, 2 otherwise)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp:
            if path.suffix.lower() in PARQUET:
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
    except OSError as exc:
        raise cannot(f"{path}: cannot write the output", exc) from None


def score_file(model: SentimentModel, src: str | Path, dst: str | Path, progress: bool = True,
               with_parts: bool = False) -> dict:
    """Score a CSV/Parquet of review_id,text into review_id,p_positive,label (the store is not touched)."""
    if Path(dst).resolve() == Path(src).resolve():
        raise InputError(dst, "output would overwrite the input file")
    if Path(dst).is_dir():   # refused before any scoring is done
        raise InputError(dst, "is a folder; name a file to write")
    if Path(dst).suffix.lower() not in (".csv", *PARQUET):   # out.tsv or out.json would hold CSV
        raise InputError(dst, f"unsupported output type {Path(dst).suffix or '(none)'!r}: use .csv or .parquet")
    df = read_texts(src)
    scores, empty = _score_frame(model, df, progress, with_parts)
    rows = np.flatnonzero(empty.to_numpy()) + 1
    _warn([f"{src}, row {r}, column 'text': empty text, not scored" for r in rows])
    _write(scores, Path(dst))
    return {"scored": len(scores), "refused_empty": int(empty.sum()), "output": str(dst)}
