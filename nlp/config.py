"""Settings of the sentiment pipeline: one dataclass, with `quick` (2-core CPU) and `full` (GPU) presets."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

MODELS = ("minilm", "tfidf", "nblr")
TRUNCATIONS = ("head_tail", "chunk_pool")


@dataclass(frozen=True)
class SentimentConfig:
    model: str = "minilm"             # minilm (fine-tuned transformer), tfidf (TF-IDF + LR), nblr (NB-weighted LR)
    max_train: int | None = 4800      # training reviews (stratified subset); None = all
    val_fraction: float = 0.1         # held out of the training data: early stopping + temperature
    max_val: int | None = 300         # cap on validation reviews (each is scored twice: both truncations)
    max_len: int = 128                # tokens per sequence, [CLS] and [SEP] included
    head_fraction: float = 0.25       # head+tail truncation keeps this share from the start, the rest from the end
    max_chunks: int = 8               # chunk-and-pool reads at most this many windows per review
    epochs: int = 1
    batch_size: int = 16
    eval_batch_size: int = 64
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    evals_per_epoch: int = 2          # validation checks per epoch (early stopping keeps the best)
    patience: int = 2                 # checks without improvement before stopping
    time_budget_s: float | None = 330.0  # stop training after this long (quick: keeps a 2-core CPU under 10 min)
    blend: bool = True                # let validation pick a blend with an NB-weighted LR (weight 0 = pure transformer)
    max_chars: int = 20_000           # longer texts keep their head and tail characters only (huge inputs)


PRESETS: dict[str, SentimentConfig] = {
    "quick": SentimentConfig(),
    "full": SentimentConfig(max_train=None, max_val=2000, max_len=512, epochs=3, batch_size=32,
                            eval_batch_size=128, lr=4e-5, evals_per_epoch=4, time_budget_s=None),
}


def make_config(profile: str = "quick", **overrides) -> SentimentConfig:
    """The preset for `profile` with non-None `overrides` applied."""
    if profile not in PRESETS:
        raise ValueError(f"unknown profile {profile!r}")
    return replace(PRESETS[profile], **{k: v for k, v in overrides.items() if v is not None})


def to_dict(cfg: SentimentConfig) -> dict:
    return asdict(cfg)
