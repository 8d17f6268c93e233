"""Code systems: ICD-10-CM / ICD-9-CM descriptions and hierarchy, CCS and chapter groupings.

All functions take prefixed codes (``ICD10CM//E11.9``, ``ICD9CM//250.00``) and return groupings as
prefixed codes (``ICD10CM//E11``, ``ICD10CM_CHAPTER//04``, ``CCS//49``) that :func:`describe`
understands. Tables load lazily on first use and are cached; importing this package is cheap.
"""

from clincode.codes._prefix import split_code
from clincode.codes.ccs import ccs_category, ccs_description
from clincode.codes.chronic import is_chronic
from clincode.codes.describe import describe
from clincode.codes.icd9 import icd9_category, icd9_description
from clincode.codes.icd10 import (
    billable_icd10cm_bodies,
    icd10_category,
    icd10_chapter,
    icd10_description,
    icd10_parent,
    is_billable_icd10cm,
    is_known_icd10cm,
)
from clincode.codes.sex import is_pregnancy_code, sex_restriction

__all__ = [
    "billable_icd10cm_bodies",
    "ccs_category",
    "ccs_description",
    "describe",
    "icd10_category",
    "icd10_chapter",
    "icd10_description",
    "icd10_parent",
    "icd9_category",
    "icd9_description",
    "is_billable_icd10cm",
    "is_chronic",
    "is_known_icd10cm",
    "is_pregnancy_code",
    "sex_restriction",
    "split_code",
]
