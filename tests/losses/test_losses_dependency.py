"""The dependency-aware loss: exact against a slow reference, two GEMMs, W access and export,
the low-rank mode [ours], and the rank weights of the ordered weighted average.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from clincode.losses import (
    DenseForm,
    LowRankForm,
    build_loss,
    dependency_aware_loss,
    export_dependency_matrix,
    rank_weights,
)


def slow_reference(x: torch.Tensor, t: torch.Tensor, w_raw: torch.Tensor, alpha_neg=25.0, lam=10.0, eps=1e-6):
    """docs/methods.md section 1.3 with explicit loops over rows; plain autograd, float64."""
    x = x.reshape(-1, x.shape[-1]).double()
    t = t.reshape(-1, t.shape[-1])
    w_raw = w_raw.double()
    w = (w_raw + w_raw.T) / 2
    w = w - torch.diag(torch.diag(w))
    m = (t != -1).double()
    y = (t == 1).double()
    n_pos, n_neg = (m * y).sum(), (m * (1 - y)).sum()
    w_pos, w_neg = n_neg / (n_pos + eps), alpha_neg * n_pos / (n_neg + eps)
    p = torch.sigmoid(x)
    c = (1 - (p - y).abs()) * m
    v = torch.where(t == 1, c * w_pos, torch.where(t == 0, c * w_neg, torch.zeros_like(c)))
    rows = []
    for r in range(x.shape[0]):
        idx = torch.nonzero(t[r] != -1).flatten()
        k = idx.numel()
        if k == 0:
            continue
        s = torch.sort(v[r, idx], descending=True).values
        omega = torch.tensor([2.0 * i / (k * (k + 1)) for i in range(1, k + 1)], dtype=torch.float64)
        big_c = (omega * s).sum()
        raw = v[r] @ w @ v[r] / k
        rows.append(1 - big_c + lam * (1 - torch.sigmoid(raw)))
    if not rows:
        return x.sum() * 0
    return torch.stack(rows).mean()


def data(seed: int, rows: int, num_labels: int, p_pos: float = 0.2, p_ign: float = 0.1, scale: float = 2.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, num_labels, generator=g) * scale
    t = (torch.rand(rows, num_labels, generator=g) < p_pos).to(torch.int8)
    t[torch.rand(rows, num_labels, generator=g) < p_ign] = -1
    t[0] = 0
    t[-1] = -1  # a row without valid labels is skipped
    return x, t


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("seed", "rows", "num_labels", "scale"), [(0, 6, 5, 2.0), (1, 17, 23, 2.0), (2, 40, 64, 2.0), (3, 30, 40, 15.0)]
)
def test_dense_value_and_gradients_match_slow_reference(dtype, seed, rows, num_labels, scale) -> None:
    torch.manual_seed(seed)
    loss = build_loss("dependency_aware", num_labels)
    x, t = data(seed, rows, num_labels, scale=scale)  # scale 15: many saturated sigmoids
    xa = x.to(dtype).clone().requires_grad_(True)
    out = loss(xa, t)
    out.backward()
    xr = x.detach().double().clone().requires_grad_(True)
    wr = loss.w_raw.detach().double().requires_grad_(True)
    expected = slow_reference(xr, t, wr)
    expected.backward()
    assert out.item() == pytest.approx(expected.item(), rel=1e-5)
    for got, want in ((xa.grad, xr.grad), (loss.w_raw.grad, wr.grad)):
        err = (got.double() - want).abs().max() / want.abs().max()
        assert err < 1e-5


def test_w_gradient_is_symmetric_with_zero_diagonal() -> None:
    loss = build_loss("dependency_aware", 12)
    x, t = data(3, 20, 12)
    loss(x, t).backward()
    g = loss.w_raw.grad
    assert torch.allclose(g, g.T, atol=1e-7)
    assert torch.count_nonzero(torch.diagonal(g)) == 0
    assert g.abs().sum() > 0


def test_gradcheck_with_respect_to_w_float64() -> None:
    x, t = data(4, 7, 5)
    g = torch.Generator().manual_seed(4)
    xd = x.double().requires_grad_(True)
    w = torch.randn(5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ab = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x_, w_: dependency_aware_loss(x_, t, DenseForm(w_)), (xd, w))
    assert torch.autograd.gradcheck(lambda x_, ab_: dependency_aware_loss(x_, t, LowRankForm(ab_)), (xd, ab))


class _CountMatmuls(TorchDispatchMode):
    """Counts matrix products of at least ``work`` multiply-adds (the R x V x V ones)."""

    def __init__(self, work: int) -> None:
        super().__init__()
        self.work = work
        self.big = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = func.overloadpacket
        if packet in (torch.ops.aten.mm, torch.ops.aten.bmm, torch.ops.aten.addmm, torch.ops.aten.baddbmm):
            a, b = (args[1], args[2]) if packet in (torch.ops.aten.addmm, torch.ops.aten.baddbmm) else args[:2]
            if math.prod(a.shape) * b.shape[-1] >= self.work:
                self.big += 1
        return func(*args, **(kwargs or {}))


def test_dense_step_spends_exactly_two_matrix_products() -> None:
    rows, num_labels = 300, 48
    loss = build_loss("dependency_aware", num_labels)
    x, t = data(5, rows, num_labels)
    x.requires_grad_(True)
    valid_rows = int((t != -1).any(dim=1).sum())  # rows without a valid label are dropped first
    with _CountMatmuls(valid_rows * num_labels * num_labels) as counter:
        loss(x, t).backward()
    assert counter.big == 2
    assert x.grad is not None and loss.w_raw.grad is not None
    with _CountMatmuls(rows * num_labels * num_labels) as plain:  # the counter does see a third one
        from clincode.losses.quadratic import dense_quadratic_form

        v = torch.rand(rows, num_labels, requires_grad=True)
        dense_quadratic_form(v, loss.w_raw).sum().backward()
    assert plain.big == 3


def test_dependency_matrix_is_symmetric_zero_diagonal_detached() -> None:
    loss = build_loss("dependency_aware", 9)
    w = loss.dependency_matrix()
    raw = loss.w_raw.detach()
    assert w.shape == (9, 9) and not w.requires_grad
    assert torch.equal(w, w.T)
    assert torch.count_nonzero(torch.diagonal(w)) == 0
    off = ~torch.eye(9, dtype=torch.bool)
    assert torch.allclose(w[off], ((raw + raw.T) / 2)[off])
    w.add_(1.0)  # a copy: editing it leaves the parameter alone
    assert torch.equal(loss.w_raw.detach(), raw)


def test_w_is_a_parameter_of_the_loss_saved_and_trained() -> None:
    torch.manual_seed(0)
    loss = build_loss("dependency_aware", 8)
    bound = 1 / math.sqrt(8)  # nn.Linear's init: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), ...)
    assert loss.w_raw.abs().max() <= bound and loss.w_raw.abs().max() > 0.5 * bound
    assert [n for n, _ in loss.named_parameters()] == ["w_raw"]
    assert "w_raw" in loss.state_dict()
    before = loss.dependency_matrix()
    opt = torch.optim.SGD(loss.parameters(), lr=0.5)
    x, t = data(6, 30, 8)
    loss(x, t).backward()
    opt.step()
    assert not torch.allclose(before, loss.dependency_matrix())


def test_lowrank_equals_dense_with_the_same_effective_w() -> None:
    torch.manual_seed(1)
    low = build_loss("dependency_aware", 15, mode="lowrank", rank=4)
    dense = build_loss("dependency_aware", 15)
    with torch.no_grad():
        a, b = low.factors.chunk(2, dim=1)
        dense.w_raw.copy_(a @ b.T)
    assert torch.allclose(low.dependency_matrix(), dense.dependency_matrix(), atol=1e-7)
    x, t = data(7, 25, 15)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    va, vb = low(xa, t), dense(xb, t)
    va.backward()
    vb.backward()
    assert va.item() == pytest.approx(vb.item(), rel=1e-5)
    assert torch.allclose(xa.grad, xb.grad, rtol=1e-4, atol=1e-7)
    # chain rule through W = sym(A B^T): dL/dA = G B, dL/dB = G^T A with G = dL/dW_raw
    g = dense.w_raw.grad
    a, b = low.factors.detach().chunk(2, dim=1)
    expected = torch.cat([g @ b, g.T @ a], dim=1)
    assert torch.allclose(low.factors.grad, expected, rtol=1e-4, atol=1e-7)


def test_lowrank_init_matches_dense_entry_scale_and_runs_at_large_v() -> None:
    torch.manual_seed(2)
    v_big = 20_000
    loss = build_loss("dependency_aware", v_big, mode="lowrank", rank=16)
    assert [n for n, _ in loss.named_parameters()] == ["factors"]
    assert sum(p.numel() for p in loss.parameters()) == 2 * v_big * 16  # never V x V
    x, t = data(8, 12, v_big, p_pos=0.002)
    x.requires_grad_(True)
    out = loss(x, t)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(x.grad).all()
    small = build_loss("dependency_aware", 400, mode="lowrank", rank=16)
    dense = build_loss("dependency_aware", 400)
    ratio = small.dependency_matrix().std() / dense.dependency_matrix().std()
    assert 0.8 < ratio < 1.25


# ------------------------------------------------------------------------ rank weights


def slow_rank_weights(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.zeros_like(v, dtype=np.float64)
    for r in range(v.shape[0]):
        idx = [j for j in range(v.shape[1]) if valid[r, j]]
        k = len(idx)
        # descending by value; among ties the lower label index gets the larger rank
        ordered = sorted(idx, key=lambda j: (-v[r, j], -j))
        for i, j in enumerate(ordered, start=1):
            out[r, j] = 2 * i / (k * (k + 1))
    return out


@pytest.mark.parametrize("partial", [True, False])
def test_rank_weights_fast_and_generic_paths_agree_with_slow_loop(partial: bool) -> None:
    rng = np.random.default_rng(9)
    v = rng.integers(0, 6, size=(30, 40)).astype(np.float32) / 4  # many ties
    v[3] = 0.0
    valid = rng.random((30, 40)) > 0.2 if partial else np.ones((30, 40), dtype=bool)
    valid[5] = False  # a row without valid entries
    v[~valid] = 0.0
    expected = slow_rank_weights(v, valid)
    fast = rank_weights(torch.from_numpy(v), torch.from_numpy(valid).float())  # packed int64 keys
    generic = rank_weights(torch.from_numpy(v).double(), torch.from_numpy(valid))  # torch.sort
    assert np.allclose(fast.numpy(), expected, rtol=1e-6, atol=0)
    assert np.allclose(generic.numpy(), expected, rtol=1e-12, atol=0)
    rows_sum = expected.sum(1)
    assert np.allclose(rows_sum[valid.any(1)], 1.0)  # the weights of a row sum to 1


def test_rank_weights_put_the_largest_weight_on_the_smallest_value() -> None:
    omega = rank_weights(torch.tensor([[3.0, 1.0, 2.0]]), torch.ones(1, 3))
    assert torch.allclose(omega, torch.tensor([[1 / 6, 3 / 6, 2 / 6]]))


def test_rank_weights_treat_negative_zero_as_zero() -> None:
    v = torch.tensor([[0.0, -0.0, 1.0, 0.0]])
    fast = rank_weights(v, torch.ones(1, 4))
    generic = rank_weights(v.double(), torch.ones(1, 4))
    assert torch.allclose(fast.double(), generic)


# ---------------------------------------------------------------------------- export


def test_export_writes_the_upper_triangle_with_code_names(tmp_path: Path) -> None:
    w = torch.tensor([[0.0, 0.5, -2.0], [0.5, 0.0, 1.0], [-2.0, 1.0, 0.0]])
    path = export_dependency_matrix(w, ["A01", "B02", "C03"], tmp_path / "deps" / "w.parquet")
    table = pq.read_table(path).to_pydict()
    assert list(zip(table["code_a"], table["code_b"], table["weight"], strict=True)) == [
        ("A01", "B02", 0.5),
        ("A01", "C03", -2.0),
        ("B02", "C03", 1.0),
    ]
    top_path = export_dependency_matrix(w, ["A01", "B02", "C03"], tmp_path / "top.parquet", top_k=2)
    top = pq.read_table(top_path).to_pydict()
    assert list(zip(top["code_a"], top["code_b"], top["weight"], strict=True)) == [("A01", "C03", -2.0), ("B02", "C03", 1.0)]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deps", "top.parquet", "w.parquet"]  # no temp files left


def test_export_from_the_loss_and_bad_arguments(tmp_path: Path) -> None:
    loss = build_loss("dependency_aware", 4)
    codes = ["a", "b", "c", "d"]
    table = pq.read_table(loss.export_dependency_matrix(codes, tmp_path / "w.parquet")).to_pydict()
    w = loss.dependency_matrix()
    assert len(table["weight"]) == 6
    assert table["weight"][0] == pytest.approx(w[0, 1].item())
    with pytest.raises(ValueError, match="codes must name the V = 4 labels"):
        export_dependency_matrix(w, codes[:3], tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="square"):
        export_dependency_matrix(w[:3], codes, tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="top_k"):
        export_dependency_matrix(w, codes, tmp_path / "x.parquet", top_k=-1)


@pytest.mark.parametrize("mode", ["dense", "lowrank"])
def test_backward_twice_with_retain_graph_accumulates(mode: str) -> None:
    """The hand-written backward reuses spare buffers once; a second backward must not corrupt the first."""
    torch.manual_seed(12)
    loss = build_loss("dependency_aware", 10, mode=mode, rank=3)
    x, t = data(12, 20, 10)
    x.requires_grad_(True)
    out = loss(x, t)
    out.backward(retain_graph=True)
    first_x = x.grad.clone()
    first_p = [p.grad.clone() for p in loss.parameters()]
    out.backward()
    assert torch.allclose(x.grad, 2 * first_x, rtol=1e-6, atol=1e-9)
    for p, g in zip(loss.parameters(), first_p, strict=True):
        assert torch.allclose(p.grad, 2 * g, rtol=1e-6, atol=1e-9)


def test_fully_ignored_rows_are_dropped_exactly() -> None:
    """Padded rows (all -1) change neither the value nor any gradient of the dense loss."""
    torch.manual_seed(0)
    num_labels = 12
    loss = build_loss("dependency_aware", num_labels)
    x = torch.randn(10, num_labels, dtype=torch.float64)
    t = (torch.rand(10, num_labels) < 0.2).long()
    padded_x = torch.cat([x, torch.randn(6, num_labels, dtype=torch.float64)]).requires_grad_(True)
    padded_t = torch.cat([t, torch.full((6, num_labels), -1)])
    x.requires_grad_(True)
    a = loss(x, t)
    ga_x, ga_w = torch.autograd.grad(a, [x, loss.w_raw])
    b = loss(padded_x, padded_t)
    gb_x, gb_w = torch.autograd.grad(b, [padded_x, loss.w_raw])
    assert torch.allclose(a, b, rtol=1e-12)
    assert torch.allclose(ga_x, gb_x[:10], rtol=1e-10) and torch.all(gb_x[10:] == 0)
    assert torch.allclose(ga_w, gb_w, rtol=1e-10)


# ------------------------------------------------- the authors' parameter names and W's initialisation


def test_lambda_reg_is_an_alias_of_lam() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64)
    t = (torch.rand(4, 5) < 0.4).to(torch.int8)
    torch.manual_seed(1)
    by_alias = build_loss("dependency_aware", 5, lambda_reg=2.5)
    torch.manual_seed(1)
    by_name = build_loss("dependency_aware", 5, lam=2.5)
    assert by_alias.lam == 2.5
    assert by_alias(x, t).item() == by_name(x, t).item()
    assert build_loss("dependency_aware", 5, lam=2.5, lambda_reg=2.5).lam == 2.5  # the same value twice is fine


def test_lam_and_lambda_reg_that_disagree_raise() -> None:
    with pytest.raises(ValueError, match="lam=3.0 and lambda_reg=2.0"):
        build_loss("dependency_aware", 5, lam=3.0, lambda_reg=2.0)
    with pytest.raises(ValueError, match="lam"):
        build_loss("dependency_aware", 5, lambda_reg=-1.0)


def test_init_zeros_starts_w_at_zero_and_w_still_learns() -> None:
    loss = build_loss("dependency_aware", 5, init="zeros")
    assert torch.equal(loss.dependency_matrix(), torch.zeros(5, 5))
    x = torch.randn(6, 5, requires_grad=True)
    t = (torch.rand(6, 5) < 0.4).to(torch.int8)
    t[0, :2] = 1
    out = loss(x, t)
    assert out.item() > 0
    out.backward()
    assert loss.w_raw.grad is not None and loss.w_raw.grad.abs().sum() > 0  # the pairwise term moves W
    assert "init='zeros'" in loss.extra_repr()
    kaiming = build_loss("dependency_aware", 5)
    assert kaiming.init == "kaiming" and kaiming.dependency_matrix().abs().sum() > 0


def test_bad_init_and_zero_lowrank_raise() -> None:
    with pytest.raises(ValueError, match="init must be one of"):
        build_loss("dependency_aware", 5, init="normal")
    with pytest.raises(ValueError, match="mode='dense'"):
        build_loss("dependency_aware", 5, init="zeros", mode="lowrank")
