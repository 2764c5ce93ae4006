"""Implicit ALS (Hu, Koren, Volinsky 2008): confidence 1 + alpha*w on observed titles, 1 elsewhere.

Each half-step solves, for every row r, (Y^T Y + Y_r^T diag(alpha w_r) Y_r + l2 I) x_r = Y_r^T (1 + alpha w_r):
w = rating / max rating by default (binary=True: w = 1); on validation, rating weights beat 0/1.
Y^T Y is shared, the rest only touches the row's observed entries (gathered and padded per chunk,
so cost scales with the nonzeros, never with U x I). The same solve folds in new users.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recsys.models.base import Recommender

CHUNK = 256


def _padded(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray, device
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(idx (R, L), weight (R, L)) of the rows' nonzeros, zero-padded to the longest row."""
    lens = indptr[rows + 1] - indptr[rows]
    L = max(int(lens.max()) if len(lens) else 0, 1)
    idx = np.zeros((len(rows), L), np.int64)
    w = np.zeros((len(rows), L), np.float32)
    for j, r in enumerate(rows):
        lo, hi = indptr[r], indptr[r + 1]
        idx[j, : hi - lo] = indices[lo:hi]
        w[j, : hi - lo] = data[lo:hi]
    return torch.as_tensor(idx, device=device), torch.as_tensor(w, device=device)


def solve_rows(M: sp.csr_matrix, Y: torch.Tensor, l2: float, alpha: float) -> torch.Tensor:
    """Least-squares factors (R, k) for every row of M (R, n) given the other side's factors Y (n, k)."""
    k = Y.shape[1]
    YtY = Y.T @ Y + l2 * torch.eye(k, device=Y.device)
    out = torch.zeros(M.shape[0], k, device=Y.device)
    rows = np.argsort(np.diff(M.indptr), kind="stable")   # similar lengths per chunk: little padding
    for s in range(0, len(rows), CHUNK):
        chunk = rows[s:s + CHUNK]
        idx, w = _padded(M.indptr, M.indices, M.data, chunk, Y.device)
        Yg = Y[idx]                                             # (R, L, k)
        A = YtY + (Yg * (alpha * w)[..., None]).transpose(1, 2) @ Yg
        b = (Yg * ((1 + alpha * w) * (w > 0))[..., None]).sum(1)
        out[chunk] = torch.linalg.solve(A, b)
    return out


class IALS(Recommender):
    kind = "ials"

    def __init__(self, device="cpu", seed=42, factors: int = 64, l2: float = 50.0, alpha: float = 10.0,
                 iterations: int = 10, binary: bool = False, **params):
        super().__init__(device, seed, factors=factors, l2=l2, alpha=alpha, iterations=iterations, binary=binary,
                         **params)
        self.user_factors: torch.Tensor | None = None   # (U, k)
        self.item_factors: torch.Tensor | None = None   # (I, k)

    def _fit(self, X: sp.csr_matrix, validation) -> None:
        p = self.params
        if p["binary"]:
            X = (X > 0).astype(np.float32)
        g = torch.Generator().manual_seed(self.seed)
        U = (torch.randn(X.shape[0], p["factors"], generator=g) * 0.01).to(self.device)
        V = (torch.randn(X.shape[1], p["factors"], generator=g) * 0.01).to(self.device)
        Xt = X.T.tocsr()
        for _ in range(p["iterations"]):
            U = solve_rows(X, V, p["l2"], p["alpha"])
            V = solve_rows(Xt, U, p["l2"], p["alpha"])
        self.user_factors, self.item_factors = U, V

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_factors[users.to(self.device)] @ self.item_factors.T

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        h = (history > 0).float() if self.params["binary"] else history
        u = solve_rows(sp.csr_matrix(h.cpu().numpy()), self.item_factors, self.params["l2"],
                       self.params["alpha"])
        return u @ self.item_factors.T

    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        V = torch.nn.functional.normalize(self.item_factors, dim=1)
        return V[items.to(self.device)] @ V.T

    def state(self):
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def set_state(self, tensors):
        self.user_factors, self.item_factors = tensors["user_factors"], tensors["item_factors"]
