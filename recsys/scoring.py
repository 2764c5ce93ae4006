"""Batch scoring: top-k titles per user with a reason, and the most similar titles per title.

Users go through in batches; only a (batch, titles) block is ever dense, top-k runs on the
device, and a user's own titles are masked out before it (never recommend a seen title).
A known user with unchanged history is scored from the model's own user state; anyone else
(new users, new events) is folded in from their history without retraining.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recsys.models import Recommender
from recsys.models.base import rows_dense

REASON_BATCH = 128   # users per reason block: (users * k, titles) similarities at a time


@dataclass
class TopK:
    """items / scores / reasons: (R, k); items -1 where fewer than k titles were left; reasons
    index the history title that explains the pick (-1: none)."""
    items: np.ndarray
    scores: np.ndarray
    reasons: np.ndarray


def popularity(model: Recommender) -> np.ndarray:
    """(I,) share of training users who have each title."""
    return np.asarray((model.train > 0).sum(0)).ravel() / max(1, model.train.shape[0])


def explain(model: Recommender, history: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
    """(B, I) histories, (B, k) picks -> (B, k): the history title most similar to each pick, or -1 where
    none is similar to it at all (similarity <= 0)."""
    B, k = picks.shape
    out = torch.full((B, k), -1, dtype=torch.int64, device=picks.device)
    for s in range(0, B, REASON_BATCH):
        p = picks[s:s + REASON_BATCH]
        h = history[s:s + REASON_BATCH]
        sim = model.item_similarity(p.clamp(min=0).reshape(-1)).float().reshape(len(p), k, -1)  # (b, k, I)
        sim = sim.masked_fill((h <= 0)[:, None, :], float("-inf"))
        best = sim.max(-1)
        # a title that is not positively similar to the pick is no reason for it ("picked for you")
        out[s:s + REASON_BATCH] = torch.where((best.values > 0) & (p >= 0), best.indices, -1)
    return out


@torch.no_grad()
def recommend(model: Recommender, history: sp.csr_matrix, known: np.ndarray, k: int = 10,
              batch_size: int = 1024) -> TopK:
    """Top-k for every row of `history` (R, I). known[r] is the model's user row for r when the
    history is exactly what the model was trained on, else -1 (fold in). Rows with no history get
    nothing here (see `popular`)."""
    R = history.shape[0]
    k = min(k, history.shape[1])
    items = np.full((R, k), -1, np.int64)
    scores = np.full((R, k), np.nan, np.float32)
    reasons = np.full((R, k), -1, np.int64)
    rows = np.flatnonzero(np.diff(history.indptr) > 0)
    for s in range(0, len(rows), batch_size):
        r = rows[s:s + batch_size]
        h = rows_dense(history, r, model.device)
        sc = torch.empty_like(h)
        kn = known[r] >= 0
        mask = torch.as_tensor(kn, device=h.device)
        if kn.any():
            sc[mask] = model.score(torch.as_tensor(known[r][kn], device=h.device)).float()
        if (~kn).any():
            sc[~mask] = model.score_history(h[~mask]).float()
        top = sc.masked_fill(h > 0, float("-inf")).topk(k, dim=1)
        picks = torch.where(torch.isfinite(top.values), top.indices, -1)
        items[r] = picks.cpu().numpy()
        scores[r] = top.values.cpu().numpy()
        reasons[r] = explain(model, h, picks).cpu().numpy()
    return TopK(items, scores, reasons)


def to_frame(user_ids: np.ndarray, top: TopK, item_ids: np.ndarray, titles: dict[str, str]) -> pd.DataFrame:
    """Long table user_id, item_id, rank, score, reason (the picks that exist)."""
    R, k = top.items.shape
    ok = top.items >= 0
    users = np.repeat(np.asarray(user_ids, dtype=object), k).reshape(R, k)[ok]
    picks = top.items[ok]
    why = top.reasons[ok]
    watched = np.where(why >= 0, item_ids[np.maximum(why, 0)], None)
    reason = [f"because you watched {titles.get(w, w)}" if w is not None else "picked for you" for w in watched]
    return pd.DataFrame({"user_id": users.astype(str), "item_id": item_ids[picks].astype(str),
                         "rank": np.tile(np.arange(1, k + 1), R).reshape(R, k)[ok].astype("int32"),
                         "score": top.scores[ok].astype("float64"), "reason": reason})


def popular(model: Recommender, user_ids: list[str], item_ids: np.ndarray, k: int = 10) -> pd.DataFrame:
    """The k most popular titles, reason `popular`, for users with no history."""
    pop = popularity(model)
    order = np.argsort(-pop, kind="stable")[:k]
    n = len(user_ids)
    return pd.DataFrame({"user_id": np.repeat(np.asarray(user_ids, dtype=object), len(order)).astype(str),
                         "item_id": np.tile(item_ids[order], n).astype(str),
                         "rank": np.tile(np.arange(1, len(order) + 1), n).astype("int32"),
                         "score": np.tile(pop[order], n).astype("float64"), "reason": "popular"})


@torch.no_grad()
def similar_items(model: Recommender, item_ids: np.ndarray, k: int = 20, batch_size: int = 512) -> pd.DataFrame:
    """item_id, similar_item_id, rank, score: the k most similar other titles of every title, of those with a
    positive similarity (as for reasons: a title watched by no one who watched this one is not similar, and a
    ranking of zeros would be arbitrary)."""
    parts = []
    for s in range(0, model.n_items, batch_size):
        idx = torch.arange(s, min(s + batch_size, model.n_items), device=model.device)
        sc, nb = model.similar_items(idx, k)
        kk = nb.shape[1]
        parts.append(pd.DataFrame({
            "item_id": np.repeat(item_ids[idx.cpu().numpy()], kk).astype(str),
            "similar_item_id": item_ids[nb.cpu().numpy().ravel()].astype(str),
            "rank": np.tile(np.arange(1, kk + 1), len(idx)).astype("int32"),
            "score": sc.float().cpu().numpy().ravel().astype("float64")}))
    out = pd.concat(parts, ignore_index=True)
    return out[out["score"] > 0].reset_index(drop=True)
