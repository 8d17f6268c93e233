"""Models map a batch to logits and never compute a loss.

Every model is registered in :data:`MODELS` and built through :func:`build_model`. Optional
capabilities the training path uses (label counts, output-bias prior, pretrained embeddings,
label descriptions, auxiliary loss) are the Protocols of :mod:`clincode.models.protocols`.
"""

from clincode.models.protocols import (
    HOOKS,
    AuxiliaryLossHook,
    EmbeddingsHook,
    LabelCountsHook,
    LabelDescriptionsHook,
    OutputBiasHook,
    RepeatTableHook,
)
from clincode.models.registry import MODELS, build_model, describe_models

# Import order is registration order, which is the order models are listed in.
# isort: off
from clincode.models import ehr_transformer as _ehr_transformer  # noqa: F401  (registers)
from clincode.models import cnn as _cnn  # noqa: F401  (registers)
from clincode.models import bigru as _bigru  # noqa: F401  (registers)
from clincode.models import caml as _caml  # noqa: F401  (registers)
from clincode.models import dr_caml as _dr_caml  # noqa: F401  (registers)
from clincode.models import laat as _laat  # noqa: F401  (registers)
from clincode.models import marn as _marn  # noqa: F401  (registers)
from clincode.models import plm as _plm  # noqa: F401  (registers)
from clincode.models import segmented as _segmented  # noqa: F401  (registers)
# isort: on

__all__ = [
    "HOOKS",
    "MODELS",
    "AuxiliaryLossHook",
    "EmbeddingsHook",
    "LabelCountsHook",
    "LabelDescriptionsHook",
    "OutputBiasHook",
    "RepeatTableHook",
    "build_model",
    "describe_models",
]
