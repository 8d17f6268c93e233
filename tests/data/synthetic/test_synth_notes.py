"""Synthetic notes: labels follow the cohort, no verbatim label description, seeded, long-tailed."""

import json
import re
from collections import Counter

import numpy as np
import polars as pl
import pytest

from clincode.data.notes import read_notes_table
from clincode.data.synthetic.note_phrases import draw_mention, inclusion_terms, normalise, scrub, surface_forms, typo
from clincode.data.synthetic.note_text import NEGATIONS, CodeText, compose_note
from clincode.data.synthetic.notes import generate_notes


@pytest.fixture(scope="module")
def notes_dir(tiny_cohort, tmp_path_factory):
    return generate_notes(tmp_path_factory.mktemp("synth_notes") / "notes", cohort=tiny_cohort, seed=1)


@pytest.fixture(scope="module")
def notes(notes_dir):
    return pl.read_parquet(notes_dir / "notes.parquet")


@pytest.fixture(scope="module")
def descriptions(tiny_cohort):
    meta = pl.read_parquet(tiny_cohort / "metadata" / "codes.parquet")
    return dict(meta.filter(pl.col("code").str.starts_with("ICD10CM//")).select("code", "description").iter_rows())


def _cohort_visits(cohort) -> pl.DataFrame:
    """Reference: the cohort's visits straight from its events, codes sorted."""
    events = pl.read_parquet(cohort / "data")
    return (
        events.filter(pl.col("time").is_not_null() & pl.col("code").str.starts_with("ICD10CM//"))
        .group_by("subject_id", "time")
        .agg(pl.col("code").sort())
        .sort("subject_id", "time")
    )


def test_one_document_per_visit_with_the_visits_codes(notes, tiny_cohort):
    visits = _cohort_visits(tiny_cohort)
    assert notes.height == visits.height
    assert notes["subject_id"].to_list() == visits["subject_id"].to_list()
    assert [sorted(c) for c in notes["codes"].to_list()] == visits["code"].to_list()
    # doc ids: subject-visit number, unique
    assert notes["doc_id"].n_unique() == notes.height
    assert notes["doc_id"][0].endswith("-001")


def test_splits_are_the_cohorts_patient_splits(notes, tiny_cohort):
    cohort_splits = dict(pl.read_parquet(tiny_cohort / "metadata" / "subject_splits.parquet").iter_rows())
    assert all(cohort_splits[s] == split for s, split in zip(notes["subject_id"], notes["split"], strict=True))
    per_subject = notes.group_by("subject_id").agg(pl.col("split").n_unique())
    assert per_subject["split"].max() == 1


def test_no_label_description_verbatim(notes, descriptions):
    checked = 0
    for text, codes in zip(notes["text"], notes["codes"], strict=True):
        flat = normalise(text)
        for code in codes:
            assert normalise(descriptions[code]) not in flat, (code, descriptions[code])
            checked += 1
    assert checked == sum(len(c) for c in notes["codes"])


def test_long_tail_and_same_code_counts_as_cohort(notes, tiny_cohort):
    counts = Counter(c for codes in notes["codes"] for c in codes)
    cohort_counts = Counter(_cohort_visits(tiny_cohort)["code"].explode().to_list())
    assert counts == cohort_counts
    freq = np.array(sorted(counts.values(), reverse=True))
    assert freq[0] >= 20 * np.median(freq)  # head codes dominate
    assert freq[0] >= 100 * freq[-1]  # and a long tail of rare codes
    top = max(1, len(freq) // 10)
    assert freq[:top].sum() > 0.4 * freq.sum()  # 10% of the codes carry > 40% of the labels


def test_readable_by_generic_reader_and_dataset_json(notes_dir, notes):
    table = read_notes_table(notes_dir / "notes.parquet")
    assert table.frame.equals(notes)
    assert table.skipped == {}
    info = json.loads((notes_dir / "dataset.json").read_text())
    assert info["seed"] == 1 and info["generator"] == "clincode.synth_notes"
    assert info["counts"]["documents"] == notes.height
    assert info["counts"]["documents_per_split"] == table.report["documents"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Notes of a freshly generated 30-patient cohort (kept in fresh/cohort)."""
    return generate_notes(tmp_path_factory.mktemp("fresh") / "notes", n_patients=30, n_codes=80, seed=5)


def test_byte_identical_for_a_seed_and_seed_changes_text(fresh, tmp_path):
    cohort = fresh / "cohort"
    first = generate_notes(tmp_path / "first", cohort=cohort, seed=1)
    again = generate_notes(tmp_path / "again", cohort=cohort, seed=1)
    for name in ("notes.parquet", "dataset.json"):
        assert (again / name).read_bytes() == (first / name).read_bytes()
    a = pl.read_parquet(first / "notes.parquet")
    other = pl.read_parquet(generate_notes(tmp_path / "other", cohort=cohort, seed=2) / "notes.parquet")
    assert other["codes"].to_list() == a["codes"].to_list()
    assert (other["text"] != a["text"]).mean() > 0.9
    # the fresh mode is seeded end to end: same seed, same cohort and notes
    regenerated = generate_notes(tmp_path / "regen", n_patients=30, n_codes=80, seed=5)
    assert (regenerated / "notes.parquet").read_bytes() == (fresh / "notes.parquet").read_bytes()


def test_fresh_cohort_mode_and_argument_errors(fresh, tmp_path):
    frame = pl.read_parquet(fresh / "notes.parquet")
    assert frame["subject_id"].n_unique() == 30
    assert (fresh / "cohort" / "metadata" / "subject_splits.parquet").is_file()
    assert json.loads((fresh / "dataset.json").read_text())["cohort"]["path"] == "cohort"
    with pytest.raises(ValueError, match="exactly one of"):
        generate_notes(tmp_path / "x", seed=0)
    with pytest.raises(FileExistsError):
        generate_notes(fresh, n_patients=30, n_codes=80, seed=5)


def test_surface_forms_never_contain_the_description(descriptions):
    for code, description in descriptions.items():
        forms = surface_forms(description, inclusion_terms(code))
        assert forms
        rng = np.random.default_rng(0)
        for form in forms:
            assert normalise(description) not in normalise(form)
        for _ in range(5):
            assert normalise(description) not in normalise(draw_mention(forms, description, rng))


def test_known_rephrasings():
    forms = surface_forms("Essential (primary) hypertension", inclusion_terms("ICD10CM//I10"))
    assert {"essential hypertension", "primary hypertension", "essential HTN"} <= set(forms)
    assert "CHF" in surface_forms("Heart failure, unspecified", inclusion_terms("ICD10CM//I50.9"))
    assert "high potassium" in surface_forms("Hyperkalemia")
    assert "kidney stone" in surface_forms("Calculus of kidney")


@pytest.mark.parametrize("text", ["Hyperkalemia", "Gout", "Flu", "Aa", "Essential (primary) hypertension", "Cough, unspecified"])
def test_typo_and_scrub(text):
    assert normalise(text) not in normalise(typo(text))
    note = f"Pt with {text.upper()} and\n{text.lower()} again."
    assert normalise(text) not in normalise(scrub(note, [text]))


def test_compose_note_mentions_every_label_and_negates_others():
    labels = [CodeText(f"ICD10CM//X{i}", f"desc {i}", (f"labelform{i}",), i % 2 == 0) for i in range(6)]
    negatives = [CodeText("ICD10CM//N1", "neg desc", ("negform",), False)]
    family = [CodeText("ICD10CM//F1", "fam desc", ("famform",), False)]
    from datetime import datetime

    for seed in range(30):
        text = compose_note(labels, negatives, family, 50, seed % 2 == 0, datetime(2020, 1, 1), np.random.default_rng(seed))
        for i in range(6):
            assert f"labelform{i}" in text
        negated = [t.format("negform") for t in NEGATIONS] + [t.format("Negform") for t in NEGATIONS]
        assert any(n in text for n in negated)
        assert re.search(r"(Mother with|Father had|Sister with|Family history of) famform", text)
    with pytest.raises(ValueError, match="at least one label"):
        compose_note([], negatives, family, 50, True, datetime(2020, 1, 1), np.random.default_rng(0))
