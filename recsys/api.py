"""The recommender's verbs for `app`: train, score, evaluate, and recommend_for_history.

I/O lives here (store reads, artifacts, publishing); the maths is in dataset / models / train /
scoring. A run = one trained model: `train` saves it under the run's artifacts and records the
validation metrics of every candidate; `score` publishes that run's recommendations.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from data import runs
from data.device import cpu_threads, factor_threads, pick_device, seed_everything
from data.errors import MarqueeError
from data.model_files import ModelFileError, of_run, read_json
from recsys import dataset, history, scoring
from recsys.config import preset
from recsys.models import MODELS, Recommender, load

MODEL_DIR = "model"
IDS_FILE = "ids.json"
MODEL_CHOICES = ("auto", *MODELS)


def train(home: str | os.PathLike | None = None, profile: str = "quick", device: str = "auto", seed: int = 42,
          model: str = "auto", as_of: str | None = None, weighting: str | None = None,
          threads: int | None = None, event_types: Sequence[str] | None = None) -> str:
    """Select a model on a validation split of the interactions before `as_of` (of `event_types`; None:
    all), refit it on all of them, save it under the run; returns the run id. Metrics: every
    candidate's validation scores."""
    if model not in MODEL_CHOICES:
        raise MarqueeError(f"unknown recsys model {model!r} (one of {', '.join(MODEL_CHOICES)})")
    seed_everything(seed)
    dev = pick_device(device)
    cfg = preset(profile, weighting=weighting, cpu_threads=threads, factor_threads=threads)   # --threads caps both
    data = dataset.load(home, as_of, cfg.weighting, event_types)
    snapshot = {"as_of": as_of, "users": int(data.shape[0]), "items": int(data.shape[1]),
                "interactions": int(data.matrix.nnz)}
    params = {"model": model, "profile": profile, "seed": seed, "device": str(dev), "weighting": cfg.weighting,
              "as_of": as_of, "event_types": list(event_types) if event_types else None}
    run = runs.start("recsys", model, params, snapshot, home)
    try:
        from recsys.train import train as fit_and_select

        t0 = time.perf_counter()
        with cpu_threads(dev, cfg.cpu_threads), factor_threads(cfg.factor_threads):
            final, sel = fit_and_select(data.matrix, cfg, model, dev, seed)
        final.save(run.artifacts / MODEL_DIR)
        (run.artifacts / IDS_FILE).write_text(json.dumps({"users": data.user_ids.tolist(),
                                                          "items": data.item_ids.tolist()}))
        metrics = {"selected": sel.kind, "params": sel.params, "validation": sel.validation,
                   "validation_users": sel.validation_users, "candidates": sel.candidates,
                   "train_seconds": round(time.perf_counter() - t0, 2),
                   **{f"val_ndcg@{cfg.k}/{k}": c["validation"][f"ndcg@{cfg.k}"] for k, c in sel.candidates.items()}}
        label = f"{model}:{sel.kind}" if model == "auto" else sel.kind
        runs.publish(run.run_id, metrics=metrics, model=label, home=home)
    except BaseException as exc:   # Ctrl-C and SIGTERM too: no run stays `running` forever
        runs.fail(run.run_id, runs.failure(exc), home)
        raise
    return run.run_id


@lru_cache(maxsize=4)
def _load_cached(folder: str, device: str) -> tuple[Recommender, np.ndarray, np.ndarray]:
    return _load_uncached(Path(folder), device)


def _load_uncached(folder: Path, device: str) -> tuple[Recommender, np.ndarray, np.ndarray]:
    model = load(folder / MODEL_DIR, pick_device(device))
    ids = read_json(folder / IDS_FILE, {"users": list, "items": list})
    if (len(ids["users"]), len(ids["items"])) != model.train.shape:
        raise ModelFileError(folder / IDS_FILE, f"{len(ids['users'])} users x {len(ids['items'])} titles for a "
                                                f"model of {model.train.shape[0]} x {model.train.shape[1]}")
    return model, np.array(ids["users"], dtype=object), np.array(ids["items"], dtype=object)


def load_run(home=None, run_id: str | None = None, device: str = "auto") -> tuple[dict, Recommender, np.ndarray, np.ndarray]:
    """(run, model, user_ids, item_ids) of `run_id` or the latest succeeded recsys run; a missing
    or damaged model file is one MarqueeError naming it."""
    run = runs.resolve("recsys", run_id, home)
    with of_run(run["run_id"], "recsys"):
        model, users, items = _load_cached(run["artifact_uri"], device)
    return run, model, users, items


def _fold_in(model: Recommender, user_ids: np.ndarray, item_ids: np.ndarray, extra: pd.DataFrame
             ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Training rows + the extra events (of the model's titles; a pair the training data has changes
    nothing): (history (R, I), all user ids (R,), known (R,): the model's row for users whose history
    is unchanged, else -1)."""
    uidx = {u: i for i, u in enumerate(user_ids)}
    new_users = [u for u in pd.unique(extra["user_id"]) if u not in uidx]
    all_users = np.concatenate([user_ids, np.array(new_users, dtype=object)])
    all_idx = {u: i for i, u in enumerate(all_users)}
    rows = extra["user_id"].map(all_idx).to_numpy()
    cols = pd.Index(item_ids).get_indexer(extra["item_id"])
    add = sp.csr_matrix((np.ones(len(extra), np.float32), (rows, cols)), shape=(len(all_users), len(item_ids)))
    add.data[:] = 1.0   # a pair listed twice still counts once (a full-strength event)
    base = sp.vstack([model.train, sp.csr_matrix((len(new_users), len(item_ids)), dtype=np.float32)]).tocsr()
    add = (add - add.multiply(base > 0)).tocsr()   # known pairs keep their trained weight
    add.eliminate_zeros()
    merged = (base + add).tocsr()
    known = np.where(np.arange(len(all_users)) < len(user_ids), np.arange(len(all_users)), -1)
    changed = np.flatnonzero(np.asarray((merged != base).sum(1)).ravel() > 0)
    known[changed] = -1
    return merged, all_users, known


def score(home: str | os.PathLike | None = None, run_id: str | None = None, device: str = "auto", k: int = 10,
          history_file: str | None = None, similar_k: int = 20, batch_size: int = 1024, threads: int = 1) -> dict:
    """Publish top-k recommendations for every user (model users, store users, users in
    `history_file`) and the top `similar_k` similar titles of every title, under the run.
    threads: torch CPU threads while scoring (0: torch's default; see RecsysConfig.cpu_threads)."""
    run, model, user_ids, item_ids = load_run(home, run_id, device)
    with cpu_threads(model.device, threads):
        return _score(home, run, model, user_ids, item_ids, k, history_file, similar_k, batch_size)


def _score(home, run: dict, model: Recommender, user_ids: np.ndarray, item_ids: np.ndarray, k: int,
           history_file: str | None, similar_k: int, batch_size: int) -> dict:
    # events in the store since training (same titles) are folded in too: a title watched since is
    # never recommended, and a user who arrived since gets picks from their own events
    types = run["params"].get("event_types")   # what the run counts, from the store and the file alike
    pairs = dataset.events(home, types)
    learned = pairs["item_id"].isin(set(item_ids))   # the rest name titles only a retrained model knows
    since = pairs[learned].reset_index(drop=True)
    titles = dataset.titles(home)
    extra, file_users, skipped = (history.read(history_file, set(item_ids), titles.keys(), types) if history_file
                                  else (since[:0], [], 0))
    hist, all_users, known = _fold_in(model, user_ids, item_ids, pd.concat([since, extra], ignore_index=True))
    top = scoring.recommend(model, hist, known, k, batch_size)
    recs = scoring.to_frame(all_users, top, item_ids, titles)
    have = set(all_users[np.diff(hist.indptr) > 0])
    cold = [u for u in dict.fromkeys([*dataset.store_users(home), *all_users, *file_users]) if u not in have]
    recs = pd.concat([recs, scoring.popular(model, cold, item_ids, k)], ignore_index=True)
    sims = scoring.similar_items(model, item_ids, similar_k)
    counts = runs.publish(run["run_id"], {"recommendations": recs, "similar_items": sims}, home=home)
    seen = np.asarray((hist > 0).sum(axis=1)).ravel()   # titles each user has (never recommended to them)
    trained = np.asarray((model.train > 0).sum(axis=1)).ravel()
    return {"run_id": run["run_id"], "users": int(recs["user_id"].nunique()),
            "folded_in_users": int((known < 0).sum()),
            "popular_users": len(cold), "titles": len(item_ids),
            "users_seen_all": int((seen >= len(item_ids)).sum()),   # nothing left to recommend to them
            "training_users_with_two_titles": int((trained >= 2).sum()),   # without any, no title is like another
            "history_rows_skipped": skipped,   # --history rows of titles the run never learned
            "store_pairs_skipped": int((~learned).sum()),   # and the store's (user, title) pairs of such titles
            "store_titles_skipped": int(pairs.loc[~learned, "item_id"].nunique()),
            **counts}


def evaluate(home: str | os.PathLike | None = None, run_id: str | None = None, **_: object) -> dict:
    """The run's validation metrics (measured at training time on the held-out part of its own
    training data) and its top-10 catalog coverage; recorded in the run."""
    run, model, user_ids, item_ids = load_run(home, run_id)
    m = run["metrics"]
    with cpu_threads(model.device, 1):
        top = scoring.recommend(model, model.train, np.arange(len(user_ids)), 10)
    ok = top.items >= 0
    rows = np.repeat(np.arange(len(user_ids)), top.items.shape[1]).reshape(top.items.shape)
    seen = int((np.asarray(model.train[rows[ok], top.items[ok]]).ravel() > 0).sum()) if ok.any() else 0
    out = {"selected": m.get("selected"), "validation": m.get("validation"),
           "candidates": {k: c["validation"] for k, c in m.get("candidates", {}).items()},
           "catalog_coverage@10": float(len(np.unique(top.items[top.items >= 0])) / len(item_ids)),
           "recommended_seen_items": seen}
    runs.record_metrics(run["run_id"], {"evaluation": out}, home)
    return {"run_id": run["run_id"], **out}


def known_titles(home: str | os.PathLike | None = None, run_id: str | None = None) -> frozenset[str]:
    """The titles a run's model knows: those with events when it trained (a history may name only these)."""
    return frozenset(map(str, load_run(home, run_id)[3]))


def recommend_for_history(item_ids: list[str], k: int = 10, home: str | os.PathLike | None = None,
                          run_id: str | None = None) -> pd.DataFrame:
    """Top-k for an anonymous viewer who watched `item_ids` (cold start, no retraining):
    DataFrame(item_id, score, reason). Empty history -> popular titles. Unknown ids -> MarqueeError."""
    _, model, _, catalog = load_run(home, run_id)
    index = {t: i for i, t in enumerate(catalog)}
    unknown = [str(t) for t in item_ids if str(t) not in index]
    if unknown:
        raise MarqueeError(f"unknown item id(s) {', '.join(map(repr, unknown[:5]))}: not in the model's catalog")
    if not item_ids:
        return scoring.popular(model, ["_"], catalog, k)[["item_id", "score", "reason"]]
    cols = np.array(sorted({index[str(t)] for t in item_ids}))
    h = sp.csr_matrix((np.ones(len(cols), np.float32), (np.zeros(len(cols), int), cols)), shape=(1, len(catalog)))
    top = scoring.recommend(model, h, np.array([-1]), k)
    return scoring.to_frame(np.array(["_"]), top, catalog, dataset.titles(home))[["item_id", "score", "reason"]]


