"""EASE (Steck 2019): a closed-form item-item linear autoencoder with a zero diagonal.

B = argmin ||X - X B||^2 + l2 ||B||^2, diag(B) = 0  =>  P = (X^T X + l2 I)^-1, B = -P / diag(P).
One I x I (Cholesky) inverse, on the device, in float32 (bf16 is too coarse for an inverse).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from data.device import factorising
from recsys.models.base import Recommender, columns, history_times


class EASE(Recommender):
    kind = "ease"

    def __init__(self, device="cpu", seed=42, l2: float = 500.0, binary: bool = True, **params):
        """binary: fit and score on 0/1 (ratings as weights did worse on validation)."""
        super().__init__(device, seed, l2=l2, binary=binary, **params)
        self.B: torch.Tensor | None = None   # (I, I)

    def _fit(self, X: sp.csr_matrix, validation) -> None:
        if self.params["binary"]:
            X = (X > 0).astype(np.float32)
        with factorising(self.device):
            self.B = ease_weights(X, self.params["l2"], self.device)

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        return history_times((history > 0).float() if self.params["binary"] else history, self.B)

    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        # score_j = sum_i h_i B[i, j]: title i's share of the score of j is B[i, j]
        return columns(self, self.B, items)

    def state(self):
        return {"B": self.B}

    def set_state(self, tensors):
        self.B = tensors["B"]


def ease_weights(X: sp.spmatrix, l2: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """B = -P / diag(P) with a zero diagonal, P = (X^T X + l2 I)^-1, as float32 on `device`.

    X^T X + l2 I is symmetric positive definite: a Cholesky inverse costs about half of a general (LU) one
    (3.7 s against 7.7 s for 6,000 titles on one CPU thread). At most two I x I matrices are alive at once
    (the Gram matrix or its factor, and P, which becomes B in place): at 20,000 titles each is 1.6 GB, and
    `G += l2 * eye(I)`, `-P / diag(P)` had kept up to four (bench/ease_memory.py)."""
    G = torch.as_tensor((X.T @ X).toarray(), dtype=torch.float32, device=device)
    G.diagonal().add_(l2)
    L = torch.linalg.cholesky(G)
    del G
    P = torch.cholesky_inverse(L)
    del L
    P.div_(torch.diagonal(P).clone()[None, :]).neg_()
    P.fill_diagonal_(0.0)
    return P


def scaled_l2(params: dict, fit_rows: int, all_rows: int) -> dict:
    """X^T X grows with the data, so the penalty found on the fit part is scaled for the refit."""
    return {**params, "l2": float(params["l2"] * all_rows / max(1, fit_rows))}



