"""Generate a large synthetic Marquee store (default 10M interactions) to load-test the dashboard.

    .venv/bin/python bench/gen_store.py bench/work/app-10m --interactions 10000000

Users, titles (with genres) and rating events with a skewed popularity (a few titles get most
of the events) over two years, all from deterministic hashes so the same arguments give the
same store. Built inside DuckDB through `data.store.write` (one transaction), then the cached
`item_engagement_daily` aggregate is refreshed, as `marquee ingest` does. Also registers one
succeeded run per pipeline with metrics, so the Overview has everything it shows.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from data import features, runs, store

GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
USERS = """
INSERT INTO users (user_id, age, gender, occupation, zip_code)
SELECT (i + 1)::VARCHAR, (18 + hash(i, 'age') % 60)::INTEGER, CASE WHEN hash(i, 'g') % 2 = 0 THEN 'F' ELSE 'M' END,
       'other', lpad((hash(i, 'zip') % 100000)::VARCHAR, 5, '0')
FROM range($users) t(i)"""
ITEMS = """
INSERT INTO items (item_id, title, genres, release_year)
SELECT (i + 1)::VARCHAR, 'Title ' || (i + 1),
       $genres[1 + (hash(i, 'g1') % 18)::BIGINT] || '|' || $genres[1 + (hash(i, 'g2') % 18)::BIGINT],
       (1950 + hash(i, 'y') % 70)::INTEGER
FROM range($items) t(i)"""
# popularity: item rank ~ u^3 (heavy head); time: uniform over `days` from 2024-01-01
INTERACTIONS = """
INSERT INTO interactions (user_id, item_id, ts, rating, event_type)
SELECT (1 + hash(i, 'u') % $users)::VARCHAR,
       (1 + floor(pow((hash(i, 'i') % 1000003) / 1000003.0, 3) * $items)::BIGINT)::VARCHAR,
       TIMESTAMP '2024-01-01' + to_seconds((hash(i, 't') % ($days * 86400))::BIGINT),
       (1 + hash(i, 'r') % 5)::DOUBLE, 'rating'
FROM range($n) t(i)"""


def generate(home: Path, interactions: int = 10_000_000, users: int = 200_000, items: int = 20_000,
             days: int = 730) -> dict[str, float]:
    """Build the store at `home` (must not exist yet); returns seconds per phase."""
    if (home / "store.duckdb").exists():
        raise SystemExit(f"{home} already has a store; remove it first")
    times = {}
    t0 = time.perf_counter()
    store.init(home)
    with store.write(home) as con:
        con.execute(USERS, {"users": users})
        con.execute(ITEMS, {"items": items, "genres": GENRES})
        con.execute(INTERACTIONS, {"n": interactions, "users": users, "items": items, "days": days})
    times["events_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.write(home) as con:
        features.refresh_item_engagement_daily(con)
    times["item_engagement_daily_s"] = time.perf_counter() - t0
    for pipeline, model, metrics in (("recsys", "synthetic", {"ndcg@10": 0.0}),
                                     ("sentiment", "synthetic", {"accuracy": 0.0}),
                                     ("forecast", "synthetic", {"wape": 0.0})):
        run = runs.start(pipeline, model, {"note": "bench/gen_store.py placeholder run"}, home=home)
        runs.publish(run.run_id, metrics=metrics, home=home)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home", type=Path)
    ap.add_argument("--interactions", type=int, default=10_000_000)
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    args = ap.parse_args()
    print(generate(args.home, args.interactions, args.users, args.items, args.days))


if __name__ == "__main__":
    main()
