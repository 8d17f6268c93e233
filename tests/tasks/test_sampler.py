"""LengthBucketBatchSampler: length buckets, determinism per epoch, and rank sharding (W ranks with
batch b see the 1-process batches of W*b).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.fabric.utilities.data import _set_sampler_epoch
from torch.utils.data import DataLoader

from clincode.tasks.sampler import LengthBucketBatchSampler


def test_length_bucket_sampler_properties():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=1003)
    sampler = LengthBucketBatchSampler(lengths, batch_size=16, pool_batches=10, seed=1)
    epoch0 = list(sampler)
    assert sorted(i for b in epoch0 for i in b) == list(range(1003))
    assert len(epoch0) == len(sampler) == 63 and all(len(b) == 16 for b in epoch0[:-1]) and len(epoch0[-1]) == 11
    assert list(sampler) == epoch0  # deterministic for (seed, epoch)
    sampler.set_epoch(1)
    assert list(sampler) != epoch0

    def padding(batches):
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in map(np.asarray, batches))

    random_batches = [list(range(i, min(i + 16, 1003))) for i in range(0, 1003, 16)]
    assert padding(epoch0) < 0.25 * padding(random_batches)
    dropped = LengthBucketBatchSampler(lengths, batch_size=16, drop_last=True)
    assert len(list(dropped)) == len(dropped) == 62
    ordered = list(LengthBucketBatchSampler(lengths, batch_size=16, shuffle=False))
    flat = [i for b in ordered for i in b]
    assert np.all(np.diff(lengths[flat]) >= 0)


def _ranks(lengths, batch_size, world, **kw) -> list[list[list[int]]]:
    out = []
    for rank in range(world):
        s = LengthBucketBatchSampler(lengths, batch_size, num_replicas=world, rank=rank, **kw)
        batches = list(s)
        assert len(batches) == len(s), "__len__ must match the iteration (DDP needs equal step counts)"
        out.append(batches)
    return out


def test_hand_computed_example():
    # Sorted order (shuffle off) of lengths 9..0 is patients 9, 8, ..., 0.
    lengths = np.arange(10)[::-1].copy()
    # Global batches of 2*2: [9 8 7 6] [5 4 3 2] [1 0]; rank r takes positions r, r+2, ...
    r0, r1 = _ranks(lengths, 2, 2, shuffle=False)
    assert r0 == [[9, 7], [5, 3], [1]]
    assert r1 == [[8, 6], [4, 2], [0]]
    # 9 patients: the last global batch [0] has fewer patients than ranks, so it is dropped.
    r0, r1 = _ranks(lengths[1:], 2, 2, shuffle=False)
    assert r0 == [[8, 6], [4, 2]] and r1 == [[7, 5], [3, 1]]
    # With three ranks a last batch of 3+ patients is split; of 2, dropped.
    assert [len(b) for b in _ranks(np.zeros(11), 1, 3, shuffle=False)[0]] == [1, 1, 1]


@pytest.mark.parametrize("n", [1, 5, 37, 64, 203])
@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_partition_the_single_process_batches(n, world, shuffle, drop_last):
    rng = np.random.default_rng(n)
    lengths = rng.integers(1, 300, size=n)
    b = 4
    for epoch in (0, 1):
        single = LengthBucketBatchSampler(lengths, b * world, shuffle=shuffle, drop_last=drop_last, pool_batches=3, seed=5)
        single.set_epoch(epoch)
        want = [g for g in single if len(g) >= world]  # global batches smaller than W are dropped
        per_rank = []
        for rank in range(world):
            s = LengthBucketBatchSampler(
                lengths, b, shuffle=shuffle, drop_last=drop_last, pool_batches=3, seed=5, num_replicas=world, rank=rank
            )
            s.set_epoch(epoch)
            per_rank.append(list(s))
            assert len(per_rank[-1]) == len(s) == len(want)
        for step, g in enumerate(want):
            shares = [per_rank[r][step] for r in range(world)]
            assert all(len(x) >= 1 for x in shares)
            assert max(map(len, shares)) - min(map(len, shares)) <= 1
            assert sorted(i for x in shares for i in x) == sorted(g)  # exactly the 1-process batch
            assert shares[0] == g[0::world]
        # No patient is seen twice in an epoch; at most W-1 are dropped (without drop_last).
        seen = [i for r in per_rank for x in r for i in x]
        assert len(seen) == len(set(seen))
        if not drop_last:
            assert n - len(seen) < world


def test_world_is_read_from_torch_distributed_for_training_only(monkeypatch):
    lengths = np.arange(40)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 4)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    train = LengthBucketBatchSampler(lengths, 5, shuffle=True, seed=2)
    assert train.replicas() == (4, 1) and len(train) == 2 and all(len(x) == 5 for x in train)
    explicit = LengthBucketBatchSampler(lengths, 5, shuffle=True, seed=2, num_replicas=4, rank=1)
    assert list(explicit) == list(train)
    # Evaluation order is not sharded: every rank scores the whole split.
    evaluation = LengthBucketBatchSampler(lengths, 5, shuffle=False)
    assert evaluation.replicas() == (1, 0) and sorted(i for x in evaluation for i in x) == list(range(40))


def test_lightning_sets_the_epoch_through_the_sampler_hook():
    sampler = LengthBucketBatchSampler(np.arange(100), 10, seed=1)
    loader = DataLoader(range(100), batch_sampler=sampler)
    first = list(sampler)
    _set_sampler_epoch(loader, 3)  # what Lightning's fit loop calls at the start of each epoch
    assert sampler.epoch == 3 and list(sampler) != first
    _set_sampler_epoch(loader, 0)
    assert list(sampler) == first


def test_bad_replica_arguments():
    with pytest.raises(ValueError, match="together"):
        LengthBucketBatchSampler([1, 2], 1, num_replicas=2)
    with pytest.raises(ValueError, match="rank must be in"):
        LengthBucketBatchSampler([1, 2], 1, num_replicas=2, rank=2)
