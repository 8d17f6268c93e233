"""read_codiesp on small CodiEsp-shaped fixtures: every bad input raises or is counted."""

import logging
from pathlib import Path

import pytest

from clincode.data.errors import DataError, DataNotFoundError
from clincode.data.notes import read_codiesp


def make_release(root: Path) -> Path:
    """Two documents per split, English and Spanish texts, D and P files."""
    for split in ("train", "dev", "test"):
        for sub in ("text_files", "text_files_en"):
            (root / split / sub).mkdir(parents=True)
        d_lines, p_lines = [], []
        for i in range(2):
            doc = f"{split}-doc{i}"
            (root / split / "text_files_en" / f"{doc}.txt").write_text(f"Patient {i} has orchitis.\n", encoding="utf-8")
            (root / split / "text_files" / f"{doc}.txt").write_text(f"Paciente {i} con orquitis.\n", encoding="utf-8")
            d_lines += [f"{doc}\tn45.1", f"{doc}\tr50.9"]
        p_lines.append(f"{split}-doc0\tbw20")
        (root / split / f"{split}D.tsv").write_text("\n".join(d_lines) + "\n", encoding="utf-8")
        (root / split / f"{split}P.tsv").write_text("\n".join(p_lines) + "\n", encoding="utf-8")
    return root


def test_clean_fixture_reads(tmp_path):
    table = read_codiesp(make_release(tmp_path), code_types=("P", "D"))
    assert table.frame.height == 6 and table.skipped == {}
    row = table.frame.row(0, named=True)
    assert row["doc_id"] == "train-doc0" and row["split"] == "train"
    assert row["codes"] == ["ICD10PCS//BW20", "ICD10CM//N45.1", "ICD10CM//R50.9"]
    assert table.frame.filter(table.frame["doc_id"] == "train-doc1")["codes"].to_list() == [
        ["ICD10CM//N45.1", "ICD10CM//R50.9"]
    ]
    assert table.frame["split"].to_list() == ["train"] * 2 + ["tuning"] * 2 + ["held_out"] * 2


def test_missing_text_file(tmp_path, caplog):
    root = make_release(tmp_path)
    (root / "dev" / "text_files_en" / "dev-doc1.txt").unlink()
    with pytest.raises(DataError, match="dev-doc1.txt does not exist"):
        read_codiesp(root)
    with caplog.at_level(logging.WARNING, logger="clincode.data.notes"):
        table = read_codiesp(root, on_error="skip")
    assert table.skipped == {"missing_text_file": 1}
    assert table.frame.height == 5 and "dev-doc1" not in table.frame["doc_id"].to_list()
    assert "missing_text_file" in caplog.text
    # the Spanish text is still there
    assert read_codiesp(root, language="es").frame.height == 6


def test_empty_text(tmp_path):
    root = make_release(tmp_path)
    (root / "test" / "text_files_en" / "test-doc0.txt").write_text("  \n\n", encoding="utf-8")
    with pytest.raises(DataError, match="test-doc0.txt is empty"):
        read_codiesp(root)
    table = read_codiesp(root, on_error="skip")
    assert table.skipped == {"empty_text": 1} and table.frame.height == 5


def test_malformed_code_and_line(tmp_path):
    root = make_release(tmp_path)
    with open(root / "train" / "trainD.tsv", "a", encoding="utf-8") as handle:
        handle.write("train-doc0\tnot-a-code\ntrain-doc1 only-one-field\n")
    with pytest.raises(DataError, match="line 6 is 'train-doc1 only-one-field'"):
        read_codiesp(root)
    lines = (root / "train" / "trainD.tsv").read_text(encoding="utf-8").splitlines()
    (root / "train" / "trainD.tsv").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="'ICD10CM//not-a-code' is not in any supported code system"):
        read_codiesp(root)
    with open(root / "train" / "trainD.tsv", "a", encoding="utf-8") as handle:
        handle.write(lines[-1] + "\n")
    table = read_codiesp(root, on_error="skip")
    assert table.skipped == {"malformed_code": 1, "malformed_line": 1}
    assert table.frame.height == 6  # a bad code drops the code, not the document
    assert table.frame.row(0, named=True)["codes"] == ["ICD10CM//N45.1", "ICD10CM//R50.9"]


def test_unknown_code_is_kept_and_reported(tmp_path):
    root = make_release(tmp_path)
    with open(root / "train" / "trainD.tsv", "a", encoding="utf-8") as handle:
        handle.write("train-doc1\ts50.10x\n")  # well formed, placeholder without its 7th character
    table = read_codiesp(root)
    assert table.unknown_codes == {"ICD10CM//S50.10X": 1}
    assert "ICD10CM//S50.10X" in table.frame.row(1, named=True)["codes"]


def test_codes_without_text_file_and_text_without_codes(tmp_path):
    root = make_release(tmp_path)
    with open(root / "dev" / "devD.tsv", "a", encoding="utf-8") as handle:
        handle.write("dev-ghost\tr50.9\n")
    with pytest.raises(DataError, match="dev-ghost"):
        read_codiesp(root)
    table = read_codiesp(root, code_types=("P",))
    assert table.frame.filter(table.frame["doc_id"] == "dev-doc1")["codes"].to_list() == [[]]


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(DataNotFoundError, match="CodiEsp root"):
        read_codiesp(tmp_path / "nowhere")
    root = make_release(tmp_path / "r")
    (root / "test" / "testP.tsv").unlink()
    with pytest.raises(DataNotFoundError, match="testP.tsv does not exist"):
        read_codiesp(root, code_types=("D", "P"))
    with pytest.raises(ValueError, match="language"):
        read_codiesp(root, language="fr")
    with pytest.raises(ValueError, match="code_types"):
        read_codiesp(root, code_types=("X",))
    with pytest.raises(ValueError, match="on_error"):
        read_codiesp(root, on_error="ignore")
