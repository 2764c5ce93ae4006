"""Model selection on a validation split of the training data, then a refit on all of it.

For each candidate kind, every grid point is fitted on the fit part and scored (nDCG@k) on the
validation part; the best of each kind is kept, as its standardized validation scores (what the blend
search needs), never as the fitted model. A blend of those bests, with weights searched on a simplex
grid against the same validation users, competes too. The winner is refitted on
all the training data (EASE's penalty scaled with the data; iterative models keep the epoch
count that early stopping found). The test data of any benchmark never comes near this.
"""
from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from tqdm import tqdm

from data.errors import MarqueeError
from recsys import metrics
from recsys.config import RecsysConfig
from recsys.dataset import split_validation
from recsys.models import Recommender, make_recommender
from recsys.models.blend import standardize
from recsys.models.ease import scaled_l2
from recsys.pooled_topk import PooledTopK


@dataclass
class Selection:
    kind: str
    params: dict
    validation: dict[str, float | None]                  # winner's metrics on the validation split (None: unmeasured)
    candidates: dict[str, dict] = field(default_factory=dict)   # kind -> best params, val metrics, seconds
    fit_rows: int = 0                                    # interactions the candidates were fitted on
    validation_users: int = 0                            # users scored on validation (0: nothing measured)


def _simplex(n: int, step: float) -> list[tuple[float, ...]]:
    steps = round(1 / step)
    return [tuple(c / steps for c in combo) for combo in itertools.product(range(steps + 1), repeat=n)
            if sum(combo) == steps]


def _val_users(val: sp.csr_matrix, cap: int, seed: int) -> np.ndarray:
    users = np.flatnonzero(np.diff(val.indptr) > 0)
    if len(users) > cap:
        users = np.sort(np.random.default_rng(seed).choice(users, cap, replace=False))
    return users


def _standardized(model: Recommender, fit: sp.csr_matrix, users: np.ndarray, cfg: RecsysConfig
                  ) -> list[torch.Tensor]:
    """Per block of `cfg.batch_size` validation users, the (B, I) standardized scores the blend search weighs.

    The selection keeps these for each kind's best instead of the fitted model: 5,000 users x I titles (400 MB at
    20,000) against an item-item model's I x I (1.6 GB), and holding the best EASE, RP3beta and GF-CF models
    while fitting the next candidates had made the selection the peak of a 20,000-title train."""
    out = []
    for s in range(0, len(users), cfg.batch_size):
        block = users[s:s + cfg.batch_size]
        seen = torch.as_tensor(fit[block].toarray(), device=model.device)
        out.append(standardize(model.score(torch.as_tensor(block)).float(), seen))
    return out


def _search_blend(z: dict[str, list[torch.Tensor]], fit: sp.csr_matrix, val: sp.csr_matrix, users: np.ndarray,
                  cfg: RecsysConfig) -> tuple[tuple[float, ...], dict[str, float]]:
    """Weights on the simplex maximizing validation nDCG@k over standardized component scores (`_standardized`).

    Users go through in the same blocks of `cfg.batch_size`, each block's hits kept for every weight vector: every
    step is per user (z-scores, pools, top-k), so the result is the one of all users at once, while the pools
    and top-k work on one block at a time."""
    kinds = list(z)
    grid = [w for w in _simplex(len(kinds), cfg.blend_step) if max(w) < 1.0]   # single models were scored already
    hits = np.zeros((len(grid), len(users), cfg.k), np.float32)
    for b, s in enumerate(range(0, len(users), cfg.batch_size)):
        block = users[s:s + cfg.batch_size]
        parts = [z[k][b] for k in kinds]
        seen = torch.as_tensor(fit[block].toarray(), device=parts[0].device)
        held = torch.as_tensor(val[block].toarray(), device=parts[0].device)
        pool = PooledTopK(parts, seen, cfg.k)
        for g, w in enumerate(grid):
            hits[g, s:s + len(block)] = metrics.hits_of(pool.topk(w), held, cfg.k)
    n_rel = np.diff(val.indptr)[users].astype(float)
    best_w, best_m = None, {f"ndcg@{cfg.k}": -1.0}
    for g, w in enumerate(grid):
        m = metrics.all_from_hits(hits[g], n_rel, cfg.k)
        if m[f"ndcg@{cfg.k}"] > best_m[f"ndcg@{cfg.k}"]:
            best_w, best_m = w, m
    return best_w, best_m


def select(matrix: sp.csr_matrix, cfg: RecsysConfig, model: str, device: torch.device, seed: int) -> Selection:
    """Choose kind + params (or blend weights) on validation. `model`: a kind, `blend`, or `auto`."""
    fit, val = split_validation(matrix, cfg.val_frac, seed)
    users = _val_users(val, cfg.max_val_users, seed)
    kinds = list(cfg.candidates) if model in ("auto", "blend") else [model]
    key = f"ndcg@{cfg.k}"
    if not len(users):
        return _unmeasured(kinds[0] if model == "auto" else model, cfg, fit.nnz)
    blending = model in ("auto", "blend") and cfg.blend and len(kinds) > 1
    best: dict[str, tuple[dict, dict, list[torch.Tensor] | None]] = {}   # kind -> params, scores, blend inputs
    candidates: dict[str, dict] = {}
    points = [(k, p) for k in kinds for p in cfg.grid[k]]
    for kind, params in tqdm(points, desc="recsys: validating candidates", file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        m = make_recommender(kind, device, seed, **params).fit(fit, validation=val)
        scores = metrics.evaluate(m, fit, val, cfg.k, users, cfg.batch_size)
        seconds = round(time.perf_counter() - t0, 2)
        if kind not in best or scores[key] > best[kind][1][key]:
            best[kind] = (dict(m.params), scores, None)   # the old best's blend inputs go before the new ones
            if blending:
                best[kind] = (dict(m.params), scores, _standardized(m, fit, users, cfg))
            candidates[kind] = {"params": dict(m.params), "validation": scores, "fit_seconds": seconds}
        del m   # no model outlives its grid point: a loser's (I, I) matrix had stayed beside the next fit
    if blending and len(best) > 1:
        weights, scores = _search_blend({k: b[2] for k, b in best.items()}, fit, val, users, cfg)
        if weights is not None:
            comps = [{"kind": k, "params": best[k][0], "weight": w} for k, w in zip(best, weights, strict=True) if w]
            candidates["blend"] = {"params": {"components": comps}, "validation": scores}
    if model != "auto" and model not in candidates:
        raise ValueError(f"no {model} candidate was fitted (a blend needs two or more candidate kinds)")
    pool = candidates if model == "auto" else {model: candidates[model]}
    winner = max(pool, key=lambda k: pool[k]["validation"][key])
    return Selection(winner, pool[winner]["params"], pool[winner]["validation"], candidates, fit.nnz, len(users))


def _unmeasured(kind: str, cfg: RecsysConfig, fit_rows: int) -> Selection:
    """No user has the 3 titles it takes to hold one out, so nothing can be measured or compared: `kind` (auto:
    the first candidate) with its first settings, its metrics None (0.0 would read as a model that misses)."""
    if kind == "blend":
        raise MarqueeError("a blend is weighted on validation users, and no user has the 3 or more titles it "
                           "takes to hold one out: train one model (e.g. --model ease), or ingest more events")
    blank = {f"{name}@{cfg.k}": None for name in ("ndcg", "precision", "recall", "map")}
    params = dict(cfg.grid[kind][0])
    return Selection(kind, params, blank, {kind: {"params": params, "validation": blank}}, fit_rows)


def refit_params(kind: str, params: dict, fit_rows: int, all_rows: int) -> dict:
    """Parameters for the refit on all training data (EASE's l2 grows with the data)."""
    if kind == "ease":
        return scaled_l2(params, fit_rows, all_rows)
    if kind == "blend":
        return {"components": [{**c, "params": refit_params(c["kind"], c["params"], fit_rows, all_rows)}
                               for c in params["components"]]}
    return params


def train(matrix: sp.csr_matrix, cfg: RecsysConfig, model: str, device: torch.device, seed: int
          ) -> tuple[Recommender, Selection]:
    """Select on validation, then refit the winner on all of `matrix`."""
    sel = select(matrix, cfg, model, device, seed)
    params = refit_params(sel.kind, sel.params, sel.fit_rows, matrix.nnz)
    final = make_recommender(sel.kind, device, seed, **params)
    return final.fit(matrix), sel
