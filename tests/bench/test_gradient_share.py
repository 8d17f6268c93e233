"""benchmarks/gradient_share.py: the per-term gradients of the dependency-aware loss on a hand-worked
row, their sum against the packaged loss, the shares, and a run on a tiny cohort.
"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from clincode.losses import DenseForm, dependency_aware_loss

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "gradient_share.py"
_spec = importlib.util.spec_from_file_location("gradient_share", _PATH)
gs = importlib.util.module_from_spec(_spec)
sys.modules["gradient_share"] = gs  # its dataclass looks its module up by name
_spec.loader.exec_module(gs)

# One row, V = 3, label 0 positive, logits 0 (every correctness c = 1/2). With alpha_neg = 2 and
# eps = 0: w_pos = N / P = 2, w_neg = 2 P / N = 1, so v = (1, 1/2, 1/2) and
# dv/dx = s coef c (1 - c) = (1/2, -1/4, -1/4). Descending ranks: label 0 first, the tie between
# labels 1 and 2 goes to the lower index last: ranks (1, 3, 2), omega = rank / 6.
X = torch.zeros(1, 3)
T = torch.tensor([[1, 0, 0]])
KW = dict(alpha_neg=2.0, lam=1.0, eps=0.0)


def truth01() -> torch.Tensor:
    truth = torch.zeros(3, 3, dtype=torch.bool)
    truth[0, 1] = truth[1, 0] = True
    return truth


def test_rank_term_and_w_gradient_by_hand():
    _, _, g_rank, g_dep, g_w = gs.term_gradients(X, T, torch.zeros(3, 3), **KW)
    # d(1 - C)/dx = -omega dv/dx = (-1/6 * 1/2, -3/6 * -1/4, -2/6 * -1/4)
    torch.testing.assert_close(g_rank, torch.tensor([[-1 / 12, 1 / 8, 1 / 12]]))
    # W = 0: q = 0, dI/dq = -sigmoid'(0) / K = -1/12, and dq/dv = 2 W v = 0
    torch.testing.assert_close(g_dep, torch.zeros(1, 3))
    # dq/dW_raw[a, b] = v_a v_b off the diagonal: (1/2, 1/2, 1/4) for the pairs (0,1), (0,2), (1,2)
    expected = -torch.tensor([[0, 1 / 2, 1 / 2], [1 / 2, 0, 1 / 4], [1 / 2, 1 / 4, 0]]) / 12
    torch.testing.assert_close(g_w, expected)

    s = gs.gradient_sums(X, T, torch.zeros(3, 3), truth01(), **KW).shares()
    assert s["rank_of_terms"] == pytest.approx(1.0)
    assert s["rank_on_pos"] == pytest.approx(2 / 7)  # (1/12) / (1/12 + 1/8 + 1/12)
    assert s["rank_pos_per_neg"] == pytest.approx((1 / 12) / (5 / 48))  # one positive vs the mean of two negatives
    assert s["rank_correct"] == pytest.approx(1.0)  # the positive pushed up, both negatives down
    assert math.isnan(s["dep_on_pos"])  # no gradient on the logits at all
    assert s["w_on_true"] == pytest.approx((1 / 24) / (1 / 24 + 1 / 24 + 1 / 48))  # 0.4
    assert s["true_of_pairs"] == pytest.approx(1 / 3)
    assert s["w_negative"] == 1.0 and s["w_positive"] == 0.0 and s["w_net_up"] == pytest.approx(1.0)
    assert s["w_above_eps"] == 1.0
    assert s["copos_of_pairs"] == 0.0 and s["w_on_copos"] == 0.0  # one positive: no pair positive together


def test_dependency_term_by_hand():
    w_raw = torch.zeros(3, 3)
    w_raw[0, 1] = w_raw[1, 0] = 1.0
    _, _, _, g_dep, g_w = gs.term_gradients(X, T, w_raw, **KW)
    # q = v^T W v = 2 v0 v1 = 1, K = 3; d(I)/dq = -sigmoid'(1/3) / 3; dq/dv = 2 W v = (1, 2, 0)
    d = -torch.sigmoid(torch.tensor(1 / 3)) * torch.sigmoid(torch.tensor(-1 / 3)) / 3
    torch.testing.assert_close(g_dep, d * torch.tensor([[1 * 0.5, 2 * -0.25, 0.0]]))
    torch.testing.assert_close(g_w[0, 1], d * 0.5)
    s = gs.gradient_sums(X, T, w_raw, truth01(), **KW).shares()
    assert s["dep_on_pos"] == pytest.approx(0.5)
    assert s["dep_correct"] == pytest.approx(1.0)  # W > 0 on (0, 1): both pushed towards their side
    assert s["dep_pos_per_neg"] == pytest.approx(0.5 / 0.25)


def test_terms_sum_to_the_packaged_loss():
    torch.manual_seed(0)
    b, t, v = 3, 4, 12
    logits = torch.randn(b, t, v) * 2
    targets = (torch.rand(b, t, v) < 0.2).long()
    targets[0, 3] = -1  # a padded visit
    targets[2, 2:] = -1
    w_raw = torch.randn(v, v) * 0.3
    kw = dict(alpha_neg=25.0, lam=10.0, eps=1e-6)
    assert gs.packaged_deviation(logits, targets, w_raw, **kw) < 1e-5
    _, _, _, _, g_w = gs.term_gradients(logits, targets, w_raw, **kw)
    w = w_raw.clone().requires_grad_(True)
    (packaged,) = torch.autograd.grad(dependency_aware_loss(logits, targets, DenseForm(w), **kw), w)
    torch.testing.assert_close(g_w, packaged, rtol=1e-4, atol=1e-8)


def test_copositive_pairs_and_sums_add():
    t = torch.tensor([[1, 1, 0, -1], [0, 1, 1, 0]])
    pairs = gs.copositive_pairs(t)
    assert pairs.tolist() == [
        [False, True, False, False],
        [True, False, True, False],
        [False, True, False, False],
        [False, False, False, False],
    ]
    a = gs.GradientSums(rows=1, positives=2, w_l1=1.0, w_l1_true=0.5)
    total = a + a
    assert total.rows == 2 and total.positives == 4 and total.shares()["w_on_true"] == 0.5


def test_adam_step_size():
    m = gs.PairMoments(3)
    m.add(torch.tensor([-1.0, -2.0, 0.0], dtype=torch.float64))
    m.add(torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64))
    # same gradient every batch: step 1; one large gradient in two batches: |-1| / sqrt(2); never: 0
    torch.testing.assert_close(m.adam_step(), torch.tensor([1.0, 2**-0.5, 0.0], dtype=torch.float64))


def test_script_runs_on_a_tiny_cohort(tiny_cohort, monkeypatch, capsys):
    argv = ["gradient_share.py", str(tiny_cohort), "--num-labels", "60", "--bce-steps", "3", "--batches", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    gs.main()
    out = capsys.readouterr().out
    assert "V = 60" in out and "max relative deviation" in out
    assert out.count("| initialisation |") == 4 and out.count("| after 3 bce steps |") == 4
