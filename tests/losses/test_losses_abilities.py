"""The optional loss abilities: every registered loss defining a member satisfies its Protocol, no other does."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch

from clincode.losses import (
    LOSSES,
    BCELoss,
    HasDependencyMatrix,
    HasPriorProbability,
    MultitaskLoss,
    Validates,
    build_loss,
)

V = 5
# Protocol -> the member it asks for.
ABILITIES: dict[type, str] = {
    HasPriorProbability: "prior_probability",
    Validates: "validate",
    HasDependencyMatrix: "dependency_matrix",
}


def _build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(never fitted|not fitted).*")
        return build_loss(name, V)


def _method_params(cls: type, member: str) -> list[str]:
    return [p.name for p in inspect.signature(getattr(cls, member)).parameters.values()]


@pytest.mark.parametrize("name", LOSSES.names())
@pytest.mark.parametrize("protocol", list(ABILITIES), ids=lambda p: p.__name__)
def test_registered_loss_satisfies_protocol_iff_it_has_the_member(name: str, protocol: type) -> None:
    loss = _build(name)
    member = ABILITIES[protocol]
    assert isinstance(loss, protocol) == hasattr(loss, member)
    if isinstance(loss, protocol) and inspect.isfunction(protocol.__dict__.get(member)):  # a method: same parameters
        assert _method_params(type(loss), member) == _method_params(protocol, member)


def test_dependency_matrix_only_on_the_losses_that_learn_w() -> None:
    has_w = {name for name in LOSSES.names() if isinstance(_build(name), HasDependencyMatrix)}
    assert {"dependency_aware", "dependency_log", "dependency_pl"} <= has_w
    assert "bce" not in has_w and "focal" not in has_w
    w = _build("dependency_aware")
    assert isinstance(w, HasDependencyMatrix)
    assert w.dependency_matrix().shape == (V, V)


def test_multitask_loss_validates_but_names_no_prior() -> None:
    loss = MultitaskLoss(BCELoss(V), BCELoss(3))
    assert isinstance(loss, Validates)
    assert not isinstance(loss, HasPriorProbability)
    assert not isinstance(loss, HasDependencyMatrix)
    loss.validate = False
    assert not loss.icd.validate and not loss.ccs.validate


def test_a_plain_module_has_no_ability() -> None:
    module = torch.nn.Linear(2, 2)
    assert not any(isinstance(module, protocol) for protocol in ABILITIES)
