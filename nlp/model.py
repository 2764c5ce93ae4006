"""A trained sentiment model as saved under a run's artifacts, and its predictions.

Folder layout (no pickle anywhere):
    sentiment.json            model kind, temperature, max_len, truncation, blend weight, ...
    transformer/              save_pretrained: model.safetensors + config.json + tokenizer files
    linear/                   vocab.json + weights.safetensors (TF-IDF or NB-weighted LR)
p_positive = sigmoid(z / T) with z = w * z_transformer / T_t + (1 - w) * z_linear / T_l.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlp.calibrate import probabilities
from nlp.data import clip_text
from nlp.linear import LinearTextModel

META_FILE = "sentiment.json"


@dataclass
class SentimentModel:
    meta: dict                       # see module docstring; "model" is minilm, tfidf or nblr
    scorer: object | None = None     # nlp.transformer.TransformerScorer
    linear: LinearTextModel | None = None
    folder: Path | None = field(default=None, compare=False)

    @property
    def blend_weight(self) -> float:
        return float(self.meta.get("blend_weight", 1.0 if self.scorer is not None else 0.0))

    def component_logits(self, texts: list[str], progress: bool = False) -> dict[str, np.ndarray]:
        """Raw logits of each part the final score uses (parts with weight 0 are skipped)."""
        texts = [clip_text(t, self.meta["max_chars"]) for t in texts]
        out = {}
        if self.scorer is not None and self.blend_weight > 0:
            out["transformer"] = self.scorer.logits(texts, progress=progress)
        if self.linear is not None and self.blend_weight < 1:
            out["linear"] = self.linear.decision(texts)
        return out

    def combine(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """Blended logit z (before the final temperature)."""
        w, m = self.blend_weight, self.meta
        z = 0.0
        if "transformer" in parts:
            z = z + w * parts["transformer"] / m.get("transformer_temperature", 1.0)
        if "linear" in parts:
            z = z + (1 - w) * parts["linear"] / m.get("linear_temperature", 1.0)
        return np.asarray(z, dtype=np.float64)

    def predict(self, texts: list[str], progress: bool = False, with_parts: bool = False):
        """p_positive (n,) for non-empty texts; with_parts also returns each part's calibrated p."""
        if not texts:
            return (np.zeros(0), {}) if with_parts else np.zeros(0)
        parts = self.component_logits(list(texts), progress)
        p = probabilities(self.combine(parts), self.meta["temperature"])
        if not with_parts:
            return p
        names = {"transformer": "transformer_temperature", "linear": "linear_temperature"}
        return p, {k: probabilities(v, self.meta.get(names[k], 1.0)) for k, v in parts.items()}

    # ---------------------------------------------------------------- files
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.scorer is not None:
            self.scorer.net.save_pretrained(folder / "transformer", safe_serialization=True)
            self.scorer.tok.save_pretrained(folder / "transformer")
        if self.linear is not None:
            self.linear.save(folder / "linear")
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, default=float))
        self.folder = folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", batch_size: int | None = None) -> SentimentModel:
        from data.device import pick_device
        from data.errors import MarqueeError

        folder = Path(folder)
        if not (folder / META_FILE).exists():
            raise MarqueeError(f"no sentiment model in {folder} (missing {META_FILE})")
        meta = json.loads((folder / META_FILE).read_text())
        scorer = linear = None
        if (folder / "transformer").exists() and meta.get("blend_weight", 1.0) > 0:
            from nlp.transformer import TransformerScorer, load_backbone

            tok, net = load_backbone(folder / "transformer")
            scorer = TransformerScorer(tok, net, pick_device(device), meta["max_len"], meta["truncation"],
                                       meta["head_fraction"], meta["max_chunks"],
                                       batch_size or meta.get("eval_batch_size", 64))
        if (folder / "linear").exists():
            linear = LinearTextModel.load(folder / "linear")
        return cls(meta, scorer, linear, folder)
