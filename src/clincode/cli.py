"""The ``clincode`` command line: a thin layer over the library.

Every command reports bad input as one sentence on stderr and exits non-zero; set
``CLINCODE_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import enum
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, Self

import typer
from rich.console import Console
from rich.table import Table

from clincode.data.notes.sources import NOTE_SOURCES
from clincode.data.sources.registry import EHR_SOURCES
from clincode.data.splits import SPLIT_NAMES

app = typer.Typer(
    help="clincode: multi-label clinical code prediction under extreme label imbalance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
synth_app = typer.Typer(help="Generate synthetic datasets with known structure.", no_args_is_help=True)
app.add_typer(synth_app, name="synth")
list_app = typer.Typer(help="List losses, models, tasks, configs or runs.", no_args_is_help=True)
app.add_typer(list_app, name="list")

out = Console()
err = Console(stderr=True)


# Failures a user can cause and fix: their message is the whole story.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError,
    KeyError, NotImplementedError, TypeError, OSError,
)


def debug_enabled() -> bool:
    """``CLINCODE_DEBUG=1`` (any non-empty value but 0): let exceptions propagate with their traceback."""
    return os.environ.get("CLINCODE_DEBUG", "").strip() not in ("", "0")


def error_message(exc: BaseException) -> str:
    """One line for ``exc``: clincode's own checks speak for themselves; anything else (a library's
    error, an unexpected failure) is prefixed with its type.
    """
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        msg = f"{exc.filename}: {exc.strerror}"
    else:
        msg = str(exc)
    msg = " ".join(msg.split()) or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not valid UTF-8 text ({msg})"
    if isinstance(exc, OSError) and exc.filename is not None:
        return msg
    if isinstance(exc, EXPECTED_ERRORS) and _raised_by_clincode(exc):
        return msg
    return f"{type(exc).__name__}: {msg} (set CLINCODE_DEBUG=1 for the traceback)"


def _raised_by_clincode(exc: BaseException) -> bool:
    """True when the innermost Python frame of ``exc`` is clincode code (a deliberate check)."""
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.sep}clincode{os.sep}" in tb.tb_frame.f_code.co_filename


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure into one ``error:`` line on stderr and exit 1 (traceback with CLINCODE_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the one place every command's failure is reported
            if debug_enabled():
                raise
            fail(error_message(exc))

    return wrapper


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# --------------------------------------------------------------------------- choices
class Choice(enum.StrEnum):
    """A closed set of option values.

    ``--help`` lists the values (:meth:`metavar`); :meth:`parse` matches them case-insensitively and
    reports a bad value like any other bad input (one ``error:`` sentence, exit 1) rather than as a
    usage error, which is why the options are typed ``str`` and parsed in the command body.
    """

    @classmethod
    def metavar(cls) -> str:
        return "<" + "|".join(member.value for member in cls) + ">"

    @classmethod
    def parse(cls, value: str, option: str) -> Self:
        wanted = value.strip().lower()
        for member in cls:
            if member.value.lower() == wanted:
                return member
        raise ValueError(f"{option} must be one of {', '.join(member.value for member in cls)}; got {value!r}")


def _choices(name: str, values: list[str]) -> type[Choice]:
    """A :class:`Choice` whose values are the names of a registry (sources are registered, not listed here)."""
    return Choice(name, [(v.upper().replace("-", "_"), v) for v in values])  # type: ignore[call-arg, return-value]  # functional Enum API


EhrSource = _choices("EhrSource", EHR_SOURCES.names())
NotesSource = _choices("NotesSource", NOTE_SOURCES.names())


class SplitVariant(Choice):
    FULL = "full"
    TOP_50 = "50"


class IcdVersion(Choice):
    ICD9 = "9"
    ICD10 = "10"


class Language(Choice):
    EN = "en"
    ES = "es"


class OnError(Choice):
    RAISE = "raise"
    SKIP = "skip"


class Density(Choice):
    OUTPATIENT = "outpatient"
    ADMISSION = "admission"


class Progression(Choice):
    NONE = "none"
    CLINICAL = "clinical"


PROGRESSION_HELP = (
    "disease progression: none (chronic conditions independent) or clinical (diabetes raises the onset hazard of "
    "kidney disease and heart failure, hypertension of heart failure and stroke, ... by published relative risks)"
)
DENSITY_HELP = "visit density: outpatient (about 4.5 diagnosis codes per visit) or admission (15-20, hospital admissions)"


class EvalSplit(Choice):
    HELD_OUT = "held_out"
    TUNING = "tuning"


Split = _choices("Split", list(SPLIT_NAMES))


class Rule(Choice):
    GLOBAL = "global"
    PER_LABEL = "per_label"
    FIXED = "0.5"


class OutputFormat(Choice):
    TABLE = "table"
    CODIESP = "codiesp"
    CODIESP_X = "codiesp-x"


CODE_TYPES = ("D", "P")
CODE_TYPES_HELP = "code types, comma-separated: D (diagnoses), P (procedures) or D,P"


def parse_code_types(value: str, option: str = "--code-types") -> tuple[str, ...]:
    """``"D,P"`` -> ``("D", "P")``: comma-separated, any case (``DP`` without a comma reads as ``D,P``)."""
    text = value.strip().upper()
    parts = [p.strip() for p in text.split(",")] if "," in text else list(text)
    if not parts or any(p not in CODE_TYPES for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"{option} must be D, P or D,P; got {value!r}")
    return tuple(t for t in CODE_TYPES if t in parts)


def _optional(choice: type[Choice], value: str | None, option: str) -> str | None:
    return None if value is None else choice.parse(value, option).value


# --------------------------------------------------------------------------- synth
@synth_app.command("ehr")
@cli_errors
def synth_ehr(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory (created; must not exist unless --overwrite)")],
    patients: Annotated[int, typer.Option("--patients", help="number of patients")] = 20_000,
    codes: Annotated[
        int, typer.Option("--codes", help="distinct ICD-10-CM codes the generator draws from (labels are chosen at training: data.params.num_labels)")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    density: Annotated[str, typer.Option("--density", metavar=Density.metavar(), help=DENSITY_HELP)] = "outpatient",
    progression: Annotated[
        str, typer.Option("--progression", metavar=Progression.metavar(), help=PROGRESSION_HELP)
    ] = "none",
    shard_size: Annotated[int, typer.Option("--shard-size", help="patients per parquet shard")] = 50_000,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing output directory")] = False,
) -> None:
    """Write a synthetic MEDS-shaped EHR cohort with a known code-dependency structure."""
    from clincode.data.synthetic import density_preset, generate_ehr_cohort

    preset = density_preset(Density.parse(density, "--density").value)
    path = generate_ehr_cohort(
        out_dir, n_patients=patients, n_codes=codes, seed=seed, shard_size=shard_size, overwrite=overwrite, progress=True,
        progression=Progression.parse(progression, "--progression").value, **preset,
    )  # fmt: skip
    out.print(f"wrote synthetic cohort to {path}")


@synth_app.command("notes")
@cli_errors
def synth_notes_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory (created; must not exist unless --overwrite)")],
    cohort: Annotated[Path | None, typer.Option("--cohort", help="an existing synthetic cohort (clincode synth ehr)")] = None,
    patients: Annotated[int | None, typer.Option("--patients", help="generate a fresh cohort of N patients instead")] = None,
    codes: Annotated[int, typer.Option("--codes", help="distinct ICD-10-CM codes of a generated cohort (as synth ehr --codes)")] = 500,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing output directory")] = False,
) -> None:
    """Write one synthetic discharge summary per visit of a synthetic cohort (notes.parquet + dataset.json)."""
    from clincode.data.synthetic import generate_notes

    if cohort is None and patients is None:
        raise ValueError("give --cohort DIR (an existing synthetic cohort) or --patients N (generate one).")
    path = generate_notes(out_dir, cohort=cohort, n_patients=patients, n_codes=codes, seed=seed, overwrite=overwrite)
    out.print(f"wrote synthetic notes to {path}")


prepare_app = typer.Typer(help="Turn real data releases into clincode's canonical tables.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")


@prepare_app.command("ehr")
@cli_errors
def prepare_ehr_cmd(
    path: Annotated[Path, typer.Argument(help="the release: MIMIC-IV root (with hosp/), MIMIC-III CSV folder, or MEDS dir")],
    out_dir: Annotated[Path, typer.Option("--out", help="output MEDS directory (must not exist unless --overwrite)")],
    source: Annotated[str, typer.Option("--source", metavar=EhrSource.metavar(), help="kind of release")] = EhrSource.MIMIC_IV.value,  # type: ignore[attr-defined]  # members made from the registry
    icd9_to_icd10: Annotated[bool, typer.Option("--icd9-to-icd10", help="map ICD-9-CM diagnoses to ICD-10-CM (GEMs)")] = False,
    include_death: Annotated[bool, typer.Option("--include-death", help="write MEDS_DEATH events")] = False,
    seed: Annotated[int, typer.Option("--seed", help="seed of the patient-level split")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
) -> None:
    """Read MIMIC-IV hosp, MIMIC-III or a MEDS export into a MEDS dataset for `clincode train`.

    Every dropped or altered record is counted in metadata/dataset.json (counts.skipped).
    """
    from clincode.data.sources import prepare_ehr

    kind = EhrSource.parse(source, "--source").value
    result = prepare_ehr(
        kind, path, out_dir, overwrite=overwrite, icd9_to_icd10=icd9_to_icd10, seed=seed, include_death=include_death
    )
    out.print(f"wrote {result}")


@prepare_app.command("notes")
@cli_errors
def prepare_notes_cmd(
    path: Annotated[Path, typer.Argument(help="the release: MIMIC-III CSV folder, MIMIC-IV-Note root, or CodiEsp root")],
    out_dir: Annotated[Path, typer.Option("--out", help="output directory (must not exist unless --overwrite)")],
    source: Annotated[str, typer.Option("--source", metavar=NotesSource.metavar(), help="kind of release")] = NotesSource.MIMIC_III.value,  # type: ignore[attr-defined]  # members made from the registry
    splits: Annotated[Path | None, typer.Option("--splits", help="CAML *_hadm_ids.csv directory or Edin et al. split table (MIMIC); default: by patient")] = None,
    split_variant: Annotated[str | None, typer.Option("--split-variant", metavar=SplitVariant.metavar(), help="CAML list variant (MIMIC)")] = None,
    hosp: Annotated[Path | None, typer.Option("--hosp", help="MIMIC-IV root with hosp/ (mimic-iv-note; default: PATH)")] = None,
    code_types: Annotated[str | None, typer.Option("--code-types", metavar="<D|P|D,P>", help=CODE_TYPES_HELP + " (default: D,P for MIMIC, D for CodiEsp)")] = None,
    icd_version: Annotated[str | None, typer.Option("--icd-version", metavar=IcdVersion.metavar(), help="mimic-iv-note: keep ICD-9 or ICD-10 codes only (default: both)")] = None,
    language: Annotated[str, typer.Option("--language", metavar=Language.metavar(), help="CodiEsp text: en (machine-translated) or es (original)")] = Language.EN.value,
    on_error: Annotated[str, typer.Option("--on-error", metavar=OnError.metavar(), help="raise at the first bad input, or skip and count bad inputs")] = OnError.RAISE.value,
    seed: Annotated[int, typer.Option("--seed", help="seed of the patient-level split")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
) -> None:
    """Read MIMIC-III / MIMIC-IV-Note discharge summaries or CodiEsp into the canonical notes table.

    Writes OUT/notes.parquet and OUT/dataset.json (documents per split, skipped inputs, unknown codes).
    """
    from clincode.notes_cli import prepare_notes

    version = _optional(IcdVersion, icd_version, "--icd-version")
    result, info = prepare_notes(
        NotesSource.parse(source, "--source").value, path, out_dir, overwrite=overwrite, splits=splits,
        split_variant=_optional(SplitVariant, split_variant, "--split-variant"), hosp=hosp,
        code_types=None if code_types is None else parse_code_types(code_types),
        icd_version=None if version is None else int(version), language=Language.parse(language, "--language").value,
        on_error=OnError.parse(on_error, "--on-error").value, seed=seed,
    )  # fmt: skip
    docs = ", ".join(f"{k} {v}" for k, v in info["documents"].items())
    out.print(f"wrote {result} ({docs}; skipped {info['skipped'] or 'nothing'})")


# --------------------------------------------------------------------------- train / evaluate / predict
@app.command()
@cli_errors
def train(
    config: Annotated[Path, typer.Argument(help="YAML run config (see configs/)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key: a.b=value (repeatable)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="discard an existing run of the same name")] = False,
) -> None:
    """Train a model (resuming an interrupted run), tune thresholds, evaluate on held_out."""
    from clincode.config import load_config
    from clincode.train.fit import train_run

    cfg = load_config(config, set_ or [])
    run_dir = train_run(cfg, overwrite=overwrite, console=err)
    out.print(f"run directory: {run_dir}")


@app.command("evaluate")
@cli_errors
def evaluate_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run directory written by `clincode train`")],
    retune: Annotated[bool, typer.Option("--retune", help="tune thresholds on the tuning split again")] = False,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", help="bootstrap resamples (default: the run's config)")] = None,
    split: Annotated[str, typer.Option("--split", metavar=EvalSplit.metavar(), help="split to score")] = EvalSplit.HELD_OUT.value,
) -> None:
    """Score a trained run: metrics.json and metrics.md in the run directory."""
    from clincode.train.evaluate import evaluate_run

    split = EvalSplit.parse(split, "--split").value
    evaluate_run(run_dir, console=err, retune=retune, n_bootstrap=bootstrap, split=split)
    out.print(f"wrote {run_dir / ('metrics.json' if split == 'held_out' else f'metrics_{split}.json')}")


@app.command()
@cli_errors
def predict(
    run_dir: Annotated[Path, typer.Argument(help="a trained run directory")],
    data: Annotated[Path, typer.Option("--data", help="MEDS dataset directory (or, for a text-coding run, notes) to predict on")],
    out_file: Annotated[Path, typer.Option("--out", help="output file: .parquet, .csv or .jsonl")],
    top_k: Annotated[int, typer.Option("--top-k", help="top codes listed per visit")] = 10,
    split: Annotated[str | None, typer.Option("--split", metavar=Split.metavar(), help="only this split of the dataset (default: all)")] = None,
    rule: Annotated[str, typer.Option("--rule", metavar=Rule.metavar(), help="decision rule of the `alert` column")] = Rule.GLOBAL.value,
    fmt: Annotated[
        str,
        typer.Option("--format", metavar=OutputFormat.metavar(), help="codiesp: CodiEsp ranking file; codiesp-x: CodiEsp-X evidence references (coding runs only)"),
    ] = OutputFormat.TABLE.value,
    max_unknown: Annotated[float, typer.Option("--max-unknown", help="largest share of input tokens outside the run's vocabulary accepted (0-1)")] = 0.5,
) -> None:
    """Forecast the next visit's codes for every patient and visit of a dataset.

    One row per (patient, visit, code listed): the top-k codes by probability plus every code at or
    above the run's saved decision threshold (column `alert`), with code descriptions. For a
    text-coding run, --data is a CodiEsp release or notes table and rows are (document, code).
    """
    from clincode.train.predict import predict_to_file

    n = predict_to_file(
        run_dir, data, out_file, top_k=top_k, split=_optional(Split, split, "--split"),
        rule=Rule.parse(rule, "--rule").value, console=err, fmt=OutputFormat.parse(fmt, "--format").value,
        max_unknown=max_unknown,
    )  # fmt: skip
    out.print(f"wrote {n} rows to {out_file}")


@app.command()
@cli_errors
def explain(
    run_dir: Annotated[Path, typer.Argument(help="a trained text-coding run directory")],
    data: Annotated[Path, typer.Option("--data", help="the notes to explain (a CodiEsp release or notes table)")],
    out_dir: Annotated[Path, typer.Option("--out", help="output folder: index.html and docs/<document>.html")],
    split: Annotated[str, typer.Option("--split", help="split to show: train, tuning, held_out (or dev, test)")] = "held_out",
    doc: Annotated[list[str] | None, typer.Option("--doc", help="only this document id (repeatable)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="codes listed per document")] = 10,
) -> None:
    """Static HTML pages: each document's text with its codes' evidence highlighted, codes ranked, gold marked."""
    from clincode.explain.run import explain_run

    info = explain_run(run_dir, data, out_dir, split=split, doc_ids=doc, top_k=top_k, console=err)
    out.print(f"wrote {info['documents']} pages to {out_dir} (open {out_dir / 'index.html'})")


# --------------------------------------------------------------------------- benchmark / audit / report
@app.command()
@cli_errors
def benchmark(
    config: Annotated[Path, typer.Argument(help="benchmark YAML: base run config + grid axes (see configs/benchmark_losses.yaml)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a key of every run: a.b=value (repeatable)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list the runs and their status, train nothing")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show each run's full output (Lightning, tables)")] = False,
) -> None:
    """Run a grid (dataset x model x loss x seed x any key), resumably; results, summary, report."""
    from clincode.bench.grid import load_benchmark
    from clincode.bench.runner import run_benchmark
    from clincode.report.benchmark import build_report

    bench = load_benchmark(config, set_ or [])
    root = run_benchmark(bench, console=err, dry_run=dry_run, verbose=verbose, table_console=out)
    if not dry_run:
        report = build_report(root)
        out.print(f"results: {root / 'results.parquet'}\nreport:  {report}")


@app.command()
@cli_errors
def report(bench_dir: Annotated[Path, typer.Argument(help="a benchmark directory written by `clincode benchmark`")]) -> None:
    """(Re)build report.md and its figures for a benchmark directory."""
    from clincode.report.benchmark import build_report

    if not (bench_dir / "benchmark.json").is_file():
        raise FileNotFoundError(f"{bench_dir} is not a benchmark directory (no benchmark.json)")
    out.print(f"report: {build_report(bench_dir)}")


@app.command()
@cli_errors
def audit(
    run_dir: Annotated[Path, typer.Argument(help="a run trained with the dependency_aware loss")],
    top_pairs: Annotated[int, typer.Option("--top-pairs", help="strongest positive and negative pairs listed")] = 20,
    heatmap_codes: Annotated[int, typer.Option("--heatmap-codes", help="most frequent codes in the heatmap")] = 50,
) -> None:
    """Audit the learned dependency matrix W: strongest pairs, heatmap, PMI correlation, recovery."""
    from clincode.audit.run_audit import audit_run

    path = audit_run(run_dir, top_pairs=top_pairs, heatmap_codes=heatmap_codes, console=err)
    out.print(f"audit written to {path}")


@app.command()
@cli_errors
def segments(
    path: Annotated[Path, typer.Argument(help="a MEDS cohort directory, a CodiEsp root, or a notes table file")],
    eta: Annotated[float, typer.Option("--eta", help="segmentation tolerance eta_S (> 0; the paper uses 0.5)")] = 0.5,
    num_labels: Annotated[int | None, typer.Option("--num-labels", help="label space size V: the top-V codes of train (default: all)")] = None,
    language: Annotated[str, typer.Option("--language", metavar=Language.metavar(), help="CodiEsp text: en (machine-translated) or es (original)")] = Language.EN.value,
    code_types: Annotated[str, typer.Option("--code-types", metavar="<D|P|D,P>", help="CodiEsp " + CODE_TYPES_HELP)] = "D",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Frequency segments of the training labels (Segmented Harmonic loss, tail first)."""
    import json

    from clincode.segments_cli import dataset_label_counts, render_table, segments_report

    if not eta > 0:
        raise ValueError(f"--eta must be > 0, got {eta}")
    types = parse_code_types(code_types)
    prefixes = tuple(p for t, p in (("D", "ICD10CM//"), ("P", "ICD10PCS//")) if t in types)
    counts, _ = dataset_label_counts(
        path, num_labels=num_labels, code_prefixes=prefixes + ("ICD9CM//",),
        language=Language.parse(language, "--language").value, code_types=types,
    )  # fmt: skip
    result = segments_report(counts, eta)
    if as_json:
        out.print_json(json.dumps(result))
        return
    title = f"{result['num_segments']} segments of {result['num_labels']} labels (eta = {eta:g}) in {path}"
    out.print(render_table(result, title))


# --------------------------------------------------------------------------- list
@list_app.command("losses")
def list_losses() -> None:
    """Registered losses with their parameters and defaults."""
    from clincode.losses import describe_losses

    _print_registry("losses", describe_losses())


@list_app.command("models")
def list_models() -> None:
    """Registered models (networks, then one-pass coders and forecasters) with their parameters and defaults."""
    from clincode.coders.registry import describe_coders
    from clincode.forecasters.registry import describe_forecasters
    from clincode.models import describe_models

    _print_registry("models", describe_models() + describe_coders() + describe_forecasters())


@list_app.command("tasks")
def list_tasks() -> None:
    """Registered tasks (data.task) with their data.params and defaults."""
    from clincode.tasks import describe_tasks

    _print_registry("tasks", describe_tasks())


@list_app.command("configs")
def list_configs() -> None:
    """Example run configs shipped with clincode."""
    from clincode.resources import config_dir

    table = Table(title=f"configs in {config_dir()}")
    table.add_column("file")
    table.add_column("description")
    for path in sorted(config_dir().glob("*.yaml")):
        lines = path.read_text().splitlines()
        table.add_row(path.name, lines[0].lstrip("# ") if lines else "")
    out.print(table)


@list_app.command("runs")
@cli_errors
def list_runs(root: Annotated[Path, typer.Argument(help="directory holding run directories")] = Path("runs")) -> None:
    """Runs under a directory with their status and headline metrics."""
    from clincode.train.listing import list_runs as _list

    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file; `clincode list runs` expects a directory holding run directories")
    rows = _list(root)
    table = Table(title=f"runs in {root}")
    for col in ("run", "loss", "status", "auprc_micro", "f1_micro@tuned"):
        table.add_column(col)
    for r in rows:
        table.add_row(*[str(r.get(c, "")) for c in ("run", "loss", "status", "auprc_micro", "f1_micro@tuned")])
    out.print(table)


def _print_registry(title: str, items: list[dict[str, Any]]) -> None:
    table = Table(title=title, show_lines=True)
    table.add_column("name", style="bold")
    table.add_column("summary")
    table.add_column("parameters (defaults)")
    for item in items:
        params = "\n".join(f"{k} = {v!r}" for k, v in item["params"].items())
        table.add_row(item["name"], item["summary"], params)
    out.print(table)


# --------------------------------------------------------------------------- demo
@app.command()
@cli_errors
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where the cohort, runs and report go")] = Path("clincode-demo"),
    patients: Annotated[int, typer.Option("--patients", help="synthetic patients")] = 6000,
    epochs: Annotated[int, typer.Option("--epochs", help="training epochs per run")] = 4,
    losses: Annotated[
        str, typer.Option("--losses", help="comma-separated losses to compare (see `clincode list losses`)")
    ] = "bce,weighted_bce,class_balanced,focal,asymmetric,dependency_aware",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    num_labels: Annotated[
        int, typer.Option("--num-labels", help="label space size V: the top-V codes of train (capped at the codes seen there)")
    ] = 1538,
    labels: Annotated[int | None, typer.Option("--labels", hidden=True, help="alias of --num-labels")] = None,
    density: Annotated[str, typer.Option("--density", metavar=Density.metavar(), help=DENSITY_HELP)] = "outpatient",
    progression: Annotated[
        str, typer.Option("--progression", metavar=Progression.metavar(), help=PROGRESSION_HELP + " (the demo's default: clinical)")
    ] = "clinical",
    config: Annotated[
        str, typer.Option("--config", help="run config of every run: a packaged name (demo, demo_behrt) or a YAML file")
    ] = "demo",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show each run's full output (Lightning, tables)")] = False,
) -> None:
    """The main job: synthetic cohort, one EHR Transformer per loss beside the history baselines and the
    cohort's Bayes forecasts (from the history alone, and the oracle from the latent state), evaluation,
    comparison report.
    """
    from clincode.demo import run_demo

    names = [x.strip() for x in losses.split(",") if x.strip()]
    if not names:
        raise ValueError("--losses names no loss")
    if labels is not None:
        num_labels = labels
    run_demo(
        out_dir, patients=patients, epochs=epochs, losses=names, seed=seed, num_labels=num_labels, console=err,
        verbose=verbose, density=Density.parse(density, "--density").value, config=config,
        progression=Progression.parse(progression, "--progression").value, table_console=out,
    )  # fmt: skip


def _click_exceptions() -> tuple[type[Exception], type[Exception], type[BaseException]]:
    """(ClickException, NoArgsIsHelpError, Abort) of the click that typer runs on."""
    try:  # typer >= 0.16 vendors click
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
    except ImportError:  # pragma: no cover
        from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]  # click's own, before typer vendored it
    return ClickException, NoArgsIsHelpError, typer.Abort


def main(argv: list[str] | None = None) -> None:
    """The ``clincode`` entry point: usage errors too become one ``error:`` line (exit 2)."""
    click_error, no_args, abort = _click_exceptions()
    try:
        code = app(sys.argv[1:] if argv is None else argv, prog_name="clincode", standalone_mode=False)
    except no_args as exc:
        exc.show()  # type: ignore[attr-defined]  # typed as Exception by _click_exceptions
        sys.exit(2)
    except click_error as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]  # a click exception, typed as Exception by _click_exceptions
        err.print(f"error: {message}{hint}", highlight=False, soft_wrap=True, markup=False)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except (abort, KeyboardInterrupt):
        err.print("error: interrupted", highlight=False, markup=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
