"""Ranking metrics against hand-computed tiny cases (same definitions as the shared evalkit)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys import metrics
from recsys.dataset import build_matrix, split_validation


def test_one_user_by_hand():
    ranked, relevant = [["a", "b", "c"]], [{"a", "c"}]
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k(ranked, relevant, 3) == pytest.approx(dcg / idcg)
    assert metrics.precision_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(ranked, relevant, 3) == pytest.approx(1.0)
    assert metrics.map_at_k(ranked, relevant, 3) == pytest.approx((1 / 1 + 2 / 3) / 2)


def test_two_users_average_and_short_lists_and_empty_truth():
    # user 1: one relevant at rank 2 of k=2; user 2: list shorter than k, no hit; user 3: no truth, skipped
    ranked = [["x", "y"], ["z"], ["q", "r"]]
    relevant = [{"y"}, {"w", "v", "u"}, set()]
    assert metrics.ndcg_at_k(ranked, relevant, 2) == pytest.approx(((1 / math.log2(3)) / 1 + 0) / 2)
    assert metrics.precision_at_k(ranked, relevant, 2) == pytest.approx((1 / 2 + 0) / 2)
    assert metrics.recall_at_k(ranked, relevant, 2) == pytest.approx((1 / 1 + 0) / 2)
    assert metrics.map_at_k(ranked, relevant, 2) == pytest.approx(((1 / 2) / 1 + 0) / 2)


def test_ideal_ranking_scores_one_and_ideal_caps_at_k():
    # 5 relevant, k=3, all top-3 relevant: nDCG = 1 (the ideal has only k slots)
    assert metrics.ndcg_at_k([[1, 2, 3]], [{1, 2, 3, 4, 5}], 3) == pytest.approx(1.0)
    assert metrics.map_at_k([[1, 2, 3]], [{1, 2, 3, 4, 5}], 3) == pytest.approx(1.0)
    assert metrics.recall_at_k([[1, 2, 3]], [{1, 2, 3, 4, 5}], 3) == pytest.approx(3 / 5)


def test_topk_hits_masks_seen_titles():
    import torch

    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0]])
    seen = torch.tensor([[1.0, 0.0, 0.0, 0.0]])      # best title already watched
    held = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    hits = metrics.topk_hits(scores, seen, held, 2)  # picks titles 1, 2 -> hit at rank 2
    np.testing.assert_array_equal(hits, [[0.0, 1.0]])


@pytest.mark.parametrize("m", [None, 10, 12, 300])
def test_pooled_topk_equals_the_full_ranking(m):
    """The blend search's shortcut ranks exactly as ranking every title: users with most titles seen (fewer
    unseen than the pool, or than k), zero weights, and pools small enough that many users need the fallback."""
    import torch

    from recsys.pooled_topk import PooledTopK

    gen = torch.Generator().manual_seed(3)
    users, titles = 64, 300
    z = [torch.randn(users, titles, generator=gen) * s for s in (1.0, 2.0, 0.5)]
    z[1][:, :40] += 3.0                                       # a component that likes the first titles
    seen = (torch.rand(users, titles, generator=gen) < 0.3).float()
    seen[:4, 5:] = 1.0                                        # 5 unseen titles left: fewer than k
    seen[4:8, 40:] = 1.0                                      # 40 unseen: fewer than most pools
    pool = PooledTopK(z, seen, k=10, m=m)
    for w in [(1.0, 0.0, 0.0), (0.2, 0.5, 0.3), (0.0, 0.9, 0.1), (0.5, 0.0, 0.5), (0.1, 0.1, 0.8)]:
        full = sum(wi * zi for wi, zi in zip(w, z, strict=True) if wi).masked_fill(seen > 0, float("-inf"))
        expected = full.topk(10, dim=1).indices
        got = pool.topk(w)
        assert torch.equal(got[8:], expected[8:]), w
        # where fewer than 10 titles are left, the -inf tail may come in any order: the unseen ones match
        for r in range(8):
            unseen = int((seen[r] <= 0).sum())
            assert got[r, :min(unseen, 10)].tolist() == expected[r, :min(unseen, 10)].tolist()


def test_validation_split_is_seeded_disjoint_and_keeps_every_user():
    rng = np.random.default_rng(1)
    m = sp.csr_matrix((rng.random((40, 50)) < 0.3).astype(np.float32))
    fit, val = split_validation(m, 0.2, seed=7)
    fit2, val2 = split_validation(m, 0.2, seed=7)
    assert (fit != fit2).nnz == 0 and (val != val2).nnz == 0
    assert fit.multiply(val).nnz == 0 and (fit + val != m).nnz == 0
    assert (np.diff(fit.indptr) >= 1)[np.diff(m.indptr) >= 1].all()
    per_user = np.diff(val.indptr) / np.maximum(np.diff(m.indptr), 1)
    assert abs(per_user[np.diff(m.indptr) >= 10].mean() - 0.2) < 0.05


def test_build_matrix_maps_ids_and_counts_repeats_once():
    import pandas as pd

    ev = pd.DataFrame({"user_id": ["b", "a", "a", "a"], "item_id": ["x", "y", "y", "x"], "rating": [1, 5, 2, 3.0]})
    data = build_matrix(ev)
    assert list(data.user_ids) == ["a", "b"] and list(data.item_ids) == ["x", "y"]
    np.testing.assert_array_equal(data.matrix.toarray(), [[1, 1], [1, 0]])
    rated = build_matrix(ev, "rating").matrix.toarray()
    # weight = rating / max rating; a repeated pair keeps its largest weight
    assert rated[0, 0] == pytest.approx(0.6) and rated[0, 1] == pytest.approx(1.0) and rated[1, 0] == pytest.approx(0.2)


def test_a_view_beside_a_low_rating_does_not_make_it_a_full_positive():
    import pandas as pd

    ev = pd.DataFrame({"user_id": ["a", "a", "a", "b"], "item_id": ["x", "x", "y", "x"],
                       "rating": [None, 2.0, None, 10.0]})   # a viewed and rated x 2/10; a only viewed y
    rated = build_matrix(ev, "rating").matrix.toarray()
    assert rated[0, 0] == pytest.approx(0.2)    # the rating, not the unrated view's full weight
    assert rated[0, 1] == pytest.approx(1.0)    # never rated: a plain positive
    assert rated[1, 0] == pytest.approx(1.0)
