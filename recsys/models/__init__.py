"""The model factory: every class implements `recsys.models.base.Recommender`."""
from __future__ import annotations

from pathlib import Path

import torch

from data.device import pick_device
from data.model_files import ModelFileError, read_json
from recsys.models.base import CONFIG, Recommender
from recsys.models.blend import Blend
from recsys.models.ease import EASE
from recsys.models.gfcf import GFCF
from recsys.models.ials import IALS
from recsys.models.lightgcn import BPRMF, LightGCN
from recsys.models.rp3beta import RP3beta

MODELS: dict[str, type[Recommender]] = {m.kind: m for m in (EASE, RP3beta, IALS, GFCF, BPRMF, LightGCN, Blend)}


def make_recommender(kind: str, device: str | torch.device = "auto", seed: int = 42, **params) -> Recommender:
    """A model of `kind` on `device` (`auto`: CUDA when really there, else CPU)."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return MODELS[kind](device=dev, seed=seed, **params)


def load(folder: str | Path, device: str | torch.device = "auto") -> Recommender:
    """Reload a saved model (any kind) onto `device`; a missing or damaged file is a ModelFileError."""
    folder = Path(folder)
    config = read_json(folder / CONFIG, {"kind": str, "params": dict, "shape": list})
    if config["kind"] not in MODELS:
        raise ModelFileError(folder / CONFIG, f"unknown model kind {config['kind']!r}")
    if len(config["shape"]) != 2 or not all(type(n) is int and n > 0 for n in config["shape"]):
        raise ModelFileError(folder / CONFIG, f"shape {config['shape']!r} is not two whole numbers")
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return MODELS[config["kind"]].from_files(folder, config, dev)


__all__ = ["MODELS", "Recommender", "load", "make_recommender"]
