"""Optional capabilities of a model, as the training path calls them.

Every model maps a batch to logits (``forward``); some also take part in setting up a run. Each
such hook is one :func:`typing.runtime_checkable` Protocol, so the training path asks
``isinstance(model, LabelCountsHook)`` instead of probing attribute names, and the model contract
test (tests/models/test_models_contract.py) checks that every registered model defining a hook
method satisfies its Protocol. ``isinstance`` checks only that the method exists; the signatures
below are the contract, checked by the contract test and by type checkers.

The training path calls the setup hooks once, after ``build_model`` and before the first step:
:class:`LabelCountsHook` first (it may create parameters), then :class:`OutputBiasHook`,
:class:`RepeatTableHook`,
:class:`EmbeddingsHook` and :class:`LabelDescriptionsHook`; :class:`AuxiliaryLossHook` at every
training step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from torch import Tensor


@runtime_checkable
class LabelCountsHook(Protocol):
    """A model whose structure depends on the training label frequencies (per-segment models)."""

    def set_label_counts(self, counts: np.ndarray) -> Any:
        """Receive the training positives of every label, int [V], in label-column order.

        May build parameters (the optimiser is created afterwards). Raises ValueError when
        ``counts`` is not [V].
        """
        ...


@runtime_checkable
class OutputBiasHook(Protocol):
    """A model that can start its output bias at the training prior (``prior_bias``)."""

    def init_output_bias(self, prevalence: Tensor | np.ndarray) -> None:
        """Receive each label's training prevalence in [0, 1], float [V].

        A model whose prior initialisation is switched off leaves its parameters unchanged;
        otherwise a ``prevalence`` that is not [V] raises ValueError.
        """
        ...


@runtime_checkable
class RepeatTableHook(Protocol):
    """A next-visit model that can start at the three-cell repeat table (``repeat_init: table``)."""

    def init_from_repeat_table(self, never: np.ndarray, last: np.ndarray, earlier: np.ndarray) -> None:
        """Receive each label's training rate of appearing at the next visit when it was never
        coded for the patient, coded at the last visit, and coded only earlier: float [V] each.

        A model whose table initialisation is switched off leaves its parameters unchanged;
        otherwise arrays that are not [V] raise ValueError.
        """
        ...


@runtime_checkable
class EmbeddingsHook(Protocol):
    """A model with a word embedding that can start from pretrained vectors (``data.params.word2vec``)."""

    def load_embeddings(self, matrix: Tensor) -> None:
        """Copy a pretrained float matrix [vocab_size, embed_dim] into the word embedding.

        Rows are L2-normalised, the PAD row (0) is set to zero. Raises ValueError on a wrong
        shape or non-finite values.
        """
        ...


@runtime_checkable
class LabelDescriptionsHook(Protocol):
    """A model that reads label descriptions (description-initialised queries, DR-CAML)."""

    def set_label_descriptions(self, desc_ids: Tensor, desc_mask: Tensor) -> None:
        """Receive the label descriptions tokenised with the run's vocabulary.

        ``desc_ids`` long [V, L] (PAD 0, right-padded), ``desc_mask`` bool [V, L], True on real
        tokens (a prefix of each row; all False for a label without description); rows in
        label-column order. See :mod:`clincode.models.layers.descriptions`.
        """
        ...


@runtime_checkable
class AuxiliaryLossHook(Protocol):
    """A model with a training term of its own, added to the loss (DR-CAML's regulariser)."""

    def auxiliary_loss(self, batch: dict[str, Tensor]) -> Tensor | None:
        """The extra term (a scalar with gradients) for a training batch with ``targets``; None: none."""
        ...


HOOKS: tuple[type, ...] = (LabelCountsHook, OutputBiasHook, RepeatTableHook, EmbeddingsHook, LabelDescriptionsHook, AuxiliaryLossHook)
"""Every hook Protocol, in the order the training path uses them."""
