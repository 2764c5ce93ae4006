"""Built-in baselines over a series x periods matrix (the last column is the newest period).

Each returns (n_series, horizon) point forecasts. They are both model candidates and the yardstick
every backtest reports against.
"""
from __future__ import annotations

import numpy as np


def naive(x: np.ndarray, horizon: int) -> np.ndarray:
    """The last period, repeated."""
    return np.repeat(x[:, -1:], horizon, axis=1)


def mean_last(x: np.ndarray, horizon: int, k: int = 4) -> np.ndarray:
    """The mean of the last `k` periods (fewer if the history is shorter), repeated."""
    return np.repeat(x[:, -k:].mean(axis=1, keepdims=True), horizon, axis=1)


def seasonal_naive(x: np.ndarray, horizon: int, season: int = 7) -> np.ndarray:
    """The value one season back: step k repeats period T - season + (k mod season)."""
    if x.shape[1] < season:
        return naive(x, horizon)
    cols = x.shape[1] - season + (np.arange(horizon) % season)
    return x[:, cols]


def forecast(name: str, x: np.ndarray, horizon: int) -> np.ndarray:
    if name == "naive":
        return naive(x, horizon)
    if name == "mean4":
        return mean_last(x, horizon, 4)
    if name == "snaive":
        return seasonal_naive(x, horizon, 7)
    raise KeyError(name)
