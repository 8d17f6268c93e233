"""Prepared coding data: fitted on train only, CCS targets, batches, clear path errors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from clincode.data.errors import DataNotFoundError
from clincode.data.notes import UNK_ID, tokenize
from clincode.tasks.coding.batches import CodingCollator, CodingDataset
from clincode.tasks.coding.build import CodingConfig, CodingData, build_coding, description_tokens
from helpers.coding_notes import HELD_OUT_ONLY_CODE, HELD_OUT_ONLY_WORD, notes_frame, write_notes


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    return write_notes(tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def data(notes) -> CodingData:
    return build_coding(notes, CodingConfig(min_df=2))


def test_labels_are_fitted_on_train_only_and_unseen_codes_are_counted(data):
    frame = notes_frame()
    train_codes = {c for doc in frame.filter(frame["split"] == "train")["codes"].to_list() for c in doc}
    assert set(data.label_space.codes_) == train_codes
    assert HELD_OUT_ONLY_CODE not in data.label_space.index_
    # Reference count: occurrences of codes outside the label space, per split, from the raw table.
    for split in ("train", "tuning", "held_out"):
        docs = frame.filter(frame["split"] == split)["codes"].to_list()
        missing = [c for doc in docs for c in doc if c not in train_codes]
        assert data.report["unseen_codes"][split]["occurrences"] == len(missing)
        assert data.split(split)["n_unseen"].to_list() == [sum(c not in train_codes for c in doc) for doc in docs]
        assert data.split(split)["n_codes"].to_list() == [len(doc) for doc in docs]
    assert data.report["unseen_codes"]["held_out"]["distinct"] == 1
    # Label counts are training document frequencies.
    train_docs = frame.filter(frame["split"] == "train")["codes"].to_list()
    for code, count in zip(data.label_space.codes_, data.label_space.counts_, strict=True):
        assert count == sum(code in doc for doc in train_docs)


def test_vocabulary_is_fitted_on_train_only(data):
    frame = notes_frame()
    assert HELD_OUT_ONLY_WORD not in data.vocab.index_
    # Reference: document frequency over the training texts only, min_df = 2.
    df: dict[str, int] = {}
    for text in frame.filter(frame["split"] == "train")["text"].to_list():
        for tok in set(text.lower().split()):
            df[tok] = df.get(tok, 0) + 1
    kept = {t for t, n in df.items() if n >= 2 and not t.isnumeric()}
    assert set(data.vocab.tokens_[2:]) == kept
    held = frame.filter(frame["split"] == "held_out")
    table = data.split("held_out")
    for text, ids in zip(held["text"].to_list(), table["tokens"].to_list(), strict=True):
        toks = tokenize(text)
        assert "42" not in toks and len(ids) == len(toks)  # numeric tokens dropped
        for tok, i in zip(toks, ids, strict=True):
            assert i == (data.vocab.index_[tok] if tok in kept else UNK_ID)
    assert any(HELD_OUT_ONLY_WORD in t for t in held["text"].to_list())


def test_ccs_targets_of_known_codes(data):
    # Hand-checked single-level CCS categories (HCUP): E11.9 -> 49, I10 -> 98, J45.909 -> 128,
    # N39.0 -> 159, K35.80 -> 142; the ICD-10-PCS procedure has none.
    expected = {"ICD10CM//E11.9": "CCS//49", "ICD10CM//I10": "CCS//98", "ICD10CM//J45.909": "CCS//128",
                "ICD10CM//N39.0": "CCS//159", "ICD10CM//K35.80": "CCS//142"}
    assert set(data.ccs_codes) == set(expected.values())
    frame = notes_frame()
    for split in ("train", "held_out"):
        docs = frame.filter(frame["split"] == split)["codes"].to_list()
        for doc, ccs in zip(docs, data.split(split)["ccs"].to_list(), strict=True):
            assert {data.ccs_codes[i] for i in ccs} == {expected[c] for c in doc if c in expected}
    all_docs = frame["codes"].to_list()
    n_pcs = sum("ICD10PCS//0DTJ4ZZ" in d for d in all_docs)
    n_r51 = sum(HELD_OUT_ONLY_CODE in d for d in all_docs)
    # R51 has a CCS category (84) but it never occurs in train, so it is no CCS label: no target.
    assert data.report["codes_without_ccs"] == {"distinct": 1, "occurrences": n_pcs}
    assert n_r51 > 0


def test_save_load_roundtrip(data, tmp_path):
    data.save(tmp_path / "task")
    back = CodingData.load(tmp_path / "task")
    assert back.label_space.codes_ == data.label_space.codes_
    assert back.vocab.tokens_ == data.vocab.tokens_
    assert back.ccs_codes == data.ccs_codes
    for split in ("train", "tuning", "held_out"):
        assert back.split(split).equals(data.split(split))


def test_collated_batch_matches_the_contract(data):
    table = data.split("train")
    ds = CodingDataset(table)
    batch = CodingCollator(data.num_labels, data.num_ccs)([ds[0], ds[3], ds[5]])
    lengths = [len(table["tokens"][i]) for i in (0, 3, 5)]
    assert batch["tokens"].shape == (3, max(lengths)) and batch["tokens"].dtype == torch.long
    assert batch["token_mask"].sum(1).tolist() == lengths
    assert (batch["tokens"][~batch["token_mask"]] == 0).all()
    assert batch["targets"].dtype == torch.int8 and batch["targets"].shape == (3, data.num_labels)
    assert set(batch["targets"].unique().tolist()) <= {0, 1}
    for row, i in enumerate((0, 3, 5)):
        assert sorted(np.nonzero(batch["targets"][row].numpy())[0].tolist()) == table["labels"][i].to_list()
        assert sorted(np.nonzero(batch["ccs_targets"][row].numpy())[0].tolist()) == table["ccs"][i].to_list()
    assert batch["doc_index"].tolist() == [0, 3, 5]
    # Subjects s000 (docs 0, 1), s001 (docs 2, 3), s002 (docs 4, 5): indices 0, 1, 2.
    assert batch["subject_id"].tolist() == [0, 1, 2]
    assert "ccs_targets" not in CodingCollator(data.num_labels, 0)([ds[0]])


def test_description_tokens_use_the_run_vocabulary(data):
    ids, mask = description_tokens(["diabetes glucose", "zzz unknown words", ""], data.vocab)
    assert ids.shape == mask.shape == (3, 3)
    assert [data.vocab.tokens_[i] for i in ids[0][mask[0]]] == ["diabetes", "glucose"]
    assert ids[1].tolist() == [UNK_ID] * 3 and mask[1].all()
    assert not mask[2].any()


def test_wrong_data_path_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_coding(tmp_path / "nope", CodingConfig())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="neither a CodiEsp release"):
        build_coding(tmp_path / "empty", CodingConfig())
    with pytest.raises(DataNotFoundError, match="not a CodiEsp release"):
        build_coding(tmp_path / "empty", CodingConfig(format="codiesp"))
