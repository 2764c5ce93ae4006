"""Point-in-time feature access: values as they were known at `as_of`, never later ones.

Every pipeline reads events and features through `as_of`, so a model trained with a cutoff can
not see anything that happened at or after it. Each feature is one SQL query over the event
tables with the cutoff as a parameter; the cached tables in the store (`item_engagement_daily`,
`item_sentiment_daily`) are the same queries with no cutoff, refreshed when data changes.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb

from data.errors import MarqueeError

if TYPE_CHECKING:
    import pandas as pd

NO_CUTOFF = datetime(9999, 12, 31)

# item_engagement_daily in two steps: per (title, day, user), then per (title, day).
ENGAGEMENT_PARTS = """
    SELECT item_id, CAST(ts AS DATE) AS day, user_id, count(*) AS n, sum(rating) AS rating_sum,
           count(rating) AS rated{extra}
    FROM {events} GROUP BY ALL"""
ENGAGEMENT_DAILY = """
    SELECT item_id, day, CAST(sum(n) AS BIGINT) AS events, count(*) AS users,
           sum(rating_sum) / nullif(sum(rated), 0) AS mean_rating
    FROM {parts} GROUP BY ALL"""
# A bulk load's own rows in one (title, day) pass, and apart the few (title, day, user) groups of
# 2+ events: users = events less those repeats. The full per-user grouping of a 10M-event file
# has ~10M groups; keeping all of them cost ~2 s more on 2 cores (docs/benchmarks.md, "Ingest").
DAY_TOTALS = """
    SELECT item_id, CAST(ts AS DATE) AS day, count(*) AS events, sum(rating) AS rating_sum,
           count(rating) AS rated
    FROM {events} GROUP BY ALL"""
REPEAT_VISITS = """
    SELECT item_id, CAST(ts AS DATE) AS day, user_id, count(*) AS n{extra}
    FROM {events} GROUP BY ALL HAVING count(*) > 1{having}"""
DAILY_FROM_TOTALS = """
    SELECT t.item_id, t.day, t.events, t.events - coalesce(r.repeats, 0) AS users,
           t.rating_sum / nullif(t.rated, 0) AS mean_rating
    FROM {totals} t LEFT JOIN (SELECT item_id, day, sum(n - 1) AS repeats FROM {repeats} GROUP BY ALL) r
        USING (item_id, day)"""

FEATURES: dict[str, str] = {
    # raw events
    "interactions": """
        SELECT user_id, item_id, ts, rating, event_type FROM interactions WHERE ts < $as_of""",
    "reviews": """
        SELECT review_id, user_id, item_id, ts, text, source FROM reviews
        WHERE ts < $as_of OR (ts IS NULL AND $as_of = TIMESTAMP '9999-12-31')""",
    # per title and day: the per-(title, day, user) parts summed up. Two levels: 3-4x faster than
    # count(DISTINCT user_id) on 10M events, same values
    "item_engagement_daily": ENGAGEMENT_DAILY.format(parts="(" + ENGAGEMENT_PARTS.format(
        extra="", events="interactions WHERE ts < $as_of") + ")"),
    "item_sentiment_daily": """
        SELECT r.item_id, CAST(r.ts AS DATE) AS day, count(*) AS reviews, avg(s.p_positive) AS mean_p_positive
        FROM reviews r JOIN review_sentiment_latest s USING (review_id)
        WHERE r.ts < $as_of AND r.item_id IS NOT NULL GROUP BY ALL""",
}


def _cutoff(as_of: datetime | date | str | None) -> datetime:
    if as_of is None:
        return NO_CUTOFF
    import pandas as pd  # lazily: `marquee ingest` never needs it

    try:
        ts = pd.Timestamp(as_of)
        if pd.isna(ts):   # '' and 'NaT' parse to "no time", which no event is before
            raise ValueError(as_of)
    except (ValueError, TypeError):
        raise MarqueeError(f"{as_of!r} is not a date or time (e.g. 1998-03-01 or 1998-03-01T12:00)") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def relation(con: duckdb.DuckDBPyConnection, feature: str, as_of: datetime | date | str | None = None,
             event_types: Sequence[str] | None = None) -> duckdb.DuckDBPyRelation:
    """The lazy relation of `feature` as known strictly before `as_of` (None: everything).

    event_types: of "interactions", only the events of these types (None or empty: all); a type the store
    has no event of is a MarqueeError naming the types it has (a misspelt `purchse` must not train on nothing)."""
    if feature not in FEATURES:
        raise KeyError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
    rel = con.sql(FEATURES[feature], params={"as_of": _cutoff(as_of)})
    if not event_types:
        return rel
    if feature != "interactions":
        raise KeyError(f"event types filter interactions, not {feature!r}")
    known = {t for (t,) in con.execute("SELECT DISTINCT event_type FROM interactions").fetchall()}
    missing = [t for t in event_types if t not in known]
    if missing:
        raise MarqueeError(f"no interactions of event type {', '.join(map(repr, missing))}; "
                           f"the store has {', '.join(map(repr, sorted(known))) or 'no interactions'}")
    return rel.filter(duckdb.ColumnExpression("event_type").isin(*map(duckdb.ConstantExpression, event_types)))


def as_of(con: duckdb.DuckDBPyConnection, feature: str, as_of: datetime | date | str | None = None) -> pd.DataFrame:
    """`feature` as a DataFrame, from events strictly before `as_of`. Columns: see FEATURES."""
    return relation(con, feature, as_of).df()



REFRESH_TOUCHED = "INSERT INTO item_engagement_daily BY NAME " + ENGAGEMENT_DAILY.format(
    parts="(" + ENGAGEMENT_PARTS.format(extra="", events="""interactions i SEMI JOIN {touched} t
          ON t.item_id = i.item_id AND t.day = CAST(i.ts AS DATE)""") + ")")


def refresh_item_engagement_daily(con: duckdb.DuckDBPyConnection, touched: str | None = None,
                                  loaded: tuple[str, str] | None = None) -> None:
    """Recompute the cached engagement table (inside the caller's write transaction).

    touched: optionally a relation (name or parenthesised subquery) of the (item_id, day) pairs whose
    events changed; only those rows are recomputed (ingesting 1k events into a 10M-event store stays
    cheap). loaded: instead, (DAY_TOTALS, REPEAT_VISITS) of every stored event, already computed (a
    first load's own rows); the table is built from them without reading `interactions` again.
    Neither: all, from the events. The caller passes trusted relation names, never user input.
    """
    if touched is not None:
        con.execute(f"DELETE FROM item_engagement_daily WHERE (item_id, day) IN (SELECT (item_id, day) FROM {touched})")
        con.execute(REFRESH_TOUCHED.format(touched=touched))
        return
    con.execute("DELETE FROM item_engagement_daily")
    if loaded is not None:
        totals, repeats = loaded
        con.execute("INSERT INTO item_engagement_daily BY NAME " + DAILY_FROM_TOTALS.format(totals=totals,
                                                                                            repeats=repeats))
    else:
        con.execute("INSERT INTO item_engagement_daily BY NAME " + FEATURES["item_engagement_daily"],
                    {"as_of": NO_CUTOFF})
