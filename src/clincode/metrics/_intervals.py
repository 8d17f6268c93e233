"""Exact AUROC / AUPRC under row weights, for all bootstrap resamples at once.

A bootstrap resample is a vector of row multiplicities ``w`` (B of them: ``W (B, N)``). AUROC and
AUPRC of a label only depend on, for each distinct positive score ``u``, the weight of
positives at ``u`` and the weight of negatives below / at ``u``. So the negatives of a
*segment* (one label, or all labels for the micro average) are cut into ``2m + 1`` bins by the
segment's ``m`` distinct positive scores ``u_1 < ... < u_m``::

    bin 0: x < u_1 | bin 1: x == u_1 | bin 2: u_1 < x < u_2 | ... | bin 2m: x > u_m

Built once (a sparse ``(bins, N)`` indicator of which row's negatives fall in which bin, and a
``(groups, N)`` one for positives), every batch of resamples then needs only two sparse-times-
dense products, cumulative sums over the bins and segment sums: the result is *exactly* the
metric recomputed on the resampled data (rows repeated ``w`` times), not an approximation; a test
checks this against explicit resampling. Cost is linear in the number of valid entries per
resample batch; memory is that of the sparse indicators (8 bytes per valid negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clincode.metrics._search import rowwise_searchsorted
from clincode.metrics._sweep import collect_positives, label_blocks, transposed_block


@dataclass(frozen=True)
class IntervalProblem:
    """Binned negatives and grouped positives of S segments (see module docstring).

    Attributes:
        neg: CSR ``(I, N)`` matrices whose sum counts the negatives of row n in bin i (I = sum
            over segments of 2m + 1; the micro problem keeps one part per label block).
        pos: CSR ``(K, N)``: positives of row n at distinct score k (K = sum of m).
        tie_bin: int64 ``(K,)`` bin holding negatives tied with group k.
        group_seg: int64 ``(K,)`` segment of group k.
        seg_group_start: int64 ``(S + 1,)`` groups of segment s are ``[start[s], start[s+1])``.
        seg_bin_start: int64 ``(S + 1,)`` bins of segment s are ``[start[s], start[s+1])``.
        seg_label: int64 ``(S,)`` label position (into ``cols``) of each segment (micro: -1).
    """

    neg: tuple[sp.csr_matrix, ...]
    pos: sp.csr_matrix
    tie_bin: np.ndarray
    group_seg: np.ndarray
    seg_group_start: np.ndarray
    seg_bin_start: np.ndarray
    seg_label: np.ndarray

    def weighted(self, wt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """AUROC and AUPRC of every segment under row weights.

        Args:
            wt: C-contiguous float32 ``(N, b)``: the transposed weights of b resamples.

        Returns:
            ``(auroc, auprc)`` float64 ``(b, S)``; NaN where a resample has no positive or no
            negative weight in the segment.
        """
        b = wt.shape[1]
        n_seg = self.seg_label.size
        if self.pos.shape[0] == 0:
            nan = np.full((b, n_seg), np.nan)
            return nan, nan.copy()
        # Sparse products give (bins, b); the arithmetic below runs on (b, bins) so that the
        # cumulative sums walk contiguous memory (about 3x faster than along axis 0).
        prod = self.neg[0] @ wt  # float32 sums of integer weights: exact below 2**24 rows
        for part in self.neg[1:]:
            prod += part @ wt
        wn = np.ascontiguousarray(prod.T, dtype=np.float64)  # (b, I) negative weight per bin
        qw = np.ascontiguousarray((self.pos @ wt).T, dtype=np.float64)  # (b, K) positive weight per group
        del prod
        csn = np.zeros((b, wn.shape[1] + 1))  # exclusive cumulative sums along the bins
        np.cumsum(wn, axis=1, out=csn[:, 1:])
        csq = np.zeros((b, qw.shape[1] + 1))
        np.cumsum(qw, axis=1, out=csq[:, 1:])
        seg_lo = self.seg_bin_start[:-1]
        n_w = csn[:, self.seg_bin_start[1:]] - csn[:, seg_lo]  # (b, S) negative weight per segment
        q_w = csq[:, self.seg_group_start[1:]] - csq[:, self.seg_group_start[:-1]]  # (b, S)
        below = csn[:, self.tie_bin] - csn[:, seg_lo[self.group_seg]]  # (b, K) negatives below u_k
        tied = wn[:, self.tie_bin]  # (b, K) negatives tied with u_k
        del wn, csn
        tp_ge = csq[:, self.seg_group_start[1:][self.group_seg]] - csq[:, :-1]  # (b, K) positives >= u_k
        fp_ge = n_w[:, self.group_seg] - below
        den = tp_ge + fp_ge
        prec = np.divide(tp_ge, den, out=np.zeros_like(den), where=den > 0)
        starts = self.seg_group_start[:-1]
        below += 0.5 * tied
        auc_num = np.add.reduceat(qw * below, starts, axis=1)  # (b, S)
        ap_num = np.add.reduceat(qw * prec, starts, axis=1)
        ok = (q_w > 0) & (n_w > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            auroc = np.where(ok, auc_num / (q_w * n_w), np.nan)
            auprc = np.where(ok, ap_num / q_w, np.nan)
        return auroc, auprc

    @property
    def n_bins(self) -> int:
        return int(self.seg_bin_start[-1])


def _boundaries_at_or_before(boundaries: np.ndarray, n_positions: int) -> np.ndarray:
    """int64 ``(n,)``: for each position ``0..n-1`` the number of boundaries ``<=`` it.

    A counting pass (bincount + cumsum), linear instead of one binary search per position.
    """
    hist = np.bincount(boundaries[boundaries < n_positions], minlength=n_positions)
    return np.cumsum(hist)


def _csr_by_bin(bins: np.ndarray, rows: np.ndarray, n_bins: int, n_rows: int) -> sp.csr_matrix:
    """CSR ``(n_bins, n_rows)`` of ones at ``(bins[i], rows[i])``; ``bins`` must be non-decreasing.

    Built directly from the already grouped entries: no COO sort. Repeated (bin, row) pairs are
    kept as separate entries, which products add up exactly like a summed entry.
    """
    indptr = np.zeros(n_bins + 1, dtype=np.int64)
    np.cumsum(np.bincount(bins, minlength=n_bins), out=indptr[1:])
    index_dtype = np.int32 if max(n_rows, bins.size) < 2**31 else np.int64
    return sp.csr_matrix(
        (np.ones(bins.size, np.float32), rows.astype(index_dtype), indptr.astype(index_dtype)),
        shape=(n_bins, n_rows),
    )


def _interleave(lt: np.ndarray, le: np.ndarray) -> np.ndarray:
    out = np.empty(2 * lt.size, dtype=np.int64)
    out[0::2] = lt
    out[1::2] = le
    return out


def build_problems(
    probs: np.ndarray, targets: np.ndarray, cols: np.ndarray
) -> tuple[list[IntervalProblem], IntervalProblem]:
    """Build the per-label problems (one per label block) and the micro problem over ``cols``.

    Only labels with at least one valid positive become segments (the others never enter a macro
    average). Returns ``(per_label_blocks, micro)``.
    """
    n = probs.shape[0]
    pos = collect_positives(probs, targets, cols)
    first = pos.tie_start == np.arange(pos.label.size)  # first entry of each (label, score) group
    g_label, g_value = pos.label[first], pos.value[first]
    group_of = np.cumsum(first) - 1  # (P,) group index of each positive
    u, u_index = np.unique(pos.value, return_inverse=True)  # micro groups: distinct scores
    micro_neg_parts: list[sp.csr_matrix] = []
    blocks: list[IntervalProblem] = []
    for c0, c1 in label_blocks(n, cols.size):
        x = transposed_block(probs, cols[c0:c1])  # (c, N)
        neg = transposed_block(targets, cols[c0:c1]) == 0
        counts = neg.sum(axis=1)
        s = np.where(neg, x, np.inf)
        del x, neg
        order = np.argsort(s, axis=1)
        s = np.take_along_axis(s, order, axis=1)  # row-sorted negatives, +inf padding last
        valid = np.arange(n)[None, :] < counts[:, None]  # (c, N)

        # Micro: bins of this block's negatives among all distinct positive scores.
        flat_vals = s[valid]
        flat_rows = order[valid]
        o = np.argsort(flat_vals)
        sv = flat_vals[o]
        bnd = _interleave(np.searchsorted(sv, u, "left"), np.searchsorted(sv, u, "right"))
        bins = _boundaries_at_or_before(bnd, sv.size)  # non-decreasing along the sorted values
        micro_neg_parts.append(_csr_by_bin(bins, flat_rows[o], 2 * u.size + 1, n))
        del flat_vals, o, sv, bins

        # Per label: segments are the block's labels with positives.
        g0, g1 = np.searchsorted(g_label, [c0, c1], side="left")
        if g1 == g0:
            continue
        gl = g_label[g0:g1] - c0  # (k,) local label of each group
        seg_local = np.unique(gl)  # local labels with positives, ascending
        seg_of_group = np.searchsorted(seg_local, gl)
        lt = rowwise_searchsorted(s, gl, g_value[g0:g1], "left", counts)
        le = rowwise_searchsorted(s, gl, g_value[g0:g1], "right", counts)
        # Flat positions label * N + p are ascending, and so are the boundaries label * N + lt/le.
        active = np.zeros(c1 - c0, dtype=bool)
        active[seg_local] = True
        keep = valid & active[:, None]
        lab, p = np.nonzero(keep)
        flat_pos = lab * n + p
        bnd = _interleave(gl * n + lt, gl * n + le)
        seg_of_neg = np.searchsorted(seg_local, lab)
        # Each segment owns 2m + 1 bins; bins are non-decreasing in (label, score) order.
        bins = _boundaries_at_or_before(bnd, (c1 - c0) * n)[flat_pos] + seg_of_neg
        k = g1 - g0
        m_seg = np.bincount(seg_of_group, minlength=seg_local.size)
        seg_group_start = np.concatenate([[0], np.cumsum(m_seg)]).astype(np.int64)
        seg_bin_start = np.concatenate([[0], np.cumsum(2 * m_seg + 1)]).astype(np.int64)
        local_group = np.arange(k)
        tie_bin = seg_bin_start[seg_of_group] + 2 * (local_group - seg_group_start[seg_of_group]) + 1
        in_block = (pos.label >= c0) & (pos.label < c1)
        neg_mat = _csr_by_bin(bins, order[keep], int(seg_bin_start[-1]), n)
        pos_mat = sp.csr_matrix(
            (np.ones(int(in_block.sum()), np.float32), (group_of[in_block] - g0, pos.row[in_block])),
            shape=(k, n),
            dtype=np.float32,
        )
        blocks.append(
            IntervalProblem(
                neg=(neg_mat,),
                pos=pos_mat,
                tie_bin=tie_bin.astype(np.int64),
                group_seg=seg_of_group.astype(np.int64),
                seg_group_start=seg_group_start,
                seg_bin_start=seg_bin_start,
                seg_label=(seg_local + c0).astype(np.int64),
            )
        )
    micro_pos = sp.csr_matrix(
        (np.ones(pos.row.size, np.float32), (u_index, pos.row)), shape=(u.size, n), dtype=np.float32
    )
    micro = IntervalProblem(
        neg=tuple(micro_neg_parts),
        pos=micro_pos,
        tie_bin=2 * np.arange(u.size, dtype=np.int64) + 1,
        group_seg=np.zeros(u.size, dtype=np.int64),
        seg_group_start=np.array([0, u.size], dtype=np.int64),
        seg_bin_start=np.array([0, 2 * u.size + 1], dtype=np.int64),
        seg_label=np.array([-1], dtype=np.int64),
    )
    return blocks, micro
