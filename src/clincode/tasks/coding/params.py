"""``data.params`` of the text-coding task (``data.task: coding``): notes, text pipeline, labels
(docs/methods.md section 4).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from clincode.tasks.coding.build import CodingConfig
from clincode.tasks.params import TaskParams

#: Keys directly under ``data`` before ``params``: the next-visit task's, which a coding run never read.
OLD_SHARED_KEYS = ("num_labels", "label_level", "visit_window_hours", "max_visits", "max_codes_per_visit", "min_code_count")
#: The section that held this task's settings before ``params``.
OLD_SECTION = "text"


class CodingParams(TaskParams):
    """The text-coding task's settings: which notes, how they become tokens, which codes are labels."""

    format: Literal["auto", "codiesp", "table"] = Field(
        "auto", description="auto: a directory with train/dev/test is CodiEsp, else a notes table (file or dir/notes.parquet)"
    )
    language: Literal["en", "es"] = Field("en", description="CodiEsp text: en (machine-translated) or es (original)")
    code_types: list[Literal["D", "P"]] = Field(default_factory=lambda: list[Literal["D", "P"]](["D"]), description="CodiEsp code files: D, P")
    code_prefixes: list[str] | None = Field(None, description="label codes' prefixes (None: every prefix seen in train)")
    on_error: Literal["raise", "skip"] = "raise"
    max_tokens: int = Field(4000, ge=1, description="first tokens kept per document (MARN: 4000)")
    min_df: int = Field(3, ge=1, description="vocabulary: words in >= min_df training documents (MARN: 3)")
    word2vec: bool = Field(True, description="initialise embeddings with CBOW word2vec trained on the train split")
    embed_dim: int = Field(100, gt=0, description="word2vec size; must equal the model's embed_dim")
    w2v_epochs: int = Field(5, ge=1)
    ccs: bool = Field(False, description="multitask: also predict single-level CCS (model needs num_ccs, e.g. marn)")
    ccs_weight: float = Field(0.3, ge=0, le=1, description="loss = (1 - w) * L_icd + w * L_ccs (MARN: 0.3)")
    min_label_count: int = Field(1, ge=1, description="labels: codes in >= this many training documents")
    num_labels: int | None = Field(None, gt=0, description="labels: the most frequent codes (None: all kept codes)")
    tokenizer: str | None = Field(
        None, description="model plm: its local Hugging Face path; documents become its wordpiece ids (set word2vec false)"
    )
    noise_filter_tau: float | None = Field(
        None, ge=-1, le=1, description="drop TRAIN labels whose description has cosine < tau with the note (SH paper: 0.55); None: off"
    )
    noise_filter_encoder: str | None = Field(None, description="noise filter encoder path (None: packaged all-MiniLM-L6-v2)")

    @classmethod
    def old_layout_key(cls, key: str) -> str | None:
        section, _, name = key.partition(".")
        if section == OLD_SECTION:
            return name or None  # `text.min_df` -> min_df; an empty `text: null` sets nothing
        return None if key in OLD_SHARED_KEYS else key

    def build_config(self) -> CodingConfig:
        """The build parameters of the prepared task (what its cache key and saved meta hold)."""
        return CodingConfig(
            format=self.format,
            language=self.language,
            code_types=tuple(self.code_types),
            code_prefixes=None if self.code_prefixes is None else tuple(self.code_prefixes),
            on_error=self.on_error,
            max_tokens=self.max_tokens,
            min_df=self.min_df,
            min_label_count=self.min_label_count,
            num_labels=self.num_labels,
            tokenizer=self.tokenizer,
            noise_filter_tau=self.noise_filter_tau,
            noise_filter_encoder=self.noise_filter_encoder,
        )
