"""Rolling-origin backtests inside the history: model choice, interval calibration, evaluation.

An origin `o` forecasts periods [o, o + horizon) from the periods before `o`, exactly as a run
forecasts from its cutoff. Selection and calibration use origins before the cutoff only, so the
weeks a run is later judged on never shape it. Every candidate is scored by WAPE, the protocol's
headline: sum |y - p50| / sum y, pooled over series and origins.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting import baselines, nets
from forecasting.config import ForecastConfig
from forecasting.series import History, select_series, wide

ARCHS = ("nhits", "tft")


@dataclass
class Window:
    """One origin: the modeled series, their history and truth, and every candidate's (n, h, 3) forecast."""
    origin: pd.Timestamp
    series: list[str]
    history: np.ndarray                  # (n, T) counts before the origin
    truth: np.ndarray | None             # (n, h) counts; NaN past the cutoff; None when all unknown
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_genre(self) -> np.ndarray:
        return np.array([s.startswith("genre:") for s in self.series])


def encoder_length(periods: int, cfg: ForecastConfig) -> int:
    """The look-back, capped so that at least three training windows fit in the history."""
    return max(0, min(cfg.encoder_length, periods - cfg.horizon - 2))


def genres_in(series: list[str]) -> list[str]:
    return sorted(s.removeprefix("genre:") for s in series if s.startswith("genre:"))


def inner_origins(hist: History, cfg: ForecastConfig, count: int, stride: int | None = None) -> list[pd.Timestamp]:
    """Up to `count` origins `stride` periods apart (default: half the horizon), the newest `stride` periods
    before the cutoff; a window whose horizon runs past the cutoff is scored on the periods before it. Each
    origin needs the full look-back plus three training windows (a network fit on less extrapolates wildly)."""
    stride = stride or max(1, cfg.horizon // 2)
    out = []
    for k in range(1, count + 1):
        origin = hist.cutoff - k * stride * hist.step
        if (origin - hist.start) / hist.step >= cfg.encoder_length + cfg.horizon + 2:
            out.append(origin)
    return sorted(out)


def window(hist: History, origin: pd.Timestamp, cfg: ForecastConfig, archs: list[str], device, seed: int,
           progress: bool = False) -> Window:
    """Forecast [origin, origin + horizon) with the baselines and each of `archs` trained before `origin`."""
    m = wide(hist, origin)
    modeled = select_series(m, cfg.min_events)
    m = m.loc[modeled]
    x = m.to_numpy()
    truth = None
    known = min(cfg.horizon, int((hist.cutoff - origin) / hist.step))   # periods of the window before the cutoff
    if known > 0:
        full = wide(hist, origin + known * hist.step).reindex(index=modeled, fill_value=0)
        truth = np.full((len(modeled), cfg.horizon), np.nan)
        truth[:, :known] = full.iloc[:, -known:].to_numpy()
    w = Window(origin, modeled, x, truth)
    for name in ("naive", "mean4") + (("snaive",) if hist.freq == "D" else ()):
        p = baselines.forecast(name, x, cfg.horizon)
        w.forecasts[name] = np.stack([p, p, p], axis=-1)
    enc = encoder_length(x.shape[1], cfg)
    for arch in archs:
        if enc < 2:
            continue
        genres = genres_in(modeled)
        _, _, q = nets.fit_predict(arch, nets.model_frame(hist, m, genres), nets.model_frame(hist, m, genres, cfg.horizon),
                                   genres, enc, cfg, device, seed, progress)
        w.forecasts[arch] = np.stack([q[s] for s in modeled])
    return w


# ---------------------------------------------------------------- recipes: a base + a blend + calibration

def point(w: Window, base: str, weight: float) -> np.ndarray:
    """p50 (n, h): `weight` x the base's p50 + (1 - weight) x mean4 (weight 1: the base alone)."""
    p = w.forecasts[base][..., 1]
    return p if weight >= 1 else weight * p + (1 - weight) * w.forecasts["mean4"][..., 1]


def wape(y: np.ndarray, p: np.ndarray) -> float:
    """sum |y - p| / sum y over the known (non-NaN) truths."""
    return float(np.nansum(np.abs(y - p)) / max(np.nansum(y), 1e-9))


def candidates(windows: list[Window], cfg: ForecastConfig, allowed: list[str]) -> dict[str, tuple[str, float]]:
    """name -> (base, weight) for every recipe available in all windows."""
    have = set.intersection(*(set(w.forecasts) for w in windows))
    out = {b: (b, 1.0) for b in allowed if b in have}
    for arch in ARCHS:
        if arch in out and "mean4" in have and cfg.model == "auto":
            for wt in cfg.blend_weights:
                if 0 < wt < 1:
                    out[f"{arch}*{wt:g}+mean4"] = (arch, wt)
    return out


def select(windows: list[Window], cfg: ForecastConfig, allowed: list[str]) -> tuple[str, tuple[str, float], dict]:
    """The recipe with the lowest pooled WAPE over the windows; returns (name, (base, weight), all scores)."""
    scores = {}
    for name, (base, wt) in candidates(windows, cfg, allowed).items():
        y = np.concatenate([w.truth.ravel() for w in windows])
        p = np.concatenate([point(w, base, wt).ravel() for w in windows])
        scores[name] = wape(y, p)
    if not scores:
        return "mean4", ("mean4", 1.0), {}
    best = min(scores, key=lambda k: (round(scores[k], 6), k.count("*")))
    return best, candidates(windows, cfg, allowed)[best], scores


def calibrate(windows: list[Window], base: str, weight: float, target: float = 0.8) -> dict[str, list[list[float]]]:
    """Split-conformal factors per kind and horizon step: the 90% quantiles of how far log1p(truth) fell
    below / above log1p(p50) on the inner backtest, so that p10/p90 bracket ~80% of such outcomes.

    Per step, because errors grow with the horizon and the partial windows near the cutoff score only
    the first steps; never narrower than an earlier step. Returns kind -> [lo per step, hi per step].
    """
    tail = 1 - (1 - target) / 2
    horizon = windows[0].truth.shape[1]
    out = {}
    for kind in ("item", "genre"):
        lo_s, hi_s = [[] for _ in range(horizon)], [[] for _ in range(horizon)]
        for w in windows:
            mask = w.is_genre if kind == "genre" else ~w.is_genre
            c, y = np.log1p(point(w, base, weight)[mask]), np.log1p(w.truth[mask])
            for k in range(horizon):
                known = ~np.isnan(y[:, k])
                lo_s[k].append((c[:, k] - y[:, k])[known])
                hi_s[k].append((y[:, k] - c[:, k])[known])
        sides = []
        for per_step in (lo_s, hi_s):
            vals, last = [], 1.0
            for parts in per_step:
                r = np.concatenate(parts) if parts else np.array([])
                last = max(0.0, float(np.quantile(r, tail))) if len(r) else last
                vals.append(last)
            sides.append(np.maximum.accumulate(vals).tolist())
        out[kind] = sides
    return out


def apply(w: Window, base: str, weight: float, scales: dict[str, list[list[float]]]) -> np.ndarray:
    """The recipe's calibrated (n, h, 3) forecast: p50 x/÷ exp(factor) in log1p space; p10 <= p50 <= p90, >= 0."""
    p50 = np.clip(point(w, base, weight), 0, None)
    c = np.log1p(p50)
    genre = w.is_genre[:, None]
    s_lo = np.where(genre, np.asarray(scales["genre"][0])[None, :], np.asarray(scales["item"][0])[None, :])
    s_hi = np.where(genre, np.asarray(scales["genre"][1])[None, :], np.asarray(scales["item"][1])[None, :])
    p10 = np.minimum(np.expm1(c - s_lo), p50)
    p90 = np.maximum(np.expm1(c + s_hi), p50)
    return np.clip(np.stack([p10, p50, p90], axis=-1), 0, None)


# ---------------------------------------------------------------- metrics

def metrics(w: Window, q: np.ndarray, intervals: bool = True) -> dict:
    """WAPE, MASE (scale: mean absolute week-on-week change of the history) and, for forecasts with
    intervals, the 80% coverage."""
    y = w.truth
    known = ~np.isnan(y)
    err = np.abs(y - q[..., 1])
    scale = np.abs(np.diff(w.history, axis=1)).mean(axis=1) if w.history.shape[1] > 1 else np.zeros(len(y))
    ok = scale > 0
    return {"wape": wape(y, q[..., 1]),
            "mase": float((np.nanmean(err, axis=1)[ok] / scale[ok]).mean()) if ok.any() else float("nan"),
            **({"coverage80": float(((y >= q[..., 0]) & (y <= q[..., 2]))[known].mean())} if intervals else {}),
            "series": len(y), "periods": int(known.any(axis=0).sum())}
