"""The dashboard's reads: SQL constants with `$name` parameters, one thin function per question.

Pages never compute and never touch DuckDB: they call these functions (the SQL page's schema
browser calls `data.sql`, the path `marquee sql` takes). Each one opens a
read-only connection through `data.store.read` for that request only (it retries while a job
holds the write lock), and its result is cached with `st.cache_data`, keyed on a cheap store
*version* (the latest run ids, the last publish, the row counts), so a new run or a new ingest
shows up at once, and a connection is never kept open between requests.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from app.run_metrics import flat_metrics, headline_metrics, is_number, metric_rank, with_selected_marked
from data import paths, sql, store
from data.runs import abandoned

# --- store version: what the cache is keyed on -----------------------------------------------------------
VERSION = """
SELECT (SELECT string_agg(run_id, ',' ORDER BY pipeline) FROM runs_latest) AS latest_runs,
       (SELECT count(*) || '/' || max(coalesce(finished_at, started_at)) FROM runs) AS runs,
       (SELECT max(published_at) FROM run_outputs) AS published,
       (SELECT count(*) FROM interactions) || '/' || (SELECT count(*) FROM items) || '/' ||
       (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM reviews) AS sizes"""

# --- overview ---------------------------------------------------------------------------------------------
COUNTS = """
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM items) AS titles,
       (SELECT count(*) FROM interactions) AS events, (SELECT count(*) FROM reviews) AS reviews,
       (SELECT count(*) FROM reviews WHERE source LIKE 'demo-%') AS demo_reviews"""
# A week (a Monday-start `week` column) the data covers only in part: its count would look like a slump.
# The forecasts drop such weeks too, and start at the week after the last full one.
WEEK_IS_PARTIAL = """(week < (SELECT min(day) FROM item_engagement_daily)
       OR week + INTERVAL 6 DAY > (SELECT max(day) FROM item_engagement_daily))"""
# The cached daily aggregate, never the raw events: stays fast on a 10M-event store.
ENGAGEMENT_WEEKLY = f"""
SELECT week, events, active_users, {WEEK_IS_PARTIAL} AS partial FROM (
    SELECT date_trunc('week', day) AS week, sum(events) AS events, sum(users) AS active_users
    FROM item_engagement_daily GROUP BY 1) ORDER BY week"""
# Per pipeline, the run whose outputs the `*_latest` views serve (the newest published), else the newest
# succeeded run; `unscored_run_id` names a newer succeeded run that has published nothing yet.
SERVING_RUNS = """
WITH served AS (
    SELECT r.pipeline, arg_max(o.run_id, o.published_at) AS run_id
    FROM latest_output_runs l JOIN run_outputs o USING (table_name, run_id) JOIN runs r USING (run_id)
    GROUP BY 1)
SELECT n.pipeline, r.run_id, r.model, r.metrics, r.finished_at,
       CASE WHEN s.run_id IS DISTINCT FROM n.run_id THEN n.run_id END AS unscored_run_id,
       CASE WHEN s.run_id IS DISTINCT FROM n.run_id THEN n.model END AS unscored_model
FROM runs_latest n LEFT JOIN served s USING (pipeline) JOIN runs r ON r.run_id = coalesce(s.run_id, n.run_id)
ORDER BY n.pipeline"""

# --- recommendations --------------------------------------------------------------------------------------
USERS = """
SELECT user_id FROM users ORDER BY TRY_CAST(user_id AS BIGINT) NULLS LAST, user_id LIMIT $limit"""
USER_KNOWN = "SELECT count(*) > 0 AS known FROM users WHERE user_id = $user_id"
USER_HISTORY = """
SELECT i.ts, i.item_id, it.title, it.genres, i.rating, i.event_type
FROM interactions i LEFT JOIN items it USING (item_id)
WHERE i.user_id = $user_id ORDER BY i.ts DESC LIMIT $limit"""
USER_HISTORY_SIZE = "SELECT count(*) AS events FROM interactions WHERE user_id = $user_id"
USER_RECS = """
SELECT r.rank, r.item_id, it.title, it.genres, round(r.score, 3) AS score, r.reason
FROM recommendations_latest r LEFT JOIN items it USING (item_id)
WHERE r.user_id = $user_id ORDER BY r.rank LIMIT $limit"""
TITLES = "SELECT item_id, title FROM items ORDER BY title, item_id"
TITLE_NAMES = "SELECT item_id, title, genres FROM items WHERE list_contains($ids, item_id)"
# The run a pipeline's pages show (see SERVING_RUNS), with its parameters and metrics.
SERVING_RUN_DETAIL = f"""
SELECT r.run_id, r.model, r.finished_at, r.params, r.metrics
FROM ({SERVING_RUNS}) s JOIN runs r USING (run_id) WHERE s.pipeline = $pipeline"""
PIPELINE_RUNS = """
SELECT run_id, model, finished_at, params, metrics FROM runs
WHERE pipeline = $pipeline AND status = 'succeeded' ORDER BY finished_at DESC LIMIT $limit"""

# --- titles -----------------------------------------------------------------------------------------------
SEARCH_TITLES = """
SELECT item_id, title, genres, release_year FROM items
WHERE contains(lower(title), lower($text)) OR item_id = $text ORDER BY title LIMIT $limit"""
# Titles without events come last (a store of titles and reviews only has no engagement to rank by).
POPULAR_TITLES = """
SELECT it.item_id, it.title, it.genres, it.release_year
FROM items it LEFT JOIN (SELECT item_id, sum(events) AS events FROM item_engagement_daily GROUP BY 1) e USING (item_id)
ORDER BY e.events DESC NULLS LAST, it.item_id LIMIT $limit"""
TITLE = "SELECT item_id, title, genres, release_year FROM items WHERE item_id = $item_id"
# Every week from the title's first event to the end of the data: a week without events is a 0, not a gap.
TITLE_WEEKLY = f"""
WITH t AS (SELECT day, events, mean_rating FROM item_engagement_daily WHERE item_id = $item_id),
weeks AS (
    SELECT unnest(generate_series(date_trunc('week', min(day)),
                                  date_trunc('week', (SELECT max(day) FROM item_engagement_daily)),
                                  INTERVAL 7 DAY)) AS week
    FROM t)
SELECT week, coalesce(sum(t.events), 0)::BIGINT AS events,
       sum(t.events * t.mean_rating) / sum(t.events) AS mean_rating, {WEEK_IS_PARTIAL} AS partial
FROM weeks LEFT JOIN t ON date_trunc('week', t.day) = weeks.week GROUP BY week ORDER BY week"""
# Every day of the data's last $days days from the title's first event (a day without events is a 0; no rows
# for a title without events): the history a daily forecast run continues. Days are never partial, as for
# the forecaster.
TITLE_DAILY = """
WITH t AS (SELECT day, events FROM item_engagement_daily WHERE item_id = $item_id),
days AS (
    SELECT unnest(generate_series(min(greatest(t.day, (SELECT max(day) FROM item_engagement_daily) - ($days - 1))),
                                  (SELECT max(day) FROM item_engagement_daily), INTERVAL 1 DAY))::DATE AS day
    FROM t)
SELECT days.day, coalesce(sum(t.events), 0)::BIGINT AS events
FROM days LEFT JOIN t USING (day) GROUP BY 1 ORDER BY 1"""
SERIES_FORECAST = """
SELECT ds, p10, p50, p90, method FROM forecasts_latest WHERE series_id = $series_id ORDER BY ds"""
TITLE_SENTIMENT = """
SELECT date_trunc('month', day) AS month, sum(reviews) AS reviews,
       sum(mean_p_positive * reviews) / sum(reviews) AS p_positive
FROM item_sentiment_daily WHERE item_id = $item_id GROUP BY 1 ORDER BY 1"""
SIMILAR = """
SELECT s.rank, s.similar_item_id AS item_id, it.title, it.genres, s.score
FROM similar_items_latest s LEFT JOIN items it ON it.item_id = s.similar_item_id
WHERE s.item_id = $item_id ORDER BY s.rank LIMIT $limit"""
SIMILAR_SERVED = "SELECT count(*) AS n FROM (SELECT 1 FROM similar_items_latest LIMIT 1)"
MOST_POSITIVE = """
SELECT s.p_positive, r.ts, regexp_replace(r.text, '<br\\s*/?>', ' ', 'g') AS text, r.source, r.review_id
FROM review_sentiment_latest s JOIN reviews r USING (review_id)
WHERE r.item_id = $item_id AND s.p_positive >= 0.5 ORDER BY s.p_positive DESC, r.review_id LIMIT $limit"""
MOST_NEGATIVE = """
SELECT s.p_positive, r.ts, regexp_replace(r.text, '<br\\s*/?>', ' ', 'g') AS text, r.source, r.review_id
FROM review_sentiment_latest s JOIN reviews r USING (review_id)
WHERE r.item_id = $item_id AND s.p_positive < 0.5 ORDER BY s.p_positive ASC, r.review_id LIMIT $limit"""
# To tell "no reviews" from "not scored yet" from "no sentiment model yet".
TITLE_REVIEWS = """
SELECT count(*) AS reviews, count(s.review_id) AS scored,
       (SELECT count(*) FROM runs_latest WHERE pipeline = 'sentiment') > 0 AS sentiment_run
FROM reviews r LEFT JOIN review_sentiment_latest s USING (review_id) WHERE r.item_id = $item_id"""

# --- sentiment --------------------------------------------------------------------------------------------
SENTIMENT_SUMMARY = """
SELECT count(*) AS reviews_scored, avg(p_positive) AS mean_p_positive, avg(label) AS share_positive
FROM review_sentiment_latest"""
# label: the genre with its review count, so a mean over a handful of reviews shows as one
SENTIMENT_BY_GENRE = """
WITH g AS (SELECT item_id, unnest(string_split(genres, '|')) AS genre FROM items),
by_genre AS (
    SELECT g.genre, sum(d.reviews)::BIGINT AS reviews, sum(d.mean_p_positive * d.reviews) / sum(d.reviews) AS p_positive
    FROM item_sentiment_daily d JOIN g USING (item_id) WHERE g.genre <> '' GROUP BY 1)
SELECT genre, reviews, p_positive, genre || ' (' || format('{:,}', reviews) || ')' AS label
FROM by_genre ORDER BY p_positive DESC"""
MIN_GENRE_REVIEWS = 50   # a genre's mean over fewer reviews is noise: the Sentiment page leaves it out
SENTIMENT_MONTHLY = """
SELECT date_trunc('month', day) AS month, sum(reviews) AS reviews,
       sum(mean_p_positive * reviews) / sum(reviews) AS p_positive
FROM item_sentiment_daily GROUP BY 1 ORDER BY 1"""

# --- forecasts --------------------------------------------------------------------------------------------
# Per title: the forecast's mean p50 per period (a week, or a day for a daily run: $period_days long) against
# the mean per period of the 4 weeks before the forecast starts, for titles with at least $min_weekly events
# a week in those 4 weeks (below that a change is noise). A daily run's days need not be whole weeks (4 days
# from a Thursday are mostly weekend): its recent level is scaled by how busy those weekdays were in the 4
# weeks, over all titles (one title's own weekdays are too few events to go by), so a weekend is compared
# with recent weekends.
MOVERS_OF = """
WITH f AS (
    SELECT series_id, substr(series_id, 6) AS item_id, min(ds) AS start, avg(p50) AS forecast,
           any_value(method) AS method
    FROM forecasts_latest  -- titles with too little history get a genre-share fallback: not a trend
    WHERE series_id LIKE 'item:%' AND coalesce(method, '') <> 'genre_fallback' GROUP BY 1, 2),
weekdays AS (  -- each weekday's events over the 4 weeks, x 7 / all of them: 1 is an average day
    SELECT dayofweek(e.day) AS dow, 7.0 * sum(e.events) / sum(sum(e.events)) OVER () AS busy
    FROM {events} e, (SELECT min(start) AS start FROM f) w
    WHERE e.day >= w.start - INTERVAL 28 DAY AND e.day < w.start GROUP BY 1),
tilt AS (
    SELECT fc.series_id, CASE WHEN $period_days = 1 THEN avg(coalesce(w.busy, 0)) ELSE 1 END AS tilt
    FROM forecasts_latest fc LEFT JOIN weekdays w ON w.dow = dayofweek(fc.ds)
    WHERE fc.series_id LIKE 'item:%' GROUP BY 1),
recent AS (
    SELECT f.series_id, sum(e.events) AS events, sum(e.events) * $period_days / 28.0 * any_value(t.tilt) AS recent
    FROM f JOIN tilt t USING (series_id) JOIN {events} e
      ON e.item_id = f.item_id AND e.day >= f.start - INTERVAL 28 DAY AND e.day < f.start
    GROUP BY 1)
SELECT f.item_id, it.title, r.recent, f.forecast, f.forecast - r.recent AS change,
       f.forecast / nullif(r.recent, 0) - 1 AS relative_change, f.method
FROM f JOIN recent r USING (series_id) LEFT JOIN items it USING (item_id)
WHERE r.events >= 4 * $min_weekly
ORDER BY change DESC, f.item_id"""
# a run of some event types (`--event-types`) forecasts those only: what it is compared with or drawn beside
# must count the same, from the events themselves (the cache counts every type)
ENGAGEMENT_OF_TYPES = """(
    SELECT item_id, CAST(ts AS DATE) AS day, count(*) AS events FROM interactions
    WHERE list_contains($types, event_type) GROUP BY ALL)"""
MOVERS = MOVERS_OF.format(events="item_engagement_daily")
MOVERS_OF_TYPES = MOVERS_OF.format(events=ENGAGEMENT_OF_TYPES)
MOVERS_MIN_WEEKLY = 1.0    # events a week over the last 4 weeks
MOVERS_MIN_CHANGE = 0.10   # a rise or fall smaller than this share of the recent level is not listed
FORECAST_SERIES = """
SELECT series_id, count(*) AS weeks, min(ds) AS first_week FROM forecasts_latest
WHERE series_id LIKE $prefix || '%' GROUP BY 1 ORDER BY 1"""
GENRE_WEEKLY_OF = f"""
SELECT week, events, {WEEK_IS_PARTIAL} AS partial FROM (
    SELECT date_trunc('week', e.day) AS week, sum(e.events)::BIGINT AS events
    FROM {{events}} e JOIN items it USING (item_id)
    WHERE list_contains(string_split(it.genres, '|'), $genre) GROUP BY 1)
ORDER BY week"""
# Every day of the data's last $days days (a day without events is a 0), for a daily forecast run.
GENRE_DAILY_OF = """
WITH days AS (
    SELECT unnest(generate_series(max(day) - ($days - 1), max(day), INTERVAL 1 DAY))::DATE AS day
    FROM item_engagement_daily),
g AS (
    SELECT e.day, sum(e.events) AS events
    FROM {events} e JOIN items it USING (item_id)
    WHERE list_contains(string_split(it.genres, '|'), $genre) GROUP BY 1)
SELECT days.day, coalesce(g.events, 0)::BIGINT AS events FROM days LEFT JOIN g USING (day) ORDER BY day"""
GENRE_HISTORY = {(freq, typed): sql.format(events=ENGAGEMENT_OF_TYPES if typed else "item_engagement_daily")
                 for freq, sql in (("W", GENRE_WEEKLY_OF), ("D", GENRE_DAILY_OF)) for typed in (False, True)}
DAILY_HISTORY_DAYS = 56    # a daily forecast's chart shows the last 8 weeks of days before it
UNIT = {"W": "week", "D": "day"}

# --- runs -------------------------------------------------------------------------------------------------
ALL_RUNS = """
SELECT run_id, pipeline, model, status, started_at, finished_at, params, metrics, data_snapshot, error,
       artifact_uri IS NULL AS pruned
FROM runs ORDER BY started_at DESC LIMIT $limit"""
RUN_OUTPUTS = """
SELECT table_name, "rows", published_at FROM run_outputs WHERE run_id = $run_id ORDER BY table_name"""




def home() -> str:
    """The store the app serves: `$MARQUEE_HOME` (set by `marquee app`), else ./.marquee."""
    return str(paths.home())


def _read(sql: str, params: dict[str, Any], home_dir: str) -> pd.DataFrame:
    with store.read(home_dir) as con:
        return _frame(con.execute(sql, params))


def _frame(result: Any) -> pd.DataFrame:
    """A query's result as a DataFrame whose text columns hold None for NULL: pandas 3 reads the NULLs of a text
    column that has values too as NaN (a float, and true), which shows as "nan" and trips `x or {}`,
    `json.loads` and `isinstance(x, str)` (a run without metrics beside one with them broke the Overview)."""
    df = result.df()
    text = [name for name, dtype in df.dtypes.items() if isinstance(dtype, pd.StringDtype) and df[name].hasnans]
    if text:
        df[text] = df[text].astype(object).where(df[text].notna(), None)
    return df


@st.cache_data(ttl=3, show_spinner=False)
def _version(home_dir: str) -> str:
    return "|".join(str(v) for v in _read(VERSION, {}, home_dir).iloc[0].tolist())


@st.cache_data(ttl=600, show_spinner=False, max_entries=1000)
def _cached(sql: str, params: tuple, home_dir: str, version: str) -> pd.DataFrame:
    return _read(sql, dict(params), home_dir)


@st.cache_data(ttl=600, show_spinner=False, max_entries=300)
def _cached_many(queries: tuple, home_dir: str, version: str) -> dict[str, pd.DataFrame]:
    with store.read(home_dir) as con:   # one connection for all of them: opening one costs ~50 ms
        return {name: _frame(con.execute(sql, dict(params))) for name, sql, params in queries}


def _key(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def many(**queries: tuple[str, dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """Several read queries (name=(sql, params)) over one connection, cached together."""
    h = home()
    return _cached_many(tuple((name, sql, _key(params)) for name, (sql, params) in queries.items()), h, _version(h))


def version() -> str:
    """The store's current version (raises MarqueeError if there is no store)."""
    return _version(home())


def frame(sql: str, **params: Any) -> pd.DataFrame:
    """Run one read query (cached until the store's version changes). Returns a copy."""
    h = home()
    return _cached(sql, _key(params), h, _version(h))


def _age(ts: Any) -> str:
    if ts is None or pd.isna(ts):
        return "-"
    minutes = max(0, int((datetime.now(UTC).replace(tzinfo=None) - pd.Timestamp(ts).to_pydatetime()).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


# --- overview ---------------------------------------------------------------------------------------------
def overview() -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame]:
    """(counts, weekly engagement, serving run per pipeline): the Overview's three reads in one go."""
    got = many(counts=(COUNTS, {}), weekly=(ENGAGEMENT_WEEKLY, {}), serving=(SERVING_RUNS, {}))
    return ({k: int(v) for k, v in got["counts"].iloc[0].items()}, got["weekly"], _serving_runs(got["serving"]))


def metric_columns(runs_frame: pd.DataFrame) -> list[str]:
    """The numeric metric columns of a `pipeline_runs` frame, quality metrics first (no parameters)."""
    cols = [c for c in runs_frame.columns[3:] if runs_frame[c].dtype.kind in "fi" and not c.startswith("params.")]
    return sorted(cols, key=metric_rank)


def _serving_runs(df: pd.DataFrame) -> pd.DataFrame:
    """Serving run of each pipeline, with its age, its headline metrics and a newer unscored run if any."""
    rows = []
    for r in df.itertuples(index=False):
        rows.append({"pipeline": r.pipeline, "run_id": r.run_id, "model": r.model, "age": _age(r.finished_at),
                     "metrics": with_selected_marked(headline_metrics(r.metrics), r.metrics),
                     "unscored": unscored_note(r._asdict())})
    # object columns: pandas 3 would make a text column of the notes, its None a NaN that reads as true
    return pd.DataFrame(rows, columns=["pipeline", "run_id", "model", "age", "metrics", "unscored"], dtype=object)


def serving_run(pipeline: str) -> dict[str, Any] | None:
    """The run whose outputs the pages show for `pipeline` (a row of SERVING_RUNS), None before its first run.
    Live panels answer with this run's model too, so a page never mixes two models."""
    df = frame(SERVING_RUNS)
    row = df[df["pipeline"] == pipeline]
    return row.iloc[0].to_dict() if len(row) else None


def unscored_note(serving: dict[str, Any]) -> str | None:
    """What to say when the newest trained run of a pipeline has published nothing yet (None: it has)."""
    newer = serving.get("unscored_run_id")
    if not isinstance(newer, str):
        return None
    command = f"`marquee score {serving['pipeline']}`"
    if newer == serving["run_id"]:
        return f"Trained, not scored yet: run {command}."
    return (f"A newer run `{newer}` ({serving['unscored_model']}) is trained, not scored yet: run {command} "
            f"to serve it.")


# --- recommendations --------------------------------------------------------------------------------------
def users(limit: int = 5000) -> list[str]:
    """The first `limit` user ids (numeric ones in numeric order): the picker's suggestions; it takes any id."""
    return frame(USERS, limit=limit)["user_id"].tolist()


def user_known(user_id: str) -> bool:
    return bool(frame(USER_KNOWN, user_id=user_id)["known"].iloc[0])


def recommendations_published() -> bool:
    """Whether the latest scored recsys run has any recommendations (to tell "not scored yet" from
    "no picks for this user")."""
    return bool(frame("SELECT count(*) AS n FROM (SELECT 1 FROM recommendations_latest LIMIT 1)")["n"].iloc[0])


def user_detail(user_id: str, history: int = 20, top_n: int = 10) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """(recent history, total events, top-N recommendations) of one user."""
    got = many(history=(USER_HISTORY, {"user_id": user_id, "limit": history}),
               size=(USER_HISTORY_SIZE, {"user_id": user_id}),
               recs=(USER_RECS, {"user_id": user_id, "limit": top_n}))
    return got["history"], int(got["size"]["events"].iloc[0]), got["recs"]


def titles() -> pd.DataFrame:
    return frame(TITLES)


def title_names(item_ids: list[str]) -> pd.DataFrame:
    return frame(TITLE_NAMES, ids=list(item_ids))


def pipeline_runs(pipeline: str, limit: int = 10) -> pd.DataFrame:
    """Succeeded runs of one pipeline, newest first, metrics spread into columns (for side by side),
    quality metrics first; the parameters a run chose (`params.*`) are in `pipeline_params`."""
    df = _spread_metrics(frame(PIPELINE_RUNS, pipeline=pipeline, limit=limit))
    metrics = sorted((c for c in df.columns[3:] if not c.startswith("params.")), key=metric_rank)
    return df[[*df.columns[:3], *metrics]]


def pipeline_params(pipeline: str, limit: int = 10) -> pd.DataFrame:
    """The runs of `pipeline_runs` by run_id, one row each with its parameters as text: those it was given
    (`model` among them: what was asked for, e.g. `auto`) and those it chose (`params.*` in its metrics,
    e.g. a blend's components)."""
    df = frame(PIPELINE_RUNS, pipeline=pipeline, limit=limit)
    rows = [_run_params(p, m) for p, m in zip(df["params"], df["metrics"], strict=True)]
    return pd.concat([df[["run_id"]], pd.DataFrame(rows, index=df.index).fillna("-")], axis=1)


def _run_params(params: str | None, metrics: str | None) -> dict[str, str]:
    chosen = {k: v for k, v in flat_metrics(metrics).items() if k.startswith("params.")}
    return {k: _text(v) for k, v in {**flat_metrics(params), **chosen}.items()}


def _spread_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Runs with their metrics as columns (per-candidate details left out: see the Runs page)."""
    metrics = pd.DataFrame([{k: v for k, v in flat_metrics(m).items() if not k.startswith("candidates.")}
                            for m in df["metrics"]], index=df.index)
    return pd.concat([df[["run_id", "model", "finished_at"]], metrics], axis=1)


# --- titles -----------------------------------------------------------------------------------------------
def search_titles(text: str, limit: int = 50) -> pd.DataFrame:
    """Titles matching `text` (substring or exact id); the most watched ones when `text` is empty (then
    those with no events)."""
    if not text.strip():
        return frame(POPULAR_TITLES, limit=limit)
    return frame(SEARCH_TITLES, text=text.strip(), limit=limit)


def title_detail(item_id: str, similar: int = 10, reviews: int = 3) -> dict[str, Any]:
    """Everything the Titles page shows about one title, read over one connection.

    Keys: info (dict or None), weekly, forecast, sentiment, similar, positive (P >= 0.5), negative (P < 0.5)
    (DataFrames), reviews (dict: reviews, scored, sentiment_run), similar_served (whether a recommender run
    serves similar titles at all); and daily (the last DAILY_HISTORY_DAYS days)
    when the serving forecast run is a daily one, whose forecast continues that, not the weekly line.
    """
    p = {"item_id": item_id}
    daily = {"daily": (TITLE_DAILY, {**p, "days": DAILY_HISTORY_DAYS})} if forecast_freq() == "D" else {}
    got = many(info=(TITLE, p), weekly=(TITLE_WEEKLY, p),
               forecast=(SERIES_FORECAST, {"series_id": f"item:{item_id}"}), sentiment=(TITLE_SENTIMENT, p),
               similar=(SIMILAR, {**p, "limit": similar}), positive=(MOST_POSITIVE, {**p, "limit": reviews}),
               negative=(MOST_NEGATIVE, {**p, "limit": reviews}), reviews=(TITLE_REVIEWS, p),
               similar_served=(SIMILAR_SERVED, {}), **daily)
    got["info"] = got["info"].iloc[0].to_dict() if len(got["info"]) else None
    got["similar_served"] = bool(got["similar_served"]["n"].iloc[0])
    got["reviews"] = {k: int(v) for k, v in got["reviews"].iloc[0].items()}
    return got


def no_sentiment_reason(reviews: dict[str, int]) -> str:
    """Why a title shows no review sentiment (`reviews` as from title_detail), and what fills it."""
    if not reviews["reviews"]:
        return "This title has no reviews."
    if not reviews["sentiment_run"]:
        return "No sentiment model yet: run `marquee train sentiment && marquee score sentiment`"
    return "Reviews not scored yet: run `marquee score sentiment`"


def full_weeks(weekly: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The weeks the data covers in full (a frame with a `partial` column, see WEEK_IS_PARTIAL), and a note
    naming the partial ones left out ("" if none): a partial week's count would look like a slump.
    A frame of partial weeks only is kept as it is (with a note saying so)."""
    partial = weekly["partial"].astype(bool)
    starts = [f"{pd.Timestamp(w):%Y-%m-%d}" for w in weekly.loc[partial, "week"]]
    weeks = ("weeks of " if len(starts) > 1 else "week of ") + " and ".join(starts)
    if starts and partial.all():   # nothing but partial weeks: show them rather than nothing
        return weekly.drop(columns="partial"), f"The data covers the {weeks} only in part."
    note = f"Left out: the {weeks}, which the data covers only in part." if starts else ""
    return weekly[~partial].drop(columns="partial").reset_index(drop=True), note


def series_forecast(series_id: str) -> pd.DataFrame:
    return frame(SERIES_FORECAST, series_id=series_id)


# --- sentiment --------------------------------------------------------------------------------------------
def sentiment_overview(min_genre_reviews: int = MIN_GENRE_REVIEWS) -> dict[str, Any]:
    """summary (dict: reviews_scored, mean_p_positive, share_positive), by_genre (genres with at least
    `min_genre_reviews` reviews: a mean over fewer is noise), small_genres (the labels of those left out),
    monthly, reviews and demo_reviews (ints: reviews in the store, scored or not)."""
    got = many(summary=(SENTIMENT_SUMMARY, {}), by_genre=(SENTIMENT_BY_GENRE, {}), monthly=(SENTIMENT_MONTHLY, {}),
               counts=(COUNTS, {}))
    by_genre = got["by_genre"]
    small = by_genre["reviews"] < min_genre_reviews
    return {"summary": got["summary"].iloc[0].to_dict(), "by_genre": by_genre[~small].reset_index(drop=True),
            "small_genres": by_genre.loc[small, "label"].tolist(), "monthly": got["monthly"],
            "reviews": int(got["counts"]["reviews"].iloc[0]), "demo_reviews": int(got["counts"]["demo_reviews"].iloc[0])}


# --- forecasts --------------------------------------------------------------------------------------------
def _serving_forecast_params() -> dict[str, Any]:
    """The params of the run serving `forecasts_latest` ({} before any run)."""
    run = frame(SERVING_RUN_DETAIL, pipeline="forecast")
    return json.loads(run["params"].iloc[0] or "{}") if len(run) else {}


def forecast_freq() -> str:
    """The period of the run serving `forecasts_latest` (its params.freq): 'W' (weeks) or 'D' (days); 'W'
    before any run. Its forecasts are per period, so charts and comparisons must be too."""
    return "D" if _serving_forecast_params().get("freq") == "D" else "W"


def forecast_overview(limit: int = 10) -> dict[str, Any]:
    """run (the forecast run serving `forecasts_latest`, metrics spread; may be empty), freq (its period, 'W' or
    'D'), genres / items (series lists), rising / falling (titles with MOVERS_MIN_WEEKLY events a week or more
    whose forecast per period is at least MOVERS_MIN_CHANGE above / below their mean per period over the last
    4 weeks, biggest change first)."""
    freq, types = forecast_freq(), event_types_of(_serving_forecast_params())
    movers = {"min_weekly": MOVERS_MIN_WEEKLY, "period_days": 1 if freq == "D" else 7}
    got = many(run=(SERVING_RUN_DETAIL, {"pipeline": "forecast"}),
               genres=(FORECAST_SERIES, {"prefix": "genre:"}), items=(FORECAST_SERIES, {"prefix": "item:"}),
               movers=(MOVERS_OF_TYPES, {**movers, "types": types}) if types else (MOVERS, movers))
    got["freq"], got["event_types"] = freq, types
    df = got.pop("movers")
    got["rising"] = df[df["relative_change"] >= MOVERS_MIN_CHANGE].head(limit).reset_index(drop=True)
    got["falling"] = df[df["relative_change"] <= -MOVERS_MIN_CHANGE].iloc[::-1].head(limit).reset_index(drop=True)
    got["backtest"], got["backtest_source"] = backtest_table(got["run"]["metrics"].iloc[0] if len(got["run"]) else None)
    got["run"] = _spread_metrics(got["run"])
    return got


def event_types_of(params: str | dict | None) -> list[str]:
    """The event types a run learned from (`--event-types`); [] when it counted every type."""
    p = json.loads(params) if isinstance(params, str) else (params or {})
    types = p.get("event_types") if isinstance(p, dict) else None
    return [str(t) for t in types] if isinstance(types, list) else []


def backtest_table(metrics: str | dict | None) -> tuple[pd.DataFrame, str]:
    """Backtest accuracy per method (the chosen recipe and the naive / mean4 baselines), and its source.

    Prefers the rolling-origin backtest `marquee evaluate forecast` records (`backtest.mean`), else the
    model-selection backtests of training (`inner_backtest_wape`), else any `*wape*` metric.
    Columns: method, wape (+ mase, coverage80 when recorded), chosen (bool); sorted by wape.
    """
    m = json.loads(metrics) if isinstance(metrics, str) else (metrics or {})
    chosen = {"recipe", str(m.get("selected"))}
    mean = (m.get("backtest") or {}).get("mean") if isinstance(m.get("backtest"), dict) else None
    if isinstance(mean, dict) and mean:
        rows = [{"method": k, **{n: float(x) for n, x in v.items() if is_number(x)}}
                for k, v in mean.items() if isinstance(v, dict)]
        source = "rolling-origin backtest (`marquee evaluate forecast`), mean over origins"
    elif isinstance(m.get("inner_backtest_wape"), dict) and m["inner_backtest_wape"]:
        rows = [{"method": k, "wape": float(v)} for k, v in m["inner_backtest_wape"].items() if is_number(v)]
        source = "backtests inside the training history (model selection)"
    else:
        rows = [{"method": k, "wape": float(v)} for k, v in flat_metrics(m).items() if "wape" in k.lower() and is_number(v)]
        source = "run metrics"
    df = pd.DataFrame(rows)
    if df.empty or "wape" not in df.columns:
        return pd.DataFrame(columns=["method", "wape", "chosen"]), source
    df["chosen"] = df["method"].isin(chosen)
    return df.sort_values("wape", kind="stable").reset_index(drop=True), source


def genre_history(genre: str, freq: str, event_types: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The genre's events (of `event_types`, the run's; none: every type) per period of a `freq` forecast run
    (in a column named UNIT[freq]) and a note: its full weeks and which were left out (see `full_weeks`), or
    its last DAILY_HISTORY_DAYS days and ""."""
    sql = GENRE_HISTORY["D" if freq == "D" else "W", bool(event_types)]
    params = {"genre": genre, **({"types": list(event_types)} if event_types else {})}
    if freq == "D":
        return frame(sql, days=DAILY_HISTORY_DAYS, **params), ""
    return full_weeks(frame(sql, **params))


# --- sql --------------------------------------------------------------------------------------------------
EXACT_INT = 2**53   # the browser holds every number as a double: whole numbers are exact up to here


def sql_result(query: str, max_rows: int) -> tuple[pd.DataFrame, bool, list[str]]:
    """One analyst query through `data.sql` (not cached: it runs when asked): a frame of each value as the text
    DuckDB writes for it (NULL stays missing), whether more than `max_rows` rows existed, and the frame's number
    columns. A number column whose every value a number shows as DuckDB writes it is numbers (it sorts as
    numbers); the others (0.0000000000, a HUGEINT past 2**53) stay text. Repeated names get a suffix, as
    DuckDB's do."""
    columns, rows, truncated, numeric = sql.fetch_readonly(query, home(), max_rows, cast="text")
    names = _unique(columns)
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    numbers = [name for name, number in zip(names, numeric, strict=True) if number]
    for name in numbers:
        frame[name] = _as_numbers(frame[name])
    return frame, truncated, numbers


def _as_numbers(texts: pd.Series) -> pd.Series:
    """DuckDB's text of a number column as numbers when each reads back the same (else the text itself)."""
    known = texts.dropna()
    try:
        ints = [int(t) for t in known]
        if all(abs(i) <= EXACT_INT for i in ints):
            return texts.map(lambda t: None if t is None else int(t)).astype("Int64")
    except ValueError:   # not all whole numbers
        floats = [float(t) for t in known]
        if all(repr(f) == t for f, t in zip(floats, known, strict=True)):
            return texts.map(lambda t: None if t is None else float(t)).astype("float64")
    return texts


def _unique(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in columns:
        out.append(f"{name}_{seen[name]}" if name in seen else name)
        seen[name] = seen.get(name, 0) + 1
    return out


# --- runs -------------------------------------------------------------------------------------------------
def runs(limit: int = 200) -> pd.DataFrame:
    df = frame(ALL_RUNS, limit=limit)   # a failed run's metrics, a good one's error: None (see _frame)
    for i in df.index[df["status"] == "running"]:   # a killed job's run, as `marquee runs` shows it (not cached:
        if why := abandoned(df.at[i, "run_id"], home()):   # its process dies without changing the store)
            df.loc[i, ["status", "error"]] = ["failed", why]
    df["age"] = [_age(t) for t in df["finished_at"]]
    return df


def newest_failed(pipeline: str) -> dict[str, Any] | None:
    """The newest run of `pipeline` if it failed, else None: "no run yet" (or an older run served
    silently) would hide why the run just trained shows nothing."""
    df = runs()
    df = df[df["pipeline"] == pipeline]
    return df.iloc[0].to_dict() if len(df) and df.iloc[0]["status"] == "failed" else None


def run_outputs(run_id: str) -> pd.DataFrame:
    return frame(RUN_OUTPUTS, run_id=run_id)


def metrics_table(metrics: str | dict | None) -> pd.DataFrame:
    """A run's metrics as name / value rows: headline metrics, the rest in the order the run wrote them,
    per-candidate details last; arrays are summarised by their shape unless short (a forecast's
    calibration curves would fill the page)."""
    data = json.loads(metrics) if isinstance(metrics, str) else (metrics or {})
    flat = flat_metrics(_summarise_arrays(data))
    headline = list(headline_metrics(data))
    rest = [k for k in flat if k not in headline]
    names = headline + [k for k in rest if not _per_candidate(k)] + [k for k in rest if _per_candidate(k)]
    return pd.DataFrame({"name": names, "value": [_text(flat[k]) for k in names]}, columns=["name", "value"])


def _per_candidate(key: str) -> bool:
    return key.startswith("candidates.") or "/" in key


def _summarise_arrays(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _summarise_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        text = json.dumps(value, default=str)
        return text if len(text) <= 60 else f"array {_shape(value)}"
    return value


def _shape(values: list) -> str:
    """`4`, or `2 × 4` for a list of equally long lists."""
    rows = values and all(isinstance(v, list) and len(v) == len(values[0]) for v in values)
    return f"{len(values)} × {_shape(values[0])}" if rows else str(len(values))


def compare_pair(runs_frame: pd.DataFrame) -> tuple[str, str]:
    """(A, B) run ids to compare first, from `runs()` (newest first): the two newest succeeded runs of
    the pipeline that ran last, else of the next pipeline that has two; runs of different pipelines
    share no metric, so comparing them shows only `-`."""
    succeeded = runs_frame[runs_frame["status"] == "succeeded"]
    for _, group in succeeded.groupby("pipeline", sort=False):
        if len(group) >= 2:
            return group["run_id"].iloc[1], group["run_id"].iloc[0]
    ids = runs_frame["run_id"].tolist()
    return ids[1], ids[0]


def compare_runs(a: dict, b: dict) -> pd.DataFrame:
    """Metric by metric (and parameter by parameter) comparison of two runs from `runs()`, in reading
    order: headline metrics, the parameters that changed, the other metrics, the unchanged parameters,
    and last the per-candidate details (a blend run has dozens)."""
    headline = list(dict.fromkeys([*headline_metrics(b.get("metrics")), *headline_metrics(a.get("metrics"))]))
    ranked = []
    for kind in ("metrics", "params"):
        fa, fb = flat_metrics(a.get(kind)), flat_metrics(b.get(kind))
        for key in set(fa) | set(fb):
            va, vb = fa.get(key), fb.get(key)
            # a difference of settings (seed 42 -> 43, k 57 -> 58) is no measurement: only metrics get one
            measured = kind == "metrics" and not key.startswith("params.")
            delta = vb - va if measured and is_number(va) and is_number(vb) else None
            ranked.append((_compare_rank(kind, key, va != vb, headline),
                           {"kind": kind[:-1], "name": key, "A": _text(va), "B": _text(vb), "B - A": delta}))
    ranked.sort(key=lambda pair: pair[0])
    return pd.DataFrame([row for _, row in ranked], columns=["kind", "name", "A", "B", "B - A"])


def _compare_rank(kind: str, key: str, changed: bool, headline: list[str]) -> tuple:
    if kind == "metrics" and key in headline:
        return 0, headline.index(key)
    if _per_candidate(key):
        return 4, metric_rank(key), key
    if kind == "params" or key.startswith("params."):
        return (1 if changed else 3), key
    return 2, metric_rank(key), key


def _text(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)
