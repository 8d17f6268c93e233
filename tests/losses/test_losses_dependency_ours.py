"""The dependency-aware objectives of ours: W's PMI prior, top-k mask, aliases and W's gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clincode.audit.dependency import cooccurrence, pmi
from clincode.losses import LabelStats, build_loss, training_pmi


def _stats() -> LabelStats:
    rng = np.random.default_rng(0)
    t = (rng.random((80, 7)) < np.linspace(0.5, 0.05, 7)).astype(np.int64)
    t[:, 1] = np.where(t[:, 0] == 1, 1, t[:, 1])  # label 1 follows label 0
    return LabelStats.from_targets([t])


def test_training_pmi_equals_the_audit_pmi_on_cooccurring_pairs() -> None:
    stats = _stats()
    c, counts, n = cooccurrence(stats.indptr, stats.indices, stats.num_labels)
    want = pmi(c, counts, n) * (c > 0)
    np.testing.assert_allclose(training_pmi(stats), want, atol=1e-12)


@pytest.mark.parametrize("name", ["dependency_log", "dependency_pl"])
def test_pmi_init_top_k_mask_and_export(name: str, tmp_path) -> None:
    stats = _stats()
    loss = build_loss(name, 7, init="pmi", top_k=2).fit(stats)
    w = loss.dependency_matrix().numpy()
    kept = stats.cooccurrence(top=2).toarray() > 0
    np.fill_diagonal(kept, False)
    np.testing.assert_allclose(w, training_pmi(stats) * kept, atol=1e-6)
    assert np.allclose(w, w.T) and np.all(np.diag(w) == 0)
    assert (w[~kept] == 0).all()
    path = loss.export_dependency_matrix([f"C{i}" for i in range(7)], tmp_path / "w.parquet")
    assert path.is_file()


def test_w_learns_only_on_kept_pairs_and_has_a_gradient() -> None:
    stats = _stats()
    loss = build_loss("dependency_pl", 7, init="zeros", prior_reg=0.0, top_k=1).fit(stats)
    x = torch.randn(10, 7)
    t = (torch.rand(10, 7) < 0.4).to(torch.int8)
    loss(x, t).backward()
    g = loss.w_raw.grad
    assert g is not None and g.abs().sum() > 0
    kept = torch.as_tensor(stats.cooccurrence(top=1).toarray() > 0)
    kept.fill_diagonal_(False)
    sym = g + g.T
    assert torch.all(sym[~kept] == 0)


def test_detach_keeps_the_model_gradient_equal_to_bce() -> None:
    loss = build_loss("dependency_pl", 5, init="kaiming", detach=True, prior_reg=0.0)
    bce = build_loss("bce", 5)
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(6, 5) < 0.4).to(torch.int8)
    (g_dep,) = torch.autograd.grad(loss(x, t), x)
    (g_bce,) = torch.autograd.grad(bce(x, t), x)
    assert torch.allclose(g_dep, g_bce)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_positive_rows_sum_equals_the_dense_product(dtype) -> None:
    from clincode.losses.dependency_ours import positive_rows_sum

    g = torch.Generator().manual_seed(0)
    y = (torch.rand(9, 7, generator=g) < 0.3).to(dtype)
    y[3] = 0.0  # a row without positives
    y[8] = 1.0  # a row of positives only
    w = torch.randn(7, 7, generator=g, dtype=dtype, requires_grad=True)
    got = positive_rows_sum(y, w)
    want = y @ w
    torch.testing.assert_close(got, want)
    up = torch.randn(9, 7, generator=g, dtype=dtype)
    (g_got,) = torch.autograd.grad((got * up).sum(), w)
    (g_want,) = torch.autograd.grad((want * up).sum(), w)
    torch.testing.assert_close(g_got, g_want)


def test_center_uses_the_probabilities_as_constants() -> None:
    """center: x_j reaches the loss through its own bce and z_j only (sigmoid(x_k) carries no gradient)."""
    loss = build_loss("dependency_pl", 5, init="kaiming", center=True, prior_reg=0.0, mu=0.7)
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(6, 5) < 0.4).to(torch.int8)
    t[0, 1] = -1
    (g,) = torch.autograd.grad(loss(x, t), x)
    w = loss.dependency_matrix().double()
    m = (t != -1).double()
    y = (t == 1).double()
    xd = x.detach()
    z = xd + (m * (y - torch.sigmoid(xd))) @ w
    expected = m * ((torch.sigmoid(xd) - y) + 0.7 * (torch.sigmoid(z) - y)) / m.sum()
    assert torch.allclose(g, expected)
    plain = build_loss("dependency_pl", 5, init="kaiming", prior_reg=0.0, mu=0.7)
    plain.load_state_dict(loss.state_dict())
    assert not torch.allclose(plain(x, t), loss(x, t))  # the centring changes the value


def test_dependency_log_without_class_weights_and_zero_lambda_is_a_rank_weighted_bce() -> None:
    loss = build_loss("dependency_log", 4, lambda_reg=0.0)
    assert loss.lam == 0.0
    x = torch.tensor([[0.0, 1.0, -2.0, 3.0]], dtype=torch.float64)
    t = torch.tensor([[1, 0, 0, 1]])
    nll = torch.nn.functional.softplus(-(2.0 * t - 1.0) * x).sort().values[0]
    omega = torch.arange(1, 5, dtype=torch.float64) * 2 / (4 * 5)
    assert loss(x, t).item() == pytest.approx(float((omega * nll).sum()), rel=1e-12)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("dependency_log", {"class_weights": "label"}, "class_weights"),
        ("dependency_log", {"init": "normal"}, "init"),
        ("dependency_log", {"lam": 3.0, "lambda_reg": 1.0}, "lambda_reg"),
        ("dependency_pl", {"top_k": 0}, "top_k"),
        ("dependency_pl", {"prior_reg": -1.0}, "prior_reg"),
        ("dependency_pl", {"mu": float("nan")}, "mu"),
        ("dependency_pl", {"detach": 1}, "detach"),
        ("dependency_pl", {"center": "yes"}, "center"),
    ],
)
def test_bad_params_raise(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_loss(name, 5, **params)


def test_fit_without_row_record_warns_and_keeps_w() -> None:
    stats = LabelStats(np.array([2, 1, 0]), np.array([3, 3, 3]), 3)
    loss = build_loss("dependency_pl", 3)
    with pytest.warns(UserWarning, match="per-row record"):
        loss.fit(stats)
    assert torch.equal(loss.dependency_matrix(), torch.zeros(3, 3))
