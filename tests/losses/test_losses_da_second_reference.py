"""A second, independently written reference of the dependency-aware loss (docs/methods.md section 1.3),
straight from the text with plain autograd and a per-row Python loop: value and both gradients.
"""

import torch

from clincode.losses import build_loss


def reference(x, y, w_raw, alpha_neg=25.0, lam=10.0, eps=1e-6):
    m = (y != -1).double()
    y01 = (y == 1).double()
    c = (1 - (torch.sigmoid(x) - y01).abs()) * m  # step 1
    P, N = (m * y01).sum(), (m * (1 - y01)).sum()  # step 2: whole-batch counts
    w_pos, w_neg = N / (P + eps), alpha_neg * P / (N + eps)
    v = torch.where(y == 1, c * w_pos, torch.where(y == 0, c * w_neg, torch.zeros_like(c)))
    w = (w_raw + w_raw.T) / 2
    w = w - torch.diag(torch.diag(w))  # step 4: symmetric, zero diagonal
    rows = []
    for r in range(x.shape[0]):
        valid = m[r] > 0
        k = int(valid.sum())
        if k == 0:
            continue
        s, _ = torch.sort(v[r][valid], descending=True)  # step 3: OWA, largest weight last
        i = torch.arange(1, k + 1, dtype=x.dtype)
        big_c = (2 * i / (k * (k + 1)) * s).sum()
        raw = v[r] @ w @ v[r] / k
        rows.append(1 - big_c + lam * (1 - torch.sigmoid(raw)))  # step 5
    return torch.stack(rows).mean()


def test_second_reference_value_and_gradients():
    torch.manual_seed(1)
    x = torch.randn(7, 9, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(7, 9) < 0.25).long()
    y[2, :3] = -1
    y[5] = -1
    loss = build_loss("dependency_aware", 9).double()
    with torch.no_grad():
        loss.w_raw.mul_(3.0)  # entries large enough that the dependency term matters
    a = reference(x, y, loss.w_raw)
    ga = torch.autograd.grad(a, [x, loss.w_raw])
    b = loss(x, y)
    gb = torch.autograd.grad(b, [x, loss.w_raw])
    assert torch.allclose(a, b, rtol=1e-12)
    assert torch.allclose(ga[0], gb[0], rtol=1e-9, atol=1e-12)
    assert torch.allclose(ga[1], gb[1], rtol=1e-9, atol=1e-12)
