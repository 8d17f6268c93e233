"""read_codiesp on the real CodiEsp release in ../shared/data/codiesp (skipped when it is absent)."""

import csv
from pathlib import Path

import pytest

from clincode.codes import is_known_icd10cm
from clincode.data.notes import read_codiesp

pytestmark = pytest.mark.slow  # reads the real release

SPLITS = {"train": "train", "dev": "tuning", "test": "held_out"}


@pytest.fixture(scope="module")
def root(shared_data) -> Path:
    return shared_data("codiesp")


def tsv_codes(root: Path, split: str, kind: str) -> dict[str, list[str]]:
    """Reference: the TSV read with the csv module, codes as written (lower case)."""
    out: dict[str, list[str]] = {}
    with open(root / split / f"{split}{kind}.tsv", encoding="utf-8", newline="") as handle:
        for doc_id, code in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            out.setdefault(doc_id, []).append(code)
    return out


@pytest.fixture(scope="module")
def english(root):
    return read_codiesp(root, language="en", code_types=("D", "P"))


@pytest.fixture(scope="module")
def spanish(root):
    return read_codiesp(root, language="es", code_types=("D",))


def test_documents_per_split(english, spanish):
    for table in (english, spanish):
        assert table.report["documents"] == {"train": 500, "tuning": 250, "held_out": 250}
        assert table.frame["doc_id"].n_unique() == 1000
        assert table.skipped == {}
    assert (english.frame["subject_id"] == english.frame["doc_id"]).all()


def test_codes_match_the_tsvs(root, english):
    rows = {r["doc_id"]: r for r in english.frame.iter_rows(named=True)}
    for split, canonical in SPLITS.items():
        diag, proc = tsv_codes(root, split, "D"), tsv_codes(root, split, "P")
        names = {p.stem for p in (root / split / "text_files_en").glob("*.txt")}
        assert {d for d, r in rows.items() if r["split"] == canonical} == names
        for doc_id in names:
            expected = [f"ICD10CM//{c.upper()[:3]}" + (f".{c.upper()[4:]}" if len(c) > 3 else "")
                        for c in diag.get(doc_id, [])]
            expected += [f"ICD10PCS//{c.upper()}" for c in proc.get(doc_id, [])]
            assert rows[doc_id]["codes"] == list(dict.fromkeys(expected)), doc_id


def test_distinct_diagnosis_codes(english):
    exploded = english.frame.explode("codes")
    d_codes = exploded.filter(exploded["codes"].str.starts_with("ICD10CM//"))
    assert d_codes["codes"].n_unique() == 2557  # data README: 2,557 distinct D codes overall
    assert d_codes.filter(d_codes["split"] == "train")["codes"].n_unique() == 1767  # 1,767 in train


def test_unknown_codes_are_kept_and_counted(english):
    exploded = english.frame.explode("codes")["codes"].drop_nulls().to_list()
    reference: dict[str, int] = {}
    for code in exploded:
        if code.startswith("ICD10CM//") and not is_known_icd10cm(code):
            reference[code] = reference.get(code, 0) + 1
    assert reference  # CodiEsp has codes missing from the current ICD-10-CM release
    assert english.unknown_codes == reference
    assert english.report["n_unknown_code_occurrences"] == sum(reference.values())


def test_spanish_and_english_texts(root, english, spanish):
    doc_id = "S0004-06142005000700014-1"
    en = english.frame.filter(english.frame["doc_id"] == doc_id).row(0, named=True)
    es = spanish.frame.filter(spanish.frame["doc_id"] == doc_id).row(0, named=True)
    assert en["text"] == (root / "train" / "text_files_en" / f"{doc_id}.txt").read_text(encoding="utf-8")
    assert es["text"] == (root / "train" / "text_files" / f"{doc_id}.txt").read_text(encoding="utf-8")
    assert en["text"] != es["text"]
    assert "ICD10CM//N44.8" in es["codes"] and not any(c.startswith("ICD10PCS//") for c in es["codes"])
    assert sorted(spanish.frame["doc_id"]) == sorted(english.frame["doc_id"])


def test_marn_pipeline_on_codiesp_train(english):
    from clincode.data.notes import TextVocab, encode, tokenize

    train = english.frame.filter(english.frame["split"] == "train")
    docs = [tokenize(t) for t in train["text"]]
    vocab = TextVocab().fit(docs)
    df: dict[str, int] = {}
    for tokens in docs:
        for tok in set(tokens):
            df[tok] = df.get(tok, 0) + 1
    assert vocab.tokens_[2:] == sorted(t for t, n in df.items() if n >= 3)
    assert not any(t.isnumeric() for t in vocab.tokens_)
    ids = encode(docs[0], vocab)
    assert len(ids) == min(len(docs[0]), 4000) and ids.min() >= 1
