"""Readers that turn raw EHR exports into clincode's canonical MEDS directory.

Usage::

    from clincode.data.sources import prepare_ehr, EHR_SOURCES
    prepare_ehr("mimic-iv", Path("mimic-iv-2.2"), Path("meds_mimic4"))

Sources (registered in ``EHR_SOURCES`` with their reader, files and options): MIMIC-IV hosp,
MIMIC-III v1.4, any MEDS dataset. Every normalised or skipped row is counted in
``metadata/dataset.json["counts"]["skipped"]``.
"""

from clincode.data.sources.counts import SKIP_RULES
from clincode.data.sources.prepare import prepare_ehr
from clincode.data.sources.registry import EHR_SOURCES, EhrSource, SourceData

__all__ = ["EHR_SOURCES", "SKIP_RULES", "EhrSource", "SourceData", "prepare_ehr"]
