"""Contract tests over every registered loss: the interface, gradients, edge cases, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from clincode.losses import LOSSES, LabelStats, LossInputError, build_loss, describe_losses
from clincode.registry import UnknownNameError

NAMES = LOSSES.names()
REQUIRED = {"bce", "weighted_bce", "class_balanced", "focal", "asymmetric", "sh", "sh_focal", "dependency_aware"}
V = 6


@pytest.fixture(autouse=True)
def _quiet_unfitted_warnings():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(never fitted|not fitted).*")
        yield


def make(name: str, num_labels: int = V) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_loss(name, num_labels)


def batch(seed: int = 0, shape: tuple[int, ...] = (5, V), dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64).mul_(1.5).to(dtype)
    t = (torch.rand(*shape, generator=g) < 0.35).to(torch.int8)
    t[torch.rand(*shape, generator=g) < 0.15] = -1
    flat = t.view(-1, shape[-1])
    flat[0] = 0  # all-negative row
    flat[1] = 1  # all-positive row
    return x, t


def value_and_grad(loss: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    out = loss(x, t)
    (grad,) = torch.autograd.grad(out, x)
    return out.detach(), grad


def test_required_names_registered() -> None:
    assert REQUIRED <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_builds_with_defaults_and_returns_a_scalar(name: str) -> None:
    loss = make(name)
    x, t = batch()
    out = loss(x.float(), t)
    assert out.dim() == 0 and out.dtype == torch.float32 and torch.isfinite(out)
    assert f"num_labels={V}" in loss.extra_repr()


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name: str) -> None:
    loss = make(name)
    x, t = batch(1)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda inp: loss(inp, t), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_finite_at_extreme_logits(name: str) -> None:
    loss = make(name)
    _, t = batch(2)
    g = torch.Generator().manual_seed(3)
    signs = torch.where(torch.rand(t.shape, generator=g) < 0.5, -1.0, 1.0)
    for x in (100.0 * signs, -100.0 * signs, torch.full(t.shape, 100.0), torch.full(t.shape, -100.0)):
        for dtype in (torch.float32, torch.float64):
            out, grad = value_and_grad(loss, x.to(dtype), t)
            assert torch.isfinite(out), (name, dtype)
            assert torch.isfinite(grad).all(), (name, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_all_ignored_batch_is_a_differentiable_zero(name: str) -> None:
    loss = make(name)
    x = torch.randn(4, V, requires_grad=True)
    t = torch.full((4, V), -1, dtype=torch.int8)
    out = loss(x, t)
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("name", NAMES)
def test_ignored_entries_change_nothing(name: str) -> None:
    loss = make(name)
    x, t = batch(4)
    ignored = t == -1
    assert ignored.any()
    noisy = x.clone()
    noisy[ignored] = torch.randn(int(ignored.sum()), dtype=x.dtype) * 50
    out_a, grad_a = value_and_grad(loss, x, t)
    out_b, grad_b = value_and_grad(loss, noisy, t)
    assert out_a.item() == pytest.approx(out_b.item(), rel=1e-12, abs=1e-12)
    assert torch.equal(grad_a[ignored], torch.zeros_like(grad_a[ignored]))
    assert torch.allclose(grad_a, grad_b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_leading_dims_equal_flattened(name: str) -> None:
    loss = make(name)
    x, t = batch(5, shape=(3, 4, V))
    out_3d, grad_3d = value_and_grad(loss, x, t)
    out_2d, grad_2d = value_and_grad(loss, x.reshape(12, V), t.reshape(12, V))
    assert out_3d.item() == pytest.approx(out_2d.item(), rel=1e-12)
    assert torch.allclose(grad_3d.reshape(12, V), grad_2d, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("low", [torch.float16, torch.bfloat16])
def test_half_precision_input_gives_the_float32_result(name: str, low: torch.dtype) -> None:
    loss = make(name)
    x, t = batch(6, dtype=low)
    out_low = loss(x, t)
    out_f32 = loss(x.float(), t)
    assert out_low.dtype == torch.float32
    assert out_low.item() == pytest.approx(out_f32.item(), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_targets_may_be_bool_float_or_int(name: str) -> None:
    loss = make(name)
    x, _ = batch(7)
    t = torch.rand(x.shape, generator=torch.Generator().manual_seed(7)) < 0.4
    ref = loss(x, t.to(torch.int8)).item()
    for tt in (t, t.to(torch.float32), t.to(torch.int64)):
        assert loss(x, tt).item() == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_autocast_does_not_change_the_result(name: str) -> None:
    loss = make(name)
    x, t = batch(8, dtype=torch.float32)
    plain = loss(x, t).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = loss(x, t)
    assert inside.dtype == torch.float32
    assert inside.item() == pytest.approx(plain, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_fit_accepts_label_stats_and_rejects_wrong_v(name: str) -> None:
    loss = make(name)
    stats = LabelStats.from_targets([np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0], [1, 1, 0, 0, 0, 1]])])
    assert loss.fit(stats) is loss
    x, t = batch(9)
    assert torch.isfinite(loss(x, t))
    wrong = LabelStats.from_targets([np.zeros((2, V + 1), dtype=np.int8)])
    with pytest.raises(ValueError, match=f"V = {V + 1}.*V = {V}"):
        loss.fit(wrong)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_keeps_the_value(name: str) -> None:
    params = {"statistics": "dataset"} if "statistics" in dict(describe(name)["params"]) else {}
    loss = build_loss(name, V, **params)
    stats = LabelStats.from_targets([np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 1, 1, 0], [1, 1, 0, 0, 0, 1]] * 3)])
    loss.fit(stats)
    x, t = batch(10)
    fresh = build_loss(name, V, **params)
    fresh.load_state_dict(loss.state_dict())
    assert fresh(x, t).item() == pytest.approx(loss(x, t).item(), rel=1e-12)


def describe(name: str) -> dict:
    return next(d for d in describe_losses() if d["name"] == name)


def test_describe_losses_lists_every_name_with_summary_and_defaults() -> None:
    described = describe_losses()
    assert [d["name"] for d in described] == NAMES
    for d in described:
        assert set(d) == {"name", "summary", "params"}
        assert d["summary"] and "\n" not in d["summary"]
        assert "num_labels" not in d["params"]
    assert describe("focal")["params"] == {"gamma": 2.0, "beta": 0.9999, "eps": 1e-6, "statistics": "batch"}
    assert describe("dependency_aware")["params"]["alpha_neg"] == 25.0
    assert describe("dependency_aware")["params"]["lam"] == 10.0
    assert describe("focal_marn")["params"] == {"alpha": 0.999, "gamma": 2.0}
    assert "focal_marn" in describe("focal")["summary"]  # the paper forms are easy to find


# ------------------------------------------------------------------------- bad input


def test_unknown_loss_lists_known_names() -> None:
    with pytest.raises(UnknownNameError) as err:
        build_loss("focall", V)
    message = str(err.value)
    assert all(name in message for name in NAMES)
    assert "focal" in message


def test_unknown_param_names_the_param_and_the_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"gama.*accepted: gamma, beta, eps, statistics"):
        build_loss("focal", V, gama=2.0)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("focal", {"gamma": -1.0}, "gamma"),
        ("class_balanced", {"beta": 1.0}, "beta"),
        ("weighted_bce", {"statistics": "train"}, "statistics"),
        ("sh", {"eta": 0.0}, "eta"),
        ("dependency_aware", {"mode": "sparse"}, "mode"),
        ("dependency_aware", {"rank": 0}, "rank"),
        ("asymmetric", {"clip": 1.5}, "clip"),
    ],
)
def test_bad_params_raise(name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_loss(name, V, **params)


def test_bad_num_labels_raises() -> None:
    with pytest.raises(ValueError, match="num_labels"):
        build_loss("bce", 0)


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_clear_errors(name: str) -> None:
    loss = make(name)
    x, t = batch(11, dtype=torch.float32)
    with pytest.raises(LossInputError, match=r"targets shape \(5, 5\) must equal logits shape \(5, 6\)"):
        loss(x, t[:, :5])
    with pytest.raises(LossInputError, match=f"last dimension is {V + 1}.*V = {V}"):
        loss(torch.zeros(5, V + 1), torch.zeros(5, V + 1))
    bad = t.clone()
    bad[0, 0] = 2
    with pytest.raises(LossInputError, match="targets must only hold the values 1.*0.*-1"):
        loss(x, bad)
    with pytest.raises(LossInputError, match="targets must only hold"):
        loss(x, t.float() * 0.5)
    nan = x.clone()
    nan[1, 2] = float("nan")
    with pytest.raises(LossInputError, match="logits must be finite.*NaN"):
        loss(nan, t)
    with pytest.raises(LossInputError, match="floating-point"):
        loss(t, t)


def test_validation_can_be_turned_off() -> None:
    loss = make("bce")
    loss.validate = False
    x, t = batch(12, dtype=torch.float32)
    bad = t.clone()
    bad[0, 0] = 2  # not checked any more: the hot path trusts its batches
    assert torch.isfinite(loss(x, bad))
