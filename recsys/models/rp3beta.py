"""RP3beta (Paudel et al. 2017): 3-step random walk user -> title -> user -> title, with the
arrival probability of popular titles divided by popularity^beta and every transition
probability raised to alpha. W (I, I) is a dense item-item matrix; scores = h @ W.
"""
from __future__ import annotations

import scipy.sparse as sp
import torch

from recsys.models.base import ItemItem, binary_degrees


class RP3beta(ItemItem):
    kind = "rp3beta"

    def __init__(self, device="cpu", seed=42, alpha: float = 0.6, beta: float = 0.5, **params):
        super().__init__(device, seed, alpha=alpha, beta=beta, **params)

    def _fit(self, X: sp.csr_matrix, validation) -> None:
        a, b = self.params["alpha"], self.params["beta"]
        B, user_deg, item_deg = binary_degrees(X)
        p_ui = sp.diags(1.0 / user_deg) @ B                    # (U, I) user -> title
        p_iu = (B @ sp.diags(1.0 / item_deg)).T.tocsr()        # (I, U) title -> user
        W = (p_iu.power(a) @ p_ui.power(a)).toarray()          # (I, I) two steps title -> title
        W = torch.as_tensor(W, dtype=torch.float32, device=self.device)
        W /= torch.as_tensor(item_deg ** b, dtype=torch.float32, device=self.device)[None, :]
        W.fill_diagonal_(0.0)
        self.W = W
