"""Readers that turn raw EHR exports into clincode's canonical MEDS directory.

Usage::

    from clincode.data.sources import prepare_ehr, SOURCES
    prepare_ehr("mimic-iv", Path("mimic-iv-2.2"), Path("meds_mimic4"))

Sources (``SOURCES`` lists their files): MIMIC-IV hosp, MIMIC-III v1.4, any MEDS dataset. Every
normalised or skipped row is counted in ``metadata/dataset.json["counts"]["skipped"]``.
"""

from clincode.data.sources.counts import SKIP_RULES
from clincode.data.sources.prepare import prepare_ehr
from clincode.data.sources.registry import SOURCES, SourceSpec

__all__ = ["SKIP_RULES", "SOURCES", "SourceSpec", "prepare_ehr"]
