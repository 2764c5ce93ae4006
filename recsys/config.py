"""Recommender settings: one dataclass with `quick` (2-core CPU) and `full` (GPU) presets.

The grids are small on purpose: every point is fitted on the training part of a validation
split carved out of the training data, and the winner is refitted on all of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

Grid = dict[str, list[dict[str, Any]]]

QUICK_GRID: Grid = {
    # lambda is scaled by (all rows / fit rows) at refit, since X^T X grows with the data
    "ease": [{"l2": 250.0}, {"l2": 500.0}, {"l2": 900.0}],
    "rp3beta": [{"alpha": 0.6, "beta": 0.5}, {"alpha": 0.6, "beta": 0.6}, {"alpha": 0.8, "beta": 0.4}],
    "ials": [{"factors": 64, "l2": 50.0, "alpha": 10.0, "iterations": 10}],
    # training-free; alone a little below EASE, but a fourth blend component that helps (docs/benchmarks.md)
    "gfcf": [{"factors": 64, "alpha": 0.1}],
    "mf": [{"dim": 64, "layers": 0, "epochs": 40}],
    "lightgcn": [{"dim": 64, "layers": 3, "epochs": 40}],
}

FULL_GRID: Grid = {
    "ease": [{"l2": v} for v in (150.0, 250.0, 400.0, 600.0, 900.0, 1400.0)],
    "rp3beta": [{"alpha": a, "beta": b} for a in (0.4, 0.6, 0.8, 1.0) for b in (0.3, 0.4, 0.5, 0.6, 0.7)],
    "ials": [{"factors": f, "l2": r, "alpha": a, "iterations": 15}
             for f in (64, 128) for r in (20.0, 50.0, 100.0) for a in (5.0, 10.0, 20.0)],
    "gfcf": [{"factors": f, "alpha": a} for f in (32, 64, 128) for a in (0.1, 0.3)],
    "mf": [{"dim": 64, "layers": 0, "epochs": 200}],
    "lightgcn": [{"dim": 64, "layers": 3, "epochs": 300}],
}


@dataclass
class RecsysConfig:
    profile: str = "quick"
    candidates: tuple[str, ...] = ("ease", "rp3beta", "ials", "gfcf")   # what `--model auto` tries
    grid: Grid = field(default_factory=lambda: QUICK_GRID)
    blend: bool = True             # also try a validation-weighted blend of the best of each kind
    blend_step: float = 0.1        # weight grid on the simplex
    val_frac: float = 0.2          # per user, of the training interactions
    max_val_users: int = 5000      # cap on users scored during selection (big stores)
    k: int = 10                    # selection metric: nDCG@k
    weighting: str = "rating"      # matrix values: rating / max rating (missing: 1) | binary; models
                                   # choose: EASE and RP3beta use 0/1, iALS the weights as confidence
    batch_size: int = 1024         # users per batch when scoring validation
    # torch CPU threads (0: torch's default). Many small batched solves spend more time syncing
    # threads than computing: on 2 shared cores one thread trained MovieLens-100k in 21 s wall
    # (8 s CPU) against 52 s wall (25 s CPU) with two.
    cpu_threads: int = 1
    # torch threads for EASE's I x I Cholesky, which does keep every thread busy (0: every core)
    factor_threads: int = 0


def preset(profile: str, **overrides: Any) -> RecsysConfig:
    """`quick`: EASE, RP3beta, iALS, GF-CF and their blend (< 1 min on 2 CPU cores for MovieLens-100k).
    `full`: wider grids plus BPR-MF and LightGCN, sized for a GPU."""
    if profile == "quick":
        cfg = RecsysConfig()
    elif profile == "full":
        cfg = RecsysConfig(profile="full", candidates=("ease", "rp3beta", "ials", "gfcf", "mf", "lightgcn"),
                           grid=FULL_GRID, cpu_threads=0)
    else:
        raise ValueError(f"unknown profile {profile!r}")
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
