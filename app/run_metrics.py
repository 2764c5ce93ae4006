"""A run's metrics JSON for people: flattened, and its few headline numbers picked out.

Pure functions shared by the dashboard and `marquee runs` (no Streamlit, no store).
"""
from __future__ import annotations

import json
from typing import Any

HEADLINE = ("ndcg", "wape", "accuracy", "auc", "mase", "coverage", "brier", "precision", "recall", "map")


def flat_metrics(text: str | dict | None, prefix: str = "") -> dict[str, Any]:
    """A run's metrics JSON as one flat dict (`a.b.c` keys), numbers and strings only."""
    data = json.loads(text) if isinstance(text, str) else (text or {})
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, int | float | str | bool) or value is None:
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)[:200]
    return out


def metric_rank(key: str) -> tuple[int, bool, int, int]:
    """Sort key putting quality metrics first (in HEADLINE order), the run's own before per-candidate
    ones (`name/candidate`), shallow and short names before nested."""
    hit = next((i for i, word in enumerate(HEADLINE) if word in key.lower()), len(HEADLINE))
    return hit, "/" in key, key.count("."), len(key)


def headline_metrics(metrics: str | dict | None, n: int = 4) -> dict[str, float]:
    """The few numbers worth showing first: the quality metrics (nDCG, WAPE, accuracy, ...) of the
    best-ranked metric's group (e.g. `validation.*`, never a baseline's group beside it, per-candidate
    details or parameters); numeric only. Where the run names the model it `selected` and scores candidates by
    name (`inner_backtest_wape.<name>`), the selected one's score leads."""
    flat = flat_metrics(metrics)
    numeric = {k: v for k, v in flat.items()
               if is_number(v) and not k.startswith(("params.", "candidates.", "linear.")) and "/" not in k}

    ranked = sorted(numeric, key=metric_rank)
    known = [k for k in ranked if metric_rank(k)[0] < len(HEADLINE)]
    if known:   # only the leading group: `val.*`, not the baselines' `val_nblr.*` measured beside it
        group = known[0].rpartition(".")[0]   # known[0] is the shallowest, shortest key: its group is whole
        ranked = [k for k in known if (k.startswith(group + ".") if group else "." not in k)]
    selected = flat.get("selected")
    if isinstance(selected, str):
        ranked = sorted(ranked, key=lambda k: not k.endswith("." + selected))   # stable: the rest keep their order
    return {k: numeric[k] for k in ranked[:n]}


def with_selected_marked(headline: dict[str, float], metrics: str | dict | None) -> dict[str, float]:
    """`headline` with the score of the candidate the run `selected` named so (` (selected)`): a forecast run
    lists every recipe's inner-backtest WAPE, and the best of them need not be the one it chose."""
    selected = flat_metrics(metrics).get("selected")
    if not isinstance(selected, str):
        return headline
    return {(k + " (selected)" if k.endswith("." + selected) else k): v for k, v in headline.items()}


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v
