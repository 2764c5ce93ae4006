"""A weighted blend of fitted models: sum_c w_c * z_c, where z_c standardizes model c's scores per
user over the titles the user has not seen (so scales of different models are comparable).
Weights are chosen on validation (recsys.train); the blend refits each component on all data.
"""
from __future__ import annotations

import json
from pathlib import Path

import scipy.sparse as sp
import torch

from data.model_files import ModelFileError, built_from
from recsys.models.base import CONFIG, Recommender


def standardize(scores: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """(B, I) scores -> per-row z-scores computed over unseen titles (seen ones keep their z too)."""
    mask = (seen <= 0).float()
    n = mask.sum(1, keepdim=True).clamp(min=1)
    mu = (scores * mask).sum(1, keepdim=True) / n
    var = (((scores - mu) ** 2) * mask).sum(1, keepdim=True) / n
    return (scores - mu) / var.sqrt().clamp(min=1e-9)


class Blend(Recommender):
    kind = "blend"

    def __init__(self, device="cpu", seed=42, components: list[dict] | None = None, **params):
        """components: [{"kind", "params", "weight"}]."""
        super().__init__(device, seed, components=components or [], **params)
        self.models: list[Recommender] = []

    @property
    def weights(self) -> list[float]:
        return [c["weight"] for c in self.params["components"]]

    def _fit(self, X: sp.csr_matrix, validation) -> None:
        from recsys.models import make_recommender

        self.models = [make_recommender(c["kind"], self.device, self.seed, **c["params"]).fit(X)
                       for c in self.params["components"]]

    def _mix(self, parts: list[torch.Tensor], seen: torch.Tensor) -> torch.Tensor:
        return sum(w * standardize(s.float(), seen) for w, s in zip(self.weights, parts, strict=True))

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self._mix([m.score(users) for m in self.models], self.history(users))

    def score_history(self, history: torch.Tensor) -> torch.Tensor:
        return self._mix([m.score_history(history) for m in self.models], history)

    def item_similarity(self, items: torch.Tensor) -> torch.Tensor:
        # explanations come from the heaviest component
        return self.models[max(range(len(self.models)), key=lambda c: self.weights[c])].item_similarity(items)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        for c, model in enumerate(self.models):
            model.save(folder / f"component{c}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG).write_text(json.dumps({"kind": self.kind, "seed": self.seed, "params": self.params,
                                                 "shape": list(self.train.shape)}, indent=2))
        return folder

    @classmethod
    def from_files(cls, folder: Path, config: dict, device) -> Blend:
        from recsys.models import load

        with built_from(folder / CONFIG):
            model = cls(device=device, seed=config.get("seed", 42), **config["params"])
            parts = range(len(model.params["components"]))
        if not parts:
            raise ModelFileError(folder / CONFIG, "a blend of no models")
        model.models = [load(folder / f"component{c}", device) for c in parts]
        model.train = model.models[0].train
        return model
