"""One contract, run over every model class (and over CUDA when there is one; else those skip)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys import scoring
from recsys.models import MODELS, load, make_recommender
from tests.recsys_fixtures import CLUSTER, N_ITEMS, clustered_matrix


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """Tiny batched solves: one thread avoids spin-waiting on a shared CPU (see RecsysConfig.cpu_threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


class RecommenderContract:
    kind: str
    params: dict

    def make(self, device="cpu", seed=3):
        return make_recommender(self.kind, device, seed, **self.params)

    @pytest.fixture(scope="class")
    def fitted(self):
        return self.make().fit(clustered_matrix())

    def test_scores_have_one_row_per_user_and_are_finite(self, fitted):
        s = fitted.score(torch.tensor([0, 5, 7]))
        assert s.shape == (3, 30) and torch.isfinite(s).all()

    def test_saved_model_reloads_to_identical_scores(self, fitted, tmp_path):
        fitted.save(tmp_path / "m")
        again = load(tmp_path / "m", "cpu")
        users = torch.arange(20)
        assert torch.equal(again.score(users), fitted.score(users))
        h = torch.zeros(2, 30)
        h[0, :4] = 1
        h[1, 12:15] = 1
        assert torch.equal(again.score_history(h), fitted.score_history(h))

    def test_same_seed_same_scores(self, fitted):
        again = self.make().fit(clustered_matrix())
        assert torch.equal(again.score(torch.arange(30)), fitted.score(torch.arange(30)))

    def test_fold_in_new_user_gets_the_rest_of_their_cluster(self, fitted):
        h = torch.zeros(1, 30)
        h[0, CLUSTER:CLUSTER + 5] = 1            # five titles of cluster B, a user the model never saw
        top = scoring.recommend(fitted, _csr(h), np.array([-1]), k=5)
        picks = top.items[0]
        assert not set(picks) & set(range(CLUSTER, CLUSTER + 5))      # nothing already watched
        assert sum(CLUSTER <= p < 2 * CLUSTER for p in picks) >= 4    # the rest of cluster B
        assert all(CLUSTER <= r < CLUSTER + 5 for r in top.reasons[0])  # explained by their own titles

    def test_a_reason_is_a_watched_title_similar_to_the_pick_or_none(self, fitted):
        h = torch.zeros(2, 30)
        h[0, [0, 1, 2]] = 1           # cluster A
        h[1, [0, 11, 25]] = 1         # one title of each cluster
        picks = torch.arange(30).repeat(2, 1)           # explain every title, related or not
        reasons = scoring.explain(fitted, h, picks)
        for b in range(2):
            watched = h[b].nonzero().ravel().tolist()
            for pick, why in zip(picks[b].tolist(), reasons[b].tolist(), strict=True):
                sim = fitted.item_similarity(torch.tensor([pick])).float()[0, watched]
                if why == -1:
                    assert sim.max() <= 0                 # nothing watched supports it
                else:
                    assert why in watched and fitted.item_similarity(torch.tensor([pick])).float()[0, why] > 0

    def test_known_users_never_get_a_seen_title(self, fitted):
        X = fitted.train
        top = scoring.recommend(fitted, X, np.arange(X.shape[0]), k=8)
        for u in range(X.shape[0]):
            assert not set(top.items[u]) & set(X[u].indices)

    def test_similar_items_excludes_itself_and_stays_in_cluster(self, fitted):
        sc, nb = fitted.similar_items(torch.tensor([22]), k=5)
        assert 22 not in nb[0].tolist()
        assert sum(20 <= j < 30 for j in nb[0].tolist()) >= 4

    def test_similar_titles_are_only_positively_similar_ones(self):
        """A title only one person watched, and nothing else, is similar to no title (item-item models); no
        model lists a title with similarity <= 0 (a ranking of zeros would be arbitrary)."""
        import scipy.sparse as sp

        X = clustered_matrix()
        lonely = sp.csr_matrix(([1.0], ([0], [N_ITEMS])), shape=(1, N_ITEMS + 1), dtype=np.float32)
        X = sp.vstack([sp.hstack([X, sp.csr_matrix((X.shape[0], 1), dtype=np.float32)]), lonely]).tocsr()
        model = self.make().fit(X)
        sims = scoring.similar_items(model, np.array([f"t{i}" for i in range(N_ITEMS + 1)]), k=5)
        assert (sims["score"] > 0).all() and len(sims) > 0
        if self.kind in ("ease", "rp3beta"):
            assert f"t{N_ITEMS}" not in set(sims["item_id"]) | set(sims["similar_item_id"])

    @pytest.mark.parametrize("device", DEVICES)
    def test_runs_on_device(self, device):
        m = self.make(device).fit(clustered_matrix())
        s = m.score(torch.arange(4, device=m.device))
        assert s.device.type == device and torch.isfinite(s).all()


def _csr(h: torch.Tensor):
    import scipy.sparse as sp

    return sp.csr_matrix(h.numpy())


class TestEASE(RecommenderContract):
    kind, params = "ease", {"l2": 5.0}

    def test_weights_are_the_closed_form(self):
        """The in-place factorisation (two I x I matrices at a time) gives Steck's B, computed here in float64."""
        from recsys.models.ease import ease_weights

        X = clustered_matrix()
        P = np.linalg.inv((X.T @ X).toarray().astype(np.float64) + 5.0 * np.eye(X.shape[1]))
        expected = -P / np.diag(P)[None, :]
        np.fill_diagonal(expected, 0.0)
        np.testing.assert_allclose(ease_weights(X, 5.0).numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(self.make().fit(X).B.numpy(), expected, atol=1e-5)


class TestRP3beta(RecommenderContract):
    kind, params = "rp3beta", {"alpha": 0.8, "beta": 0.3}


class TestIALS(RecommenderContract):
    kind, params = "ials", {"factors": 8, "l2": 1.0, "alpha": 10.0, "iterations": 6}


class TestGFCF(RecommenderContract):
    kind, params = "gfcf", {"factors": 3, "alpha": 0.3}

    def test_weights_are_the_plain_sum_to_the_last_bit(self):
        """W is built in place (two (I, I) matrices at a time, not four); the values are those of P + alpha * L."""
        import scipy.sparse as sp

        from recsys.models.base import binary_degrees
        from recsys.models.gfcf import top_eigenvectors

        X = clustered_matrix()
        B, user_deg, item_deg = binary_degrees(X)
        R = sp.diags(user_deg ** -0.5) @ B @ sp.diags(item_deg ** -0.5)
        P = torch.as_tensor((R.T @ R).toarray(), dtype=torch.float32)
        V = top_eigenvectors(R, 3, "cpu")
        d = torch.as_tensor(item_deg, dtype=torch.float32).sqrt()
        expected = P + 0.3 * ((V / d[:, None]) @ (V * d[:, None]).T)
        expected.fill_diagonal_(0.0)
        assert torch.equal(self.make().fit(X).W, expected)

    def test_w_is_row_major_as_made_so_fit_never_copies_it(self):
        """`fit` makes each learned tensor contiguous (the layout its files will have); a column-major W had cost
        one more whole (I, I) copy at the end of the fit."""
        import scipy.sparse as sp

        model = self.make()
        model._fit(sp.csr_matrix(clustered_matrix(), dtype=np.float32), None)
        assert model.W.is_contiguous()

    def test_low_rank_term_added_in_blocks_of_rows_is_the_whole_product_to_the_last_bit(self):
        """The low-rank term is made a block of rows at a time (memory: one (I, I) matrix fewer); blocks of 7 rows,
        a last short one included, give W + alpha * (A @ Bt) exactly."""
        from recsys.models.gfcf import add_low_rank

        g = torch.Generator().manual_seed(0)
        W, A, Bt = torch.randn(300, 300, generator=g), torch.randn(300, 16, generator=g), torch.randn(16, 300, generator=g)
        expected = W + 0.3 * (A @ Bt)
        add_low_rank(W, A, Bt, 0.3, rows=7)
        assert torch.equal(W, expected)


@pytest.mark.parametrize("exact_max", [10_000, 0], ids=["full-eigh", "top-k-lanczos"])
def test_gfcf_matches_the_papers_svd_formulation(exact_max, monkeypatch):
    """Eigenvectors of R~^T R~ stand in for the SVD of R~ (Shen et al.): scores must be the same, from the
    full eigendecomposition (small catalogs) and from the top-k one big catalogs get."""
    import scipy.sparse as sp

    import recsys.models.gfcf as gfcf

    monkeypatch.setattr(gfcf, "EXACT_MAX_ITEMS", exact_max)

    rng = np.random.default_rng(0)
    R = (rng.random((40, 25)) < 0.2).astype(np.float32)
    R[0, :] = 1                                   # no empty column
    R[np.arange(40), rng.integers(25, size=40)] = 1   # no empty row
    m = make_recommender("gfcf", "cpu", factors=6, alpha=0.5).fit(sp.csr_matrix(R))
    du, di = R.sum(1), R.sum(0)
    Rt = R / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    V = np.linalg.svd(Rt.astype(np.float64))[2][:6].T
    ref = R @ (Rt.T @ Rt) + 0.5 * ((R / np.sqrt(di)) @ V) @ V.T * np.sqrt(di)
    got = m.score(torch.arange(40)).double().numpy()
    unseen = R == 0                                 # the zeroed diagonal only moves seen titles' scores
    np.testing.assert_allclose(got[unseen], ref[unseen], rtol=1e-4, atol=1e-5)


def test_gfcf_ideal_filter_changes_the_ranking():
    """alpha > 0 must reorder some user's unseen titles (else the low-pass term would be dead code)."""
    X = clustered_matrix()
    users = torch.arange(X.shape[0])
    a = make_recommender("gfcf", "cpu", factors=2, alpha=0.0).fit(X).score(users)
    b = make_recommender("gfcf", "cpu", factors=2, alpha=2.0).fit(X).score(users)
    seen = torch.as_tensor(X.toarray()) > 0
    top_a = a.masked_fill(seen, float("-inf")).topk(5).indices
    top_b = b.masked_fill(seen, float("-inf")).topk(5).indices
    assert not torch.equal(top_a, top_b)


class TestBPRMF(RecommenderContract):
    kind, params = "mf", {"dim": 16, "epochs": 40, "lr": 0.05, "batch_size": 128}


class TestLightGCN(RecommenderContract):
    kind, params = "lightgcn", {"dim": 16, "layers": 2, "epochs": 40, "lr": 0.05, "batch_size": 128}


class TestBlend(RecommenderContract):
    kind = "blend"
    params = {"components": [{"kind": "ease", "params": {"l2": 5.0}, "weight": 0.6},
                             {"kind": "ials", "params": {"factors": 8, "l2": 1.0, "iterations": 4}, "weight": 0.4}]}


def test_every_model_kind_has_a_contract_test():
    tested = {c.kind for c in RecommenderContract.__subclasses__()}
    assert tested == set(MODELS)


def test_columns_come_from_the_current_matrix():
    """Item-item reasons read columns through a cached transpose: it must equal W[:, items].T, and a new W
    (a refit or a load) must not be answered from the old copy."""
    from recsys.models.base import columns

    class Holder:
        pass

    holder, items = Holder(), torch.tensor([2, 0, 2])
    W = torch.arange(16.0).reshape(4, 4)
    assert torch.equal(columns(holder, W, items), W[:, items].T)
    W2 = W * 10
    assert torch.equal(columns(holder, W2, items), W2[:, items].T)


@pytest.mark.parametrize("cap", [None, 1])
def test_ease_factorises_on_every_core_unless_capped_and_restores_one_thread(monkeypatch, cap):
    """The quick profile trains on one torch thread (small solves), but EASE's I x I Cholesky keeps every
    core busy, unless `--threads` caps it (factor_threads); the count is back to one for what runs next."""
    import os

    from data.device import factor_threads

    seen = []
    real = torch.linalg.cholesky

    def spy(G):
        seen.append(torch.get_num_threads())
        return real(G)

    monkeypatch.setattr(torch.linalg, "cholesky", spy)
    with factor_threads(cap or 0):
        make_recommender("ease", "cpu", 3, l2=10.0).fit(clustered_matrix())
    assert seen == [cap or len(os.sched_getaffinity(0))]
    assert torch.get_num_threads() == 1


def test_the_blend_search_in_blocks_of_users_finds_what_all_users_at_once_find():
    """The search scores validation users a block at a time (memory: one block's scores per component); every
    step is per user, so blocks of 7 give the weights and metrics of one block holding everyone."""
    from dataclasses import replace

    from recsys.config import RecsysConfig
    from recsys.dataset import split_validation
    from recsys.train import _search_blend, _standardized

    fit, val = split_validation(clustered_matrix(), 0.2, 0)
    users = np.flatnonzero(np.diff(val.indptr) > 0)
    models = {"ease": make_recommender("ease", "cpu", 0, l2=5.0).fit(fit),
              "rp3beta": make_recommender("rp3beta", "cpu", 0, alpha=0.8, beta=0.3).fit(fit),
              "gfcf": make_recommender("gfcf", "cpu", 0, factors=3, alpha=0.3).fit(fit)}
    results = []
    for cfg in (RecsysConfig(batch_size=len(users)), replace(RecsysConfig(), batch_size=7)):
        z = {k: _standardized(m, fit, users, cfg) for k, m in models.items()}
        results.append(_search_blend(z, fit, val, users, cfg))
    whole, blocks = results
    assert len(users) > 7 * 3 and whole[0] is not None
    assert blocks == whole


SMALL_GRID = {"ease": [{"l2": 2.0}, {"l2": 20.0}], "rp3beta": [{"alpha": 0.8, "beta": 0.3}, {"alpha": 0.6, "beta": 0.6}],
              "gfcf": [{"factors": 3, "alpha": 0.3}]}


def test_the_selection_picks_what_it_picked_when_it_held_the_fitted_models():
    """The selection keeps each kind's validation z-scores, not its model; recorded with 84b14e5 (which held the
    best model of each kind and scored it again in the blend search): the same blend, weights and nDCG@10."""
    from recsys.config import RecsysConfig
    from recsys.train import select

    cfg = RecsysConfig(candidates=("ease", "rp3beta", "gfcf"), grid=SMALL_GRID, batch_size=16)
    sel = select(clustered_matrix(n_users=300, per_user=5, seed=1), cfg, "auto", torch.device("cpu"), 0)
    assert sel.kind == "blend"
    assert sel.params == {"components": [{"kind": "ease", "params": {"l2": 20.0, "binary": True}, "weight": 0.6},
                                         {"kind": "rp3beta", "params": {"alpha": 0.8, "beta": 0.3}, "weight": 0.4}]}
    assert sel.validation["ndcg@10"] == pytest.approx(0.5086736106208334, abs=1e-12)
    assert {k: c["validation"]["ndcg@10"] for k, c in sel.candidates.items()} == pytest.approx(
        {"ease": 0.5015515784694192, "rp3beta": 0.499174461747311, "gfcf": 0.48929841949185515,
         "blend": 0.5086736106208334}, abs=1e-12)


def test_no_grid_point_model_outlives_its_turn(monkeypatch):
    """Every model the selection fits is gone before the next one is fitted (a loser's (I, I) matrix had stayed
    beside the next fit, and each kind's best beside all later ones): at most one is alive at a time."""
    import weakref

    import recsys.train as train
    from recsys.config import RecsysConfig

    made: list[weakref.ref] = []
    real = train.make_recommender

    def spy(*args, **kwargs):
        assert all(r() is None for r in made), "an earlier grid point's model is still alive"
        model = real(*args, **kwargs)
        made.append(weakref.ref(model))
        return model

    monkeypatch.setattr(train, "make_recommender", spy)
    cfg = RecsysConfig(candidates=("ease", "rp3beta", "gfcf"), grid=SMALL_GRID, batch_size=16)
    sel = train.select(clustered_matrix(n_users=300, per_user=5, seed=1), cfg, "auto", torch.device("cpu"), 0)
    assert len(made) == 5 and sel.kind == "blend"
    assert all(r() is None for r in made)
