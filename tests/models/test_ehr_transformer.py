"""EHR Transformer: shapes, visit-level causality, registry contract."""

import numpy as np
import pytest
import torch

from clincode.models import MODELS, build_model, describe_models
from clincode.tasks.next_visit.batches import collate_next_visit


def make_batch(b=3, visits=4, per_visit=3, vocab=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = visits * per_visit
    codes = torch.randint(2, vocab, (b, L), generator=g)
    visit = torch.arange(visits).repeat_interleave(per_visit).expand(b, L).clone()
    token_mask = torch.ones(b, L, dtype=torch.bool)
    # second patient: only 2 visits, rest padding
    token_mask[1, 2 * per_visit :] = False
    codes[1, 2 * per_visit :] = 0
    visit[1, 2 * per_visit :] = 0
    visit_mask = torch.ones(b, visits, dtype=torch.bool)
    visit_mask[1, 2:] = False
    age = 40 + visit.float() * 0.5
    return {
        "codes": codes,
        "visit": visit,
        "age": age,
        "token_mask": token_mask,
        "visit_mask": visit_mask,
        "sex": torch.tensor([1, 2, 0])[:b],
    }


def test_logits_shape_and_finite():
    model = build_model("ehr_transformer", vocab_size=50, num_labels=7, params={"d_model": 32, "n_heads": 2})
    out = model(make_batch())
    assert out.shape == (3, 4, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("tokens", ["code", "visit"])
def test_visit_level_causality(tokens):
    """Changing visit t+1's tokens leaves the logits of visits <= t unchanged (and changes t+1)."""
    torch.manual_seed(0)
    params = {"d_model": 32, "n_heads": 2, "dropout": 0.0, "tokens": tokens}
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params=params)
    model.eval()
    batch = make_batch()
    base = model(batch)
    changed = {k: v.clone() for k, v in batch.items()}
    sel = changed["visit"][0] == 2
    changed["codes"][0, sel] = (changed["codes"][0, sel] + 7) % 48 + 2
    out = model(changed)
    assert torch.allclose(base[0, :2], out[0, :2], atol=1e-6)
    assert not torch.allclose(base[0, 2], out[0, 2], atol=1e-4)
    # other patients are untouched
    assert torch.allclose(base[1:], out[1:], atol=1e-6)


@pytest.mark.parametrize("tokens", ["code", "visit"])
def test_padding_does_not_change_real_visits(tokens):
    torch.manual_seed(0)
    params = {"d_model": 32, "n_heads": 2, "dropout": 0.0, "tokens": tokens}
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params=params)
    model.eval()
    batch = make_batch()
    out = model(batch)
    single = {k: v[1:2] for k, v in batch.items()}
    trimmed = {k: (v[:, :6] if v.dim() == 2 and k != "visit_mask" else v) for k, v in single.items()}
    trimmed["visit_mask"] = single["visit_mask"][:, :2]
    out_trim = model(trimmed)
    assert torch.allclose(out[1, :2], out_trim[0, :2], atol=1e-5)


def test_unknown_param_named():
    with pytest.raises(ValueError, match="d_modle"):
        build_model("ehr_transformer", vocab_size=10, num_labels=3, params={"d_modle": 8})


def test_registry_lists_models():
    names = [d["name"] for d in describe_models()]
    assert "ehr_transformer" in names and "ehr_transformer" in MODELS
    with pytest.raises(KeyError, match="known: .*ehr_transformer"):
        MODELS.get("ehr_transformr")


@pytest.mark.parametrize("tokens", ["code", "visit"])
def test_gradients_flow_to_all_embeddings(tokens):
    model = build_model("ehr_transformer", vocab_size=50, num_labels=5, params={"d_model": 16, "n_heads": 2, "tokens": tokens})
    model(make_batch()).sum().backward()
    used = ["code_emb", "age_emb", "visit_emb", "sex_emb", "head", "history"] + (["segment_emb"] if tokens == "code" else [])
    for name in used:
        assert getattr(model, name).weight.grad.abs().sum() > 0, name


def test_visit_tokens_unknown_value_named():
    with pytest.raises(ValueError, match="tokens must be 'code' or 'visit'"):
        build_model("ehr_transformer", vocab_size=10, num_labels=3, params={"d_model": 8, "n_heads": 2, "tokens": "event"})


def _history_reference(model, batch):
    """Slow reference of the history path: token by token, sum of history rows of visits <= t over t + 1."""
    codes, visit, mask = batch["codes"], batch["visit"], batch["token_mask"]
    b, t_max = codes.shape[0], batch["visit_mask"].shape[1]
    out = torch.zeros(b, t_max, model.num_labels, dtype=torch.float64)
    weight = model.history.weight.double()
    for i in range(b):
        for t in range(t_max):
            for pos in range(codes.shape[1]):
                if mask[i, pos] and visit[i, pos] <= t:
                    out[i, t] += weight[codes[i, pos]] / (t + 1)
    return out


def _uneven_batch(seed, num_labels):
    """Collated patients with 1-4 visits of 1-3 codes each (visits of different sizes, padding)."""
    rng = np.random.default_rng(seed)
    samples = []
    for p in range(4):
        per = rng.integers(1, 4, size=rng.integers(1, 5))
        tokens = rng.integers(2, 50, size=per.sum())
        labels = [rng.choice(num_labels, size=rng.integers(0, 3), replace=False) for _ in per]
        samples.append(
            {
                "subject_id": p, "sex": 1, "visit_time": np.arange(len(per)), "age": np.full(len(per), 50.0, np.float32),
                "tokens": tokens, "token_visit": np.repeat(np.arange(len(per)), per), "token_time": np.zeros(len(tokens), np.int64),
                "label_offsets": np.concatenate([[0], np.cumsum([len(x) for x in labels])]),
                "labels": np.concatenate(labels).astype(np.int64),
            }
        )  # fmt: skip
    return collate_next_visit(samples, num_labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_history_path_matches_token_by_token_reference(seed):
    torch.manual_seed(seed)
    model = build_model("ehr_transformer", vocab_size=50, num_labels=6, params={"d_model": 8, "n_heads": 2})
    torch.nn.init.normal_(model.history.weight)
    batch = _uneven_batch(seed, 6)
    t_max = batch["visit_mask"].shape[1]
    member = (batch["visit"].unsqueeze(2) == torch.arange(t_max)) & batch["token_mask"].unsqueeze(2)
    got = model._history(batch["codes"], batch["token_mask"], member)
    torch.testing.assert_close(got.double(), _history_reference(model, batch), rtol=1e-5, atol=1e-5)
