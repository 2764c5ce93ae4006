"""Metrics of a run on a user's labelled file (`marquee evaluate sentiment --labeled FILE`), and the name
they are recorded under in the run's metrics.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nlp.calibrate import metrics

LABEL_NAMES = {1: "positive", 0: "negative"}


def eval_key(path: str | Path) -> str:
    """`eval:<absolute path>`: two files of one name (a/reviews.csv, b/reviews.csv) keep separate results,
    and evaluating the same file again replaces its own."""
    return f"eval:{Path(path).resolve()}"


def labelled_metrics(p: np.ndarray, y: np.ndarray) -> dict:
    """What p_positive (n,) scores against labels y (n,) 0/1: accuracy, NLL, Brier and the label counts,
    and ROC AUC when both labels are there. A file of one label still has an accuracy (the share given
    its label); AUC, which ranks positives against negatives, has none: `undefined` says so rather than
    refusing the file or writing NaN."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(y)
    out = {**metrics(np.log(p / (1 - p)), y), "positive": int((y == 1).sum()), "negative": int((y == 0).sum())}
    if math.isnan(out["auc"]):
        only = LABEL_NAMES[int(y[0])]
        del out["auc"]
        out["undefined"] = {"auc": f"ROC AUC ranks positive reviews against negative ones; every review here is {only}"}
    return out
