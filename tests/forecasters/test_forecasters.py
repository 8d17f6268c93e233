"""One-pass next-visit forecasters: label histories, the baselines against slow references, no
look-ahead, and the runs through train / evaluate / predict.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from rich.console import Console

from clincode.forecasters import FORECASTERS, Histories
from clincode.forecasters.baselines import PrevalenceForecaster, RepeatTableForecaster
from clincode.forecasters.selection import micro_auprc
from clincode.forecasters.tifu import TifuKnnForecaster, personal_vectors
from clincode.metrics.repeat_explore import repeat_explore


def random_histories(seed: int, n_patients: int = 12, num_labels: int = 9, keep: str = "targets") -> Histories:
    rng = np.random.default_rng(seed)
    n_visits = rng.integers(1, 7, size=n_patients)
    visit_offsets = np.concatenate([[0], np.cumsum(n_visits)])
    per_visit = [rng.choice(num_labels, size=rng.integers(0, 4), replace=False) for _ in range(int(n_visits.sum()))]
    label_offsets = np.concatenate([[0], np.cumsum([len(x) for x in per_visit])])
    times = np.concatenate([np.sort(rng.integers(0, 10**8, size=n)) for n in n_visits])
    return Histories.from_arrays(
        num_labels=num_labels, label_codes=tuple(f"C{i}" for i in range(num_labels)),
        subject_id=np.arange(100, 100 + n_patients), sex=rng.integers(1, 3, size=n_patients), visit_offsets=visit_offsets,
        visit_time=times, age=np.full(int(n_visits.sum()), 50.0, np.float32), label_offsets=label_offsets,
        labels=np.concatenate(per_visit).astype(np.int64), keep=keep,  # type: ignore[arg-type]
    )  # fmt: skip


def visit_labels(h: Histories, v: int) -> set[int]:
    return set(h.labels[h.label_offsets[v] : h.label_offsets[v + 1]].tolist())


def slow_entries(h: Histories) -> dict[tuple[int, int], tuple[int, int, float]]:
    """(row, label) -> (count, recency, gap days), patient by patient, visit by visit."""
    out = {}
    for r, v in enumerate(h.rows):
        p = int(h.visit_patient[v])
        for c in range(h.num_labels):
            seen = [w for w in range(int(h.visit_offsets[p]), int(v) + 1) if c in visit_labels(h, w)]
            if seen:
                out[(r, c)] = (len(seen), int(v) - seen[-1], (h.visit_time[v] - h.visit_time[seen[-1]]) / 86400)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("keep", ["targets", "visits"])
def test_entries_and_targets_match_slow_reference(seed, keep):
    h = random_histories(seed, keep=keep)
    ent = h.entries()
    got = {(int(r), int(c)): (int(n), int(k), float(g)) for r, c, n, k, g in zip(ent.row, ent.label, ent.count, ent.recency, ent.gap_days, strict=True)}
    want = slow_entries(h)
    assert got.keys() == want.keys()
    for key, (n, k, g) in want.items():
        assert got[key][:2] == (n, k) and got[key][2] == pytest.approx(g, rel=1e-5)
    y = h.target_matrix()
    for r, v in enumerate(h.rows):
        p = int(h.visit_patient[v])
        if v + 1 < h.visit_offsets[p + 1]:
            assert set(np.flatnonzero(y[r] == 1).tolist()) == visit_labels(h, int(v) + 1) and (y[r] >= 0).all()
        else:
            assert keep == "visits" and (y[r] == -1).all()
    if keep == "targets":  # every row has a next visit; the last visit of each patient is no row
        assert len(h) == int(np.diff(h.visit_offsets).sum() - (np.diff(h.visit_offsets) > 0).sum())


def test_repeat_table_matches_counts():
    train, test = random_histories(3, n_patients=60), random_histories(4, n_patients=20)
    table = RepeatTableForecaster("last_earlier", smoothing=0.0).fit(train)
    y = train.target_matrix()
    ent = slow_entries(train)
    for c in range(train.num_labels):
        cells = {"last": [], "earlier": [], "never": []}
        for r in range(len(train)):
            cell = "never" if (r, c) not in ent else ("last" if ent[(r, c)][1] == 0 else "earlier")
            cells[cell].append(y[r, c])
        for name, i in (("last", 0), ("earlier", 1)):
            if cells[name]:
                assert table.cells_[i, c] == pytest.approx(np.mean(cells[name]))
        assert table.never_[c] == pytest.approx(np.mean(cells["never"]))
    probs = table.predict_proba(test)
    test_ent = slow_entries(test)
    for r in range(len(test)):
        for c in range(test.num_labels):
            want = table.never_[c] if (r, c) not in test_ent else table.cells_[0 if test_ent[(r, c)][1] == 0 else 1, c]
            assert probs[r, c] == pytest.approx(want)
    prior = PrevalenceForecaster().fit(train).predict_proba(test)
    np.testing.assert_allclose(prior[0], (y == 1).mean(0), rtol=1e-6)


def test_repeat_table_chooses_on_tuning_and_round_trips():
    train, tuning = random_histories(5, n_patients=80), random_histories(6, n_patients=30)
    table = RepeatTableForecaster().fit(train, tuning)
    assert table.scheme_ in ("last_earlier", "recency", "recency_count") and len(table.selection_) >= 9
    best = max(table.selection_, key=lambda s: s["tuning_auprc_micro"])
    assert (best["scheme"], best["smoothing"]) == (table.scheme_, table.smoothing_)
    back = RepeatTableForecaster.from_dict(json.loads(json.dumps(table.to_dict())))
    np.testing.assert_array_equal(back.predict_proba(tuning), table.predict_proba(tuning))
    # Each candidate's tuning score, computed from (cell, label) groups, is the micro AUPRC of the
    # matrix it predicts; on a tuning split of every visit, the rows without a next visit are ignored.
    for keep in ("targets", "visits"):
        tune = random_histories(6, n_patients=30, keep=keep)
        fitted = RepeatTableForecaster().fit(train, tune)
        for cand in fitted.selection_:
            one = RepeatTableForecaster(cand["scheme"], cand["smoothing"]).fit(train)
            assert cand["tuning_auprc_micro"] == pytest.approx(micro_auprc(one.predict_proba(tune), tune.target_matrix()), rel=1e-12)
    with pytest.raises(ValueError, match="tuning split"):
        RepeatTableForecaster().fit(train)
    with pytest.raises(ValueError, match="scheme must be"):
        RepeatTableForecaster("nope")


def slow_tifu(h: Histories, v: int, m: int, rb: float, rg: float) -> np.ndarray:
    """Personal vector of TIFU-KNN at global visit v: groups of m from the most recent visit back."""
    p = int(h.visit_patient[v])
    visits = list(range(int(h.visit_offsets[p]), v + 1))[::-1]  # most recent first
    groups = [visits[i : i + m] for i in range(0, len(visits), m)]
    out = np.zeros(h.num_labels)
    for q, group in enumerate(groups):
        g = np.zeros(h.num_labels)
        for s, w in enumerate(group):
            for c in visit_labels(h, w):
                g[c] += rb**s
        out += rg**q * g / len(group)
    return out / len(groups)


@pytest.mark.parametrize("m, rb, rg", [(1, 1.0, 0.7), (3, 0.9, 0.6), (2, 0.5, 1.0)])
def test_personal_vectors_match_the_tifu_formula(m, rb, rg):
    h = random_histories(7, n_patients=15)
    got = personal_vectors(h, h.rows, m, rb, rg).toarray()
    for r, v in enumerate(h.rows):
        np.testing.assert_allclose(got[r], slow_tifu(h, int(v), m, rb, rg), rtol=1e-9, atol=1e-12)


def _change_future(h: Histories, row: int) -> Histories:
    """The same split with every visit after ``row``'s visit (same patient) recoded."""
    v = int(h.rows[row])
    p = int(h.visit_patient[v])
    end = int(h.visit_offsets[p + 1])
    labels = h.labels.copy()
    lo, hi = int(h.label_offsets[v + 1]), int(h.label_offsets[end])
    labels[lo:hi] = (labels[lo:hi] + 1) % h.num_labels
    return replace(h, labels=labels)


@pytest.mark.parametrize("name", ["repeat_table", "group_table", "tifu_knn", "prevalence"])
def test_no_forecast_reads_a_later_visit(name):
    train, tuning, test = random_histories(8, n_patients=80), random_histories(9, n_patients=30), random_histories(10, n_patients=25)
    model = FORECASTERS.get(name)().fit(train, tuning)
    base = model.predict_proba(test)
    rows = [r for r in range(len(test)) if test.rows[r] + 2 < test.visit_offsets[test.visit_patient[test.rows[r]] + 1]]
    assert rows
    for r in rows[:5]:
        changed = model.predict_proba(_change_future(test, r))
        np.testing.assert_array_equal(changed[r], base[r])


def test_tifu_knn_round_trips_and_never_picks_its_own_patient():
    train, tuning = random_histories(11, n_patients=60), random_histories(12, n_patients=20)
    model = TifuKnnForecaster(k=3).fit(train, tuning)
    assert model.setting_ is not None and model.setting_["k"] == 3
    back = TifuKnnForecaster.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(back.predict_proba(tuning), model.predict_proba(tuning), rtol=1e-6)
    # Scored on its own training split, a patient's neighbours exclude itself: with k = 1 and
    # alpha = 0 the forecast is another patient's vector.
    one = TifuKnnForecaster(group_size=1, within_decay=1.0, group_decay=0.85, k=1, alpha=0.5).fit(train)
    full = train.visit_offsets[1:] - 1
    own = personal_vectors(train, full, 1, 1.0, 0.85).toarray()
    last_rows = replace(train, rows=full)
    probs = one.predict_proba(last_rows)
    assert not np.allclose(probs, np.clip(own + 1e-3 * one.prior_, 0, 1))
    with pytest.raises(ValueError, match="alpha must be"):
        TifuKnnForecaster(alpha=1.5)


def test_repeat_explore_matches_a_slow_reference():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    probs = rng.random((40, 12)).astype(np.float32)
    targets = (rng.random((40, 12)) < 0.2).astype(np.int8)
    targets[3] = -1
    history = rng.random((40, 12)) < 0.3
    out = repeat_explore(probs, targets, history, ks=(3,))
    for kind, mask in (("repeat", history), ("explore", ~history)):
        valid = mask & (targets != -1)
        assert out[kind]["entries"] == int(valid.sum())
        assert out[kind]["auprc_micro"] == pytest.approx(average_precision_score(targets[valid], probs[valid]))
        assert out[kind]["positive_share"] == pytest.approx((targets[valid] == 1).sum() / (targets == 1).sum())
        p_at = []
        for r in range(40):
            cols = np.flatnonzero(valid[r])
            if cols.size:
                top = cols[np.argsort(-probs[r, cols], kind="stable")[:3]]
                p_at.append(targets[r, top].sum() / 3)
        assert out[kind]["p@3"] == pytest.approx(np.mean(p_at))


# -- through the run commands -------------------------------------------------------------------


@pytest.fixture(scope="module")
def forecaster_runs(tiny_cohort, tmp_path_factory):
    from clincode.config import load_config
    from clincode.resources import config_path
    from clincode.train.fit import train_run

    out = tmp_path_factory.mktemp("forecasters")
    runs = {}
    for name in ("prevalence", "repeat_table", "group_table", "tifu_knn", "oracle", "history_bayes"):
        cfg = load_config(
            config_path("next_visit"),
            [f"data.path={tiny_cohort}", f"out_dir={out}", f"name={name}", f"model.name={name}", "model.params={}", "data.num_labels=60",
             "trainer.progress=false", "eval.n_bootstrap=0"],
        )  # fmt: skip
        runs[name] = train_run(cfg, console=Console(quiet=True))
    return runs


def test_forecaster_runs_score_every_row_with_repeat_and_explore(forecaster_runs):
    scores = {}
    for name, run in forecaster_runs.items():
        metrics = json.loads((run / "metrics.json").read_text())
        kinds = metrics["repeat_explore"]
        assert kinds["repeat"]["positive_share"] + kinds["explore"]["positive_share"] == pytest.approx(1.0)
        scores[name] = metrics["ranking"]["auprc_micro"]
        assert metrics["n_rows"] == json.loads((forecaster_runs["prevalence"] / "metrics.json").read_text())["n_rows"]
    assert scores["repeat_table"] > scores["prevalence"]
    assert scores["oracle"] > scores["repeat_table"]
    assert scores["history_bayes"] > scores["prevalence"]


def test_forecaster_run_predicts_from_its_artefact(forecaster_runs, tiny_cohort, tmp_path):
    import polars as pl

    from clincode.train.predict import predict_to_file

    out = tmp_path / "forecast.parquet"
    predict_to_file(forecaster_runs["repeat_table"], tiny_cohort, out, top_k=5, console=Console(quiet=True))
    frame = pl.read_parquet(out)
    per_visit = frame.group_by("subject_id", "visit_index").agg(n=pl.len(), first=pl.col("rank").min())
    assert per_visit.height > 0 and (per_visit["n"] >= 5).all() and (per_visit["first"] == 1).all()


def test_coder_names_are_refused_on_next_visit(tiny_cohort, tmp_path):
    from clincode.config import load_config
    from clincode.resources import config_path
    from clincode.train.fit import train_run

    cfg = load_config(config_path("next_visit"), [f"data.path={tiny_cohort}", f"out_dir={tmp_path}", "model.name=mention_dictionary"])
    with pytest.raises(ValueError, match="one-pass model of the coding task"):
        train_run(cfg, console=Console(quiet=True))
    cfg = load_config(config_path("next_visit"), [f"data.path={tiny_cohort}", f"out_dir={tmp_path}", "model.name=repeat_table", "model.params={}",
                                                  "model.params.scheme=weekly"])  # fmt: skip
    with pytest.raises(ValueError, match="scheme must be"):
        train_run(cfg, console=Console(quiet=True))
    assert not any(tmp_path.iterdir())


# -- the EHR Transformer's repeat path ----------------------------------------------------------


def test_repeat_path_matches_a_slow_reference_and_sees_no_later_visit():
    from clincode.models import build_model
    from clincode.tasks.next_visit.batches import collate_next_visit

    rng = np.random.default_rng(0)
    num_labels, samples = 7, []
    for p in range(4):
        n = int(rng.integers(1, 6))
        labels = [rng.choice(num_labels, size=rng.integers(0, 3), replace=False) for _ in range(n)]
        samples.append({
            "subject_id": p, "sex": 1, "visit_time": np.sort(rng.integers(0, 10**8, size=n)), "age": np.full(n, 50.0, np.float32),
            "tokens": rng.integers(2, 30, size=n), "token_visit": np.arange(n), "token_time": np.zeros(n, np.int64),
            "label_offsets": np.concatenate([[0], np.cumsum([len(x) for x in labels])]), "labels": np.concatenate(labels).astype(np.int64),
        })  # fmt: skip
    batch = collate_next_visit(samples, num_labels)
    torch.manual_seed(0)
    model = build_model("ehr_transformer", vocab_size=30, num_labels=num_labels, params={"d_model": 8, "n_heads": 2, "repeat_path": True})
    for param in (model.repeat_bias, model.repeat_shared, model.repeat_weight):
        torch.nn.init.normal_(param, std=0.1)
    base = torch.zeros(batch["targets"].shape)
    got = model._repeat(batch, base.clone())
    coef = (model.repeat_shared + model.repeat_weight).detach().double()
    for b, s in enumerate(samples):
        vl = [set(s["labels"][s["label_offsets"][t] : s["label_offsets"][t + 1]].tolist()) for t in range(len(s["visit_time"]))]
        for t in range(len(vl)):
            for c in range(num_labels):
                seen = [w for w in range(t + 1) if c in vl[w]]
                want = 0.0
                if seen:
                    rec, cnt = t - seen[-1], len(seen)
                    gap = (s["visit_time"][t] - s["visit_time"][seen[-1]]) / 86400
                    phi = torch.tensor([float(rec == 0), np.log1p(rec), np.log1p(cnt), cnt / (t + 1), np.log1p(gap)], dtype=torch.float64)
                    want = model.repeat_scale * (float(model.repeat_bias[c]) + float(phi @ coef[c]))
                assert float(got[b, t, c].detach()) == pytest.approx(want, rel=1e-4, abs=1e-5), (b, t, c)


def _with_ages(h: Histories, seed: int) -> Histories:
    rng = np.random.default_rng(seed)
    age = rng.uniform(0, 95, size=h.age.size).astype(np.float32)
    age[rng.random(age.size) < 0.1] = np.nan
    return replace(h, age=age)


@pytest.mark.parametrize("a", [1.0, 10.0])
def test_group_table_matches_a_slow_reference(a):
    from clincode.forecasters.baselines import AGE_EDGES, GroupTableForecaster, RepeatTableForecaster

    train, tuning = _with_ages(random_histories(21, n_patients=90), 1), _with_ages(random_histories(22, n_patients=30), 2)
    test = _with_ages(random_histories(23, n_patients=20), 3)
    model = GroupTableForecaster(smoothing=a).fit(train, tuning)
    table = RepeatTableForecaster().fit(train, tuning)
    assert model.table_.scheme_ == table.scheme_

    def group(h: Histories, r: int) -> int:
        age = float(h.age[h.rows[r]])
        band = len(AGE_EDGES) + 1 if np.isnan(age) else sum(age >= e for e in AGE_EDGES)
        return int(h.sex[h.row_patient[r]]) * (len(AGE_EDGES) + 2) + band

    def seen(h: Histories, r: int) -> set[int]:
        v = int(h.rows[r])
        p0 = int(h.visit_offsets[h.row_patient[r]])
        return set().union(*(visit_labels(h, w) for w in range(p0, v + 1)))

    base_train, y_train = table.predict_proba(train), train.target_matrix()
    expected, realised = {}, {}
    for r in range(len(train)):
        s = seen(train, r)
        for c in range(train.num_labels):
            key = (group(train, r), int(c in s), c)
            expected[key] = expected.get(key, 0.0) + float(base_train[r, c])
            realised[key] = realised.get(key, 0.0) + float(y_train[r, c])
    got, base = model.predict_proba(test), table.predict_proba(test)
    for r in range(len(test)):
        s = seen(test, r)
        for c in range(test.num_labels):
            key = (group(test, r), int(c in s), c)
            factor = (realised.get(key, 0.0) + a) / (expected.get(key, 0.0) + a)
            assert got[r, c] == pytest.approx(min(1.0, base[r, c] * factor), rel=1e-5, abs=1e-7)


def test_group_table_chooses_on_tuning_and_round_trips():
    from clincode.forecasters.baselines import GroupTableForecaster

    train, tuning = _with_ages(random_histories(24, n_patients=90), 4), _with_ages(random_histories(25, n_patients=30), 5)
    with pytest.raises(ValueError, match="tuning split"):
        GroupTableForecaster().fit(train)
    with pytest.raises(ValueError, match="smoothing"):
        GroupTableForecaster(smoothing=0.0)
    model = GroupTableForecaster().fit(train, tuning)
    assert [s["smoothing"] for s in model.selection_] == [1.0, 3.0, 10.0, 30.0, float("inf")]
    best = max(model.selection_, key=lambda s: s["tuning_auprc_micro"])
    assert model.smoothing_ == best["smoothing"]
    back = GroupTableForecaster.from_dict(json.loads(json.dumps(model.to_dict())))
    test = _with_ages(random_histories(26, n_patients=20), 6)
    np.testing.assert_array_equal(back.predict_proba(test), model.predict_proba(test))
    part = tuning.first_patients(7)
    assert part.n_patients == 7 and len(part) == int((tuning.rows < tuning.visit_offsets[7]).sum())
