"""Forecaster settings: one dataclass, `quick` (a 2-core CPU) and `full` (a GPU) presets."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

QUANTILES = (0.1, 0.5, 0.9)
FREQS = {"W": 7, "D": 1}            # period length in days; weeks start on Monday
MODELS = ("auto", "nhits", "tft", "mean4", "naive", "snaive")


@dataclass
class ForecastConfig:
    horizon: int = 4                 # periods forecast from the cutoff
    freq: str = "W"                  # W: Monday-start weeks; D: days
    model: str = "auto"              # auto: chosen by the inner rolling backtest
    min_events: int = 20             # titles with fewer events before the cutoff get the genre fallback
    encoder_length: int = 8          # periods the network looks back (capped by the history)
    inner_origins: int = 3           # backtest origins inside the history (half a horizon apart), for selection
    share_window: int = 8            # periods over which a small title's share of its genres is measured
    # network
    ensemble: int = 1                # networks per fit (seeds seed, seed+1, ...), combined by their median
    weighted: bool = False           # weight the loss by sqrt(series level), closer to WAPE
    normalizer: str = "encoder"      # of log1p(y): encoder (robust, per window; best here), identity or group
    hidden_size: int = 32
    attention_heads: int = 2         # TFT only
    dropout: float = 0.1
    learning_rate: float = 3e-3
    batch_size: int = 128
    max_epochs: int = 12
    candidates: tuple[str, ...] = ("nhits", "mean4", "naive")   # what `auto` tries
    blend_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # NN p50 share in the NN/mean4 blend
    cpu_threads: int = 1             # torch threads on CPU (0: torch's default); see data.device.cpu_threads
    event_types: tuple[str, ...] = ()   # the events that count (empty: every type)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "quick": ForecastConfig(),
    "full": ForecastConfig(hidden_size=128, max_epochs=40, encoder_length=12, inner_origins=4,
                           candidates=("nhits", "tft", "mean4", "naive")),
}


def make_config(profile: str = "quick", **options) -> ForecastConfig:
    """The preset for `profile` with any non-None `options` applied; daily data looks back 4 weeks."""
    cfg = PRESETS[profile]
    given = {k: v for k, v in options.items() if v is not None}
    if given.get("freq", cfg.freq) == "D" and "encoder_length" not in given:
        given["encoder_length"] = 28
    cfg = replace(cfg, **given)
    if cfg.freq not in FREQS:
        from data.errors import MarqueeError
        raise MarqueeError(f"unknown --freq {cfg.freq!r} (use W or D)")
    if cfg.model not in MODELS:
        from data.errors import MarqueeError
        raise MarqueeError(f"unknown --model {cfg.model!r} (one of {', '.join(MODELS)})")
    if cfg.horizon < 1:
        from data.errors import MarqueeError
        raise MarqueeError("--horizon must be at least 1")
    return cfg
