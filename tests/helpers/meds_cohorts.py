"""Small MEDS directories written with polars, and a slow reference builder of the next-visit task.

The reference follows the definitions in the docstring of clincode.tasks.next_visit.build with
plain Python loops over events, independently of the polars implementation.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

EPOCH = dt.datetime(1970, 1, 1)
Event = tuple[int, "dt.datetime | None", str]


def write_meds(
    root: Path,
    events: list[Event],
    splits: dict[int, str],
    shards: list[list[int]] | None = None,
    nested: bool = False,
) -> Path:
    """Write a MEDS dir: events (subject_id, time or None, code) and subject -> split.

    ``shards`` lists subject ids per shard (default: one shard); ``nested`` puts shards in
    subfolders like MEDS exports do (data/train/0.parquet).
    """
    (root / "data").mkdir(parents=True)
    (root / "metadata").mkdir()
    frame = pl.DataFrame(
        {
            "subject_id": [e[0] for e in events],
            "time": [e[1] for e in events],
            "code": [e[2] for e in events],
        },
        schema={"subject_id": pl.Int64, "time": pl.Datetime("us"), "code": pl.String},
    ).with_columns(pl.lit(None, dtype=pl.Float32).alias("numeric_value"))
    groups = shards if shards is not None else [sorted({e[0] for e in events})]
    for i, subjects in enumerate(groups):
        part = frame.filter(pl.col("subject_id").is_in(subjects))
        folder = root / "data" / (f"part{i}" if nested else "")
        folder.mkdir(parents=True, exist_ok=True)
        part.write_parquet(folder / f"{i}.parquet")
    pl.DataFrame(
        {"subject_id": list(splits), "split": list(splits.values())},
        schema={"subject_id": pl.Int64, "split": pl.String},
    ).write_parquet(root / "metadata" / "subject_splits.parquet")
    return root


def epoch_seconds(t: dt.datetime) -> int:
    return math.floor((t - EPOCH).total_seconds())


def random_cohort(seed: int, n_patients: int = 60, n_codes: int = 25) -> tuple[list[Event], dict[int, str]]:
    """Random events: diagnoses with a long tail, labs, births (sometimes missing), sexes
    (sometimes missing or contradictory), sub-day times so windows matter, 0-12 visit times.
    """
    rng = np.random.default_rng(seed)
    diag = [f"ICD10CM//{chr(65 + i % 5)}{10 + i // 5}.{i % 3}" for i in range(n_codes)]
    weights = 1.0 / np.arange(1, n_codes + 1)
    weights /= weights.sum()
    events: list[Event] = []
    splits: dict[int, str] = {}
    names = ["train", "tuning", "held_out"]
    for p in range(n_patients):
        sid = 1000 + p * 7
        splits[sid] = names[p % 3] if p < 6 else str(rng.choice(names, p=[0.6, 0.2, 0.2]))
        sex = rng.integers(0, 5)
        if sex in (0, 1):
            events.append((sid, None, ["GENDER//F", "GENDER//M"][sex]))
        elif sex == 2:  # contradictory
            events += [(sid, None, "GENDER//F"), (sid, None, "GENDER//M")]
        birth = dt.datetime(1930, 1, 1) + dt.timedelta(days=int(rng.integers(0, 20000)), seconds=int(rng.integers(0, 86400)))
        if rng.random() < 0.85:
            events.append((sid, birth, "MEDS_BIRTH"))
        t = birth + dt.timedelta(days=int(rng.integers(5000, 20000)))
        for _ in range(int(rng.integers(0, 13))):
            t = t + dt.timedelta(hours=float(rng.choice([3, 20, 30, 200, 2000])), seconds=int(rng.integers(0, 3600)))
            for _ in range(int(rng.integers(1, 6))):
                # Some events a few hours after the visit's first, some at the same instant.
                dt_off = dt.timedelta(hours=int(rng.choice([0, 0, 0, 5])))
                if rng.random() < 0.8:
                    events.append((sid, t + dt_off, str(rng.choice(diag, p=weights))))
                else:
                    events.append((sid, t + dt_off, f"LAB//{int(rng.integers(0, 4))}"))
        if rng.random() < 0.2:
            events.append((sid, None, "STATIC//OTHER"))
    order = rng.permutation(len(events))  # shards need not be sorted
    return [events[i] for i in order], splits


def reference_task(
    events: list[Event],
    splits: dict[int, str],
    num_labels: int | None,
    label_of,
    code_prefixes: tuple[str, ...] = ("ICD10CM//", "ICD9CM//"),
    window: dt.timedelta | None = None,
    max_visits: int = 64,
    max_codes_per_visit: int = 64,
    min_visits: int = 2,
    min_code_count: int = 1,
) -> dict:
    """Slow explicit builder. Returns dict with label codes/counts, vocab tokens, dropped counts and
    per split {subject_id: dict(sex, visit_time, age, tokens (codes or None=UNK), token_time, labels)}.
    """
    by_subject: dict[int, list[tuple[dt.datetime | None, str]]] = {}
    for sid, t, code in events:
        by_subject.setdefault(sid, []).append((t, code))
    patients: dict[int, dict] = {}
    dropped: Counter[str] = Counter()
    truncated: Counter[str] = Counter()
    for sid, evs in by_subject.items():
        if sid not in splits:
            continue
        split = splits[sid]
        sexes = {c for t, c in evs if c in ("GENDER//F", "GENDER//M")}
        sex = {"GENDER//F": 1, "GENDER//M": 2}[next(iter(sexes))] if len(sexes) == 1 else 0
        births = [t for t, c in evs if c == "MEDS_BIRTH" and t is not None]
        birth = min(births) if births else None
        timed = sorted(
            (t, c) for t, c in evs if t is not None and c != "MEDS_BIRTH" and not c.startswith("GENDER//")
        )
        groups: list[list[tuple[dt.datetime, str]]] = []
        anchor = None
        for t, c in timed:
            if window is None:
                new = not groups or t != groups[-1][0][0]
            else:
                new = anchor is None or (t - anchor) > window
            if new:
                groups.append([])
                anchor = t
            groups[-1].append((t, c))
        if len(groups) < min_visits:
            dropped[split] += 1
            continue
        if len(groups) > max_visits:
            truncated[split] += 1
            groups = groups[-max_visits:]
        visits = []
        for g in groups:
            first: dict[str, dt.datetime] = {}
            for t, c in g:
                first[c] = min(first.get(c, t), t)
            vt = max(t for t, _ in g)
            visits.append({"codes": first, "time": vt})
        patients[sid] = {"split": split, "sex": sex, "birth": birth, "visits": visits}

    label_counts: Counter[str] = Counter()
    code_counts: Counter[str] = Counter()
    for p in patients.values():
        if p["split"] != "train":
            continue
        for v in p["visits"]:
            code_counts.update(v["codes"].keys())
            label_counts.update({label_of(c) for c in v["codes"]} - {None})
    ranked = sorted(label_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if num_labels is not None:
        ranked = ranked[:num_labels]
    label_codes = [k for k, _ in ranked]
    label_index = {k: i for i, k in enumerate(label_codes)}
    vocab_tokens = ["[PAD]", "[UNK]"] + [
        k for k, n in sorted(code_counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_code_count
    ]

    out: dict[str, dict[int, dict]] = {"train": {}, "tuning": {}, "held_out": {}}
    for sid, p in patients.items():
        rec = {"sex": p["sex"], "visit_time": [], "age": [], "tokens": [], "token_time": [], "labels": []}
        for v in p["visits"]:
            items = sorted(v["codes"].items(), key=lambda kv: (not kv[0].startswith(code_prefixes), kv[1], kv[0]))
            items = sorted(items[:max_codes_per_visit], key=lambda kv: (kv[1], kv[0]))
            rec["visit_time"].append(epoch_seconds(v["time"]))
            age = float("nan") if p["birth"] is None else (v["time"] - p["birth"]).total_seconds() / (365.25 * 86400)
            rec["age"].append(age)
            rec["tokens"].append([c if c in vocab_tokens else None for c, _ in items])
            rec["token_time"].append([epoch_seconds(t) for _, t in items])
            rec["labels"].append(sorted({label_index[lab] for lab in (label_of(c) for c in v["codes"]) if lab in label_index}))
        out[p["split"]][sid] = rec
    return {
        "label_codes": label_codes,
        "label_counts": [n for _, n in ranked],
        "vocab_tokens": vocab_tokens,
        "dropped": dropped,
        "truncated": truncated,
        "splits": out,
    }


def decoded_split(data, split: str) -> dict[int, dict]:
    """A built split as {subject_id: record} with token ids decoded back to codes (None = UNK)."""
    tokens = data.vocab.tokens_
    out = {}
    for row in data.split(split).iter_rows(named=True):
        out[row["subject_id"]] = {
            "sex": row["sex"],
            "visit_time": row["visit_time"],
            "age": row["age"],
            "tokens": [[None if i == 1 else tokens[i] for i in v] for v in row["tokens"]],
            "token_time": row["token_time"],
            "labels": row["labels"],
        }
    return out
