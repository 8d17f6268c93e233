"""Export of a learned dependency matrix W with code names (parquet, written atomically)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor


def export_dependency_matrix(w: Tensor, codes: list[str], path: str | Path, top_k: int | None = None) -> Path:
    """Write the upper triangle of W [V, V] as rows (code_a, code_b, weight) to a parquet file.

    Pairs are a < b (W is symmetric with a zero diagonal). With ``top_k``, only the ``top_k``
    pairs of largest |weight| are written, strongest first; otherwise all pairs in row-major
    order. The file is written to a temporary name and renamed, so it is never seen half written.
    """
    if not isinstance(w, Tensor) or w.dim() != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"W must be a square tensor [V, V], got {getattr(w, 'shape', type(w).__name__)}")
    num_labels = w.shape[0]
    if len(codes) != num_labels:
        raise ValueError(f"codes must name the V = {num_labels} labels of W, got {len(codes)} names")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise ValueError(f"top_k must be None or an int >= 0, got {top_k!r}")
    w = w.detach().to("cpu", torch.float64)
    if top_k is None:
        a, b = np.triu_indices(num_labels, k=1)
        weight = w.numpy()[a, b]
    else:
        upper = torch.ones(num_labels, num_labels, dtype=torch.bool).triu(1)
        strength = w.abs().masked_fill(~upper, -1.0).flatten()  # lower triangle never selected
        k = min(top_k, num_labels * (num_labels - 1) // 2)
        flat = torch.topk(strength, k).indices.numpy()
        a, b = np.divmod(flat, num_labels)
        weight = w.flatten().numpy()[flat]
    names = np.asarray([str(c) for c in codes], dtype=object)
    table = pa.table(
        {
            "code_a": pa.array(names[a], type=pa.string()),
            "code_b": pa.array(names[b], type=pa.string()),
            "weight": pa.array(weight, type=pa.float64()),
        }
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
