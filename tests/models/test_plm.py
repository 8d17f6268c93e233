"""The `plm` model on a tiny randomly initialised BERT: chunking reference, LoRA freezing, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from clincode.encoders import WordpieceEncoding
from clincode.models import build_model
from helpers.tiny_bert import tiny_bert_dir

V = 7
TEXTS = [
    "patient with diabetes mellitus type without complications and chronic kidney disease with fever",
    "fracture femur left",
    "chest pain",
]


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return tiny_bert_dir(tmp_path_factory.mktemp("tiny") / "bert")


def encode_batch(path: Path, texts: list[str], extra_pad: int = 0) -> dict[str, torch.Tensor]:
    enc = WordpieceEncoding(path)
    ids = [torch.as_tensor(enc.encode(t, 100), dtype=torch.long) for t in texts]
    t = max(len(x) for x in ids) + extra_pad
    tokens = torch.zeros(len(ids), t, dtype=torch.long)
    mask = torch.zeros(len(ids), t, dtype=torch.bool)
    for i, x in enumerate(ids):
        tokens[i, : len(x)], mask[i, : len(x)] = x, True
    return {"tokens": tokens, "token_mask": mask}


def plm(path: Path, **params) -> torch.nn.Module:
    torch.manual_seed(0)
    vocab = WordpieceEncoding(path).vocab_size
    return build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(path), "chunk_size": 6, **params})


def test_wordpiece_encoding_has_no_special_tokens_and_truncates(bert: Path) -> None:
    enc = WordpieceEncoding(bert)
    ids = enc.encode("Patient with fever", 10).tolist()
    tok = enc.tokenizer
    assert ids == tok.convert_tokens_to_ids(["patient", "with", "fever"])
    assert enc.encode(TEXTS[0], 4).tolist() == enc.encode(TEXTS[0], 100).tolist()[:4]


def test_chunk_features_match_an_explicit_loop_over_tokenizer_chunks(bert: Path) -> None:
    model = plm(bert).eval()
    batch = encode_batch(bert, TEXTS)
    h, mask = model.features(batch)
    length = 4  # chunk_size 6 minus [CLS] and [SEP]
    assert h.shape[1] % length == 0 and mask.shape == h.shape[:2]
    tok = WordpieceEncoding(bert).tokenizer
    for i, text in enumerate(TEXTS):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert mask[i].sum() == len(ids)
        for start in range(0, len(ids), length):
            piece = [tok.cls_token_id, *ids[start : start + length], tok.sep_token_id]
            with torch.no_grad():
                ref = model.encoder(input_ids=torch.tensor([piece])).last_hidden_state[0, 1:-1]
            got = h[i, start : start + len(piece) - 2]
            assert torch.allclose(got, ref, atol=1e-5), (i, start)
        assert torch.equal(h[i, len(ids) :], torch.zeros_like(h[i, len(ids) :]))  # zero on padding


def test_forward_shape_and_padding_invariance(bert: Path) -> None:
    model = plm(bert).eval()
    logits = model(encode_batch(bert, TEXTS))
    assert logits.shape == (3, V) and torch.isfinite(logits).all()
    padded = model(encode_batch(bert, TEXTS, extra_pad=9))
    assert torch.allclose(logits, padded, atol=1e-5)
    att = model.attention_weights(encode_batch(bert, TEXTS))
    assert torch.allclose(att.sum(-1), torch.ones(3, V), atol=1e-5)


def test_lora_freezes_pretrained_weights_and_trains_adapters_and_head(bert: Path) -> None:
    model = plm(bert, lora_r=4, lora_alpha=8.0, lora_dropout=0.0).train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("attention.") for n in trainable)
    assert any("lora_A" in n for n in trainable) and any(n.startswith("attention.") for n in trainable)
    frozen_before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert any("word_embeddings" in n for n in frozen_before) and any("query.base_layer" in n for n in frozen_before)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    lora_b = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    batch = encode_batch(bert, TEXTS)
    targets = torch.randint(0, 2, (3, V)).float()
    for _ in range(2):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in model.named_parameters():
        if n in frozen_before:
            assert torch.equal(p, frozen_before[n]), n
    assert any(not torch.equal(p, lora_b[n]) for n, p in model.named_parameters() if n in lora_b)


def test_unused_pooler_is_frozen_and_every_trainable_parameter_gets_a_gradient(bert: Path) -> None:
    model = plm(bert).train()
    assert all(not p.requires_grad for p in model.encoder.pooler.parameters())
    assert any(n.startswith("encoder.pooler.") for n in model.state_dict())  # checkpoints keep their keys
    model(encode_batch(bert, TEXTS)).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_freeze_encoder_trains_the_head_only(bert: Path) -> None:
    model = plm(bert, freeze_encoder=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.attention.named_parameters(prefix="attention")}


def test_bf16_autocast_on_cpu(bert: Path) -> None:
    model = plm(bert, lora_r=2).train()
    batch = encode_batch(bert, TEXTS)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(batch)
    loss = logits.float().sigmoid().mean()
    loss.backward()
    assert torch.isfinite(loss) and logits.shape == (3, V)


def test_segmented_plm_with_shared_encoder(bert: Path) -> None:
    vocab = WordpieceEncoding(bert).vocab_size
    model = build_model(
        "segmented",
        vocab_size=vocab,
        num_labels=V,
        params={
            "base": "plm",
            "base_params": {"model_path": str(bert), "chunk_size": 6},
            "shared_encoder": True,
            "segment_of": [0, 0, 1, 1, 1, 2, 2],
        },
    ).eval()
    assert len(model.shared.attention.heads) == 3
    assert model(encode_batch(bert, TEXTS)).shape == (3, V)


def test_bad_paths_and_parameters(bert: Path, tmp_path: Path) -> None:
    vocab = WordpieceEncoding(bert).vocab_size
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(tmp_path / "empty")})
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (no_weights / name).write_bytes((bert / name).read_bytes())
    with pytest.raises(ValueError, match="not a usable Hugging Face encoder"):
        build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(no_weights)})
    with pytest.raises(ValueError, match="set data.params.tokenizer"):
        build_model("plm", vocab_size=5000, num_labels=V, params={"model_path": str(bert), "chunk_size": 8})
    with pytest.raises(ValueError, match="chunk_size must be in \\[3, 64\\]"):
        build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(bert), "chunk_size": 65})
    with pytest.raises(ValueError, match="not found: \\['q_proj'\\]"):
        build_model("plm", vocab_size=vocab, num_labels=V, params={"model_path": str(bert), "chunk_size": 8, "lora_r": 2, "lora_target_modules": ["q_proj"]})


def test_built_in_train_mode_so_encoder_dropout_is_active(bert: Path) -> None:
    model = plm(bert, lora_r=2)
    assert all(m.training for m in model.modules())
