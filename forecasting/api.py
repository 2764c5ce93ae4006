"""The forecaster's verbs: train (choose + fit a recipe), score (publish forecasts), evaluate (backtest).

A run's *recipe* is what the inner backtest chose: a base (nhits, tft, mean4, naive, snaive), the
weight of the base's p50 in a blend with mean4, and conformal interval scales. It lives in
`recipe.json` beside the network's safetensors + JSON config, under the run's artifact folder.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from data import runs, store
from data.device import pick_device, seed_everything
from data.errors import MarqueeError
from data.model_files import STRUCTURE_ERRORS, ModelFileError, built_from, of_run, read_json
from forecasting import backtest, fallback, nets, series
from forecasting.config import FREQS, MODELS, ForecastConfig, make_config
from forecasting.series import History, check_cutoff, default_cutoff, load_history, select_series, wide

Home = str | os.PathLike | None
RECIPE = "recipe.json"
RECIPE_KEYS = {"cutoff": str, "freq": str, "horizon": int, "min_events": int, "share_window": int, "name": str,
               "base": str, "weight": (int, float), "scales": dict}


def _history(home: Home, cutoff, freq: str, event_types: Sequence[str] = ()) -> History:
    with store.read(home) as con:
        last = default_cutoff(con, freq, event_types)
        cut = last if cutoff is None else check_cutoff(cutoff, freq)   # an empty --cutoff is an error, not the default
        if cut > last:   # the periods in between would count as zero events, and a forecast of zeros scores perfectly
            raise MarqueeError(f"--cutoff {cut.date()} is after the data: its last full period ends before "
                               f"{last.date()}; use that or an earlier cutoff")
        return load_history(con, cut, freq, event_types)


def _allowed(cfg: ForecastConfig) -> tuple[list[str], list[str]]:
    """(networks to train, recipes the selection may pick) for `cfg.model`."""
    if cfg.model == "auto":
        allowed = list(cfg.candidates) + (["snaive"] if cfg.freq == "D" else [])
    else:
        allowed = [cfg.model]
    return [a for a in allowed if a in backtest.ARCHS], allowed


def train(home: Home = None, profile: str = "quick", device: str = "auto", seed: int = 42, *,
          horizon: int | None = None, freq: str | None = None, cutoff: str | None = None,
          model: str | None = None, progress: bool = True, **options) -> str:
    """Choose a recipe on backtests inside the history, fit it on everything before the cutoff; returns run_id."""
    cfg = make_config(profile, horizon=horizon, freq=freq, model=model, **options)
    dev = pick_device(device)
    seed_everything(seed)
    hist = _history(home, cutoff, cfg.freq, cfg.event_types)
    m = wide(hist)
    modeled = select_series(m, cfg.min_events)
    snapshot = {"cutoff": str(hist.cutoff.date()), "freq": cfg.freq, "first_period": str(hist.start.date()),
                "events": int(hist.counts["y"].sum()), "modeled_series": len(modeled),
                "fallback_titles": len(series.fallback_titles(hist.items, modeled))}
    run = runs.start("forecast", cfg.model, {**cfg.to_dict(), "profile": profile, "seed": seed, "device": str(dev)},
                     snapshot, home)
    try:
        t0 = time.perf_counter()
        archs, allowed = _allowed(cfg)
        origins = backtest.inner_origins(hist, cfg, cfg.inner_origins)
        windows = backtest.with_events([backtest.window(hist, o, cfg, archs, dev, seed, progress) for o in origins])
        if windows:
            name, (base, weight), scores = backtest.select(windows, cfg, allowed)
            scales = backtest.calibrate(windows, base, weight)
        else:   # too little history (or no event) to backtest: take what was asked for, uncalibrated
            base = cfg.model if cfg.model != "auto" else "mean4"
            name, weight, scores = base, 1.0, {}
            scales = {kind: [[1.0] * cfg.horizon, [1.0] * cfg.horizon] for kind in ("item", "genre")}
        t_select = time.perf_counter() - t0
        recipe = {"cutoff": str(hist.cutoff.date()), "freq": cfg.freq, "horizon": cfg.horizon,
                  "min_events": cfg.min_events, "share_window": cfg.share_window,
                  "name": name, "base": base, "weight": weight, "scales": scales,
                  "inner_origins": [str(o.date()) for o in origins]}
        if base in backtest.ARCHS:
            genres = backtest.genres_in(modeled)
            enc = backtest.encoder_length(m.shape[1], cfg)
            if enc < 2:
                raise MarqueeError(f"{base} needs at least {cfg.horizon + 4} periods of history before the cutoff")
            members = [nets.fit(base, nets.model_frame(hist, m.loc[modeled], genres), genres, enc, cfg, dev, seed + k,
                                progress)[0] for k in range(cfg.ensemble)]
            nets.save(members, run.artifacts, {"arch": base, "hparams": nets.hparams(base, cfg), "encoder_length": enc,
                                           "normalizer": cfg.normalizer, "genres": genres, "series": modeled})
        (run.artifacts / RECIPE).write_text(json.dumps(recipe, indent=2))
        metrics = {"selected": name, "inner_backtest_wape": scores, "calibration": scales,
                   "select_seconds": round(t_select, 2), "train_seconds": round(time.perf_counter() - t0, 2)}
        label = f"auto:{name}" if cfg.model == "auto" else name   # the registry names what `auto` chose, as recsys
        runs.publish(run.run_id, metrics=metrics, model=label, home=home)
    except BaseException as exc:
        runs.fail(run.run_id, runs.failure(exc), home)
        raise
    return run.run_id


def _recipe(run: dict) -> dict:
    """The run's checked recipe.json; a missing or damaged one is a ModelFileError naming it."""
    path = Path(run["artifact_uri"]) / RECIPE
    recipe = read_json(path, RECIPE_KEYS)
    h, base = recipe["horizon"], recipe["base"]
    bad = [key for key, ok in (("freq", recipe["freq"] in FREQS), ("horizon", h >= 1),
                               ("base", base in MODELS and base != "auto")) if not ok]
    if bad:
        raise ModelFileError(path, "impossible " + ", ".join(f"{key} {recipe[key]!r}" for key in bad))
    with built_from(path, errors=(*STRUCTURE_ERRORS, MarqueeError)):
        check_cutoff(recipe["cutoff"], recipe["freq"])
        for kind in ("item", "genre"):
            factors, edges = backtest.bands(recipe["scales"], kind)
            if factors.shape[1:] != (2, h) or len(edges) != len(factors) - 1 or edges != sorted(edges):
                raise ValueError(f"{kind} interval scales are not 2 x {h} numbers per volume band, "
                                 "with one edge fewer than bands")
    return recipe


def _config(recipe: dict, run: dict) -> ForecastConfig:
    params = {k: v for k, v in run["params"].items() if k in ForecastConfig.__dataclass_fields__}
    params["candidates"] = tuple(params.get("candidates", ()))
    params["blend_weights"] = tuple(params.get("blend_weights", ()))
    params["event_types"] = tuple(params.get("event_types", ()))
    return ForecastConfig(**params)


def _forecast(hist: History, recipe: dict, artifacts: Path, device) -> tuple[backtest.Window, np.ndarray]:
    """The run's recipe applied at its cutoff: (window, calibrated (n, h, 3))."""
    h = recipe["horizon"]
    m = wide(hist)
    modeled = select_series(m, recipe["min_events"])
    x = m.loc[modeled]
    w = backtest.Window(hist.cutoff, modeled, x.to_numpy(), None)
    from forecasting import baselines

    for name in ("naive", "mean4", "snaive"):
        p = baselines.forecast(name, w.history, h)
        w.forecasts[name] = np.stack([p, p, p], axis=-1)
    if recipe["base"] in backtest.ARCHS:
        config = nets.read_config(artifacts)
        if config["series"] != modeled:
            raise MarqueeError("the store's history before the run's cutoff changed since training; retrain")
        genres = config["genres"]
        with built_from(artifacts / nets.MODEL_FILE):
            frame = nets.model_frame(hist, x, genres)
            ds = nets.make_dataset(frame, genres, config["encoder_length"], h, config["normalizer"])
        members = nets.load(artifacts, config, ds, device)
        future = nets.model_frame(hist, x, genres, h)
        q = nets.combine([nets.predict(net, ds, future, device) for net in members])
        w.forecasts[recipe["base"]] = np.stack([q[s] for s in modeled])
    return w, backtest.apply(w, recipe["base"], recipe["weight"], recipe["scales"])


def _genres_of(hist: History) -> dict[str, list[str]]:
    return {f"item:{i}": g for i, g in zip(hist.items["item_id"], hist.items["genres"], strict=True)}


def forecasts_frame(hist: History, recipe: dict, w: backtest.Window, q: np.ndarray) -> pd.DataFrame:
    """Rows series_id, ds, p10, p50, p90, method for the modeled series and every other title (fallback)."""
    h = recipe["horizon"]
    ds = pd.date_range(hist.cutoff, periods=h, freq=hist.step)
    method = "model" if recipe["base"] in backtest.ARCHS else recipe["base"]
    fc = dict(zip(w.series, q, strict=True))
    genre_fc = {s: v for s, v in fc.items() if s.startswith("genre:")}
    genres_of = _genres_of(hist)
    m = wide(hist)
    fb = fallback.forecast(series.fallback_titles(hist.items, w.series), genres_of, genre_fc, m, recipe["share_window"],
                           h, series.released(hist.items, ds, hist.step))
    rows = [(s, v, method) for s, v in fc.items()] + [(s, v, "genre_fallback") for s, v in fb.items()]
    ids = np.repeat([r[0] for r in rows], h)
    vals = np.concatenate([r[1] for r in rows]) if rows else np.zeros((0, 3))
    return pd.DataFrame({"series_id": ids, "ds": np.tile(ds.date, len(rows)),
                         "p10": vals[:, 0], "p50": vals[:, 1], "p90": vals[:, 2],
                         "method": np.repeat([r[2] for r in rows], h)})


def score(home: Home = None, run_id: str | None = None, device: str = "auto", **options) -> dict:
    """Publish the run's forecasts for `horizon` periods from its cutoff: every series, flagged fallbacks."""
    run = runs.resolve("forecast", run_id, home)
    with of_run(run["run_id"], "forecast"):
        recipe = _recipe(run)
        dev = pick_device(device)
        hist = _history(home, recipe["cutoff"], recipe["freq"], _config(recipe, run).event_types)
        w, q = _forecast(hist, recipe, Path(run["artifact_uri"]), dev)
    df = forecasts_frame(hist, recipe, w, q)
    counts = runs.publish(run["run_id"], {"forecasts": df}, home=home)
    fallbacks = df.loc[df["method"] == "genre_fallback", "series_id"].unique()
    genre_fc = set(df.loc[df["series_id"].str.startswith("genre:"), "series_id"])
    genres_of = _genres_of(hist)
    return {"run_id": run["run_id"], "rows": counts["forecasts"], "series": int(df["series_id"].nunique()),
            "genre_fallback_titles": len(fallbacks),
            # of those, the ones with no genre to go by (fallback.forecast gives them the fallback titles' mean)
            "no_genre_titles": sum(not fallback.forecast_genres(genres_of.get(s, []), genre_fc) for s in fallbacks)}


def evaluate(home: Home = None, run_id: str | None = None, device: str = "auto", origins: int = 3,
             progress: bool = True, **options) -> dict:
    """Rolling-origin backtest of the run's recipe inside its history (refit at each origin), against naive
    and mean4; an origin whose window holds no event is left out (its WAPE has nothing to divide by);
    metrics are recorded in the run."""
    run = runs.resolve("forecast", run_id, home)
    with of_run(run["run_id"], "forecast"):
        recipe = _recipe(run)
    cfg = _config(recipe, run)
    dev = pick_device(device)
    hist = _history(home, recipe["cutoff"], recipe["freq"], cfg.event_types)
    base, weight = recipe["base"], recipe["weight"]
    archs = [base] if base in backtest.ARCHS else []
    per_origin = {}
    for origin in backtest.inner_origins(hist, cfg, origins, stride=cfg.horizon):
        w = backtest.window(hist, origin, cfg, archs, dev, int(run["params"].get("seed", 42)), progress)
        if base not in w.forecasts or not np.nansum(w.truth):   # WAPE divides by the window's events
            continue
        per_origin[str(origin.date())] = {
            "recipe": backtest.metrics(w, backtest.apply(w, base, weight, recipe["scales"])),
            "naive": backtest.metrics(w, w.forecasts["naive"], intervals=False),
            "mean4": backtest.metrics(w, w.forecasts["mean4"], intervals=False),
        }
    if not per_origin:
        raise MarqueeError("not enough history before the run's cutoff for a rolling-origin backtest "
                           "(or no event in its windows)")
    mean = {k: {m: float(np.mean([o[k][m] for o in per_origin.values()])) for m in ("wape", "mase", "coverage80")
                if m in next(iter(per_origin.values()))[k]} for k in ("recipe", "naive", "mean4")}
    result = {"backtest": {"recipe": recipe["name"], "horizon": recipe["horizon"], "origins": per_origin, "mean": mean}}
    runs.record_metrics(run["run_id"], result, home)
    return result
