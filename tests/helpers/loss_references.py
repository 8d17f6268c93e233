"""Slow, explicit reference implementations of every loss, written from docs/methods.md.

Plain Python floats (double precision) and loops over rows and labels: no vectorisation, no
shared code with clincode.losses, so a bug in the library cannot hide in its own reference.
Inputs are nested lists: X[r][j] logits, T[r][j] targets in {1, 0, -1}.
"""

from __future__ import annotations

import math

import numpy as np


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def neg_log_q(x: float, y: int) -> float:
    """-log of the probability given to the correct outcome (= BCE with logits)."""
    return softplus(-x) if y == 1 else softplus(x)


def _mean(total: float, n: int) -> float:
    return total / n if n else 0.0


def _counts(T: list[list[int]]) -> tuple[list[int], list[int]]:
    V = len(T[0])
    pos = [0] * V
    valid = [0] * V
    for row in T:
        for j, t in enumerate(row):
            if t != -1:
                valid[j] += 1
            if t == 1:
                pos[j] += 1
    return pos, valid


def bce(X, T) -> float:
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for x, t in zip(xr, tr, strict=True):
            if t != -1:
                total += neg_log_q(x, t)
                n += 1
    return _mean(total, n)


def weighted_bce(X, T, positives=None, valid=None) -> float:
    if positives is None:
        positives, valid = _counts(T)
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for j, (x, t) in enumerate(zip(xr, tr, strict=True)):
            if t == -1:
                continue
            pw = (valid[j] - positives[j]) / max(positives[j], 1)
            # BCEWithLogits with pos_weight: -[pw * y * log p + (1 - y) * log(1 - p)]
            total += pw * softplus(-x) if t == 1 else softplus(x)
            n += 1
    return _mean(total, n)


def cb_weights(positives, beta: float) -> list[float]:
    a = [(1 - beta) / (1 - beta ** max(n, 1)) if beta > 0 else 1.0 for n in positives]
    mean = sum(a) / len(a)
    return [w / mean for w in a]


def class_balanced(X, T, beta=0.9999, positives=None) -> float:
    if positives is None:
        positives, _ = _counts(T)
    a = cb_weights(positives, beta)
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for j, (x, t) in enumerate(zip(xr, tr, strict=True)):
            if t != -1:
                total += a[j] * neg_log_q(x, t)
                n += 1
    return _mean(total, n)


def focal_ho(X, T, gamma=2.0, beta=0.9999, eps=1e-6, positives=None) -> float:
    if positives is None:
        positives, _ = _counts(T)
    a = cb_weights(positives, beta)
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for j, (x, t) in enumerate(zip(xr, tr, strict=True)):
            if t == -1:
                continue
            p = sigmoid(x)
            p_t = min(max(p if t == 1 else 1 - p, eps), 1 - eps)
            alpha = a[j] / (1 + a[j])
            alpha_t = alpha if t == 1 else 1 - alpha
            total += alpha_t * (1 - p_t) ** gamma * neg_log_q(x, t)
            n += 1
    return _mean(total, n)


def focal_marn(X, T, alpha=0.999, gamma=2.0) -> float:
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for x, t in zip(xr, tr, strict=True):
            if t == -1:
                continue
            p_t = sigmoid(x) if t == 1 else sigmoid(-x)
            total += alpha * (1 - p_t) ** gamma * neg_log_q(x, t)
            n += 1
    return _mean(total, n)


def asymmetric(X, T, gamma_pos=0.0, gamma_neg=4.0, clip=0.05) -> float:
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for x, t in zip(xr, tr, strict=True):
            if t == -1:
                continue
            p = sigmoid(x)
            if t == 1:
                total += (1 - p) ** gamma_pos * -math.log(p)
            else:
                p_m = max(p - clip, 0.0)
                total += p_m**gamma_neg * -math.log(1 - p_m)
            n += 1
    return _mean(total, n)


def segments(counts, eta: float) -> list[list[int]]:
    """From the tail: grow while std <= eta * min, else start a new segment (np.std, ddof = 0)."""
    order = sorted(range(len(counts)), key=lambda j: (counts[j], j))
    out: list[list[int]] = []
    current: list[int] = []
    for j in order:
        candidate = current + [j]
        freqs = [counts[i] for i in candidate]
        if not current or np.std(freqs) <= eta * min(freqs) * (1 + 1e-12):
            current = candidate
        else:
            out.append(sorted(current))
            current = [j]
    out.append(sorted(current))
    return out


def sh_inverse_beta(rows_positive: list[set[int]], segs: list[list[int]]) -> list[float]:
    """1/beta_SH per segment: rows with a positive in the segment / rows without one."""
    out = []
    for seg in segs:
        p = sum(1 for row in rows_positive if any(j in row for j in seg))
        nn = len(rows_positive) - p
        out.append(max(p, 1) / max(nn, 1))
    return out


def sh(X, T, segs, inv_beta, gamma=0.0) -> float:
    total, n = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        for s, seg in enumerate(segs):
            w = 1.0 if any(tr[j] == 1 for j in seg) else inv_beta[s]
            for j in seg:
                if tr[j] == -1:
                    continue
                q = sigmoid(xr[j]) if tr[j] == 1 else sigmoid(-xr[j])
                total += w * (1 - q) ** gamma * neg_log_q(xr[j], tr[j])
                n += 1
    return _mean(total, n)


def sh_batch(X, T, eta=0.5, gamma=0.0) -> float:
    """SH with segments and beta from the batch itself (rows with a valid label count)."""
    positives, _ = _counts(T)
    segs = segments(positives, eta)
    rows = [{j for j, t in enumerate(tr) if t == 1} for tr in T if any(t != -1 for t in tr)]
    return sh(X, T, segs, sh_inverse_beta(rows, segs), gamma)


def dependency_aware(X, T, W_raw, alpha_neg=25.0, lam=10.0, eps=1e-6, loss_scale=1.0) -> float:
    V = len(X[0])
    W = [[0.0 if i == j else (W_raw[i][j] + W_raw[j][i]) / 2 for j in range(V)] for i in range(V)]
    P = sum(1 for tr in T for t in tr if t == 1)
    N = sum(1 for tr in T for t in tr if t == 0)
    w_pos = N / (P + eps)
    w_neg = alpha_neg * P / (N + eps)
    total, rows = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        v = [0.0] * V
        for j in range(V):
            if tr[j] == -1:
                continue
            y = 1.0 if tr[j] == 1 else 0.0
            c = 1 - abs(sigmoid(xr[j]) - y)
            v[j] = c * (w_pos if tr[j] == 1 else w_neg)
        vals = sorted((v[j] for j in range(V) if tr[j] != -1), reverse=True)
        K = len(vals)
        if K == 0:
            continue
        C = sum(2 * i / (K * (K + 1)) * s for i, s in enumerate(vals, start=1))
        q = sum(v[i] * W[i][j] * v[j] for i in range(V) for j in range(V))
        total += 1 - C + lam * (1 - sigmoid(q / K))
        rows += 1
    return loss_scale * _mean(total, rows)


def training_pmi(rows: list[set[int]], V: int, smoothing: float = 1.0) -> list[list[float]]:
    """PMI of co-occurring label pairs over training rows (sets of positive labels); 0 elsewhere."""
    n = len(rows)
    count = [sum(1 for r in rows if a in r) for a in range(V)]
    out = [[0.0] * V for _ in range(V)]
    for a in range(V):
        for b in range(V):
            both = sum(1 for r in rows if a in r and b in r)
            if a == b or both == 0:
                continue
            p_ab = (both + smoothing) / (n + smoothing)
            p_a = (count[a] + smoothing) / (n + smoothing)
            p_b = (count[b] + smoothing) / (n + smoothing)
            out[a][b] = math.log(p_ab / (p_a * p_b))
    return out


def prior_penalty(W, prior, mask, prior_reg: float) -> float:
    """prior_reg * mean over kept pairs (mask = 1, both orders) of (W - prior)^2."""
    V = len(W)
    num = sum((W[a][b] - prior[a][b]) ** 2 for a in range(V) for b in range(V) if mask[a][b])
    den = sum(1 for a in range(V) for b in range(V) if mask[a][b])
    return prior_reg * num / max(den, 1)


def dependency_log(X, T, W, class_weights="none", alpha_neg=25.0, lam=10.0, eps=1e-6) -> float:
    """Rank-weighted -log q (largest weight on the largest loss) + lam (1 - sigmoid(u^T W u / K)),
    u = kappa q; kappa = 1 or the paper's batch class weights. W: effective (symmetric, zero diagonal).
    """
    V = len(X[0])
    P = sum(1 for tr in T for t in tr if t == 1)
    N = sum(1 for tr in T for t in tr if t == 0)
    total, rows = 0.0, 0
    for xr, tr in zip(X, T, strict=True):
        valid = [j for j in range(V) if tr[j] != -1]
        K = len(valid)
        if K == 0:
            continue
        kappa = [0.0] * V
        for j in valid:
            if class_weights == "batch":
                kappa[j] = N / (P + eps) if tr[j] == 1 else alpha_neg * P / (N + eps)
            else:
                kappa[j] = 1.0
        losses = sorted(kappa[j] * neg_log_q(xr[j], tr[j]) for j in valid)
        rank = sum(2 * i / (K * (K + 1)) * e for i, e in enumerate(losses, start=1))
        u = [kappa[j] * (sigmoid(xr[j]) if tr[j] == 1 else 1 - sigmoid(xr[j])) if tr[j] != -1 else 0.0 for j in range(V)]
        q = sum(u[a] * W[a][b] * u[b] for a in range(V) for b in range(V))
        total += rank + lam * (1 - sigmoid(q / K))
        rows += 1
    return _mean(total, rows)


def dependency_pl(X, T, W, mu=0.5, center=False) -> float:
    """bce(x) + mu * bce(z), z_j = x_j + sum_{k != j} W[j][k] e_k; means over valid entries.

    e_k = [t_k = 1], or with ``center`` [t_k = 1] - sigmoid(x_k) for valid k and 0 for ignored k.
    """
    V = len(X[0])
    a = b = 0.0
    n = 0
    for xr, tr in zip(X, T, strict=True):
        for j in range(V):
            if tr[j] == -1:
                continue
            if center:
                z = xr[j] + sum(W[j][k] * ((tr[k] == 1) - sigmoid(xr[k])) for k in range(V) if k != j and tr[k] != -1)
            else:
                z = xr[j] + sum(W[j][k] for k in range(V) if k != j and tr[k] == 1)
            a += neg_log_q(xr[j], tr[j])
            b += neg_log_q(z, tr[j])
            n += 1
    return _mean(a, n) + mu * _mean(b, n)
