"""LightGCN (He et al. 2020) trained with BPR; `layers=0` is plain BPR matrix factorization.

Embeddings of users and titles are smoothed over the normalized user-title graph
(A_hat = D^-1/2 A D^-1/2, mean of layers 0..L). Training: Adam, L2 on the batch's ego
embeddings, gradient clipping, bf16 autocast on CUDA (the sparse propagation stays fp32), early
stopping on validation nDCG@10.
New users fold in as the mean of their titles' final embeddings.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from data.device import autocast
from recsys.models.base import Recommender


def normalized_adjacency(X: sp.csr_matrix, device) -> torch.Tensor:
    n_users, n_items = X.shape
    B = (X > 0).astype(np.float32)
    A = sp.bmat([[None, B], [B.T, None]]).tocoo()
    deg = np.asarray(A.sum(1)).ravel().clip(min=1)
    vals = A.data / np.sqrt(deg[A.row] * deg[A.col])
    idx = torch.as_tensor(np.vstack([A.row, A.col]), dtype=torch.int64)
    return torch.sparse_coo_tensor(idx, torch.as_tensor(vals, dtype=torch.float32), (n_users + n_items, n_users + n_items),
                                   device=device, check_invariants=False).coalesce()


class LightGCN(Recommender):
    kind = "lightgcn"

    def __init__(self, device="cpu", seed=42, dim: int = 64, layers: int = 3, epochs: int = 40,
                 lr: float = 5e-3, l2: float = 1e-4, batch_size: int = 2048, eval_every: int = 5,
                 patience: int = 5, **params):
        super().__init__(device, seed, dim=dim, layers=layers, epochs=epochs, lr=lr, l2=l2,
                         batch_size=batch_size, eval_every=eval_every, patience=patience, **params)
        self.user_emb: torch.Tensor | None = None   # (U, d) after propagation
        self.item_emb: torch.Tensor | None = None   # (I, d)

    def _propagate(self, ego: torch.Tensor, A: torch.Tensor | None) -> torch.Tensor:
        out, h = ego, ego
        # fp32 even inside bf16 autocast: CUDA has no bf16 sparse matmul ("addmm_sparse_cuda")
        with torch.autocast(ego.device.type, enabled=False):
            for _ in range(self.params["layers"]):
                h = torch.sparse.mm(A, h.float())
                out = out + h
        return out / (self.params["layers"] + 1)

    def _fit(self, X: sp.csr_matrix, validation: sp.csr_matrix | None) -> None:
        from recsys import metrics

        p, dev = self.params, self.device
        U, n_items = X.shape
        g = torch.Generator().manual_seed(self.seed)
        ego = torch.nn.Parameter((torch.randn(U + n_items, p["dim"], generator=g) * 0.1).to(dev))
        A = normalized_adjacency(X, dev) if p["layers"] else None
        opt = torch.optim.Adam([ego], lr=p["lr"])
        coo = X.tocoo()
        users = torch.as_tensor(coo.row, dtype=torch.int64, device=dev)
        pos = torch.as_tensor(coo.col, dtype=torch.int64, device=dev)
        best, best_epoch, best_state, bad = -1.0, p["epochs"], None, 0
        for epoch in range(1, p["epochs"] + 1):
            perm = torch.randperm(len(users), generator=g).to(dev)
            for s in range(0, len(perm), p["batch_size"]):
                b = perm[s:s + p["batch_size"]]
                u, i = users[b], pos[b]
                j = torch.randint(0, n_items, (len(b),), generator=g).to(dev)
                with autocast(dev):
                    emb = self._propagate(ego, A)
                    eu, ei, ej = emb[u], emb[U + i], emb[U + j]
                    x = (eu * ei).sum(1) - (eu * ej).sum(1)
                    loss = torch.nn.functional.softplus(-x).mean()
                reg = (ego[u].pow(2).sum() + ego[U + i].pow(2).sum() + ego[U + j].pow(2).sum()) / len(b)
                opt.zero_grad()
                (loss.float() + p["l2"] * reg).backward()
                torch.nn.utils.clip_grad_norm_([ego], 10.0)
                opt.step()
            if validation is not None and (epoch % p["eval_every"] == 0 or epoch == p["epochs"]):
                self._set_from(ego, A, U)
                score = metrics.evaluate(self, X, validation)["ndcg@10"]
                if score > best:
                    best, best_epoch, bad = score, epoch, 0
                    best_state = (self.user_emb.clone(), self.item_emb.clone())
                else:
                    bad += 1
                    if bad >= p["patience"]:
                        break
        if best_state is not None:
            self.user_emb, self.item_emb = best_state
            self.params["epochs"] = best_epoch   # a refit on all the data trains this long
        else:
            self._set_from(ego, A, U)

    @torch.no_grad()
    def _set_from(self, ego: torch.Tensor, A, U: int) -> None:
        emb = self._propagate(ego.detach().float(), A)
        self.user_emb, self.item_emb = emb[:U].clone(), emb[U:].clone()

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_emb[users.to(self.device)] @ self.item_emb.T

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        w = history / history.sum(1, keepdim=True).clamp(min=1e-9)
        return (w @ self.item_emb) @ self.item_emb.T

    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        V = torch.nn.functional.normalize(self.item_emb, dim=1)
        return V[items.to(self.device)] @ V.T

    def state(self):
        return {"user_emb": self.user_emb, "item_emb": self.item_emb}

    def set_state(self, tensors):
        self.user_emb, self.item_emb = tensors["user_emb"], tensors["item_emb"]


class BPRMF(LightGCN):
    """Matrix factorization with the BPR ranking loss: LightGCN without propagation."""
    kind = "mf"

    def __init__(self, device="cpu", seed=42, layers: int = 0, **params):
        super().__init__(device, seed, layers=0, **params)
