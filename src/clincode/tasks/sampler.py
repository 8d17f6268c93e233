"""Length-bucketed batch sampler shared by every task (rank-sharded under DDP)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from clincode.config import RunConfig


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of similar-length patients, to cut padding; optionally sharded across DDP ranks.

    Each epoch: shuffle all indices, cut them into pools of ``batch_size * pool_batches``, sort each
    pool by length, cut pools into batches, shuffle the batch order. With ``shuffle=False`` the
    whole split is sorted by length (deterministic evaluation order). The order is a function of
    (seed, epoch) only; the epoch is set by :meth:`set_epoch`, which Lightning calls at the start
    of every epoch through ``batch_sampler.sampler.set_epoch`` (the hook Lightning looks for).

    Distributed data parallel with W processes: every rank builds the same *global* batches of
    ``batch_size * W`` patients (same seed and epoch, so the same order as a 1-process run with
    that batch size) and keeps every W-th patient of each, starting at its rank. A W-process run
    with per-rank batch b therefore sees exactly the batches of a 1-process run with batch W*b;
    the stride gives every rank patients of about the same length. Ranks must take the same number
    of steps: a last global batch with fewer than W patients is dropped (at most W-1 patients per
    epoch, a different random set each shuffled epoch); otherwise the ranks' shares of the last
    batch differ by at most one patient.

    Args:
        lengths: (P,) tokens per patient, e.g. ``NextVisitDataset.num_tokens()``.
        batch_size: patients per batch (per rank).
        shuffle: randomise pools and batch order.
        drop_last: drop a final smaller (global) batch.
        pool_batches: batches per sorting pool (larger = less padding, less randomness).
        seed: base seed.
        num_replicas: W. None: for a shuffled (training) sampler, the world size of
            ``torch.distributed`` when it is initialised at iteration time, else 1. An unshuffled
            (evaluation) sampler is never sharded unless told: metrics need every row, and the
            evaluation after training runs while the process group is still up.
        rank: this process's rank in 0..W-1; given together with ``num_replicas``.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        pool_batches: int = 50,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if pool_batches < 1:
            raise ValueError(f"pool_batches must be >= 1, got {pool_batches}.")
        if (num_replicas is None) != (rank is None):
            raise ValueError(f"give num_replicas and rank together or neither, got num_replicas={num_replicas}, rank={rank}.")
        if num_replicas is not None and rank is not None and not (num_replicas >= 1 and 0 <= rank < num_replicas):
            raise ValueError(f"rank must be in 0..num_replicas-1 with num_replicas >= 1, got rank={rank}, num_replicas={num_replicas}.")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.pool_batches = pool_batches
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.sampler = _EpochHook(self)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def replicas(self) -> tuple[int, int]:
        """(W, rank) used now: explicit, or read from torch.distributed (see the class docstring)."""
        if self.num_replicas is not None and self.rank is not None:
            return self.num_replicas, self.rank
        if self.shuffle and torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_world_size(), torch.distributed.get_rank()
        return 1, 0

    def __len__(self) -> int:
        world, _ = self.replicas()
        full, rest = divmod(len(self.lengths), self.batch_size * world)
        return full + int(rest >= world and not self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        world, rank = self.replicas()
        size = self.batch_size * world  # the global batch
        for batch in self._global_batches(size):
            if len(batch) < size and (self.drop_last or len(batch) < world):
                continue
            yield [int(i) for i in batch[rank::world]]

    def _global_batches(self, size: int) -> list[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + size] for i in range(0, n, size)]
        rng = np.random.default_rng((self.seed, self.epoch))
        perm = rng.permutation(n)
        pool = size * self.pool_batches
        batches: list[np.ndarray] = []
        for start in range(0, n, pool):
            chunk = perm[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
        # Pools are whole multiples of the batch size, so only the very last batch can be short:
        # keep it last (drop_last drops it) and shuffle the order of the full ones.
        full = [b for b in batches if len(b) == size]
        short = [b for b in batches if len(b) < size]
        order = rng.permutation(len(full))
        return [full[i] for i in order] + short


class _EpochHook:
    """``batch_sampler.sampler``: Lightning sets the epoch of a custom batch sampler through it."""

    def __init__(self, owner: LengthBucketBatchSampler) -> None:
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


def bucketed_loader(dataset: Any, collate: Any, cfg: RunConfig, *, shuffle: bool, eval: bool) -> DataLoader:
    """DataLoader over a dataset with ``num_tokens()``: length-bucketed batches of the configured size."""
    batch_size = cfg.trainer.eval_batch_size if eval else cfg.trainer.batch_size
    sampler = LengthBucketBatchSampler(dataset.num_tokens(), batch_size, shuffle=shuffle, seed=cfg.seed)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.trainer.num_workers,
        persistent_workers=cfg.trainer.num_workers > 0,
    )
