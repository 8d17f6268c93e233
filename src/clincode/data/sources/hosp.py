"""Source-independent hospital tables (what the MIMIC-III and MIMIC-IV readers both produce).

Frames (all eager polars):

- patients:   subject_id Int64, sex String ("F"/"M"/other/null), birth Datetime("us"), death Datetime("us") (nullable)
- admissions: subject_id Int64, hadm_id Int64, disch Datetime("us") (nullable)
- codes:      subject_id Int64, hadm_id Int64, kind String ("diagnosis"/"procedure"), version Int64, raw String
- dictionary: code String (prefixed, dotted), description String (from d_icd_* tables; may be empty)
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class HospTables:
    """The four frames above, already type-checked by the reader."""

    patients: pl.DataFrame
    admissions: pl.DataFrame
    codes: pl.DataFrame
    dictionary: pl.DataFrame


EMPTY_DICTIONARY = pl.DataFrame(schema={"code": pl.String, "description": pl.String})
