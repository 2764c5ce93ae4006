"""The implicit user x title matrix, read point-in-time from the store, and a validation split.

Rows are users, columns titles, values interaction weights (1 for binary). The id maps turn
store ids (VARCHAR) into row / column numbers and back. The validation split is carved out
of the training data only: every model choice is made on it, never on a test set.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from data import features, store
from data.errors import MarqueeError

USERS = "SELECT user_id FROM users ORDER BY user_id"
TITLES = "SELECT item_id, title FROM items"


@dataclass
class Interactions:
    """matrix: (n_users, n_items) float32 CSR; user_ids / item_ids: the store ids of rows / columns."""
    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def user_index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids)}

    def item_index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.item_ids)}


def build_matrix(events: pd.DataFrame, weighting: str = "binary") -> Interactions:
    """Events (user_id, item_id[, rating]) -> Interactions. Repeated pairs count once (max weight); with
    `rating` weighting a pair's weight is its best rating, and only a pair never rated counts as 1 (a view
    logged beside a 2/10 rating must not lift it to a full positive)."""
    if events.empty:
        raise MarqueeError("no interactions to train on: ingest some with `marquee ingest interactions FILE`")
    users = np.array(sorted(events["user_id"].astype(str).unique()), dtype=object)
    items = np.array(sorted(events["item_id"].astype(str).unique()), dtype=object)
    rows = pd.Index(users).get_indexer(events["user_id"].astype(str))
    cols = pd.Index(items).get_indexer(events["item_id"].astype(str))
    r = events["rating"].astype("float64") if "rating" in events else pd.Series(np.nan, index=events.index)
    if weighting == "rating" and r.max() > 0:
        # rating / max rating, floored at 0.1 so every watched title stays a (weak) positive; NaN: unrated
        vals = (r / r.max()).clip(0.1, 1.0).to_numpy(np.float32)
    else:
        vals = np.ones(len(events), np.float32)
    pairs = pd.DataFrame({"r": rows, "c": cols, "v": vals}).groupby(["r", "c"], sort=False)["v"].max().fillna(1.0)
    r, c = pairs.index.get_level_values(0), pairs.index.get_level_values(1)
    mat = sp.csr_matrix((pairs.to_numpy(np.float32), (r, c)), shape=(len(users), len(items)))
    return Interactions(mat, users, items)


def load(home: str | os.PathLike | None = None, as_of: datetime | date | str | None = None,
         weighting: str = "binary", event_types: Sequence[str] | None = None) -> Interactions:
    """The interactions strictly before `as_of` (None: all), of `event_types` (None: all), as an implicit matrix."""
    with store.read(home) as con:
        events = features.relation(con, "interactions", as_of, event_types).select("user_id, item_id, rating").df()
    if events.empty and (as_of is not None or event_types):   # the store has events: the filters left none
        kinds = f" of type {', '.join(map(repr, event_types))}" if event_types else ""
        before = f" before {as_of}" if as_of is not None else ""
        raise MarqueeError(f"no interactions{kinds}{before} to train on")
    return build_matrix(events, weighting)


def events(home: str | os.PathLike | None, event_types: Sequence[str] | None = None) -> pd.DataFrame:
    """Every (user_id, item_id) pair of the store's interactions of `event_types` (None: all)."""
    with store.read(home) as con:
        rel = features.relation(con, "interactions", event_types=event_types)
        return rel.select("user_id, item_id").distinct().df().astype(str)


def store_users(home: str | os.PathLike | None = None) -> list[str]:
    """Every user the store knows (some may have no interactions yet)."""
    with store.read(home) as con:
        return [r[0] for r in con.execute(USERS).fetchall()]


def titles(home: str | os.PathLike | None = None) -> dict[str, str]:
    with store.read(home) as con:
        return {str(i): t for i, t in con.execute(TITLES).fetchall()}


def split_validation(matrix: sp.csr_matrix, frac: float = 0.2, seed: int = 42
                     ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per user, a seeded random `frac` of their interactions goes to validation (round half up,
    at least one left to fit). Returns (fit, validation), both of the input's shape."""
    rng = np.random.default_rng(seed)
    m = matrix.tocsr()
    held = np.zeros(m.nnz, bool)
    for u in range(m.shape[0]):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        n = hi - lo
        take = min(int(np.floor(frac * n + 0.5)), n - 1)
        if take > 0:
            held[lo + rng.choice(n, size=take, replace=False)] = True
    coo = m.tocoo()
    fit = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=m.shape)
    val = sp.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), shape=m.shape)
    return fit, val
