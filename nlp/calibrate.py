"""Temperature scaling: one scalar T so that sigmoid(z / T) is calibrated on held-out data.

The dashboard averages p_positive per title and day, so probabilities must mean what they say;
a fine-tuned transformer is usually over-confident (T > 1 softens it). T never changes a label.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.stats import rankdata


def nll(z: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of labels y (0/1) under p = sigmoid(z / T)."""
    s = np.asarray(z, dtype=np.float64) / temperature
    # log(1 + exp(-s)) for y=1, log(1 + exp(s)) for y=0, computed stably
    return float(np.mean(np.logaddexp(0.0, np.where(np.asarray(y) == 1, -s, s))))


def fit_temperature(z: np.ndarray, y: np.ndarray) -> float:
    """T > 0 minimizing validation NLL (searched on log T, bounded to [0.05, 20]).

    1 when every validation logit is on its label's side (a small or easy validation set): the NLL then
    falls all the way to T -> 0, so the fit would only hit its bound and turn every score into 0 or 1
    (and the model's bias alone, e.g. for a text in a language it never saw, into 0.9)."""
    if np.all(np.where(np.asarray(y) == 1, 1.0, -1.0) * np.asarray(z, dtype=np.float64) > 0):
        return 1.0
    res = minimize_scalar(lambda log_t: nll(z, y, float(np.exp(log_t))), bounds=(np.log(0.05), np.log(20.0)),
                          method="bounded", options={"xatol": 1e-4})
    t = float(np.exp(res.x))
    return t if nll(z, y, t) <= nll(z, y, 1.0) else 1.0


def probabilities(z: np.ndarray, temperature: float) -> np.ndarray:
    return expit(np.asarray(z, dtype=np.float64) / temperature)


def metrics(z: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> dict[str, float]:
    """accuracy, NLL, Brier and ROC-AUC of logits z against labels y."""
    y = np.asarray(y)
    p = probabilities(z, temperature)
    ranks = rankdata(p)
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    auc = float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else float("nan")
    return {"accuracy": float(((p >= 0.5) == (y == 1)).mean()), "nll": nll(z, y, temperature),
            "brier": float(((p - y) ** 2).mean()), "auc": auc, "n": int(len(y))}
