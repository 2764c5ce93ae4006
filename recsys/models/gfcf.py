"""GF-CF (Shen et al. 2021): graph-filter collaborative filtering, training-free.

R~ = D_u^-1/2 R D_i^-1/2 (0/1 R). A linear low-pass filter P~ = R~^T R~ plus `alpha` times an ideal
low-pass filter D_i^-1/2 V_k V_k^T D_i^1/2 (V_k: the top-`factors` right singular vectors of R~,
taken as eigenvectors of P~ so the cost grows with titles, not users) fold into one (I, I) matrix W;
scores = h @ W. It ranks a little below EASE alone, but its errors differ: as a fourth blend
component it lifted validation nDCG@10 on each of four validation splits of MovieLens-100k.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recsys.models.base import ItemItem, binary_degrees

EXACT_MAX_ITEMS = 4096   # up to here a full float64 eigendecomposition (seconds); past it the top-k only
ROW_BLOCK = 2048         # rows of the low-rank term made at a time (164 MB at 20,000 titles)


def top_eigenvectors(R: sp.csr_matrix, k: int, device) -> torch.Tensor:
    """(I, k) eigenvectors of R^T R with the largest eigenvalues (the top right singular vectors of R),
    float32 on `device`.

    A full `eigh` costs ~9 I^3 flops: fine for MovieLens' 1,682 titles, hours for 20,000 on a CPU. Past
    EXACT_MAX_ITEMS titles, Lanczos (ARPACK, a fixed start vector: same input, same vectors) finds only
    the k needed, each step two products with the sparse R. Both run in float64: close eigenvalues make
    float32 eigenvectors (and so scores) wobble."""
    n = R.shape[1]
    k = min(k, n)
    if k <= 0:
        return torch.zeros((n, 0), device=device)
    if n <= EXACT_MAX_ITEMS:
        P = torch.as_tensor((R.T @ R).toarray(), dtype=torch.float64, device=device)
        return torch.linalg.eigh(P)[1][:, -k:].float()
    from scipy.sparse.linalg import LinearOperator, eigsh

    R64 = R.astype(np.float64).tocsr()
    op = LinearOperator((n, n), matvec=lambda x: R64.T @ (R64 @ x), dtype=np.float64)
    _, vecs = eigsh(op, k=k, which="LA", v0=np.ones(n))
    return torch.as_tensor(vecs, dtype=torch.float32, device=device)


class GFCF(ItemItem):
    kind = "gfcf"

    def __init__(self, device="cpu", seed=42, factors: int = 64, alpha: float = 0.1, **params):
        super().__init__(device, seed, factors=factors, alpha=alpha, **params)

    def _fit(self, X: sp.csr_matrix, validation) -> None:
        B, user_deg, item_deg = binary_degrees(X)
        R = sp.diags(user_deg ** -0.5) @ B @ sp.diags(item_deg ** -0.5)
        # (I, I) matrices are 1.6 GB each at 20,000 titles: `P + alpha * L` held four at once (P, L, alpha * L,
        # the sum); L is now scaled and added a block of rows at a time, so only W is whole. R^T R comes out CSC,
        # whose dense form is column-major: `fit` then copied W whole to make it row-major (the peak of a
        # 20,000-title train's refit); as CSR (the same values) it is row-major from the start
        W = torch.as_tensor((R.T @ R).tocsr().toarray(), dtype=torch.float32, device=self.device)
        V = top_eigenvectors(R, int(self.params["factors"]), self.device)
        d = torch.as_tensor(item_deg, dtype=torch.float32, device=self.device).sqrt()
        add_low_rank(W, V / d[:, None], (V * d[:, None]).T, self.params["alpha"])
        W.fill_diagonal_(0.0)   # a title never recommends itself (and is masked as seen anyway)
        self.W = W


def add_low_rank(W: torch.Tensor, A: torch.Tensor, Bt: torch.Tensor, alpha: float, rows: int = ROW_BLOCK) -> None:
    """W += alpha * (A @ Bt), `rows` rows at a time: the whole product was one more (I, I) matrix beside W (the
    peak of a 20,000-title train's refit). Each block's entries are the same dot products as the whole product's
    (tested; also checked at 20,000 x 20,000 with 64 factors, on one and two threads)."""
    for s in range(0, W.shape[0], rows):
        W[s:s + rows].add_((A[s:s + rows] @ Bt).mul_(alpha))
