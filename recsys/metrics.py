"""Ranking metrics as free functions, the same definitions as the shared evalkit.

`hits` is a (n_users, k) 0/1 array: hits[u, r] = 1 when the title at rank r+1 is relevant.
nDCG@k divides by the ideal DCG of min(|relevant|, k) hits; MAP@k divides by min(|relevant|, k).
Users with no relevant titles are skipped (they carry no signal).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch


def hits_matrix(ranked: Sequence[Sequence], relevant: Sequence[set], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(hits (n, k), n_relevant (n,)) from ranked lists and relevant sets (short lists pad with misses)."""
    hits = np.zeros((len(ranked), k))
    for u, (items, rel) in enumerate(zip(ranked, relevant, strict=True)):
        for r, item in enumerate(list(items)[:k]):
            hits[u, r] = item in rel
    return hits, np.array([len(r) for r in relevant], dtype=float)


def _keep(n_rel: np.ndarray) -> np.ndarray:
    return n_rel > 0


def ndcg_from_hits(hits: np.ndarray, n_rel: np.ndarray) -> float:
    k = hits.shape[1]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(disc)[np.minimum(n_rel, k).astype(int).clip(min=1) - 1]
    keep = _keep(n_rel)
    return float(((hits * disc).sum(1)[keep] / ideal[keep]).mean()) if keep.any() else 0.0


def precision_from_hits(hits: np.ndarray, n_rel: np.ndarray) -> float:
    keep = _keep(n_rel)
    return float((hits.sum(1)[keep] / hits.shape[1]).mean()) if keep.any() else 0.0


def recall_from_hits(hits: np.ndarray, n_rel: np.ndarray) -> float:
    keep = _keep(n_rel)
    return float((hits.sum(1)[keep] / n_rel[keep]).mean()) if keep.any() else 0.0


def map_from_hits(hits: np.ndarray, n_rel: np.ndarray) -> float:
    k = hits.shape[1]
    prec = np.cumsum(hits, 1) / np.arange(1, k + 1)
    keep = _keep(n_rel)
    return float(((prec * hits).sum(1)[keep] / np.minimum(n_rel[keep], k)).mean()) if keep.any() else 0.0


def ndcg_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    return ndcg_from_hits(*hits_matrix(ranked, relevant, k))


def precision_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    return precision_from_hits(*hits_matrix(ranked, relevant, k))


def recall_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    return recall_from_hits(*hits_matrix(ranked, relevant, k))


def map_at_k(ranked: Sequence[Sequence], relevant: Sequence[set], k: int = 10) -> float:
    return map_from_hits(*hits_matrix(ranked, relevant, k))


def all_from_hits(hits: np.ndarray, n_rel: np.ndarray, k: int) -> dict[str, float]:
    return {f"ndcg@{k}": ndcg_from_hits(hits, n_rel), f"precision@{k}": precision_from_hits(hits, n_rel),
            f"recall@{k}": recall_from_hits(hits, n_rel), f"map@{k}": map_from_hits(hits, n_rel)}


def topk_hits(scores: torch.Tensor, seen: torch.Tensor, heldout: torch.Tensor, k: int) -> np.ndarray:
    """Top-k of `scores` (B, I) with `seen` (B, I) masked out, as hits against `heldout` (B, I)
    (B, k); a catalogue of fewer than k titles leaves the last columns without hits."""
    masked = scores.float().masked_fill(seen > 0, float("-inf"))
    return hits_of(masked.topk(min(k, masked.shape[1]), dim=1).indices, heldout, k)


def hits_of(top: torch.Tensor, heldout: torch.Tensor, k: int) -> np.ndarray:
    """(B, <= k) ranked title indices -> (B, k) hits against `heldout` (B, I), 0 past the ranked ones."""
    hits = np.zeros((top.shape[0], k), np.float32)
    hits[:, :top.shape[1]] = (heldout.gather(1, top) > 0).float().cpu().numpy()
    return hits


def evaluate(model, fit: sp.csr_matrix, heldout: sp.csr_matrix, k: int = 10, users: np.ndarray | None = None,
             batch_size: int = 1024) -> dict[str, float]:
    """P/R/nDCG/MAP@k of a fitted model: rank all titles, drop each user's `fit` titles, compare the
    top k with `heldout`. Only users with held-out titles count (optionally a given subset)."""
    n_rel_all = np.diff(heldout.indptr)
    if users is None:
        users = np.flatnonzero(n_rel_all > 0)
    parts = []
    for s in range(0, len(users), batch_size):
        idx = users[s:s + batch_size]
        scores = model.score(torch.as_tensor(idx, device=model.device))
        seen = torch.as_tensor(fit[idx].toarray(), device=scores.device)
        held = torch.as_tensor(heldout[idx].toarray(), device=scores.device)
        parts.append(topk_hits(scores, seen, held, k))
    hits = np.concatenate(parts) if parts else np.zeros((0, k))
    return all_from_hits(hits, n_rel_all[users].astype(float), k)
