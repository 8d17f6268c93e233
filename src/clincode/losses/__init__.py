"""The loss library: every objective behind one interface, ``build_loss(name, num_labels, **params)``.

Every loss maps (logits [..., V], targets [..., V] in {1, 0, -1}; -1 ignored) to a scalar,
computes in float32 whatever the input dtype (float64 stays float64), and has ``fit(LabelStats)``.
Each is a pure function (``*_loss``) plus a thin ``nn.Module`` registered in ``LOSSES``.
"""

from .abilities import HasDependencyMatrix, HasPriorProbability, Validates
from .asymmetric import AsymmetricLoss, asymmetric_loss
from .base import LossModule
from .bce import BCELoss, WeightedBCELoss, bce_loss, weighted_bce_loss
from .class_balanced import ClassBalancedLoss, class_balanced_loss, class_balanced_weights
from .dependency import DependencyAwareLoss, dependency_aware_loss, weighted_correctness
from .dependency_ours import (
    DependencyLogLoss,
    DependencyPLLoss,
    dependency_log_loss,
    dependency_pl_loss,
    training_pmi,
)
from .export import export_dependency_matrix
from .focal import FocalLoss, MARNFocalLoss, focal_loss, focal_marn_loss
from .harmonic import SegmentedHarmonicFocalLoss, SegmentedHarmonicLoss, segmented_harmonic_loss
from .multitask import MultitaskLoss
from .quadratic import DenseForm, DependencyForm, LowRankForm, symmetric_zero_diagonal
from .ranking import descending_ranks, rank_weights
from .reduction import masked_mean
from .registry import LOSSES, build_loss, describe_losses
from .stats import LabelStats, LabelStatsError
from .validation import LossInputError, validate_inputs

__all__ = [
    "LOSSES",
    "AsymmetricLoss",
    "BCELoss",
    "ClassBalancedLoss",
    "DependencyAwareLoss",
    "DependencyLogLoss",
    "DependencyPLLoss",
    "FocalLoss",
    "HasDependencyMatrix",
    "HasPriorProbability",
    "LabelStats",
    "LabelStatsError",
    "LossInputError",
    "LossModule",
    "MARNFocalLoss",
    "MultitaskLoss",
    "SegmentedHarmonicFocalLoss",
    "SegmentedHarmonicLoss",
    "Validates",
    "WeightedBCELoss",
    "asymmetric_loss",
    "bce_loss",
    "build_loss",
    "class_balanced_loss",
    "class_balanced_weights",
    "DenseForm",
    "DependencyForm",
    "LowRankForm",
    "dependency_aware_loss",
    "dependency_log_loss",
    "dependency_pl_loss",
    "training_pmi",
    "describe_losses",
    "export_dependency_matrix",
    "focal_loss",
    "focal_marn_loss",
    "descending_ranks",
    "masked_mean",
    "rank_weights",
    "segmented_harmonic_loss",
    "symmetric_zero_diagonal",
    "validate_inputs",
    "weighted_bce_loss",
    "weighted_correctness",
]
