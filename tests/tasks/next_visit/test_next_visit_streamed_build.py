"""The streamed (bounded-memory) task build equals the in-memory build, and saved tasks load as
memory-mapped arrays that give the same samples as the in-memory tables.
"""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import numpy as np
import pytest

from clincode.data.errors import DataError
from clincode.tasks.next_visit import build as tasks
from clincode.tasks.next_visit.arrays import ARRAY_LAYOUT, FlatSplit
from clincode.tasks.next_visit.batches import NextVisitDataset, collate_next_visit, next_visit_dataset
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.data import NextVisitData
from helpers.meds_cohorts import random_cohort, write_meds

SPLITS = ("train", "tuning", "held_out")


def _cohort(tmp_path: Path, seed: int, interleaved: bool) -> Path:
    """Four shards of a random cohort; interleaved puts every 4th subject in the same shard, so
    the per-unit parts overlap in subject_id range and the final merge must interleave them.
    """
    events, splits = random_cohort(seed, n_patients=90)
    sids = sorted(splits)
    shards = [sids[i::4] for i in range(4)] if interleaved else [list(a) for a in np.array_split(sids, 4)]
    return write_meds(tmp_path / f"meds{seed}", events, splits, shards=shards)


def _assert_same_task(streamed: NextVisitData, in_memory: NextVisitData) -> None:
    assert streamed.root is not None
    for split in SPLITS:
        a, b = streamed.split(split), in_memory.split(split)
        assert a.schema == b.schema and a.height == b.height > 0, split
        assert a.equals(b), split
        got, want = streamed.arrays(split), FlatSplit.from_table(b)
        for name, (dtype, _) in ARRAY_LAYOUT.items():
            arr = getattr(got, name)
            assert isinstance(arr, np.memmap) and arr.dtype == dtype, name  # memory-mapped from disk
            np.testing.assert_array_equal(arr, getattr(want, name), err_msg=f"{split}/{name}")
    assert streamed.label_space.to_dict() == in_memory.label_space.to_dict()
    assert streamed.vocab.to_dict() == in_memory.vocab.to_dict()
    assert streamed.config == in_memory.config
    assert streamed.stats == in_memory.stats


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("window", [None, dt.timedelta(hours=24)])
def test_streamed_build_equals_in_memory_build(tmp_path, monkeypatch, interleaved, window):
    meds = _cohort(tmp_path, seed=3 if interleaved else 4, interleaved=interleaved)
    kwargs = dict(num_labels=8, visit_window=window, max_visits=5, max_codes_per_visit=3, progress=False)
    in_memory = build_next_visit(meds, **kwargs)
    assert in_memory.stats["shard_units"] == 4
    # Merge 7 patients at a time: many chunks, each drawing on several parts.
    monkeypatch.setattr(tasks, "STREAM_ROWS_PER_CHUNK", 7)
    streamed = build_next_visit(meds, **kwargs, out_dir=tmp_path / "task")
    _assert_same_task(streamed, in_memory)
    _assert_same_task(NextVisitData.load(tmp_path / "task"), in_memory)
    # Only the finished task is left: no temp directory, no spilled work files inside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([meds.name, "task"])
    assert not (tmp_path / "task" / "_work").exists()


def test_streamed_build_refuses_existing_dir_and_leaves_nothing_on_error(tmp_path):
    meds = _cohort(tmp_path, seed=5, interleaved=False)
    task = build_next_visit(meds, num_labels=8, progress=False, out_dir=tmp_path / "task")
    with pytest.raises(FileExistsError, match="already exists"):
        build_next_visit(meds, num_labels=8, progress=False, out_dir=tmp_path / "task")
    # min_visits so high that no patient is kept: the build fails after both passes, when the
    # splits are checked, and nothing is left behind.
    fitted = (task.label_space, task.vocab)
    with pytest.raises(DataError, match="has no patient"):
        build_next_visit(meds, fitted=fitted, min_visits=50, max_visits=60, progress=False, out_dir=tmp_path / "bad")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([meds.name, "task"])
    again = build_next_visit(meds, num_labels=8, progress=False, out_dir=tmp_path / "task", overwrite=True)
    assert again.split("train").equals(NextVisitData.load(tmp_path / "task").split("train"))


def test_memory_mapped_dataset_gives_the_same_batches(tmp_path):
    meds = _cohort(tmp_path, seed=6, interleaved=True)
    in_memory = build_next_visit(meds, num_labels=8, progress=False)
    in_memory.save(tmp_path / "saved")  # save() writes the arrays too
    loaded = NextVisitData.load(tmp_path / "saved")
    for split in SPLITS:
        mapped = next_visit_dataset(loaded, split, max_tokens=9)
        table = NextVisitDataset(in_memory.split(split), max_tokens=9)
        assert isinstance(mapped.tokens, np.memmap) and not isinstance(table.tokens, np.memmap)
        np.testing.assert_array_equal(mapped.num_tokens(), table.num_tokens())
        idx = list(range(len(table)))
        a = collate_next_visit([mapped[i] for i in idx], loaded.num_labels)
        b = collate_next_visit([table[i] for i in idx], in_memory.num_labels)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].dtype == b[key].dtype and a[key].equal(b[key]), (split, key)
    # A worker started by spawn receives the path of the mapped arrays, not their bytes.
    mapped = next_visit_dataset(loaded, "train")
    blob = pickle.dumps(mapped)
    assert len(blob) < 2000 < mapped.tokens.nbytes + mapped.token_time.nbytes
    back = pickle.loads(blob)
    assert isinstance(back.tokens, np.memmap)
    np.testing.assert_array_equal(back.labels, mapped.labels)
    assert back[3]["subject_id"] == mapped[3]["subject_id"]
