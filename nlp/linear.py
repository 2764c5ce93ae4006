"""Bag-of-n-grams sentiment models: TF-IDF + logistic regression (the floor) and NB-weighted LR (NBSVM-style).

Saved without pickle: the vocabulary as a JSON list and the arrays (idf or NB ratios, weights) in
safetensors, so loading a model file never runs code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import save_file
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from data.errors import MarqueeError
from data.model_files import ModelFileError, read_json, read_tensors, recorded_sha256, sha256
from nlp.data import NO_WORDS, TOKEN_PATTERN

NGRAMS = (1, 2)
C_GRID = {"tfidf": (1.0, 4.0, 16.0), "nblr": (0.25, 1.0, 4.0)}   # picked on validation
VOCAB, WEIGHTS = "vocab.json", "weights.safetensors"


def _vectorizer(vocabulary=None, min_df: int = 2) -> CountVectorizer:
    return CountVectorizer(ngram_range=NGRAMS, min_df=min_df if vocabulary is None else 1,
                           vocabulary=vocabulary, dtype=np.float32, token_pattern=TOKEN_PATTERN)


@dataclass
class LinearTextModel:
    """z = features(text) @ coef + intercept. kind: 'tfidf' (sublinear tf * idf, L2) or 'nblr' (binary * r)."""
    kind: str
    vocab: list[str]
    weights: np.ndarray        # idf (tfidf) or NB log-count ratios r (nblr), (V,)
    coef: np.ndarray           # (V,)
    intercept: float

    # ---------------------------------------------------------------- features
    @staticmethod
    def _features(kind: str, counts: sp.csr_matrix, weights: np.ndarray) -> sp.csr_matrix:
        x = counts.tocsr(copy=True).astype(np.float32)
        if kind == "tfidf":
            x.data = 1.0 + np.log(x.data)                     # sublinear tf
            x = x @ sp.diags(weights.astype(np.float32))
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
            x = sp.diags(1.0 / np.maximum(norms, 1e-12).astype(np.float32)) @ x
        else:
            x.data[:] = 1.0                                   # binarized
            x = x @ sp.diags(weights.astype(np.float32))
        return x.tocsr()

    def decision(self, texts: list[str]) -> np.ndarray:
        """Logits z (n,) for raw texts."""
        counts = _vectorizer(vocabulary={t: i for i, t in enumerate(self.vocab)}).transform(texts)
        return np.asarray(self._features(self.kind, counts, self.weights) @ self.coef).ravel() + self.intercept

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(cls, kind: str, texts: list[str], y: np.ndarray, val_texts: list[str] | None = None,
            val_y: np.ndarray | None = None, seed: int = 42) -> tuple[LinearTextModel, dict]:
        """Fit on (texts, y); C is picked by validation log-loss when a validation set is given."""
        if kind not in ("tfidf", "nblr"):
            raise ValueError(f"unknown linear model {kind!r}")
        y = np.asarray(y)
        vec = _vectorizer(min_df=2 if len(texts) >= 200 else 1)
        try:
            counts = vec.fit_transform(texts)
        except ValueError as exc:   # "empty vocabulary": the training part has no word (or none twice)
            raise MarqueeError(f"the training part of the labelled texts: {NO_WORDS}") from exc
        vocab = [t for t, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
        if kind == "tfidf":
            df = np.bincount(counts.indices, minlength=counts.shape[1])
            weights = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0
        else:
            b = (counts > 0).astype(np.float32)
            p = np.asarray(b[y == 1].sum(axis=0)).ravel() + 1.0
            q = np.asarray(b[y == 0].sum(axis=0)).ravel() + 1.0
            weights = np.log((p / p.sum()) / (q / q.sum()))
        x = cls._features(kind, counts, weights)
        grid = C_GRID[kind] if val_texts is not None else (C_GRID[kind][1],)
        best, info = None, {}
        for c in grid:
            lr = LogisticRegression(C=c, max_iter=2000, solver="liblinear", random_state=seed).fit(x, y)
            model = cls(kind, vocab, weights, lr.coef_.ravel().astype(np.float32), float(lr.intercept_[0]))
            if val_texts is None:
                return model, {"C": c}
            from nlp.calibrate import nll
            loss = nll(model.decision(val_texts), val_y)
            info[f"val_nll_C{c:g}"] = loss
            if best is None or loss < best[0]:
                best = (loss, model, c)
        info["C"] = best[2]
        return best[1], info

    # ---------------------------------------------------------------- files
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"weights": np.ascontiguousarray(self.weights, dtype=np.float32),
                   "coef": np.ascontiguousarray(self.coef, dtype=np.float32)}, str(folder / WEIGHTS))
        (folder / VOCAB).write_text(json.dumps({"kind": self.kind, "ngram_range": list(NGRAMS),
                                                "intercept": self.intercept, "vocab": self.vocab,
                                                "sha256": {WEIGHTS: sha256(folder / WEIGHTS)}}))

    @classmethod
    def load(cls, folder: Path) -> LinearTextModel:
        """The model saved in `folder`; a missing or damaged file is a ModelFileError naming it."""
        meta = read_json(folder / VOCAB, {"kind": str, "vocab": list, "intercept": (int, float)})
        if meta["kind"] not in C_GRID:
            raise ModelFileError(folder / VOCAB, f"unknown linear model {meta['kind']!r}")
        if not all(isinstance(t, str) for t in meta["vocab"]) or len(set(meta["vocab"])) != len(meta["vocab"]):
            raise ModelFileError(folder / VOCAB, "the vocabulary is not a list of distinct strings")
        arrays = read_tensors(folder / WEIGHTS, ("weights", "coef"), recorded_sha256(meta, WEIGHTS, folder / VOCAB),
                              framework="numpy")
        n = len(meta["vocab"])
        if any(arrays[k].shape != (n,) for k in ("weights", "coef")):
            raise ModelFileError(folder / WEIGHTS, f"arrays of shapes {arrays['weights'].shape} and "
                                                   f"{arrays['coef'].shape} for a vocabulary of {n}")
        return cls(meta["kind"], meta["vocab"], arrays["weights"], arrays["coef"], float(meta["intercept"]))
