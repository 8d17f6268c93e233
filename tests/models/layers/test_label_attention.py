"""LabelAttention against an explicit loop over documents, labels and tokens."""

from __future__ import annotations

import pytest
import torch

from clincode.models.layers import LabelAttention


@pytest.mark.parametrize("projection_dim", [None, 3])
def test_label_attention_matches_loop(projection_dim: int | None) -> None:
    torch.manual_seed(4)
    layer = LabelAttention(4, 3, projection_dim=projection_dim)
    h = torch.randn(2, 6, 4)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    logits, _ = layer(h, mask)
    U, F, b = layer.query.weight, layer.output_weight, layer.output_bias
    for i in range(2):
        n = int(mask[i].sum())
        for lab in range(3):
            scores = []
            for t in range(n):
                z = torch.tanh(layer.projection.weight @ h[i, t]) if projection_dim else h[i, t]
                scores.append(torch.dot(U[lab], z))
            w = torch.softmax(torch.stack(scores), 0)
            m = sum(w[t] * h[i, t] for t in range(n))
            torch.testing.assert_close(logits[i, lab], torch.dot(F[lab], m) + b[lab])
