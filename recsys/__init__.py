"""Collaborative filtering: the user x title matrix from the store, PyTorch models (EASE, RP3beta,
iALS, GF-CF, BPR-MF, LightGCN, a validation-weighted blend), selection on a train-only validation split,
and batch scoring with reasons. Entry points: `recsys.api` (train / score / evaluate /
recommend_for_history), driven by `marquee train|score|evaluate recsys`."""
