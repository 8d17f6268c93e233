"""Contract tests over every registered model: outputs, gradients, padding, state, hooks, bad params.

Every name in ``MODELS`` must have an entry in ``TINY`` (small parameters so that each test
builds its model in milliseconds): registering a model without one fails
``test_every_registered_model_has_tiny_params``, so a new model is held to the same contract.
The text models read ``tokens`` / ``token_mask`` (clincode.models.text, clincode.tasks.coding.batches),
the EHR models the next-visit batch of clincode.tasks.next_visit.batches; ``plm`` runs on a one-layer,
randomly initialised encoder with the packaged all-MiniLM-L6-v2 tokenizer.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from clincode.encoders import WordpieceEncoding, default_encoder_path
from clincode.models import (
    HOOKS,
    MODELS,
    AuxiliaryLossHook,
    EmbeddingsHook,
    LabelCountsHook,
    LabelDescriptionsHook,
    OutputBiasHook,
    RepeatTableHook,
    build_model,
)
from clincode.models.text import TextEmbedding

NAMES = MODELS.names()
V = 5  # ICD labels
VOCAB = 40  # word vocabulary of the text and EHR models
# Training positives per label: three frequency segments for the per-segment model (eta 0.5).
COUNTS = np.array([1, 2, 9, 10, 40])
ENCODER = "tiny-encoder"  # stands for the tiny plm encoder directory (see the ``tiny_encoder`` fixture)

TINY: dict[str, dict[str, Any]] = {
    "ehr_transformer": {
        "d_model": 16, "n_heads": 2, "n_layers": 1, "dim_feedforward": 32, "max_visits": 16, "prior_bias": True
    },
    "cnn": {"embed_dim": 8, "kernel_sizes": (2, 3), "num_filters": 6},
    "bigru": {"embed_dim": 8, "hidden_size": 6},
    "caml": {"embed_dim": 8, "kernel_size": 3, "num_filters": 6},
    "dr_caml": {"embed_dim": 8, "kernel_size": 3, "num_filters": 6, "description_lambda": 0.5},
    "laat": {"embed_dim": 8, "hidden_size": 6, "attention_dim": 5},
    "marn": {"embed_dim": 8, "hidden_size": 4, "num_ccs": 3},
    "plm": {"model_path": ENCODER, "chunk_size": 6, "attention_dim": 8},
    "segmented": {"base": "caml", "base_params": {"embed_dim": 8, "kernel_size": 3, "num_filters": 6}},
}
# Models reading the next-visit batch (logits [B, T, V] per visit); all others read text batches.
EHR = {"ehr_transformer"}
# Extra heads and their sizes, for models returning a dict of logits.
HEADS = {"marn": {"icd": V, "ccs": 3}}


# ------------------------------------------------------------------------------- building


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A one-layer BERT of hidden size 16 with the packaged MiniLM's tokenizer and vocabulary."""
    from transformers import BertConfig, BertModel

    packaged = default_encoder_path()
    out = tmp_path_factory.mktemp("encoder") / "tiny-minilm"
    out.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (packaged / name).is_file():
            shutil.copy(packaged / name, out / name)
    config = BertConfig.from_pretrained(
        str(packaged),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def plm_vocab(tiny_encoder: Path) -> int:
    return WordpieceEncoding(tiny_encoder).vocab_size


Builder = Callable[..., nn.Module]


@pytest.fixture
def make(tiny_encoder: Path, plm_vocab: int) -> Builder:
    """Builder ``make(name, seed=0, setup=True)``: the model with TINY params, set up as the training path does."""

    def build(name: str, seed: int = 0, setup: bool = True) -> nn.Module:
        torch.manual_seed(seed)
        params = dict(TINY[name])
        if params.get("model_path") == ENCODER:
            params["model_path"] = str(tiny_encoder)
        model = build_model(name, vocab_size=vocab_size(name, plm_vocab), num_labels=V, params=params)
        if setup:
            prepare(model)
        return model

    return build


def vocab_size(name: str, plm_vocab: int) -> int:
    return plm_vocab if name == "plm" else VOCAB


def prepare(model: nn.Module) -> None:
    """The run-setup hooks, in the training path's order."""
    if isinstance(model, LabelCountsHook):
        model.set_label_counts(COUNTS)
    if isinstance(model, OutputBiasHook):
        model.init_output_bias(COUNTS / 50.0)
    if isinstance(model, LabelDescriptionsHook):
        ids, mask = descriptions()
        model.set_label_descriptions(ids, mask)


def descriptions() -> tuple[Tensor, Tensor]:
    """Label descriptions [V, 4] in the word vocabulary; the last label has none."""
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(1, VOCAB, (V, 4), generator=g)
    mask = torch.arange(4).expand(V, 4) < torch.tensor([4, 3, 2, 1, 0]).unsqueeze(1)
    return ids.masked_fill(~mask, 0), mask


# ------------------------------------------------------------------------------- batches


def text_batch(lengths: list[int], vocab: int, seed: int = 0, width: int | None = None) -> dict[str, Tensor]:
    """Right-padded documents of the given lengths (ids 1..vocab-1) and their multi-hot targets."""
    g = torch.Generator().manual_seed(seed)
    t = max(max(lengths), 1) if width is None else width
    tokens = torch.zeros(len(lengths), t, dtype=torch.long)
    mask = torch.zeros(len(lengths), t, dtype=torch.bool)
    for i, n in enumerate(lengths):
        # the same document whatever the batch: its ids depend on (seed, i) only
        doc = torch.randint(1, vocab, (n,), generator=torch.Generator().manual_seed(seed * 1000 + i))
        tokens[i, :n], mask[i, :n] = doc, True
    targets = (torch.rand(len(lengths), V, generator=g) < 0.5).to(torch.int8)
    targets[:, 0] = 1  # every document has a positive label with a description
    return {"tokens": tokens, "token_mask": mask, "targets": targets, "ccs_targets": targets[:, :3]}


def ehr_batch(patients: list[list[int]], seed: int = 0, width: int | None = None, visits: int | None = None) -> dict[str, Tensor]:
    """Next-visit batch (clincode.tasks.next_visit.batches contract); ``patients[b]`` = tokens per visit."""
    b = len(patients)
    length = max(sum(p) for p in patients) if width is None else width
    num_visits = max(len(p) for p in patients) if visits is None else visits
    codes = torch.zeros(b, length, dtype=torch.long)
    visit = torch.zeros(b, length, dtype=torch.long)
    age = torch.zeros(b, length)
    token_mask = torch.zeros(b, length, dtype=torch.bool)
    visit_mask = torch.zeros(b, num_visits, dtype=torch.bool)
    targets = torch.full((b, num_visits, V), -1, dtype=torch.int8)  # -1: padded and last visits
    for i, per_visit in enumerate(patients):
        g = torch.Generator().manual_seed(seed * 1000 + i)
        n, nv = sum(per_visit), len(per_visit)
        codes[i, :n] = torch.randint(1, VOCAB, (n,), generator=g)
        visit[i, :n] = torch.repeat_interleave(torch.arange(nv), torch.tensor(per_visit))
        age[i, :n] = 50.0 + visit[i, :n].float()
        token_mask[i, :n] = True
        visit_mask[i, :nv] = True
        targets[i, : nv - 1] = (torch.rand(nv - 1, V, generator=g) < 0.4).to(torch.int8)
    sex = torch.tensor([1 + i % 2 for i in range(b)])
    return {
        "codes": codes,
        "visit": visit,
        "age": age,
        "token_mask": token_mask,
        "visit_mask": visit_mask,
        "sex": sex,
        "targets": targets,
    }


# Two samples of different lengths, and a long one to batch them with.
TEXT_LENGTHS = [9, 4]
EHR_PATIENTS = [[2, 3, 1], [4]]
LONG_TEXT = 21
LONG_PATIENT = [3, 2, 4, 1, 2]


def batch_for(name: str, plm_vocab: int, seed: int = 0, **kw: Any) -> dict[str, Tensor]:
    if name in EHR:
        return ehr_batch(EHR_PATIENTS, seed, **kw)
    return text_batch(TEXT_LENGTHS, vocab_size(name, plm_vocab), seed, **kw)


def heads(out: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
    return dict(out) if isinstance(out, dict) else {"icd": out}


def real_rows(name: str, out: Tensor, index: int, batch: dict[str, Tensor]) -> Tensor:
    """The logits of sample ``index`` at its real positions: [V], or [T_real, V] per visit."""
    if name in EHR:
        return out[index, : int(batch["visit_mask"][index].sum())]
    return out[index]


# ------------------------------------------------------------------------------- tests


def test_every_registered_model_has_tiny_params() -> None:
    assert set(TINY) == set(NAMES)
    assert EHR <= set(NAMES) and set(HEADS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_gives_logits_of_the_contract_shape(name: str, make: Builder, plm_vocab: int) -> None:
    model = make(name).eval()
    batch = batch_for(name, plm_vocab)
    with torch.no_grad():
        out = heads(model(batch))
    sizes = HEADS.get(name, {"icd": V})
    assert set(out) == set(sizes)
    lead = (2, batch["visit_mask"].shape[1]) if name in EHR else (2,)
    for head, size in sizes.items():
        assert out[head].shape == (*lead, size), head
        assert out[head].dtype == torch.float32 and torch.isfinite(out[head]).all(), head


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_trainable_parameter(name: str, make: Builder, plm_vocab: int) -> None:
    model = make(name).train()
    batch = batch_for(name, plm_vocab)
    total = sum(o.sum() for o in heads(model(batch)).values())
    if isinstance(model, AuxiliaryLossHook):  # a training term of the model's own (DR-CAML)
        extra = model.auxiliary_loss(batch)
        total = total + (extra if extra is not None else 0.0)
    total.backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable
    missing = sorted(n for n, p in trainable.items() if p.grad is None)
    assert not missing, f"{name}: trainable parameters without a gradient: {missing}"
    bad = sorted(n for n, p in trainable.items() if not torch.isfinite(p.grad).all())
    assert not bad, f"{name}: non-finite gradients: {bad}"


@pytest.mark.parametrize("name", NAMES)
def test_extra_padding_changes_nothing(name: str, make: Builder, plm_vocab: int) -> None:
    model = make(name).eval()
    tight = batch_for(name, plm_vocab)
    if name in EHR:
        padded = batch_for(name, plm_vocab, width=tight["codes"].shape[1] + 7, visits=tight["visit_mask"].shape[1] + 2)
    else:
        padded = batch_for(name, plm_vocab, width=tight["tokens"].shape[1] + 13)
    with torch.no_grad():
        a, b = heads(model(tight)), heads(model(padded))
    for head in a:
        for i in range(2):
            got, expected = real_rows(name, b[head], i, padded), real_rows(name, a[head], i, tight)
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_a_sample_gives_the_same_logits_alone_or_beside_a_longer_one(name: str, make: Builder, plm_vocab: int) -> None:
    model = make(name).eval()
    if name in EHR:
        alone = ehr_batch(EHR_PATIENTS[1:])
        mixed = ehr_batch([LONG_PATIENT, EHR_PATIENTS[1]])
        # the same patient: ehr_batch draws codes from (seed, index), so give it its own index back
        n = sum(EHR_PATIENTS[1])
        mixed["codes"][1, :n] = alone["codes"][0, :n]
        mixed["sex"][1] = alone["sex"][0]
    else:
        vocab = vocab_size(name, plm_vocab)
        alone = text_batch(TEXT_LENGTHS[1:], vocab)
        mixed = text_batch([LONG_TEXT, TEXT_LENGTHS[1]], vocab)
        mixed["tokens"][1] = 0
        mixed["tokens"][1, : TEXT_LENGTHS[1]] = alone["tokens"][0, : TEXT_LENGTHS[1]]
    with torch.no_grad():
        a, b = heads(model(alone)), heads(model(mixed))
    for head in a:
        got, expected = real_rows(name, b[head], 1, mixed), real_rows(name, a[head], 0, alone)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_gives_identical_outputs(name: str, make: Builder, plm_vocab: int) -> None:
    model = make(name, seed=0)
    batch = batch_for(name, plm_vocab)
    # one training step so that no parameter or buffer is at its initial value any more
    model.train()
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.sum() for o in heads(model(batch)).values()).backward()
    optimiser.step()
    fresh = make(name, seed=123, setup=False)  # other initial values; per-segment: no segments yet
    fresh.load_state_dict(model.state_dict())  # strict: same keys; the per-segment model builds itself
    if isinstance(fresh, LabelDescriptionsHook):
        fresh.set_label_descriptions(*descriptions())  # descriptions are inputs, not saved state
    model.eval()
    fresh.eval()
    with torch.no_grad():
        a, b = heads(model(batch)), heads(fresh(batch))
    for head in a:
        assert torch.equal(a[head], b[head]), head


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_named(name: str, plm_vocab: int) -> None:
    with pytest.raises(ValueError, match="'nonsense'"):
        build_model(name, vocab_size=vocab_size(name, plm_vocab), num_labels=V, params={**TINY[name], "nonsense": 1})


# ------------------------------------------------------------------------------- hooks

METHOD = {
    LabelCountsHook: "set_label_counts",
    OutputBiasHook: "init_output_bias",
    RepeatTableHook: "init_from_repeat_table",
    EmbeddingsHook: "load_embeddings",
    LabelDescriptionsHook: "set_label_descriptions",
    AuxiliaryLossHook: "auxiliary_loss",
}


def test_every_hook_protocol_is_exported_and_names_one_method() -> None:
    assert set(METHOD) == set(HOOKS)
    for proto, method in METHOD.items():
        assert callable(getattr(proto, method)), proto.__name__
        assert getattr(proto, method).__doc__, f"{proto.__name__}.{method} needs a docstring"


def parameter_names(fn: Callable[..., Any]) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values() if p.name != "self"]


@pytest.mark.parametrize("name", NAMES)
def test_models_with_a_hook_method_satisfy_its_protocol(name: str, make: Builder) -> None:
    model = make(name)
    for proto, method in METHOD.items():
        has = callable(getattr(model, method, None))
        assert isinstance(model, proto) == has, (name, proto.__name__)
        if has:
            assert parameter_names(getattr(model, method)) == parameter_names(getattr(proto, method)), (
                f"{name}.{method} must take the arguments of {proto.__name__}"
            )


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(MODELS.get(n), EmbeddingsHook)])
def test_load_embeddings_hook_copies_normalised_rows(name: str, make: Builder) -> None:
    model = make(name)
    tables = [m.embedding for m in model.modules() if isinstance(m, TextEmbedding)]
    assert tables
    g = torch.Generator().manual_seed(5)
    matrix = torch.randn(tables[0].weight.shape, generator=g)
    model.load_embeddings(matrix)
    expected = matrix / matrix.norm(dim=1, keepdim=True)
    expected[0] = 0.0
    for table in tables:
        torch.testing.assert_close(table.weight.detach(), expected)
    with pytest.raises(ValueError, match="shape"):
        model.load_embeddings(torch.randn(VOCAB + 1, tables[0].weight.shape[1]))


@pytest.mark.parametrize("name", NAMES)
def test_label_sized_hooks_reject_a_wrong_number_of_labels(name: str, make: Builder) -> None:
    model = make(name)
    wrong = np.ones(V + 1)
    if isinstance(model, LabelCountsHook):
        with pytest.raises(ValueError):
            model.set_label_counts(wrong)
    if isinstance(model, OutputBiasHook) and TINY[name].get("prior_bias"):
        with pytest.raises(ValueError):
            model.init_output_bias(wrong / 10)
    if isinstance(model, LabelDescriptionsHook):
        ids, mask = descriptions()
        with pytest.raises(ValueError):
            model.set_label_descriptions(torch.cat([ids, ids[:1]]), torch.cat([mask, mask[:1]]))
