"""Small generated viewing data for the recommender tests: three clusters of co-watched titles.

Users mostly watch titles of one cluster, so any sensible model recommends the rest of a
user's cluster; titles 0..9 are cluster A, 10..19 B, 20..29 C. Title ids are strings "t0".."t29".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

N_ITEMS, CLUSTER = 30, 10


def clustered_events(n_users: int = 90, per_user: int = 6, seed: int = 0) -> pd.DataFrame:
    """user_id, item_id, ts, rating: user u watches `per_user` titles of cluster u % 3, plus one
    random title elsewhere; cluster A's first title is the most popular overall."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        c = u % 3
        items = set(rng.choice(CLUSTER, per_user, replace=False) + c * CLUSTER)
        items.add(int(rng.integers(N_ITEMS)))
        if u % 2 == 0:
            items.add(0)
        rows += [(f"u{u}", f"t{i}") for i in sorted(items)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(df)), unit="min")
    df["rating"] = 4.0
    return df


def clustered_matrix(**kw) -> sp.csr_matrix:
    """The same data as a (users, 30) CSR matrix, rows in user order, columns = title number."""
    df = clustered_events(**kw)
    users = df["user_id"].str[1:].astype(int).to_numpy()
    items = df["item_id"].str[1:].astype(int).to_numpy()
    return sp.csr_matrix((np.ones(len(df), np.float32), (users, items)), shape=(users.max() + 1, N_ITEMS))
