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
        return np.array([s.startswith("genre:") for s in self.series], dtype=bool)


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


def with_events(windows: list[Window]) -> list[Window]:
    """The windows whose truth holds an event: WAPE divides by their events, so an empty one (a gap in the data)
    would score every recipe near 1e9 and choose by noise; `evaluate` leaves them out alike."""
    return [w for w in windows if w.truth is not None and np.nansum(w.truth) > 0]


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


LEVEL_BINS = 3          # volume bands calibrated apart: log errors shrink as a series gets busier
MIN_PER_BAND = 30       # residuals a band needs at a step; fewer: that step uses the pooled factor


def level(w: Window) -> np.ndarray:
    """(n,) each series' recent volume: log1p of its mean over the last 4 periods before the origin."""
    recent = w.history[:, -4:]
    return np.log1p(recent.mean(axis=1)) if recent.shape[1] else np.zeros(len(w.series))


def _factors(lo: np.ndarray, hi: np.ndarray, tail: float, pooled: list[list[float]] | None = None
             ) -> list[list[float]]:
    """[lo per step, hi per step] from (rows, h) residuals (NaN: unknown): each side's `tail` quantile, never
    narrower than an earlier step; a step with fewer than MIN_PER_BAND residuals takes `pooled`'s factor."""
    sides = []
    for side, res in enumerate((lo, hi)):
        vals, last = [], 1.0
        for k in range(res.shape[1]):
            r = res[:, k][~np.isnan(res[:, k])]
            enough = len(r) >= (MIN_PER_BAND if pooled is not None else 1)
            last = max(0.0, float(np.quantile(r, tail))) if enough else (pooled[side][k] if pooled else last)
            vals.append(last)
        sides.append(np.maximum.accumulate(vals).tolist())
    return sides


def calibrate(windows: list[Window], base: str, weight: float, target: float = 0.8) -> dict:
    """Split-conformal factors per kind, volume band and horizon step: the quantiles of how far log1p(truth)
    fell below / above log1p(p50) on the inner backtest, so that p10/p90 bracket ~80% of such outcomes.

    Per step, because errors grow with the horizon and the partial windows near the cutoff score only
    the first steps. Per volume band (LEVEL_BINS bands of `level`, edges at its quantiles), because
    pooled factors, set by the many quiet series, are far too wide for busy ones. Returns
    kind -> [[lo per step, hi per step] per band], and "edges" -> kind -> the band edges.
    """
    tail = 1 - (1 - target) / 2
    out: dict = {"edges": {}}
    for kind in ("item", "genre"):
        masks = [w.is_genre if kind == "genre" else ~w.is_genre for w in windows]
        c = np.concatenate([np.log1p(point(w, base, weight)[m]) for w, m in zip(windows, masks, strict=True)])
        y = np.concatenate([np.log1p(w.truth[m]) for w, m in zip(windows, masks, strict=True)])
        levels = np.concatenate([level(w)[m] for w, m in zip(windows, masks, strict=True)])
        edges = sorted(set(np.quantile(levels, np.arange(1, LEVEL_BINS) / LEVEL_BINS).tolist())) if len(levels) else []
        band = np.searchsorted(edges, levels, side="right")
        pooled = _factors(c - y, y - c, tail)
        out[kind] = [_factors((c - y)[band == b], (y - c)[band == b], tail, pooled) for b in range(len(edges) + 1)]
        out["edges"][kind] = edges
    return out


def bands(scales: dict, kind: str) -> tuple[np.ndarray, list[float]]:
    """(bands, 2, h) factors and the band edges of `kind`; a run calibrated before bands has one band."""
    factors = np.asarray(scales[kind], dtype=float)
    return (factors[None] if factors.ndim == 2 else factors), list(scales.get("edges", {}).get(kind, []))


def apply(w: Window, base: str, weight: float, scales: dict) -> np.ndarray:
    """The recipe's calibrated (n, h, 3) forecast: p50 x/÷ exp(factor of the series' kind and volume band)
    in log1p space; p10 <= p50 <= p90, >= 0."""
    p50 = np.clip(point(w, base, weight), 0, None)
    c = np.log1p(p50)
    s_lo, s_hi = np.zeros_like(c), np.zeros_like(c)
    lv = level(w)
    for kind, mask in (("genre", w.is_genre), ("item", ~w.is_genre)):
        factors, edges = bands(scales, kind)
        band = np.minimum(np.searchsorted(edges, lv[mask], side="right"), len(factors) - 1)
        s_lo[mask], s_hi[mask] = factors[band, 0], factors[band, 1]
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
