"""`clincode synth notes` and `clincode prepare notes` through typer's CliRunner."""

import json

import polars as pl
from typer.testing import CliRunner

from clincode.cli import app
from clincode.data.notes import read_notes_table
from clincode.data.notes.mimic import read_mimic_iii_notes
from helpers.mimic_notes import III_EXPECTED_CODES, IV_EXPECTED_CODES, write_mimic_iii, write_mimic_iv

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_synth_notes_from_cohort(tiny_cohort, tmp_path):
    result = _invoke("synth", "notes", "--out", tmp_path / "n", "--cohort", tiny_cohort, "--seed", "3")
    assert result.exit_code == 0, result.output
    table = read_notes_table(tmp_path / "n" / "notes.parquet")
    assert table.frame.height == json.loads((tmp_path / "n" / "dataset.json").read_text())["counts"]["documents"]
    result = _invoke("synth", "notes", "--out", tmp_path / "n", "--cohort", tiny_cohort)
    assert result.exit_code == 1 and "not empty" in result.output


def test_synth_notes_needs_a_cohort_or_patients(tmp_path):
    result = _invoke("synth", "notes", "--out", tmp_path / "n")
    assert result.exit_code == 1
    assert "--cohort" in result.output and "--patients" in result.output


def test_prepare_notes_mimic_iii_with_caml_splits(tmp_path):
    root = write_mimic_iii(tmp_path / "iii")
    caml = tmp_path / "caml"
    caml.mkdir()
    for split, ids in {"train": "101\n102\n104\n108\n", "dev": "103\n", "test": "105\n106\n"}.items():
        (caml / f"{split}_full_hadm_ids.csv").write_text(ids)
    out = tmp_path / "prepared"
    result = _invoke("prepare", "notes", root, "--source", "mimic-iii", "--out", out, "--splits", caml)
    assert result.exit_code == 0, result.output
    table = read_notes_table(out / "notes.parquet")
    assert table.frame.equals(read_mimic_iii_notes(root, split_ids=caml).frame)
    assert {r["doc_id"]: r["codes"] for r in table.frame.iter_rows(named=True)} == III_EXPECTED_CODES
    info = json.loads((out / "dataset.json").read_text())
    assert info["documents"] == {"train": 4, "tuning": 1, "held_out": 2}
    assert info["skipped"] == {"admissions_without_notes": 1, "documents_without_codes": 1}
    assert info["unknown_codes"] == {"ICD9CM//401": 1}
    assert info["source"] == "mimic-iii"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prepared")]  # no temp dir left


def test_prepare_notes_mimic_iv_note_one_version(tmp_path):
    root = write_mimic_iv(tmp_path / "iv")
    out = tmp_path / "prepared"
    result = _invoke(
        "prepare", "notes", root / "note", "--source", "mimic-iv-note", "--hosp", root, "--out", out, "--code-types", "D"
    )
    assert result.exit_code == 0, result.output
    codes = {r["doc_id"]: r["codes"] for r in pl.read_parquet(out / "notes.parquet").iter_rows(named=True)}
    assert codes == {k: [c for c in v if "CM//" in c] for k, v in IV_EXPECTED_CODES.items()}


def test_prepare_notes_codiesp(tmp_path):
    root = tmp_path / "codiesp"
    for split, ids in {"train": ["S1", "S2"], "dev": ["S3"], "test": ["S4"]}.items():
        (root / split / "text_files_en").mkdir(parents=True)
        for i in ids:
            (root / split / "text_files_en" / f"{i}.txt").write_text(f"case report {i}")
        (root / split / f"{split}D.tsv").write_text("".join(f"{i}\tn44.8\n" for i in ids))
        (root / split / f"{split}P.tsv").write_text("")
    out = tmp_path / "prepared"
    result = _invoke("prepare", "notes", root, "--source", "codiesp", "--out", out)
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out / "notes.parquet")
    assert frame["split"].to_list() == ["train", "train", "tuning", "held_out"]
    assert frame["codes"].to_list() == [["ICD10CM//N44.8"]] * 4
    result = _invoke("prepare", "notes", root, "--source", "codiesp", "--out", tmp_path / "x", "--splits", tmp_path)
    assert result.exit_code == 1 and "--splits does not apply to codiesp" in result.output


def test_prepare_notes_bad_inputs_are_one_line_errors(tmp_path):
    root = write_mimic_iii(tmp_path / "iii", drop={"DIAGNOSES_ICD": "ICD9_CODE"})
    result = _invoke("prepare", "notes", root, "--source", "mimic-iii", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "DIAGNOSES_ICD.csv lacks column(s) ['ICD9_CODE']" in result.output
    assert not (tmp_path / "o").exists()
    result = _invoke("prepare", "notes", root, "--source", "mimic-v", "--out", tmp_path / "o")
    assert result.exit_code == 1 and "mimic-iv-note" in result.output
    root = write_mimic_iii(tmp_path / "iii2", diagnoses=[(4, 105, 1, "BAD!")])
    result = _invoke("prepare", "notes", root, "--source", "mimic-iii", "--out", tmp_path / "o", "--on-error", "skip")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "dataset.json").read_text())["skipped"]["malformed_code"] == 1
