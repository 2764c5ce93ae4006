"""Forecasts for titles with too little history (or none): their genres' forecasts times their share.

A title with fewer than `min_events` events is too noisy to model on its own, but its genres are
not. Its p50 is the mean over its genres of (genre forecast x the title's share of that genre over
the last `window` periods). A title with no genre that has a forecast (the catalogue may have no
genres at all) gets the mean count per period of these titles over the window instead. A title with
no recent events takes the share of an average title that launched in the window (a new-title prior).
Intervals are the scaled genre intervals, widened to at least Poisson's 10/90% bounds, since a small
count is at least that noisy. A title with no event yet is 0 (p10 = p50 = p90) in the periods that end
before its release: it cannot be watched before it is out; the prior starts in its release period. A
title with events is evidently out, whatever its catalogue says.
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from scipy.stats import poisson


def genre_shares(matrix: pd.DataFrame, genres_of: dict[str, list[str]], window: int) -> tuple[dict, dict]:
    """(share[(item, genre)], new_title_share[genre]) from the last `window` periods of `matrix`."""
    recent = matrix.iloc[:, -window:]
    totals = recent.sum(axis=1)
    first = (matrix.to_numpy() > 0).argmax(axis=1)
    launched = (matrix.to_numpy().sum(axis=1) > 0) & (first >= matrix.shape[1] - window)
    share, new_sum, new_n = {}, {}, {}
    for sid, total, is_new in zip(matrix.index, totals, launched, strict=True):
        if not sid.startswith("item:"):
            continue
        for g in genres_of.get(sid, []):
            gt = totals.get(f"genre:{g}", 0.0)
            if gt > 0 and total > 0:
                share[(sid, g)] = total / gt
                if is_new:
                    new_sum[g] = new_sum.get(g, 0.0) + total / gt
                    new_n[g] = new_n.get(g, 0) + 1
    new_share = {g: new_sum[g] / new_n[g] for g in new_sum}
    return share, new_share


def forecast_genres(genres: list[str], genre_fc: Collection[str]) -> list[str]:
    """The title's genres that have a forecast (`genre:<g>` in genre_fc): the ones its forecast comes from.
    None: it is forecast from the average of the titles not modeled, not from its genres."""
    return [g for g in genres if f"genre:{g}" in genre_fc]


def forecast(titles: list[str], genres_of: dict[str, list[str]], genre_fc: dict[str, np.ndarray],
             matrix: pd.DataFrame, window: int, horizon: int,
             released: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """titles: series ids `item:<id>`; genre_fc: `genre:<g>` -> (horizon, 3) (none when the catalogue has
    no genres); released: id -> whether each forecast period reaches the title's release (absent: it
    does). Returns id -> (horizon, 3)."""
    share, new_share = genre_shares(matrix, genres_of, window)
    seen = matrix.loc[matrix.index.isin(titles)]      # titles without an event have no row: none may have one
    fallback_mean = seen.iloc[:, -window:].to_numpy().mean() if len(seen) else 0.0
    watched = set(matrix.index[matrix.to_numpy().sum(axis=1) > 0])
    out = {}
    for sid in titles:
        parts = [share.get((sid, g), new_share.get(g, 0.0)) * genre_fc[f"genre:{g}"]
                 for g in forecast_genres(genres_of.get(sid, []), genre_fc)]
        q = np.mean(parts, axis=0) if parts else np.repeat([[0.0, fallback_mean, fallback_mean]], horizon, axis=0)
        q = np.sort(q, axis=1)
        p50 = q[:, 1]
        q[:, 0] = np.minimum(q[:, 0], poisson.ppf(0.1, np.maximum(p50, 1e-9)))
        q[:, 2] = np.maximum(q[:, 2], poisson.ppf(0.9, np.maximum(p50, 1e-9)))
        if sid not in watched and released and sid in released:
            q = q * released[sid][:, None]
        out[sid] = np.clip(q, 0, None)
    return out
