"""A trained sentiment model as saved under a run's artifacts, and its predictions.

Folder layout (no pickle anywhere):
    sentiment.json            model kind, temperature, max_len, truncation, blend weight, ...,
                              SHA-256 of transformer/model.safetensors (checked on load)
    transformer/              save_pretrained: model.safetensors + config.json + tokenizer files
    linear/                   vocab.json + weights.safetensors (TF-IDF or NB-weighted LR)
p_positive = sigmoid(z / T) with z = w * z_transformer / T_t + (1 - w) * z_linear / T_l.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.model_files import ModelFileError, built_from, check_safetensors, read_json, recorded_sha256, sha256
from nlp.calibrate import probabilities
from nlp.config import MODELS, TRUNCATIONS
from nlp.data import clip_text
from nlp.linear import VOCAB, LinearTextModel

META_FILE = "sentiment.json"
TRANSFORMER_WEIGHTS = "transformer/model.safetensors"
NUMBER = (int, float)
META_KEYS = {"model": str, "blend_weight": NUMBER, "temperature": NUMBER, "max_chars": int, "max_len": int,
             "truncation": str, "head_fraction": NUMBER, "max_chunks": int}
META_OPTIONAL = {"transformer_temperature": NUMBER, "linear_temperature": NUMBER, "eval_batch_size": int,
                 "sha256": dict}
LINEAR_MODELS = ("tfidf", "nblr")


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _fraction(x: float) -> bool:
    return 0 <= x <= 1          # False for NaN


# What each value may be: an edited file out of range would load and silently change every prediction
# (a negative temperature flips labels, 0 makes p exactly 0 or 1, a size of 0 scores nothing).
META_RANGES: dict[str, tuple[Callable[[object], bool], str]] = {
    "model": (lambda v: v in MODELS, f"one of {', '.join(MODELS)}"),
    "truncation": (lambda v: v in TRUNCATIONS, f"one of {', '.join(TRUNCATIONS)}"),
    "blend_weight": (_fraction, "between 0 and 1"),
    "head_fraction": (_fraction, "between 0 and 1"),
    "temperature": (_positive, "a finite number above 0"),
    "transformer_temperature": (_positive, "a finite number above 0"),
    "linear_temperature": (_positive, "a finite number above 0"),
    "max_chars": (lambda v: v >= 1, "at least 1"),
    "max_len": (lambda v: v >= 3, "at least 3 ([CLS], [SEP] and one token)"),
    "max_chunks": (lambda v: v >= 1, "at least 1"),
    "eval_batch_size": (lambda v: v >= 1, "at least 1"),
}


def _check_ranges(meta: dict, path: Path) -> None:
    """Each value read from sentiment.json (types are checked by read_json) within its range."""
    for key, (ok, rule) in META_RANGES.items():
        if key in meta and not ok(meta[key]):
            raise ModelFileError(path, f"{key!r} is {meta[key]!r}; it must be {rule}")


def _check_parts(meta: dict, folder: Path) -> None:
    """The model kind agrees with the files beside it: a tfidf/nblr model is its linear part alone
    (blend weight 0, no transformer/), a minilm model has its transformer."""
    path, kind = folder / META_FILE, meta["model"]
    has_transformer = (folder / "transformer").exists()
    if kind in LINEAR_MODELS and meta["blend_weight"] != 0:
        raise ModelFileError(path, f"'blend_weight' is {meta['blend_weight']!r} but a {kind} model has no "
                                   "transformer to blend (it must be 0)")
    if kind in LINEAR_MODELS and has_transformer:
        raise ModelFileError(path, f"'model' is {kind!r} but there is a transformer/ folder (a minilm model's)")
    if kind == "minilm" and not has_transformer:   # named as the file that is missing, as a blend would load it
        raise ModelFileError(folder / TRANSFORMER_WEIGHTS, f"missing, and {META_FILE} says 'model' is 'minilm'")


def _check_linear_kind(meta: dict, linear: LinearTextModel, folder: Path) -> None:
    """The linear part is the kind sentiment.json names (a minilm model blends an NB-weighted LR)."""
    expected = meta["model"] if meta["model"] in LINEAR_MODELS else "nblr"
    if linear.kind != expected:
        raise ModelFileError(folder / META_FILE, f"'model' is {meta['model']!r} but linear/{VOCAB} holds "
                                                 f"a {linear.kind} model")


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
        meta = dict(self.meta)
        if self.scorer is not None:
            self.scorer.net.save_pretrained(folder / "transformer", safe_serialization=True)
            self.scorer.tok.save_pretrained(folder / "transformer")
            meta["sha256"] = {TRANSFORMER_WEIGHTS: sha256(folder / TRANSFORMER_WEIGHTS)}
        if self.linear is not None:
            self.linear.save(folder / "linear")
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=float))
        self.folder = folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", batch_size: int | None = None) -> SentimentModel:
        """The model saved in `folder` (JSON and safetensors only: nothing in it runs); the parts its
        blend weight uses must be there. A missing or damaged file is a ModelFileError naming it."""
        folder = Path(folder)
        meta = read_json(folder / META_FILE, META_KEYS, META_OPTIONAL)
        _check_ranges(meta, folder / META_FILE)
        _check_parts(meta, folder)
        checksum = recorded_sha256(meta, TRANSFORMER_WEIGHTS, folder / META_FILE)
        meta.pop("sha256", None)
        scorer = linear = None
        if meta["blend_weight"] > 0:
            scorer = _load_scorer(folder / "transformer", checksum, meta, device, batch_size)
        if meta["blend_weight"] < 1:
            linear = LinearTextModel.load(folder / "linear")
            _check_linear_kind(meta, linear, folder)
        return cls(meta, scorer, linear, folder)


def _load_scorer(path: Path, checksum: str | None, meta: dict, device: str, batch_size: int | None):
    """The fine-tuned transformer in `path`, from its safetensors only (a pickled checkpoint beside
    it is never read)."""
    from data.device import pick_device
    from nlp.transformer import TransformerScorer, load_backbone

    check_safetensors(path / "model.safetensors", checksum)
    read_json(path / "config.json")
    with built_from(path, errors=(Exception,)):   # whatever transformers raises on a broken folder
        tok, net = load_backbone(path)
    positions = getattr(net.config, "max_position_embeddings", None)
    if positions is not None and meta["max_len"] > positions:
        raise ModelFileError(path.parent / META_FILE, f"'max_len' is {meta['max_len']}; the transformer in "
                                                      f"{path.name}/ reads at most {positions} tokens")
    return TransformerScorer(tok, net, pick_device(device), meta["max_len"], meta["truncation"],
                             meta["head_fraction"], meta["max_chunks"], batch_size or meta.get("eval_batch_size", 64))
