"""Personal frequency with neighbours, in the manner of TIFU-KNN (Hu et al., KDD 2020).

Each row's personal vector is a time-decayed frequency of the labels in its visible history: the
visits are cut into groups of ``group_size`` from the most recent backwards (the oldest group may
be shorter); inside a group, the visit ``s`` places before the group's latest weighs
``within_decay ** s`` and the group sum is divided by the group's size; group ``q`` places before
the latest group weighs ``group_decay ** q``, and the total is divided by the number of groups.
The forecast blends it with the mean personal vector of the ``k`` most similar training patients
(cosine similarity of their whole-history vectors): ``alpha * u + (1 - alpha) * mean_nn(u)``.
[ours] A term ``1e-3 * training prevalence`` orders the labels no one near the patient has, so no
label is tied at 0. The decays, the group size, k and alpha are chosen on the tuning split (micro
AUPRC) from a small grid; the paper chooses them on validation data too.

Grouping from the most recent visit and cosine neighbours are our reading for visit histories a
few visits long; the method is TIFU-KNN's (time-decayed item frequencies + user KNN).
"""

from __future__ import annotations

from itertools import groupby, product
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from clincode.forecasters.history import Histories, ragged_arange
from clincode.forecasters.selection import micro_auprc

# (group_size, within_decay, group_decay) x k x alpha, chosen on the tuning split.
VECTOR_GRID: tuple[tuple[int, float, float], ...] = ((1, 1.0, 0.6), (1, 1.0, 0.85), (3, 0.9, 0.7))
K_GRID: tuple[int, ...] = (100,)
ALPHA_GRID: tuple[float, ...] = (0.7, 0.9)
_BLOCK_ROWS = 2048
_TIE = 1e-3


def personal_vectors(h: Histories, rows: np.ndarray, group_size: int, within_decay: float, group_decay: float) -> sp.csr_matrix:
    """(len(rows), V) time-decayed label frequencies at the global visits ``rows`` (module docstring)."""
    patient = h.visit_patient[rows]
    first = h.visit_offsets[patient]
    n_seen = rows - first + 1  # visible visits per row
    # Every (row, earlier-or-same visit) pair, then every label of that visit.
    r_of_pair = np.repeat(np.arange(rows.size, dtype=np.int64), n_seen)
    distance = ragged_arange(n_seen)  # 0 = the row's own visit
    visit = rows[r_of_pair] - distance
    n_groups = -(-n_seen // group_size)
    q, s = distance // group_size, distance % group_size
    oldest = q == n_groups[r_of_pair] - 1
    size = np.where(oldest, n_seen[r_of_pair] - group_size * (n_groups[r_of_pair] - 1), group_size)
    weight = group_decay**q * within_decay**s / size / n_groups[r_of_pair]
    n_labels = h.label_offsets[visit + 1] - h.label_offsets[visit]
    pair = np.repeat(np.arange(visit.size, dtype=np.int64), n_labels)
    cols = h.labels[np.repeat(h.label_offsets[visit], n_labels) + ragged_arange(n_labels)]
    out = sp.csr_matrix((weight[pair], (r_of_pair[pair], cols)), shape=(rows.size, h.num_labels), dtype=np.float64)
    out.sum_duplicates()
    return out


def _normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m


class TifuKnnForecaster:
    """Time-decayed personal frequency blended with the nearest training patients' (module docstring).

    Args: None of the settings given means the tuning split chooses it from the grid.
    """

    def __init__(
        self,
        group_size: int | None = None,
        within_decay: float | None = None,
        group_decay: float | None = None,
        k: int | None = None,
        alpha: float | None = None,
    ) -> None:
        for name, value, lo, hi in (("within_decay", within_decay, 0.0, 1.0), ("group_decay", group_decay, 0.0, 1.0), ("alpha", alpha, 0.0, 1.0)):
            if value is not None and not lo < value <= hi:
                raise ValueError(f"{name} must be in ({lo}, {hi}] or null; got {value!r}")
        for name, count in (("group_size", group_size), ("k", k)):
            if count is not None and (not isinstance(count, int) or count < 1):
                raise ValueError(f"{name} must be an integer >= 1 or null; got {count!r}")
        self.group_size, self.within_decay, self.group_decay, self.k, self.alpha = group_size, within_decay, group_decay, k, alpha
        self.setting_: dict[str, Any] | None = None
        self.neighbours_: sp.csr_matrix | None = None  # (P_train, V) personal vectors of the training patients
        self.neighbour_subjects_: np.ndarray | None = None
        self.prior_: np.ndarray | None = None
        self.selection_: list[dict[str, Any]] = []

    def _grid(self) -> list[dict[str, Any]]:
        vectors = [
            g for g in VECTOR_GRID
            if (self.group_size is None or g[0] == self.group_size)
            and (self.within_decay is None or g[1] == self.within_decay)
            and (self.group_decay is None or g[2] == self.group_decay)
        ]  # fmt: skip
        if not vectors:
            vectors = [(self.group_size or 1, self.within_decay or 1.0, self.group_decay or 0.85)]
        ks = K_GRID if self.k is None else (self.k,)
        alphas = ALPHA_GRID if self.alpha is None else (self.alpha,)
        return [{"group_size": g[0], "within_decay": g[1], "group_decay": g[2], "k": k, "alpha": a} for g, k, a in product(vectors, ks, alphas)]

    def _train_vectors(self, train: Histories, setting: dict[str, Any]) -> sp.csr_matrix:
        ends = train.visit_offsets[1:] - 1
        ends = ends[np.diff(train.visit_offsets) > 0]
        return personal_vectors(train, ends, setting["group_size"], setting["within_decay"], setting["group_decay"])

    def _components(self, h: Histories, setting: dict[str, Any], train_vectors: sp.csr_matrix, train_subjects: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """The rows' personal vectors (sparse) and the mean vectors of their k nearest training patients (N, V)."""
        u = personal_vectors(h, h.rows, setting["group_size"], setting["within_decay"], setting["group_decay"])
        k = min(int(setting["k"]), train_vectors.shape[0])
        normed_train = _normalise(train_vectors).tocsr().astype(np.float32)  # (P_train, V)
        normed = _normalise(u).astype(np.float32)
        neighbours = np.empty((len(h), h.num_labels), dtype=np.float32)
        subjects = h.subject_id[h.row_patient]
        for lo in range(0, len(h), _BLOCK_ROWS):
            hi = min(lo + _BLOCK_ROWS, len(h))
            # Sparse training vectors times a dense block (cost nnz(train) x block rows), kept as
            # (P_train, b) and searched down its columns: no transposed copy.
            sim = normed_train @ normed[lo:hi].toarray().T  # (P_train, b)
            sim[train_subjects[:, None] == subjects[None, lo:hi]] = -np.inf  # never a patient's own history
            nn = torch.from_numpy(sim).topk(k, dim=0, sorted=False).indices.numpy().T  # (b, k)
            rows = np.repeat(np.arange(hi - lo), nn.shape[1])
            pick = sp.csr_matrix((np.full(rows.size, 1.0 / nn.shape[1]), (rows, nn.ravel())), shape=(hi - lo, train_vectors.shape[0]))
            neighbours[lo:hi] = (pick @ train_vectors).toarray()
        return u, neighbours

    def _blend(self, u: sp.csr_matrix, neighbours: np.ndarray, alpha: float) -> np.ndarray:
        assert self.prior_ is not None
        out = (1 - alpha) * neighbours + _TIE * self.prior_
        out += (alpha * u).toarray()
        return np.clip(out, 0.0, 1.0, out=out)

    def _scores(self, h: Histories, setting: dict[str, Any], train_vectors: sp.csr_matrix, train_subjects: np.ndarray) -> np.ndarray:
        u, neighbours = self._components(h, setting, train_vectors, train_subjects)
        return self._blend(u, neighbours, setting["alpha"])

    def fit(self, train: Histories, tuning: Histories | None = None) -> TifuKnnForecaster:
        _, cols = train.targets()
        self.prior_ = (np.bincount(cols, minlength=train.num_labels) / max(len(train), 1)).astype(np.float32)
        grid = self._grid()
        if len(grid) > 1 and tuning is None:
            raise ValueError("tifu_knn chooses its settings on the tuning split; none was given")
        train_subjects = train.subject_id[np.diff(train.visit_offsets) > 0]
        self.neighbour_subjects_ = train_subjects
        if tuning is None or len(grid) == 1:
            self.setting_, self.neighbours_ = grid[0], self._train_vectors(train, grid[0])
            return self
        y = tuning.target_matrix()
        best: tuple[float, dict[str, Any], sp.csr_matrix] | None = None
        # The vectors and the neighbours depend on the decays and k, not on alpha (the grid lists
        # each vector setting's alphas together): one pass per vector setting, blended per alpha.
        for _, group in groupby(grid, key=lambda g: (g["group_size"], g["within_decay"], g["group_decay"], g["k"])):
            settings = list(group)
            vectors = self._train_vectors(train, settings[0])
            u, neighbours = self._components(tuning, settings[0], vectors, train_subjects)
            for setting in settings:
                score = micro_auprc(self._blend(u, neighbours, setting["alpha"]), y)
                self.selection_.append({**setting, "tuning_auprc_micro": score})
                if best is None or score > best[0]:
                    best = (score, setting, vectors)
        assert best is not None
        self.setting_, self.neighbours_ = best[1], best[2]
        return self

    def predict_proba(self, h: Histories) -> np.ndarray:
        assert self.setting_ is not None and self.neighbours_ is not None and self.neighbour_subjects_ is not None, "fit first"
        return self._scores(h, self.setting_, self.neighbours_, self.neighbour_subjects_)

    def to_dict(self) -> dict[str, Any]:
        m = self.neighbours_
        return {
            "params": {"group_size": self.group_size, "within_decay": self.within_decay, "group_decay": self.group_decay, "k": self.k, "alpha": self.alpha},
            "setting": self.setting_,
            "prior": None if self.prior_ is None else self.prior_.tolist(),
            "neighbours": None if m is None else {"shape": list(m.shape), "indptr": m.indptr.tolist(), "indices": m.indices.tolist(), "data": m.data.tolist()},
            "neighbour_subjects": None if self.neighbour_subjects_ is None else self.neighbour_subjects_.tolist(),
            "selection": self.selection_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TifuKnnForecaster:
        out = cls(**state["params"])
        out.setting_ = state["setting"]
        out.prior_ = np.asarray(state["prior"], dtype=np.float32)
        n = state["neighbours"]
        out.neighbours_ = sp.csr_matrix((np.asarray(n["data"]), np.asarray(n["indices"]), np.asarray(n["indptr"])), shape=tuple(n["shape"]))
        out.neighbour_subjects_ = np.asarray(state["neighbour_subjects"], dtype=np.int64)
        out.selection_ = list(state.get("selection", []))
        return out
