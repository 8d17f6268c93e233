"""One-pass coders through the run machinery: train, evaluate, predict (table and CodiEsp files), errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from clincode.config import load_config
from clincode.resources import config_path
from clincode.train.fit import train_run
from clincode.train.predict import predict_to_file
from clincode.train.runs import load_run

QUIET = Console(quiet=True)
PHRASES = {
    "n45.1": "orquitis",
    "r50.9": "fiebre alta",
    "e11.9": "diabetes mellitus tipo 2",
    "i10": "hipertensión arterial",
    "j18.9": "neumonía bilateral",
    "k35.80": "apendicitis aguda",
}
FILLER = ["Paciente de 54 años que acude a urgencias.", "Se decide ingreso en planta.", "Evolución favorable."]


def write_release(root: Path, seed: int = 0, n: dict[str, int] | None = None) -> Path:
    """A small CodiEsp-shaped release: Spanish texts with evidence spans, English translations, D codes."""
    rng = random.Random(seed)
    codes = sorted(PHRASES)
    for split, count in (n or {"train": 30, "dev": 10, "test": 10}).items():
        for sub in ("text_files", "text_files_en"):
            (root / split / sub).mkdir(parents=True)
        d_lines, x_lines = [], []
        for i in range(count):
            doc = f"{split}-{i:03d}"
            chosen = rng.sample(codes, 2)
            text = rng.choice(FILLER)
            for code in chosen:
                sentence = f" Presenta {PHRASES[code]}."
                start = len(text) + len(" Presenta ")
                text += sentence
                x_lines.append(f"{doc}\tDIAGNOSTICO\t{code}\t{PHRASES[code]}\t{start} {start + len(PHRASES[code])}")
                d_lines.append(f"{doc}\t{code}")
            (root / split / "text_files" / f"{doc}.txt").write_text(text, encoding="utf-8")
            (root / split / "text_files_en" / f"{doc}.txt").write_text("Patient seen.", encoding="utf-8")
        (root / split / f"{split}D.tsv").write_text("\n".join(d_lines) + "\n", encoding="utf-8")
        (root / split / f"{split}P.tsv").write_text("", encoding="utf-8")
        (root / split / f"{split}X.tsv").write_text("\n".join(x_lines) + "\n", encoding="utf-8")
    return root


def coder_config(name: str, release: Path, out: Path, *extra: str):
    return load_config(
        config_path(name),
        [f"data.path={release}", f"out_dir={out}", "eval.n_bootstrap=0", "trainer.progress=false", *extra],
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("codiesp"))


def test_dictionary_coder_run_learns_the_evidence(release, tmp_path):
    run = train_run(coder_config("codiesp_dictionary", release, tmp_path), console=QUIET)
    metrics = json.loads((run / "metrics.json").read_text())
    # Every held-out code is written in the text with a training evidence phrase: a perfect ranking.
    assert metrics["coding"]["map_all_gold"] == pytest.approx(1.0)
    artefact, cfg = load_run(run)
    assert artefact.model_state == {} and "one_pass_state" in artefact.extras
    coder = artefact.build_model()
    probs = coder.predict_proba(["Presenta orquitis.", "Nada."])
    assert probs.shape == (2, artefact.num_labels) and probs.min() >= 0 and probs.max() <= 1
    codes = artefact.label_space["codes"] if "codes" in artefact.label_space else None
    assert codes is None or "ICD10CM//N45.1" in codes
    # A finished run is not refitted.
    before = (run / "model.ckpt").stat().st_mtime_ns
    train_run(cfg, console=QUIET)
    assert (run / "model.ckpt").stat().st_mtime_ns == before


def test_coder_predict_table_and_codiesp_file(release, tmp_path):
    run = train_run(coder_config("codiesp_dictionary", release, tmp_path), console=QUIET)
    table = tmp_path / "pred.csv"
    n = predict_to_file(run, release, table, split="held_out", top_k=2, console=QUIET)
    import polars as pl

    frame = pl.read_csv(table)
    assert n == frame.height and set(frame["split"]) == {"held_out"}
    assert frame["doc_id"].n_unique() == 10 and frame.filter(pl.col("rank") == 1).height == 10
    sub = tmp_path / "run.tsv"
    predict_to_file(run, release, sub, split="held_out", top_k=3, fmt="codiesp", console=QUIET)
    lines = sub.read_text().splitlines()
    assert len(lines) == 30 and all(len(line.split("\t")) == 2 for line in lines)
    gold = {tuple(line.split("\t")) for line in (release / "test" / "testD.tsv").read_text().splitlines()}
    top2 = {}
    for line in lines:
        doc, code = line.split("\t")
        top2.setdefault(doc, []).append(code)
    assert all({(doc, c) for c in codes[:2]} <= gold for doc, codes in top2.items())


def test_ranker_run_is_cross_fitted_and_ranks_well(release, tmp_path):
    cfg = coder_config("codiesp_ranker", release, tmp_path, "model.params.folds=3", "model.params.num_rounds=20", "model.params.neighbours=5")
    run = train_run(cfg, console=QUIET)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["coding"]["map_all_gold"] > 0.9
    again = load_run(run)[0].build_model()
    scores = again.predict_proba(["Presenta apendicitis aguda."])
    assert np.all((scores >= 0) & (scores <= 1))


def test_terminology_mode_on_english_text(release, tmp_path):
    cfg = coder_config("codiesp_dictionary", release, tmp_path, "data.text.language=en", "model.params.keys_from=terminology")
    run = train_run(cfg, console=QUIET)
    assert "coding" in json.loads((run / "metrics.json").read_text())
    coder = load_run(run)[0].build_model()
    # every key comes from an ICD-10-CM description, none from the (Spanish) evidence spans
    assert len(coder.key_description) > 0 and coder.key_description.all()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["model.params.nonsense=1"], r"coder 'mention_dictionary' got unknown parameter\(s\) 'nonsense'; accepted: keys_from, "),
        (["model.params.keys_from=everything"], "keys_from"),
        (["data.text.language=en"], "Spanish text"),
        (["model.name=mention_dictionar"], "mention_dictionary"),
    ],
)
def test_bad_coder_settings_fail_before_writing(release, tmp_path, extra, message):
    cfg = coder_config("codiesp_dictionary", release, tmp_path / "out", *extra)
    with pytest.raises((ValueError, KeyError), match=message):
        train_run(cfg, console=QUIET)
    assert not (tmp_path / "out" / cfg.name).exists()


def test_evidence_coder_on_a_notes_table_says_what_is_missing(tmp_path):
    import polars as pl

    table = tmp_path / "notes.csv"
    pl.DataFrame(
        {"doc_id": ["a", "b", "c"], "subject_id": ["1", "2", "3"], "split": ["train", "tuning", "held_out"],
         "text": ["fiebre alta", "fiebre alta", "fiebre alta"], "codes": ["ICD10CM//R50.9"] * 3}
    ).write_csv(table)
    cfg = coder_config("codiesp_dictionary", table, tmp_path / "out")
    with pytest.raises(ValueError, match="without evidence spans"):
        train_run(cfg, console=QUIET)


def test_benchmark_grid_over_coders(release, tmp_path):
    from clincode.bench.grid import load_benchmark
    from clincode.bench.runner import run_benchmark

    bench = load_benchmark(
        config_path("benchmark_codiesp_coders"),
        [f"data.path={release}", f"out_dir={tmp_path}", "eval.n_bootstrap=0", "trainer.progress=false"],
    )
    out = run_benchmark(bench, console=QUIET)
    import polars as pl

    results = pl.read_parquet(out / "results.parquet")
    maps = results.filter(pl.col("metric") == "coding.map_all_gold")
    assert sorted(maps["model.name"].to_list()) == ["mention_dictionary", "mention_ranker"]
    assert maps["value"].min() > 0.9


def test_extended_label_space_runs_end_to_end(release, tmp_path):
    """A coder that ranks ICD-10-CM relatives of the training codes widens the run's label space."""
    cfg = coder_config(
        "codiesp_dictionary", release, tmp_path, "model.params.extend_labels=true", "model.params.backoff=0.05"
    )
    run = train_run(cfg, console=QUIET)
    artefact, _ = load_run(run)
    codes = artefact.label_space["codes"]
    assert artefact.num_labels == len(codes) > len(PHRASES)
    assert {c.split("//")[1] for c in codes[: len(PHRASES)]} == {c.upper() for c in PHRASES}  # training labels first
    assert len(set(codes)) == len(codes)
    assert "ICD10CM//N45.2" in codes  # a sibling of the training code N45.1
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_labels"] == len(codes) and metrics["coding"]["map_all_gold"] == pytest.approx(1.0)
    out = tmp_path / "pred.parquet"
    predict_to_file(run, release, out, split="held_out", top_k=2, console=QUIET)
    import polars as pl

    assert pl.read_parquet(out)["code"].is_in(codes).all()


@pytest.mark.parametrize("empty", [False, True])
def test_evidence_coder_refuses_training_data_without_evidence(release, tmp_path, empty):
    """A coder configured to learn from evidence spans names the missing (or empty) trainX.tsv and writes nothing."""
    import shutil

    copy = tmp_path / "release"
    shutil.copytree(release, copy)
    x = copy / "train" / "trainX.tsv"
    if empty:
        x.write_text("")
    else:
        x.unlink()
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"trainX\.tsv is missing or holds no evidence span"):
        train_run(coder_config("codiesp_dictionary", copy, out), console=QUIET)
    assert not (out / "codiesp_dictionary").exists()
