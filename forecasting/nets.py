"""pytorch-forecasting global models (N-HiTS, TFT) over all title and genre series at once.

The target is log1p(count), normalised per look-back window (robust, with a floor), under a quantile loss (p10/p50/p90), which
suits bursty counts: the p50 of log1p(y) maps back to the median count, the point forecast that
minimises absolute error. Covariates: genre flags and series kind (static), time since release and
since the series' first event plus the calendar (known ahead), and review sentiment per period
when the store has it (past only). A model file is its state_dict (safetensors) + a JSON config; the
dataset is rebuilt from the store as of the same cutoff, which is deterministic.
"""
from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from data.device import cpu_threads
from data.model_files import ModelFileError, built_from, read_json, read_tensors, recorded_sha256, sha256
from forecasting.config import QUANTILES, ForecastConfig
from forecasting.series import History

SENTIMENT = ["sent_reviews", "sent_pos"]
MODEL_FILE = "model.json"
MODEL_KEYS = {"arch": str, "hparams": dict, "encoder_length": int, "normalizer": str, "genres": list, "series": list,
              "members": int}
# pytorch-forecasting hands these modules to Lightning's save_hyperparameters, which warns on every
# construction: advice for pytorch-forecasting's authors, nothing a user can act on
SAVED_MODULE_WARNING = r"Attribute '(loss|logging_metrics)' is an instance of `nn.Module`"


def model_frame(hist: History, matrix: pd.DataFrame, genres: list[str], horizon: int = 0) -> pd.DataFrame:
    """Long frame for TimeSeriesDataSet: every series from the store's first period, plus `horizon` future rows."""
    step = hist.step
    periods = pd.date_range(matrix.columns[0], periods=matrix.shape[1] + horizon, freq=step)
    values = np.concatenate([matrix.to_numpy(), np.zeros((len(matrix), horizon))], axis=1)
    ids = matrix.index.to_numpy()
    n, t = values.shape
    df = pd.DataFrame({
        "series_id": np.repeat(ids, t),
        "ds": np.tile(periods.to_numpy(), n),
        "time_idx": np.tile(((periods - hist.start) / step).astype("int64"), n),
        "y": values.ravel(),
    })
    df["log_y"] = np.log1p(df["y"]).astype("float32")
    # loss weight: sqrt of the series' mean count, so that big series (whose errors dominate WAPE) count more
    level = np.sqrt(matrix.to_numpy().mean(axis=1) + 1.0)
    df["weight"] = np.repeat(level / level.mean(), t).astype("float32")
    # calendar: position in the month (weeks) or the week (days). Not the season of the year: a
    # history of months would only ever see part of it and extrapolate into the rest.
    if hist.freq == "D":
        phase = 2 * np.pi * df["ds"].dt.dayofweek.to_numpy() / 7
    else:
        phase = 2 * np.pi * (df["ds"].dt.day.to_numpy() - 1) / df["ds"].dt.days_in_month.to_numpy()
    df["cal_sin"], df["cal_cos"] = np.sin(phase).astype("float32"), np.cos(phase).astype("float32")
    # periods since the series' first event (known ahead: the first event is in the past)
    first = np.argmax(matrix.to_numpy() > 0, axis=1)
    age = np.arange(t)[None, :] - first[:, None]
    df["since_first"] = np.log1p(np.clip(age, 0, None)).ravel().astype("float32")
    kind = np.where(pd.Series(ids).str.startswith("genre:"), "genre", "item")
    df["kind"] = np.repeat(kind, t)
    item_id = pd.Series(ids).str.removeprefix("item:").where(kind == "item")
    items = hist.items.set_index("item_id")
    rel = pd.to_datetime(item_id.map(items["release"])).to_numpy()
    since_rel = (np.repeat(periods.to_numpy()[None, :], n, 0) - rel[:, None]) / step
    df["has_release"] = np.repeat((~pd.isna(rel)).astype("float32"), t)
    df["since_release"] = np.log1p(np.clip(np.nan_to_num(since_rel.astype("float64"), nan=0.0), 0, None)
                                   ).ravel().astype("float32")
    # genre flags: a title's genres, or the genre itself
    own = [items["genres"].get(i, []) if k == "item" else [s.removeprefix("genre:")]
           for i, k, s in zip(item_id, kind, ids, strict=True)]
    for j, g in enumerate(genres):
        df[f"g{j}"] = np.repeat(np.array([float(g in o) for o in own], dtype="float32"), t)
    df["genre_main"] = np.repeat([o[0] if o else "none" for o in own], t)
    if len(hist.sentiment):
        s = hist.sentiment.assign(series_id="item:" + hist.sentiment["item_id"])
        s = s.rename(columns={"reviews": "sent_reviews"}).assign(sent_pos=lambda d: d["mean_p_positive"] - 0.5)
        df = df.merge(s[["series_id", "ds", "sent_reviews", "sent_pos"]], on=["series_id", "ds"], how="left")
        df[SENTIMENT] = df[SENTIMENT].fillna(0.0).astype("float32")
        df["sent_reviews"] = np.log1p(df["sent_reviews"]).astype("float32")
    return df


def floored_encoder_normalizer(min_scale: float = 0.25):
    """pytorch-forecasting's robust EncoderNormalizer with a floor under the scale: a title whose
    look-back window is mostly zeros (it just launched) has an inter-quartile range near 0, and
    dividing by it blows its forecast up by orders of magnitude."""
    from pytorch_forecasting.data import EncoderNormalizer

    class FlooredEncoderNormalizer(EncoderNormalizer):
        def _set_parameters(self, y_center, y_scale):
            super()._set_parameters(y_center, y_scale)
            self.scale_ = self.scale_.clamp(min=min_scale) if hasattr(self.scale_, "clamp") else \
                np.maximum(self.scale_, min_scale)

    return FlooredEncoderNormalizer(method="robust")


def make_dataset(frame: pd.DataFrame, genres: list[str], encoder_length: int, horizon: int,
                 normalizer: str = "encoder", weighted: bool = False):
    from pytorch_forecasting import TimeSeriesDataSet
    from pytorch_forecasting.data import GroupNormalizer, NaNLabelEncoder, TorchNormalizer

    unknown = ["log_y"] + [c for c in SENTIMENT if c in frame.columns]
    return TimeSeriesDataSet(
        frame, time_idx="time_idx", target="log_y", group_ids=["series_id"], weight="weight" if weighted else None,
        max_encoder_length=encoder_length, min_encoder_length=encoder_length,
        max_prediction_length=horizon, min_prediction_length=horizon,
        static_categoricals=["kind", "genre_main"],
        static_reals=["has_release"] + [f"g{j}" for j in range(len(genres))],
        time_varying_known_reals=["cal_sin", "cal_cos", "since_first", "since_release"],
        time_varying_unknown_reals=unknown,
        categorical_encoders={"kind": NaNLabelEncoder(add_nan=True), "genre_main": NaNLabelEncoder(add_nan=True),
                              "series_id": NaNLabelEncoder(add_nan=True)},
        target_normalizer={"identity": TorchNormalizer(method="identity"),
                           "group": GroupNormalizer(groups=["series_id"]),
                           "encoder": floored_encoder_normalizer()}[normalizer],
        add_target_scales=False,
    )


def hparams(arch: str, cfg: ForecastConfig) -> dict:
    common = {"learning_rate": cfg.learning_rate, "dropout": cfg.dropout, "hidden_size": cfg.hidden_size,
              "log_interval": -1, "weight_decay": 1e-4}
    if arch == "tft":
        return {**common, "attention_head_size": cfg.attention_heads, "hidden_continuous_size": max(8, cfg.hidden_size // 2)}
    if arch == "nhits":
        return {**common, "n_blocks": [1, 1, 1], "n_layers": 2}
    raise KeyError(arch)


def build_model(arch: str, dataset, params: dict):
    from pytorch_forecasting import NHiTS, TemporalFusionTransformer
    from pytorch_forecasting.metrics import QuantileLoss
    from torch import nn

    cls = {"nhits": NHiTS, "tft": TemporalFusionTransformer}[arch]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SAVED_MODULE_WARNING)
        return cls.from_dataset(dataset, loss=QuantileLoss(quantiles=list(QUANTILES)),
                                logging_metrics=nn.ModuleList(), **params)


def _take(obj, idx):
    """Index every batch-first tensor in a (nested) pytorch-forecasting batch."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj[idx]
    if isinstance(obj, dict):
        return {k: _take(v, idx) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_take(v, idx) for v in obj)
    return obj


def cached_loader(dataset, batch_size: int, shuffle: bool = True):
    """A DataLoader over the dataset collated once: pytorch-forecasting builds each sample in Python,
    which costs more than the small networks here, so pay it once, not every epoch."""
    import torch

    whole = next(iter(dataset.to_dataloader(train=False, batch_size=len(dataset), num_workers=0)))
    return torch.utils.data.DataLoader(range(len(dataset)), batch_size=batch_size, shuffle=shuffle,
                                       collate_fn=lambda idx: _take(whole, torch.as_tensor(idx)))


def _trainer_kwargs(device, progress: bool) -> dict:
    cuda = device.type == "cuda"
    return {"accelerator": "gpu" if cuda else "cpu", "devices": 1, "precision": "bf16-mixed" if cuda else "32-true",
            "logger": False, "enable_checkpointing": False, "enable_model_summary": False,
            "enable_progress_bar": progress}


@contextlib.contextmanager
def _quiet():
    """Lightning's and pytorch-forecasting's advice (few dataloader workers, GPU not used, ...) is meant
    for their developers, not for a `marquee` user: hushed while they run, and only then, so a caller's
    own warnings and logging are left as they were."""
    loggers = [logging.getLogger(n) for n in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="lightning|pytorch_forecasting|torch")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def _interruptible():
    """Ctrl-C (and SIGTERM, which the CLI turns into one) inside a Lightning loop stays a KeyboardInterrupt.
    Lightning catches it, ignores SIGINT from then on and calls sys.exit(1): the command ended with exit 1 and
    no `error: interrupted`, its run recorded as failed with `SystemExit: 1`."""
    sigint = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SystemExit as exc:
        raise KeyboardInterrupt from exc
    finally:
        if signal.getsignal(signal.SIGINT) is not sigint:   # only Lightning in the main thread changes it
            signal.signal(signal.SIGINT, sigint)


def fit(arch: str, frame: pd.DataFrame, genres: list[str], encoder_length: int, cfg: ForecastConfig,
        device, seed: int, progress: bool = True):
    """Train `arch` on `frame` (history only); returns (model, dataset)."""
    import lightning.pytorch as pl

    with _quiet():
        pl.seed_everything(seed, workers=True, verbose=False)
        ds = make_dataset(frame, genres, encoder_length, cfg.horizon, cfg.normalizer, cfg.weighted)
        model = build_model(arch, ds, hparams(arch, cfg))
        loader = cached_loader(ds, cfg.batch_size)
        trainer = pl.Trainer(max_epochs=cfg.max_epochs, gradient_clip_val=0.1, **_trainer_kwargs(device, progress))
        # Lightning's progress bar (rich or tqdm) writes to stdout, which is a command's result (`evaluate`'s JSON)
        with cpu_threads(device, cfg.cpu_threads), contextlib.redirect_stdout(sys.stderr), _interruptible():
            trainer.fit(model, train_dataloaders=loader)
    return model, ds


def predict(model, dataset, frame: pd.DataFrame, device, batch_size: int = 512) -> dict[str, np.ndarray]:
    """Quantile forecasts for the last `horizon` rows of each series in `frame`.

    Returns series_id -> (horizon, 3) counts (p10, p50, p90), sorted, non-negative.
    """
    from pytorch_forecasting import TimeSeriesDataSet

    with _quiet(), _interruptible():
        pred_ds = TimeSeriesDataSet.from_dataset(dataset, frame, predict=True, stop_randomization=True)
        loader = pred_ds.to_dataloader(train=False, batch_size=batch_size, num_workers=0)
        out = model.predict(loader, mode="quantiles", return_index=True,
                            trainer_kwargs=_trainer_kwargs(device, progress=False))
    # a guard against a runaway network: no quantile above e x the series' largest count so far
    cap = np.log1p(frame.groupby("series_id")["y"].max()) + 1.0
    ids = out.index["series_id"].astype(str).to_numpy()
    q = np.sort(out.output.float().cpu().numpy(), axis=-1)
    q = np.expm1(np.minimum(q, cap.reindex(ids).to_numpy()[:, None, None])).clip(min=0)
    return dict(zip(ids, q, strict=True))


def fit_predict(arch: str, frame: pd.DataFrame, future: pd.DataFrame, genres: list[str], encoder_length: int,
                cfg: ForecastConfig, device, seed: int, progress: bool = True) -> tuple[list, object, dict]:
    """Train `cfg.ensemble` members (seeds seed, seed+1, ...) and forecast `future`'s last rows with their
    median in log space. Returns (models, dataset, series_id -> (horizon, 3))."""
    models, preds, ds = [], [], None
    for k in range(cfg.ensemble):
        model, ds = fit(arch, frame, genres, encoder_length, cfg, device, seed + k, progress)
        models.append(model)
        preds.append(predict(model, ds, future, device))
    return models, ds, combine(preds)


def combine(preds: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Median of the members' quantiles in log space (one member: itself)."""
    if len(preds) == 1:
        return preds[0]
    return {s: np.expm1(np.median(np.log1p(np.stack([p[s] for p in preds])), axis=0)) for s in preds[0]}


def save(models: list, path: Path, config: dict) -> None:
    """Each member's state_dict as `model-<k>.safetensors`, plus `model.json` (arch, hparams, dataset
    settings, the SHA-256 of each member's file)."""
    from safetensors.torch import save_file

    sums = {}
    for k, model in enumerate(models):
        state = {n: v.detach().cpu().contiguous() for n, v in model.state_dict().items()}
        save_file(state, str(path / member_file(k)))
        sums[member_file(k)] = sha256(path / member_file(k))
    (path / MODEL_FILE).write_text(json.dumps({**config, "members": len(models), "sha256": sums}, indent=2,
                                              default=str))


def member_file(k: int) -> str:
    return f"model-{k}.safetensors"


def read_config(path: Path) -> dict:
    """The checked `model.json` of the ensemble saved in `path` (a ModelFileError naming it if it is
    missing or damaged)."""
    config = read_json(path / MODEL_FILE, MODEL_KEYS)
    if config["members"] < 1:
        raise ModelFileError(path / MODEL_FILE, f"an ensemble of {config['members']} members")
    return config


def load(path: Path, config: dict, dataset, device) -> list:
    """Rebuild each member from `config` (read_config) over `dataset` and load its safetensors weights;
    a missing or damaged file is a ModelFileError naming it."""
    models = []
    for k in range(config["members"]):
        file = path / member_file(k)
        state = read_tensors(file, checksum=recorded_sha256(config, file.name, path / MODEL_FILE))
        with built_from(path / MODEL_FILE):
            model = build_model(config["arch"], dataset, config["hparams"])
        with built_from(file):
            model.load_state_dict(state)
        models.append(model.to(device).eval())
    return models
