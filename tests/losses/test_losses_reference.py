"""Every loss against a slow explicit loop written from docs/methods.md (float64, 1e-6), and
hand-computed values for a tiny case of each.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from clincode.losses import LabelStats, build_loss
from helpers import loss_references as ref

LN2 = math.log(2.0)
LN3 = math.log(3.0)


def random_case(seed: int, rows: int = 7, num_labels: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Logits and targets with ignored entries, an all-negative, an all-positive and an all-ignored row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, size=(rows, num_labels))
    t = (rng.random((rows, num_labels)) < 0.3).astype(np.int64)
    t[rng.random((rows, num_labels)) < 0.15] = -1
    t[0] = 0  # all-negative row
    t[1] = 1  # all-positive row
    t[2] = -1  # all-ignored row
    t[3, :2] = 1  # make sure row 3 has positives among the valid labels
    return x, t


def train_stats(seed: int, num_labels: int = 9) -> LabelStats:
    """Training-split statistics with a long tail, for the dataset-statistics variants."""
    rng = np.random.default_rng(100 + seed)
    freq = np.linspace(0.6, 0.03, num_labels)
    t = (rng.random((60, num_labels)) < freq).astype(np.int64)
    t[rng.random(t.shape) < 0.05] = -1
    return LabelStats.from_targets([t[:25], t[25:]])


def rows_positive(stats: LabelStats) -> list[set[int]]:
    assert stats.indptr is not None and stats.indices is not None
    return [set(stats.indices[a:b].tolist()) for a, b in zip(stats.indptr[:-1], stats.indptr[1:], strict=True)]


@dataclass
class Case:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    fit: bool = False
    ident: str = ""

    def __post_init__(self) -> None:
        self.ident = self.ident or self.name


def reference_value(case: Case, loss: torch.nn.Module, x: np.ndarray, t: np.ndarray, stats: LabelStats) -> float:
    X, T = x.tolist(), t.tolist()
    p = case.params
    dataset = p.get("statistics") == "dataset" and case.fit
    pos = stats.positives.tolist() if dataset else None
    val = stats.valid.tolist() if dataset else None
    if case.name == "bce":
        return ref.bce(X, T)
    if case.name == "weighted_bce":
        return ref.weighted_bce(X, T, pos, val)
    if case.name == "class_balanced":
        return ref.class_balanced(X, T, p.get("beta", 0.9999), pos)
    if case.name == "focal":
        return ref.focal_ho(X, T, p.get("gamma", 2.0), p.get("beta", 0.9999), p.get("eps", 1e-6), pos)
    if case.name == "focal_marn":
        return ref.focal_marn(X, T, p.get("alpha", 0.999), p.get("gamma", 2.0))
    if case.name == "asymmetric":
        return ref.asymmetric(X, T, p.get("gamma_pos", 0.0), p.get("gamma_neg", 4.0), p.get("clip", 0.05))
    if case.name in ("sh", "sh_focal"):
        gamma = p.get("gamma", 2.0) if case.name == "sh_focal" else 0.0
        eta = p.get("eta", 0.5)
        if case.fit and p.get("statistics", "dataset") == "dataset":
            segs = ref.segments(stats.positives.tolist(), eta)
            return ref.sh(X, T, segs, ref.sh_inverse_beta(rows_positive(stats), segs), gamma)
        return ref.sh_batch(X, T, eta, gamma)
    if case.name == "dependency_aware":
        w = loss.dependency_matrix().double().tolist()  # symmetric, zero diagonal: sym(w) = w
        kw = {k: p[k] for k in ("alpha_neg", "lam", "eps", "loss_scale") if k in p}
        return ref.dependency_aware(X, T, w, **kw)
    if case.name in ("dependency_log", "dependency_pl"):
        w = loss.dependency_matrix().double().tolist()
        V = len(X[0])
        fitted = case.fit and stats.has_rows
        prior = ref.training_pmi(rows_positive(stats), V) if fitted else [[0.0] * V for _ in range(V)]
        if fitted and p.get("init") == "pmi" and not p.get("prior_reg"):
            assert np.allclose(w, prior, atol=1e-6)  # W starts at the training PMI
        mask = [[a != b for b in range(V)] for a in range(V)]
        if case.name == "dependency_log":
            kw = {k: p[k] for k in ("class_weights", "alpha_neg", "lam", "eps") if k in p}
            value = ref.dependency_log(X, T, w, **kw)
            reg = p.get("prior_reg", 0.0)
        else:
            value = ref.dependency_pl(X, T, w, p.get("mu", 0.5), p.get("center", False))
            reg = p.get("prior_reg", 1.0)
        any_valid = any(v != -1 for row in T for v in row)
        return value + (ref.prior_penalty(w, prior, mask, reg) if reg and any_valid else 0.0)
    raise AssertionError(f"no reference for {case.name}")


CASES = [
    Case("bce"),
    Case("weighted_bce"),
    Case("weighted_bce", {"statistics": "dataset"}, fit=True, ident="weighted_bce-dataset"),
    Case("class_balanced"),
    Case("class_balanced", {"beta": 0.9}, ident="class_balanced-beta0.9"),
    Case("class_balanced", {"statistics": "dataset"}, fit=True, ident="class_balanced-dataset"),
    Case("focal"),
    Case("focal", {"gamma": 1.5, "beta": 0.99}, ident="focal-gamma1.5"),
    Case("focal", {"statistics": "dataset"}, fit=True, ident="focal-dataset"),
    Case("focal_marn"),
    Case("focal_marn", {"alpha": 0.5, "gamma": 0.5}, ident="focal_marn-gamma0.5"),
    Case("asymmetric"),
    Case("asymmetric", {"gamma_pos": 1.0, "gamma_neg": 2.0, "clip": 0.0}, ident="asymmetric-noclip"),
    Case("sh", fit=True, ident="sh-fitted"),
    Case("sh", ident="sh-batch"),
    Case("sh", {"eta": 0.2}, fit=True, ident="sh-eta0.2"),
    Case("sh_focal", fit=True, ident="sh_focal-fitted"),
    Case("sh_focal", {"statistics": "batch"}, fit=True, ident="sh_focal-batch"),
    Case("dependency_aware"),
    Case("dependency_aware", {"alpha_neg": 3.0, "lam": 2.0, "loss_scale": 0.5}, ident="dependency_aware-params"),
    Case("dependency_aware", {"mode": "lowrank", "rank": 3}, ident="dependency_aware-lowrank"),
    Case("dependency_log"),
    Case("dependency_log", {"class_weights": "batch", "alpha_neg": 3.0, "lam": 2.0}, ident="dependency_log-batch"),
    Case("dependency_log", {"init": "pmi"}, fit=True, ident="dependency_log-pmi"),
    Case("dependency_log", {"init": "zeros", "prior_reg": 0.7, "lam": 1.0}, fit=True, ident="dependency_log-prior"),
    Case("dependency_pl", fit=True, ident="dependency_pl-fitted"),
    Case("dependency_pl", {"init": "pmi", "prior_reg": 0.0}, fit=True, ident="dependency_pl-pmi"),
    Case("dependency_pl", {"init": "kaiming", "mu": 2.0, "prior_reg": 0.3}, ident="dependency_pl-unfitted"),
    Case("dependency_pl", {"center": True}, fit=True, ident="dependency_pl-center"),
    Case("dependency_pl", {"init": "kaiming", "center": True, "mu": 1.5}, ident="dependency_pl-center-unfitted"),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.ident)
def test_matches_slow_reference(case: Case, seed: int) -> None:
    torch.manual_seed(seed)
    x, t = random_case(seed)
    stats = train_stats(seed)
    loss = build_loss(case.name, x.shape[1], **case.params)
    if case.fit:
        loss.fit(stats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unfitted SH warns that it uses batch statistics
        value = loss(torch.tensor(x, dtype=torch.float64), torch.tensor(t)).item()
    expected = reference_value(case, loss, x, t, stats)
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_every_registered_loss_has_a_reference_case() -> None:
    from clincode.losses import LOSSES

    assert {c.name for c in CASES} == set(LOSSES.names())


# ---------------------------------------------------------------- hand-computed tiny cases
# Shared setup unless stated: one row, logits (0, ln 3), so p = (1/2, 3/4); targets (1, 0).
# Then q (probability of the correct outcome) = (1/2, 1/4) and -log q = (ln 2, 2 ln 2).

ONE_X = [[0.0, LN3]]
ONE_T = [[1, 0]]


def _value(name: str, x: list[list[float]], t: list[list[int]], **params: Any) -> float:
    loss = build_loss(name, len(x[0]), **params)
    return loss(torch.tensor(x, dtype=torch.float64), torch.tensor(t)).item()


def test_hand_bce() -> None:
    # mean(ln 2, 2 ln 2) = 1.5 ln 2
    assert _value("bce", ONE_X, ONE_T) == pytest.approx(1.5 * LN2, rel=1e-12)


def test_hand_weighted_bce() -> None:
    # code 0: 1 positive, 0 negatives -> pos_weight 0 -> term 0.
    # code 1: 0 positives, 1 negative -> pos_weight 1 / max(0, 1), but it is a negative -> 2 ln 2.
    # mean = ln 2 = 0.693147...
    assert _value("weighted_bce", ONE_X, ONE_T) == pytest.approx(LN2, rel=1e-12)


def test_hand_class_balanced() -> None:
    # two identical rows; beta = 0.5; n = (2, 0 -> 1): a = (0.5 / 0.75, 0.5 / 0.5) = (2/3, 1),
    # mean 5/6 -> normalised (0.8, 1.2); loss = (0.8 ln 2 + 1.2 * 2 ln 2) / 2 = 1.6 ln 2 = 1.109035...
    x, t = ONE_X * 2, ONE_T * 2
    assert _value("class_balanced", x, t, beta=0.5) == pytest.approx(1.6 * LN2, rel=1e-12)


def test_hand_focal_ho() -> None:
    # as above, alpha~ = a / (1 + a) = (0.8/1.8, 1.2/2.2) = (4/9, 6/11);
    # code 0 (positive, p_t 1/2): 4/9 * (1/2)^2 * ln 2 = ln 2 / 9
    # code 1 (negative, p_t 1/4): (1 - 6/11) * (3/4)^2 * 2 ln 2 = 45/88 ln 2
    # mean = (1/9 + 45/88) ln 2 / 2 = 493/1584 ln 2 = 0.215733...
    x, t = ONE_X * 2, ONE_T * 2
    assert _value("focal", x, t, beta=0.5) == pytest.approx(493 / 1584 * LN2, rel=1e-9)


def test_hand_focal_marn() -> None:
    # 0.999 * mean((1/2)^2 ln 2, (3/4)^2 * 2 ln 2) = 0.999 * (1/4 + 9/8) / 2 ln 2 = 0.999 * 11/16 ln 2
    assert _value("focal_marn", ONE_X, ONE_T) == pytest.approx(0.999 * 11 / 16 * LN2, rel=1e-12)


def test_hand_asymmetric() -> None:
    # positive: gamma_pos 0 -> ln 2. negative: p_m = 3/4 - 0.05 = 0.7, 0.7^4 * -ln(0.3)
    expected = (LN2 + 0.7**4 * -math.log(0.3)) / 2  # = 0.491110...
    assert _value("asymmetric", ONE_X, ONE_T) == pytest.approx(expected, rel=1e-9)


def _sh_training_stats() -> LabelStats:
    # training rows {0}, {0}, {0, 1}, {}: counts (3, 1); std(1, 3) = 1 > 0.5 * 1, so two
    # segments: {1} (tail) and {0}. Segment {1}: 1 positive row, 3 negative -> 1/beta = 1/3;
    # segment {0}: 3 positive rows, 1 negative -> 1/beta = 3.
    return LabelStats.from_targets([np.array([[1, 0], [1, 0], [1, 1], [0, 0]])])


def test_hand_sh() -> None:
    loss = build_loss("sh", 2).fit(_sh_training_stats())
    assert [s.tolist() for s in loss.segments()] == [[1], [0]]
    assert loss.inverse_beta().tolist() == pytest.approx([1 / 3, 3.0])
    # the row has a positive in segment {0} (weight 1) and none in {1} (weight 1/3):
    # mean(ln 2, 1/3 * 2 ln 2) = 5/6 ln 2 = 0.577622...
    value = loss(torch.tensor(ONE_X, dtype=torch.float64), torch.tensor(ONE_T)).item()
    assert value == pytest.approx(5 / 6 * LN2, rel=1e-12)


def test_hand_sh_focal() -> None:
    loss = build_loss("sh_focal", 2).fit(_sh_training_stats())
    # mean((1/2)^2 ln 2, 1/3 * (3/4)^2 * 2 ln 2) = (1/4 + 3/8) ln 2 / 2 = 5/16 ln 2
    value = loss(torch.tensor(ONE_X, dtype=torch.float64), torch.tensor(ONE_T)).item()
    assert value == pytest.approx(5 / 16 * LN2, rel=1e-12)


def test_hand_dependency_aware() -> None:
    # logits (0, 0), targets (1, 0): P = N = 1, e = 1 / (1 + 1e-6): w_pos = e, w_neg = 25 e.
    # c = (1/2, 1/2) -> v = (e/2, 25e/2). Sorted (12.5e, 0.5e), K = 2, omega = (1/3, 2/3):
    # C = 12.5e/3 + e/3 = 4.5 e. W_raw = [[0, .2], [.4, 0]] -> W off-diagonal 0.3:
    # v^T W v = 2 * 0.3 * (e/2)(25e/2) = 3.75 e^2; raw = 3.75 e^2 / 2.
    # L = 1 - 4.5 e + 10 (1 - sigmoid(1.875 e^2)) = -2.1703487748...
    loss = build_loss("dependency_aware", 2)
    with torch.no_grad():
        loss.w_raw.copy_(torch.tensor([[0.0, 0.2], [0.4, 0.0]]))
    e = 1 / (1 + 1e-6)
    expected = 1 - 4.5 * e + 10 * (1 - 1 / (1 + math.exp(-1.875 * e * e)))
    value = loss(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([[1, 0]])).item()
    assert value == pytest.approx(expected, rel=1e-7)
    assert expected == pytest.approx(-2.1703487748, rel=1e-9)


def test_reference_segmenter_is_not_trivially_one_segment() -> None:
    """Guards the SH reference cases: the training statistics give several segments."""
    stats = train_stats(0)
    assert len(ref.segments(stats.positives.tolist(), 0.5)) >= 3

