"""Engagement series from the store: counts per title and per genre per period, point in time.

Everything is read through `data.features` as of the cutoff, so no event at or after it can
reach a model. Periods are Monday-start weeks (`W`) or days (`D`); a first week the data starts
after the Monday of is dropped (its count would look like a slump; a day is always full), and each
series is zero-filled from its first event to the last full period before the cutoff. `series_id` is `item:<id>` or `genre:<name>`;
a title counts in each of its (pipe-separated) genres.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from data import features
from data.errors import MarqueeError
from forecasting.config import FREQS

ITEMS = "SELECT item_id, genres, release_year, release_date FROM items"
# bucket expressions per frequency (whitelisted text, not values): ISO weeks start on Monday
BUCKET = {"W": "date_trunc('week', ts)", "D": "date_trunc('day', ts)"}
LAST_EVENT = "max(ts) AS last_ts, min(ts) AS first_ts, count(*) AS n"


@dataclass
class History:
    """Period counts known before `cutoff` (all periods are full ones)."""
    counts: pd.DataFrame      # item_id, ds, y  (titles; only periods with events)
    items: pd.DataFrame       # item_id, genres (list), release (Timestamp or NaT; see `release_dates`)
    sentiment: pd.DataFrame   # item_id, ds, reviews, mean_p_positive (may be empty)
    start: pd.Timestamp       # first full period in the store
    cutoff: pd.Timestamp      # first period not in the history
    freq: str

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta(days=FREQS[self.freq])

    def periods(self, end: pd.Timestamp | None = None) -> pd.DatetimeIndex:
        """Every period from the store's first full one up to (not including) `end` (default: the cutoff)."""
        return pd.date_range(self.start, end or self.cutoff, freq=self.step, inclusive="left")


def floor_period(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    ts = pd.Timestamp(ts).normalize()
    return ts - pd.Timedelta(days=ts.dayofweek) if freq == "W" else ts


def first_full_period(first: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The first period the data covers in full, judged by day as the end is (see `default_cutoff`, and
    the dashboard's WEEK_IS_PARTIAL): data from a period's first day on (at any hour) counts it as full."""
    start = floor_period(first, freq)
    return start if pd.Timestamp(first).normalize() == start else start + pd.Timedelta(days=FREQS[freq])


def default_cutoff(con: duckdb.DuckDBPyConnection, freq: str, event_types: Sequence[str] = ()) -> pd.Timestamp:
    """Just after the last full period: data reaching a period's last day counts it as full."""
    events = features.relation(con, "interactions", event_types=event_types)
    last, _, n = events.aggregate(LAST_EVENT).fetchall()[0]
    if not n:
        raise MarqueeError("the store has no interactions: ingest some (or `marquee load-demo`) first")
    return floor_period(pd.Timestamp(last) + pd.Timedelta(days=1), freq)


def check_cutoff(cutoff: str | pd.Timestamp, freq: str) -> pd.Timestamp:
    """`cutoff` as the start of a period; pandas reads "", "NaT" and "nan" as NaT, which is no date either."""
    try:
        cut = pd.Timestamp(cutoff)
        if pd.isna(cut):
            raise ValueError(cutoff)
    except (ValueError, TypeError) as exc:
        raise MarqueeError(f"--cutoff {cutoff!r} is not a date (YYYY-MM-DD)") from exc
    if cut != floor_period(cut, freq):
        raise MarqueeError(f"--cutoff {cut.date()} must start a period" + (" (a Monday)" if freq == "W" else ""))
    return cut


def _all_after(con: duckdb.DuckDBPyConnection, cutoff: pd.Timestamp, freq: str, event_types: Sequence[str]) -> str:
    """Why a default cutoff leaves nothing before it, when that is the reason: every event falls in the last
    period, which is not over yet, and a weekly run might have days to go by."""
    if cutoff != default_cutoff(con, freq, event_types):
        return ""
    period = "week" if freq == "W" else "day"
    return (f": every event is in the {period} from {cutoff.date()}, which is not over, and only full {period}s are "
            "counted" + ("; with --freq D, days are counted" if freq == "W" else ""))


def load_history(con: duckdb.DuckDBPyConnection, cutoff: pd.Timestamp, freq: str, event_types: Sequence[str] = ()
                 ) -> History:
    """Counts per title and period from interactions strictly before `cutoff` (of `event_types`; empty:
    all), plus item attributes."""
    events = features.relation(con, "interactions", cutoff, event_types)
    _, first, n = events.aggregate(LAST_EVENT).fetchall()[0]
    if not n:
        kinds = f" of type {', '.join(map(repr, event_types))}" if event_types else ""
        raise MarqueeError(f"no interactions{kinds} before the cutoff {cutoff.date()}{_all_after(con, cutoff, freq, event_types)}")
    start = first_full_period(pd.Timestamp(first), freq)
    counts = events.aggregate(f"item_id, {BUCKET[freq]} AS ds, count(*) AS y", f"item_id, {BUCKET[freq]}").df()
    counts["ds"] = pd.to_datetime(counts["ds"]).astype("datetime64[ns]")
    counts = counts[counts["ds"] >= start].astype({"item_id": str, "y": "int64"}).reset_index(drop=True)
    if counts.empty:
        raise MarqueeError(f"no full {'week' if freq == 'W' else 'day'} of history before the cutoff {cutoff.date()}")
    items = con.execute(ITEMS).df()
    items = pd.DataFrame({
        "item_id": items["item_id"].astype(str),
        "genres": items["genres"].fillna("").astype(str).str.split("|").map(lambda g: [x for x in g if x.strip()]),
        "release": release_dates(items),
    })
    sentiment = features.as_of(con, "item_sentiment_daily", cutoff)
    if len(sentiment):
        sentiment["ds"] = pd.to_datetime(sentiment["day"]).map(lambda d: floor_period(d, freq))
        sentiment["pos"] = sentiment["mean_p_positive"] * sentiment["reviews"]
        sentiment = sentiment.groupby(["item_id", "ds"], as_index=False)[["reviews", "pos"]].sum()
        sentiment["mean_p_positive"] = sentiment["pos"] / sentiment["reviews"]
        sentiment = sentiment[sentiment["ds"] >= start].drop(columns="pos")
    return History(counts, items, sentiment, start, cutoff, freq)


def release_dates(items: pd.DataFrame) -> pd.Series:
    """Each title's release: its release_date, else Jan 1 of its release_year, the earliest day it can be
    out (so a year alone holds a title back only while that year is in the future), else NaT."""
    release = pd.to_datetime(items["release_date"], errors="coerce")
    year = pd.to_datetime(items["release_year"].astype("Int64").astype(str), format="%Y", errors="coerce")
    return release.fillna(year).astype("datetime64[ns]")


def released(items: pd.DataFrame, periods: pd.DatetimeIndex, step: pd.Timedelta) -> dict[str, np.ndarray]:
    """`item:<id>` -> per period, whether the title is out by the period's last day (unknown release: yes)."""
    ends = periods.to_numpy() + step.to_timedelta64()
    rel = items["release"].to_numpy()[:, None]
    out = np.isnat(rel) | (rel < ends[None, :])
    return {f"item:{i}": row for i, row in zip(items["item_id"], out, strict=True)}


def title_genres(items: pd.DataFrame) -> pd.DataFrame:
    """item_id, genre: one row per (title, genre) pair."""
    g = items[["item_id", "genres"]].explode("genres").dropna()
    return g.rename(columns={"genres": "genre"}).reset_index(drop=True)


def long_counts(hist: History, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """series_id, ds, y for titles and genres, periods with events only, before `end` (default cutoff)."""
    c = hist.counts if end is None else hist.counts[hist.counts["ds"] < end]
    titles = c.assign(series_id="item:" + c["item_id"])[["series_id", "ds", "y"]]
    g = c.merge(title_genres(hist.items), on="item_id").groupby(["genre", "ds"], as_index=False)["y"].sum()
    genres = g.assign(series_id="genre:" + g["genre"])[["series_id", "ds", "y"]]
    return pd.concat([titles, genres], ignore_index=True)


def wide(hist: History, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Series x periods matrix of counts from the store's first full period to `end`, zeros filled."""
    lc = long_counts(hist, end)
    periods = hist.periods(end)
    return lc.pivot_table(index="series_id", columns="ds", values="y", aggfunc="sum", fill_value=0
                          ).reindex(columns=periods, fill_value=0).astype("float64")


def select_series(matrix: pd.DataFrame, min_events: int) -> list[str]:
    """The modeled series: every genre, and the titles with >= min_events events."""
    total = matrix.sum(axis=1)
    is_genre = matrix.index.str.startswith("genre:")
    return sorted(matrix.index[is_genre | (total >= min_events)])


def fallback_titles(items: pd.DataFrame, modeled: list[str]) -> list[str]:
    """The titles forecast by `fallback` (from their genres): every catalog title not modeled, those without a single
    event before the cutoff included (the matrix has no row for them, but they get a forecast too)."""
    return sorted({f"item:{i}" for i in items["item_id"]} - set(modeled))


def build_series(hist: History, min_events: int = 0) -> pd.DataFrame:
    """Long series_id, ds, y: zero-filled from each series' first event; series with >= min_events (genres always)."""
    m = wide(hist)
    keep = select_series(m, min_events)
    m = m.loc[keep]
    values = m.to_numpy()
    started = np.cumsum(values, axis=1) > 0     # on or after the first event
    out = m.stack().rename("y").reset_index()
    out.columns = ["series_id", "ds", "y"]
    return out[started.ravel()].astype({"y": "int64"}).reset_index(drop=True)
