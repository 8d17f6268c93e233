"""Optional abilities of a loss, as the training, task and audit code asks for them.

Every loss maps (logits, targets) to a scalar; some can do more. Each such ability is one
:func:`typing.runtime_checkable` Protocol, so callers ask ``isinstance(loss, HasDependencyMatrix)``
instead of probing attribute names, and the loss contract test
(tests/losses/test_losses_abilities.py) checks that every registered loss defining the member
satisfies its Protocol and that no other does. ``isinstance`` checks only that the member exists;
the signatures below are the contract, checked by type checkers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import Tensor


@runtime_checkable
class HasPriorProbability(Protocol):
    """[ours] A loss that names the constant prediction it favours (where ``prior_bias`` starts a head)."""

    def prior_probability(self, prevalence: Tensor) -> Tensor:
        """The favoured constant probability per label, [V], for the label prevalences [V]."""
        ...


@runtime_checkable
class Validates(Protocol):
    """A loss whose input checks can be switched off once they have passed on real data."""

    validate: bool
    """Whether ``forward`` checks its inputs (shapes, target values) before computing."""


@runtime_checkable
class HasDependencyMatrix(Protocol):
    """A loss that learns a label dependency matrix W (what ``clincode audit`` reads)."""

    def dependency_matrix(self) -> Tensor:
        """The effective W [V, V]: symmetric, zero diagonal, detached."""
        ...


__all__ = ["HasDependencyMatrix", "HasPriorProbability", "Validates"]
