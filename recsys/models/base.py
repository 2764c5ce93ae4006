"""The one `Recommender` protocol every model implements, and what they share.

Shapes: U users, I titles, B a batch. A model is fitted on a (U, I) CSR matrix of implicit
weights and keeps it (for masking and for scoring known users). Scores are raw model scores
(higher = better); callers mask seen titles. Files: `config.json` (kind, params, shapes) +
`model.safetensors` (the learned tensors and the training matrix), reloaded to identical scores.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.torch import save_file

from data.model_files import built_from, read_tensors, recorded_sha256, sha256

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAIN_TENSORS = ("train.indptr", "train.indices", "train.data")


def rows_dense(matrix: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, I) float32 dense rows of a CSR matrix on `device` (only a batch is ever dense)."""
    return torch.as_tensor(matrix[rows].toarray(), dtype=torch.float32, device=device)


def history_times(history: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """(B, I) histories @ an (I, I) item-item matrix, as a sparse product: a user has seen tens of the
    thousands of titles, so it costs nnz x I instead of B x I x I (50x faster at 20,000 titles, and
    2x at MovieLens' 1,682)."""
    return torch.sparse.mm(history.to_sparse(), W)


def columns(model: object, W: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """(B,) titles -> (B, I): columns `items` of the (I, I) matrix W (an item-item model's reasons and
    similar titles), read as rows of a transposed copy made once per matrix: gathering columns of a
    row-major matrix reads all of it, which made scoring 100k users at 20,000 titles take minutes."""
    cached = getattr(model, "_columns", None)
    if cached is None or cached[0] is not W:   # a refit or a load gives a new W
        cached = (W, W.T.contiguous())
        model._columns = cached
    return cached[1][items.to(W.device)]


class Recommender(ABC):
    """fit / score / score_history / similar_items / save / load; batch-first, on `self.device`."""
    kind: ClassVar[str]

    def __init__(self, device: str | torch.device = "cpu", seed: int = 42, **params: Any):
        self.device = torch.device(device)
        self.seed = seed
        self.params = dict(params)
        self.train: sp.csr_matrix | None = None

    # ---- training
    def fit(self, matrix: sp.csr_matrix, validation: sp.csr_matrix | None = None) -> Recommender:
        """Learn from `matrix` (U, I). `validation` (U, I), if given, is used for early stopping only."""
        self.train = sp.csr_matrix(matrix, dtype=np.float32)
        torch.manual_seed(self.seed)
        self._fit(self.train, validation)
        # the layout files will have: a reloaded model then runs the very same kernels (same scores)
        if self.state():
            self.set_state({k: v.contiguous() for k, v in self.state().items()})
        return self

    @abstractmethod
    def _fit(self, X: sp.csr_matrix, validation: sp.csr_matrix | None) -> None: ...

    # ---- scoring
    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    def history(self, users: torch.Tensor) -> torch.Tensor:
        """(B, I) training rows of known users."""
        return rows_dense(self.train, users.cpu().numpy(), self.device)

    def score(self, users: torch.Tensor) -> torch.Tensor:
        """(B,) row numbers of known users -> (B, I) scores."""
        return self.score_history(self.history(users))

    @abstractmethod
    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        """(B, I) histories (known or new users; fold-in, no retraining) -> (B, I) scores."""

    @abstractmethod
    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        """(B,) titles -> (B, I): how much having watched title j supports recommending items[b]
        (explains picks: "because you watched j"; ranks similar_items)."""

    def similar_items(self, items: torch.Tensor, k: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) titles -> (scores, indices), each (B, k): the most similar other titles."""
        sim = self.item_similarity(items).float()
        sim[torch.arange(len(items), device=sim.device), items.to(sim.device)] = float("-inf")
        return sim.topk(min(k, self.n_items - 1), dim=1)

    # ---- persistence
    def state(self) -> dict[str, torch.Tensor]:
        """The learned tensors (besides the training matrix)."""
        return {}

    def set_state(self, tensors: dict[str, torch.Tensor]) -> None:
        return None

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        X = self.train
        tensors = {k: v.detach().float().cpu().contiguous() for k, v in self.state().items()}
        tensors |= {"train.indptr": torch.as_tensor(X.indptr, dtype=torch.int64),
                    "train.indices": torch.as_tensor(X.indices, dtype=torch.int64),
                    "train.data": torch.as_tensor(X.data, dtype=torch.float32)}
        save_file(tensors, str(folder / WEIGHTS))
        (folder / CONFIG).write_text(json.dumps({"kind": self.kind, "seed": self.seed, "params": self.params,
                                                 "shape": list(X.shape),
                                                 "sha256": {WEIGHTS: sha256(folder / WEIGHTS)}}, indent=2))
        return folder

    @classmethod
    def from_files(cls, folder: Path, config: dict, device: str | torch.device) -> Recommender:
        """The model saved in `folder`; `config` is its config.json (kind, params, shape checked)."""
        with built_from(folder / CONFIG):
            model = cls(device=device, seed=config.get("seed", 42), **config["params"])
        weights = folder / WEIGHTS
        t = read_tensors(weights, TRAIN_TENSORS, recorded_sha256(config, WEIGHTS, folder / CONFIG))
        with built_from(weights):
            model.train = sp.csr_matrix((t.pop("train.data").numpy(), t.pop("train.indices").numpy(),
                                         t.pop("train.indptr").numpy()), shape=tuple(config["shape"]))
            model.train.check_format(full_check=True)
            model.set_state({k: v.to(model.device) for k, v in t.items()})
        return model


def binary_degrees(X: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """0/1 interactions, and each user's and each title's count of them (at least 1: never a division by 0)."""
    B = (X > 0).astype(np.float32)
    return B, np.asarray(B.sum(1)).ravel().clip(min=1), np.asarray(B.sum(0)).ravel().clip(min=1)


class ItemItem(Recommender):
    """A model that is one (I, I) matrix `W`: a history scores h @ W, every watched title alike, and title i
    explains a pick j by W[i, j]. Subclasses set `W` in `_fit`."""
    W: torch.Tensor | None = None

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        return history_times((history > 0).float(), self.W)

    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        return columns(self, self.W, items)

    def state(self) -> dict[str, torch.Tensor]:
        return {"W": self.W}

    def set_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.W = tensors["W"]
