"""EHR and notes sources are registry entries: one registration adds a source, options are checked by name."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from clincode.data.notes.sources import NOTE_SOURCES, read_notes_source
from clincode.data.source_registry import Source, option_flag, register_source, select_options
from clincode.data.sources import EHR_SOURCES, EhrSource, SourceData, prepare_ehr
from clincode.data.sources.counts import SkipCounts
from clincode.data.sources.hosp import EMPTY_DICTIONARY
from clincode.registry import Registry, UnknownNameError


def test_registered_sources_and_their_options() -> None:
    assert EHR_SOURCES.names() == ["meds", "mimic-iii", "mimic-iv"]
    assert NOTE_SOURCES.names() == ["codiesp", "mimic-iii", "mimic-iv-note"]
    assert EHR_SOURCES.get("meds").options == ()
    assert set(EHR_SOURCES.get("mimic-iv").options) == {"icd9_to_icd10", "include_death"}
    assert "hosp" in NOTE_SOURCES.get("mimic-iv-note").options
    assert "hosp" not in NOTE_SOURCES.get("mimic-iii").options
    assert "language" in NOTE_SOURCES.get("codiesp").options
    for _, source in [*EHR_SOURCES.items(), *NOTE_SOURCES.items()]:
        assert source.description and callable(source.read)


def test_registry_lists_sources(tmp_path: Path) -> None:
    assert EHR_SOURCES.names() == ["meds", "mimic-iii", "mimic-iv"]
    assert "hosp/patients.csv[.gz]" in EHR_SOURCES.get("mimic-iv").required_files
    with pytest.raises(UnknownNameError, match="unknown EHR source 'eicu'; known: meds, mimic-iii, mimic-iv"):
        prepare_ehr("eicu", tmp_path / "in", tmp_path / "out", progress=False)


def test_unknown_source_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown notes source 'mimic-v'; known: codiesp, mimic-iii, mimic-iv-note"):
        read_notes_source("mimic-v", tmp_path)
    with pytest.raises(UnknownNameError, match="known: meds, mimic-iii, mimic-iv"):
        prepare_ehr("eicu", tmp_path, tmp_path / "out", progress=False)


def test_options_that_do_not_apply_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^--icd9-to-icd10 does not apply to meds \(.*\); it applies to mimic-iii and mimic-iv\.$"):
        prepare_ehr("meds", tmp_path, tmp_path / "out", icd9_to_icd10=True, progress=False)
    with pytest.raises(ValueError, match="--include-death does not apply to meds"):
        prepare_ehr("meds", tmp_path, tmp_path / "out", include_death=True, progress=False)
    with pytest.raises(ValueError, match=r"^--hosp and --icd-version do not apply to mimic-iii; they apply to mimic-iv-note\.$"):
        read_notes_source("mimic-iii", tmp_path, hosp=tmp_path, icd_version=9)
    with pytest.raises(ValueError, match=r"^--splits does not apply to codiesp \(it has official splits\)"):
        read_notes_source("codiesp", tmp_path, splits=tmp_path)
    with pytest.raises(ValueError, match="--language does not apply to mimic-iv-note; it applies to codiesp"):
        read_notes_source("mimic-iv-note", tmp_path, language="es")
    assert not (tmp_path / "out").exists()


def test_defaults_are_not_options_given() -> None:
    reg: Registry[Source[str]] = Registry("toy source")
    register_source(reg, Source(name="a", description="a", read=lambda **kw: str(kw), options=("x",)))
    source, options = select_options(reg, "a", {"x": 1, "y": None}, {"x": 0, "y": None})
    assert source.read(**options) == "{'x': 1}"
    with pytest.raises(ValueError, match="^--y does not apply to a.$"):
        select_options(reg, "a", {"x": 0, "y": 2}, {"x": 0, "y": None})
    with pytest.raises(ValueError, match="already registered"):
        register_source(reg, Source(name="a", description="again", read=str))
    assert option_flag("split_variant") == "--split-variant"


def test_a_new_ehr_source_is_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EHR_SOURCES, "_items", dict(EHR_SOURCES._items))  # undone after the test

    def read_toy(path: Path, counts: SkipCounts) -> SourceData:
        rows = [(s, datetime(2020, 1, s), "ICD10CM//I10") for s in (1, 2, 3)]
        events = pl.DataFrame(rows, schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String}, orient="row")
        return SourceData(events.with_columns(pl.lit(None, pl.Float32).alias("numeric_value")), EMPTY_DICTIONARY)

    register_source(EHR_SOURCES, EhrSource(name="toy", description="three rows", required_files=(), read=read_toy))
    out = prepare_ehr("toy", tmp_path, tmp_path / "out", progress=False)
    info = json.loads((out / "metadata" / "dataset.json").read_text())
    assert info["source"] == "toy" and info["counts"]["subjects"] == 3
    assert info["parameters"]["splits"] == "drawn"
