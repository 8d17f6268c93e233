"""read_codiesp(mentions=True): CodiEsp's evidence spans (X files) on tiny fixtures and on the real release
(../shared/data/codiesp; skipped when it is absent).
"""

from pathlib import Path

import pytest

from clincode.data.errors import DataError
from clincode.data.notes import read_codiesp

TEXT = "Paciente con orquitis y fiebre alta. Rx tórax normal."


def make_release(root: Path, x_lines: dict[str, list[str]] | None = None) -> Path:
    """One document per split (same Spanish text), D codes n45.1 and r50.9, P code bw03zzz."""
    for split in ("train", "dev", "test"):
        for sub in ("text_files", "text_files_en"):
            (root / split / sub).mkdir(parents=True)
        doc = f"{split}-doc0"
        (root / split / "text_files" / f"{doc}.txt").write_text(TEXT, encoding="utf-8")
        (root / split / "text_files_en" / f"{doc}.txt").write_text("Patient with orchitis.", encoding="utf-8")
        (root / split / f"{split}D.tsv").write_text(f"{doc}\tn45.1\n{doc}\tr50.9\n", encoding="utf-8")
        (root / split / f"{split}P.tsv").write_text(f"{doc}\tbw03zzz\n", encoding="utf-8")
        lines = (x_lines or {}).get(split)
        if lines is None:
            lines = [
                f"{doc}\tDIAGNOSTICO\tn45.1\torquitis\t13 21",
                f"{doc}\tDIAGNOSTICO\tr50.9\tfiebre alta\t24 35",
                f"{doc}\tPROCEDIMIENTO\tbw03zzz\tRx tórax\t37 45",
                f"{doc}\tDIAGNOSTICO\tr50.9\tfiebre normal\t24 30;46 52",  # discontinuous
            ]
        if lines != ["<absent>"]:
            (root / split / f"{split}X.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_mentions_are_read_with_offsets(tmp_path):
    table = read_codiesp(make_release(tmp_path), language="es", code_types=("D", "P"), mentions=True)
    assert table.skipped == {}
    m = table.mentions
    assert m.height == 12 and table.report["mentions"] == 12
    first = m.filter(m["doc_id"] == "train-doc0").rows(named=True)
    assert [r["code"] for r in first] == ["ICD10CM//N45.1", "ICD10CM//R50.9", "ICD10PCS//BW03ZZZ", "ICD10CM//R50.9"]
    assert [r["type"] for r in first] == ["D", "D", "P", "D"]
    assert first[0]["text"] == "orquitis" and first[0]["starts"] == [13] and first[0]["ends"] == [21]
    assert first[3]["starts"] == [24, 46] and first[3]["ends"] == [30, 52]
    for r in first:
        assert " ".join(TEXT[s:e] for s, e in zip(r["starts"], r["ends"], strict=True)) == r["text"]


def test_only_the_chosen_code_types(tmp_path):
    table = read_codiesp(make_release(tmp_path), language="es", code_types=("D",), mentions=True)
    assert set(table.mentions["type"]) == {"D"} and table.mentions.height == 9
    per_doc = table.mentions_by_doc(["held_out-doc0", "test-doc0", "nothing"])
    assert per_doc[0] == [] and len(per_doc[1]) == 3 and per_doc[2] == []


def test_no_mentions_unless_asked(tmp_path):
    table = read_codiesp(make_release(tmp_path), language="es")
    assert table.mentions is None and "mentions" not in table.report
    with pytest.raises(ValueError, match="no mentions"):
        table.mentions_by_doc(["train-doc0"])


def test_absent_x_file_is_no_mention(tmp_path):
    root = make_release(tmp_path, {"dev": ["<absent>"]})
    table = read_codiesp(root, language="es", mentions=True)
    assert table.skipped == {}
    assert set(table.mentions["doc_id"]) == {"train-doc0", "test-doc0"}


def test_mentions_need_spanish(tmp_path):
    with pytest.raises(ValueError, match="language='es'"):
        read_codiesp(make_release(tmp_path), language="en", mentions=True)


BAD_ROWS = {
    "mention_bad_offsets": "train-doc0\tDIAGNOSTICO\tn45.1\torquitis\t13 999",
    "mention_text_mismatch": "train-doc0\tDIAGNOSTICO\tn45.1\torquitis\t12 20",
    "mention_code_not_gold": "train-doc0\tDIAGNOSTICO\tj18.9\torquitis\t13 21",
    "mention_empty_span": "train-doc0\tDIAGNOSTICO\tn45.1\t \t13 21",
    "mention_unknown_doc": "other-doc\tDIAGNOSTICO\tn45.1\torquitis\t13 21",
    "mention_malformed_line": "train-doc0\tDIAGNOSTICO\tn45.1\torquitis",
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_bad_rows_raise_or_are_counted(tmp_path, reason):
    good = "train-doc0\tDIAGNOSTICO\tn45.1\torquitis\t13 21"
    root = make_release(tmp_path, {"train": [good, BAD_ROWS[reason]]})
    with pytest.raises(DataError, match="trainX.tsv line 2"):
        read_codiesp(root, language="es", mentions=True)
    table = read_codiesp(root, language="es", mentions=True, on_error="skip")
    assert table.skipped == {reason: 1}
    assert table.mentions.filter(table.mentions["doc_id"] == "train-doc0").height == 1
    assert table.frame.height == 3  # documents are untouched by a bad evidence row


def test_malformed_offsets_and_empty_pieces(tmp_path):
    rows = [
        "train-doc0\tDIAGNOSTICO\tn45.1\torquitis\t13-21",
        "train-doc0\tDIAGNOSTICO\tn45.1\torquitis\t13 21;21 21",
    ]
    table = read_codiesp(make_release(tmp_path, {"train": rows}), language="es", mentions=True, on_error="skip")
    assert table.skipped == {"mention_bad_offsets": 2}


@pytest.mark.slow  # reads the real release
def test_real_release_mentions(shared_data):
    real_root = shared_data("codiesp")
    table = read_codiesp(real_root, language="es", code_types=("D", "P"), mentions=True, on_error="skip")
    # 18,435 X rows; 4 have an empty piece in a discontinuous span, 7 offsets include punctuation
    assert table.skipped == {"mention_bad_offsets": 4, "mention_text_mismatch": 7}
    assert table.mentions.height == 18435 - 11
    assert table.frame.height == 1000
    diag = read_codiesp(real_root, language="es", code_types=("D",), mentions=True, on_error="skip")
    assert set(diag.mentions["type"]) == {"D"}
    assert diag.mentions.height == (table.mentions["type"] == "D").sum()
