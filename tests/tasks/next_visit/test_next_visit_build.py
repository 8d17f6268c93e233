"""Next-visit task building: exact agreement with a slow reference, split hygiene, visit rules."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import polars as pl
import pytest

from clincode.data.labels import LabelSpace
from clincode.data.schema import DataError, DataNotFoundError
from clincode.tasks.next_visit.build import build_next_visit
from clincode.tasks.next_visit.data import NextVisitData, iter_saved_patients, scan_split
from helpers.meds_cohorts import decoded_split, random_cohort, reference_task, write_meds

D = dt.datetime
SPLITS = ("train", "tuning", "held_out")


def assert_matches_reference(data: NextVisitData, ref: dict) -> None:
    assert data.label_space.codes_ == ref["label_codes"]
    assert data.label_space.counts_.tolist() == ref["label_counts"]
    assert data.vocab.tokens_ == ref["vocab_tokens"]
    for split in SPLITS:
        got = decoded_split(data, split)
        want = ref["splits"][split]
        assert sorted(got) == sorted(want), split
        assert data.split(split)["subject_id"].to_list() == sorted(want)  # sorted by subject
        for sid, w in want.items():
            g = got[sid]
            assert g["sex"] == w["sex"], sid
            assert g["visit_time"] == w["visit_time"], sid
            assert g["tokens"] == w["tokens"], sid
            assert g["token_time"] == w["token_time"], sid
            assert g["labels"] == w["labels"], sid
            np.testing.assert_allclose(np.array(g["age"], dtype=float), np.array(w["age"]), rtol=1e-6, equal_nan=True)
        assert data.stats[f"{split}/dropped_few_visits"] == ref["dropped"][split]
        assert data.stats[f"{split}/truncated_max_visits"] == ref["truncated"][split]


@pytest.mark.parametrize(
    ("seed", "window", "max_visits", "max_codes", "num_labels"),
    [
        (0, None, 64, 64, 10),
        (1, dt.timedelta(hours=24), 64, 64, None),
        (2, None, 4, 2, 8),
        (3, dt.timedelta(hours=6), 3, 3, 12),
    ],
)
def test_matches_slow_reference(tmp_path, seed, window, max_visits, max_codes, num_labels):
    events, splits = random_cohort(seed)
    root = write_meds(tmp_path / "meds", events, splits, shards=None)
    data = build_next_visit(
        root,
        num_labels=num_labels,
        visit_window=window,
        max_visits=max_visits,
        max_codes_per_visit=max_codes,
        progress=False,
    )
    ref = reference_task(
        events,
        splits,
        num_labels,
        LabelSpace(level="code").label_of,
        window=window,
        max_visits=max_visits,
        max_codes_per_visit=max_codes,
    )
    assert_matches_reference(data, ref)
    if max_visits == 4:  # the random cohort has up to 12 visits: truncation must have happened
        assert sum(ref["truncated"].values()) > 0
    assert sum(ref["dropped"].values()) > 0  # and patients with < 2 visits exist


def test_sharded_nested_and_odd_dtypes_give_same_task(tmp_path):
    """Shards in subfolders, a subject split across two shards, and non-canonical dtypes."""
    events, splits = random_cohort(5, n_patients=40)
    subjects = sorted(splits)
    shards = [subjects[:15], subjects[15:30], subjects[29:]]  # subjects[29] in two shards
    one = build_next_visit(write_meds(tmp_path / "one", events, splits), num_labels=6, progress=False)
    root = write_meds(tmp_path / "many", events, splits, shards=shards, nested=True)
    # Shard 0 with Int32 ids, ns timestamps and a categorical code column.
    path = root / "data" / "part0" / "0.parquet"
    pl.read_parquet(path).with_columns(
        pl.col("subject_id").cast(pl.Int32), pl.col("time").cast(pl.Datetime("ns")), pl.col("code").cast(pl.Categorical)
    ).write_parquet(path)
    many = build_next_visit(root, num_labels=6, progress=False)
    # Subject 29 appears in shards 1 and 2 (duplicated events are the same events twice).
    assert many.stats["shard_units"] == 2
    for split in SPLITS:
        assert many.split(split).equals(one.split(split))
    assert many.label_space.codes_ == one.label_space.codes_


def test_no_patient_in_two_splits_and_each_in_its_own(tmp_path):
    events, splits = random_cohort(7)
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=5, progress=False)
    seen: dict[int, str] = {}
    for split in SPLITS:
        for sid in data.split(split)["subject_id"].to_list():
            assert sid not in seen, f"subject {sid} in {seen.get(sid)} and {split}"
            seen[sid] = split
            assert splits[sid] == split
    assert len(seen) > 10


def test_label_space_and_vocab_fitted_on_train_only(tmp_path):
    events, splits = [], {}
    base = D(2010, 1, 1)
    # 3 train patients with A (each 2 visits); 4 held_out patients whose every visit has Z and Y.
    for i, sid in enumerate([1, 2, 3]):
        splits[sid] = "train"
        events += [(sid, base + dt.timedelta(days=10 * i + k), "ICD10CM//A00.0") for k in range(2)]
        events.append((sid, base + dt.timedelta(days=10 * i), "ICD10CM//B00.0"))
    splits[4] = "tuning"
    events += [(4, base, "ICD10CM//B00.0"), (4, base + dt.timedelta(days=1), "ICD10CM//A00.0")]
    for sid in [5, 6, 7, 8]:
        splits[sid] = "held_out"
        for k in range(3):
            events += [(sid, base + dt.timedelta(days=k), "ICD10CM//Z99.9"), (sid, base + dt.timedelta(days=k), "ICD10CM//Y99.9")]
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=2, progress=False)
    assert data.label_space.codes_ == ["ICD10CM//A00.0", "ICD10CM//B00.0"]
    assert data.label_space.counts_.tolist() == [6, 3]  # training visits only
    assert data.label_space.n_visits_ == 6
    assert "ICD10CM//Z99.9" not in data.vocab.index_
    held = data.split("held_out")
    assert held["tokens"].explode().explode().unique().to_list() == [1]  # all UNK
    assert held["labels"].explode().explode().drop_nulls().len() == 0
    with pytest.raises(DataError, match=r"num_labels=3 is larger than the 2 distinct"):
        build_next_visit(tmp_path / "m", num_labels=3, progress=False)


def test_visit_window_is_anchored_at_first_event(tmp_path):
    t0 = D(2020, 1, 1)
    h = dt.timedelta(hours=1)
    times = [0, 10, 24, 30, 50, 53.5, 100]  # hours
    events = [(1, t0 + k * h, f"ICD10CM//A{i:02d}.0") for i, k in enumerate(times)]
    events += [(2, t0, "ICD10CM//A00.0"), (2, t0 + 400 * h, "ICD10CM//A01.0"), (3, t0, "ICD10CM//A00.0"), (3, t0 + 48 * h, "ICD10CM//A01.0")]
    root = write_meds(tmp_path / "m", events, {1: "train", 2: "tuning", 3: "held_out"})
    data = build_next_visit(root, num_labels=None, visit_window=dt.timedelta(hours=24), progress=False)
    row = data.split("train").row(0, named=True)
    # Anchors: 0 -> {0, 10, 24 (== window, kept)}, 30 -> {30, 50, 53.5}, 100 -> {100}.
    start = int((t0 - D(1970, 1, 1)).total_seconds())
    assert row["visit_time"] == [start + 24 * 3600, start + int(53.5 * 3600), start + 100 * 3600]
    assert [len(v) for v in row["tokens"]] == [3, 3, 1]
    for visit_tokens_time, vt in zip(row["token_time"], row["visit_time"], strict=True):
        assert max(visit_tokens_time) == vt  # the visit's time is its last event
    same_time = build_next_visit(root, num_labels=None, progress=False)
    assert len(same_time.split("train").row(0, named=True)["visit_time"]) == len(times)
    # A window of zero is the same as grouping by timestamp.
    zero = build_next_visit(root, num_labels=None, visit_window=dt.timedelta(0), progress=False)
    assert zero.split("train").equals(same_time.split("train"))


def test_static_birth_sex_age_and_dropping(tmp_path):
    birth = D(1950, 6, 1)
    events = [
        (1, None, "GENDER//M"),
        (1, birth, "MEDS_BIRTH"),
        (1, None, "STATIC//X"),
        (1, D(2000, 6, 1), "ICD10CM//A00.0"),
        (1, D(2001, 6, 1), "ICD10CM//B00.0"),
        (2, None, "GENDER//F"),  # no birth: age NaN
        (2, D(2000, 1, 1), "ICD10CM//A00.0"),
        (2, D(2000, 2, 1), "ICD10CM//A00.0"),
        (3, birth, "MEDS_BIRTH"),  # one visit only: dropped
        (3, D(2000, 1, 1), "ICD10CM//A00.0"),
        (4, None, "GENDER//F"),  # static only: dropped
        (5, D(2000, 1, 1), "ICD10CM//A00.0"),
        (5, D(2000, 3, 1), "ICD10CM//B00.0"),
        (6, D(2000, 1, 1), "ICD10CM//A00.0"),
        (6, D(2000, 3, 1), "ICD10CM//B00.0"),
        (99, D(2000, 1, 1), "ICD10CM//A00.0"),  # not in the split file
    ]
    splits = {1: "train", 2: "train", 3: "train", 4: "train", 5: "tuning", 6: "held_out"}
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=2, progress=False)
    train = data.split("train")
    assert train["subject_id"].to_list() == [1, 2]
    assert train["sex"].to_list() == [2, 1]
    ages = train["age"].to_list()
    assert ages[0] == pytest.approx([(D(2000, 6, 1) - birth).days / 365.25, (D(2001, 6, 1) - birth).days / 365.25], rel=1e-6)
    assert all(math.isnan(a) for a in ages[1])
    assert data.stats["train/dropped_few_visits"] == 2
    assert data.stats["train/subjects"] == 4
    assert data.stats["unassigned_subjects"] == 1
    assert data.stats["train/patients"] == 2
    # Static events and birth are neither visits nor tokens.
    assert "MEDS_BIRTH" not in data.vocab.index_ and "GENDER//M" not in data.vocab.index_
    assert "STATIC//X" not in data.vocab.index_


def test_max_visits_keeps_most_recent(tmp_path):
    events = [(1, D(2000, 1, 1 + k), f"ICD10CM//A{k:02d}.0") for k in range(6)]
    events += [(2, D(2000, 1, 1), "ICD10CM//A00.0"), (2, D(2000, 1, 2), "ICD10CM//A00.0")]
    events += [(3, D(2000, 1, 1), "ICD10CM//A00.0"), (3, D(2000, 1, 2), "ICD10CM//A00.0")]
    data = build_next_visit(
        write_meds(tmp_path / "m", events, {1: "train", 2: "tuning", 3: "held_out"}), num_labels=None, max_visits=3, progress=False
    )
    row = data.split("train").row(0, named=True)
    kept = [data.vocab.tokens_[v[0]] for v in row["tokens"]]
    assert kept == ["ICD10CM//A03.0", "ICD10CM//A04.0", "ICD10CM//A05.0"]
    assert data.stats["train/truncated_max_visits"] == 1
    # The label space counts only kept visits: A00..A02 of subject 1 are gone.
    assert "ICD10CM//A01.0" not in data.label_space.index_


def test_category_and_ccs_levels(tmp_path):
    events = []
    for sid, codes in {
        1: ["ICD10CM//E11.9", "ICD10CM//E11.65", "ICD9CM//250.00"],
        2: ["ICD10CM//I10", "ICD10CM//E11.9"],
        3: ["ICD10CM//E11.9", "ICD10CM//I10"],
        4: ["ICD10CM//E11.9", "ICD10CM//I10"],
    }.items():
        for k, code in enumerate(codes):
            events.append((sid, D(2000, 1, 1 + k), code))
    root = write_meds(tmp_path / "m", events, {1: "train", 2: "train", 3: "tuning", 4: "held_out"})
    cat = build_next_visit(root, num_labels=None, label_level="category", progress=False)
    assert cat.label_space.codes_ == ["ICD10CM//E11", "ICD10CM//I10", "ICD9CM//250"]
    assert cat.label_space.counts_.tolist() == [3, 1, 1]
    row = cat.split("train").row(0, named=True)
    assert row["labels"] == [[0], [0], [2]]
    ccs = build_next_visit(root, num_labels=None, label_level="ccs", progress=False)
    # E11.9 and ICD-9 250.00 are CCS 49, E11.65 is CCS 50, I10 is CCS 98.
    assert ccs.label_space.codes_ == ["CCS//49", "CCS//50", "CCS//98"]
    assert ccs.label_space.counts_.tolist() == [3, 1, 1]
    row = ccs.split("train").row(0, named=True)
    assert row["labels"] == [[0], [1], [0]]
    assert ccs.label_space.descriptions()[0] == "Diabetes mellitus without complication"


def test_save_load_roundtrip_and_streaming(tmp_path):
    events, splits = random_cohort(11)
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=7, progress=False)
    out = data.save(tmp_path / "task")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "task"]  # no temp leftovers
    loaded = NextVisitData.load(out)
    for split in SPLITS:
        assert loaded.split(split).equals(data.split(split))
    assert loaded.label_space.to_dict() == data.label_space.to_dict()
    assert loaded.vocab.to_dict() == data.vocab.to_dict()
    assert loaded.config == data.config
    assert loaded.stats == json.loads(json.dumps(data.stats))
    streamed = list(iter_saved_patients(out, "train", rows_per_chunk=3))
    in_memory = list(data.iter_patients("train"))
    assert [p.subject_id for p in streamed] == [p.subject_id for p in in_memory]
    for a, b in zip(streamed, in_memory, strict=True):
        assert np.array_equal(a.visit_time, b.visit_time)
        assert all(np.array_equal(x, y) for x, y in zip(a.tokens, b.tokens, strict=True))
        assert all(np.array_equal(x, y) for x, y in zip(a.labels, b.labels, strict=True))
    assert scan_split(out, "tuning").select(pl.len()).collect().item() == data.split("tuning").height
    with pytest.raises(FileExistsError, match="already exists"):
        data.save(out)
    data.save(out, overwrite=True)
    assert NextVisitData.load(out).split("train").equals(data.split("train"))
    with pytest.raises(DataNotFoundError, match="nope"):
        NextVisitData.load(tmp_path / "nope")


def test_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    events, splits = random_cohort(12, n_patients=20)
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=3, progress=False)
    import clincode.tasks.next_visit.data as nvd

    def boom(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(nvd, "_write_json", boom)
    with pytest.raises(OSError, match="disk full"):
        data.save(tmp_path / "task")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_progress_reports_dropped_counts(tmp_path, capsys):
    events, splits = random_cohort(4, n_patients=30)
    data = build_next_visit(write_meds(tmp_path / "m", events, splits), num_labels=3, progress=True)
    err = " ".join(capsys.readouterr().err.split())
    dropped = data.stats["train/dropped_few_visits"]
    assert dropped > 0
    assert f"train: {data.stats['train/patients']} patients kept, {dropped} dropped (too few visits)" in err


def test_anchored_visit_starts_matches_sequential_loop():
    from clincode.data.meds import anchored_visit_starts

    def loop(subject, t, window):
        out, prev, anchor = [], None, 0
        for s, ti in zip(subject.tolist(), t.tolist(), strict=True):
            if s != prev or ti - anchor > window:
                anchor, prev = ti, s
            out.append(anchor)
        return out

    rng = np.random.default_rng(0)
    long_runs = 0
    for _ in range(200):
        n = int(rng.integers(0, 150))
        subject = np.sort(rng.integers(0, 4, n)).astype(np.int64)
        t = np.zeros(n, dtype=np.int64)
        for s in np.unique(subject):
            rows = np.flatnonzero(subject == s)
            t[rows] = np.sort(rng.choice(600, size=len(rows), replace=False))
        window = int(rng.integers(0, 60))
        want = loop(subject, t, window)
        assert anchored_visit_starts(subject, t, window).tolist() == want
        chained = 1 + int(((subject[1:] != subject[:-1]) | (np.diff(t) > window)).sum()) if n else 0
        long_runs += len(set(zip(subject.tolist(), want, strict=True))) > chained  # needed the loop
    assert long_runs > 20
    assert anchored_visit_starts(np.zeros(0, np.int64), np.zeros(0, np.int64), 5).tolist() == []
