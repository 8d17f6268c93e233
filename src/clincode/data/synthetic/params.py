"""Parameters of the synthetic EHR generator, validated once before anything is written."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from typing import Any

GENERATOR_NAME = "clincode.synthetic_ehr"
# Disease progression between chronic conditions (see :mod:`clincode.data.synthetic.progression`).
PROGRESSION_MODES = ("none", "clinical")
# Bump when the same parameters and seed would produce different data.
GENERATOR_VERSION = "1.0"

# Named visit densities [ours]: keyword values of generate_ehr_cohort. "outpatient" repeats the
# defaults (about 4.5 diagnosis codes per visit, a primary-care mix); "admission" gives hospital
# admissions of 15-20 codes. A denser visit needs more than a larger mean: with the default Zipf
# exponent the head codes would need rates above one per visit, so the law is flatter (head codes
# in about half of the visits, not all of them), and one latent process activation (an episode or
# a chronic condition) records about three codes instead of two. At V = 1,538 labels of a
# 2,000-code universe this gives about 16 labels per next-visit target row
# (benchmarks/codes_per_visit.py; docs/results.md).
DENSITY_PRESETS: dict[str, dict[str, float]] = {
    "outpatient": {"mean_codes_per_visit": 4.5, "zipf_exponent": 1.1, "codes_per_activation": 1.8},
    "admission": {"mean_codes_per_visit": 18.5, "zipf_exponent": 0.9, "codes_per_activation": 3.0},
}
DEFAULT_DENSITY = "outpatient"


def density_preset(name: str) -> dict[str, Any]:
    """Keyword arguments of :func:`~clincode.data.synthetic.generate_ehr_cohort` for a named density.

    ``generate_ehr_cohort(out, n_patients=..., n_codes=..., **density_preset("admission"))``.
    ``"outpatient"`` gives exactly the defaults. ValueError for an unknown name.
    """
    if name not in DENSITY_PRESETS:
        raise ValueError(f"density must be one of {', '.join(DENSITY_PRESETS)}; got {name!r}")
    return dict(DENSITY_PRESETS[name])


@dataclass(frozen=True)
class SynthParams:
    """Every knob of :func:`clincode.data.synthetic.ehr.generate_ehr_cohort` (see its docstring)."""

    n_patients: int
    n_codes: int
    seed: int = 0
    shard_size: int = 50_000
    mean_visits: float = 8.0
    visits_dispersion: float = 1.2
    max_visits: int = 250
    mean_codes_per_visit: float = 4.5
    zipf_exponent: float = 1.1
    background_fraction: float = 0.25
    codes_per_activation: float = 1.8
    max_process_size: int = 12
    chronic_record_prob: float = 0.7
    prevalent_fraction: float = 0.4
    female_fraction: float = 0.53
    pediatric_fraction: float = 0.1
    short_gap_fraction: float = 0.2
    median_gap_days: float = 120.0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    start_date: str = "2010-01-01"
    end_date: str = "2024-12-31"
    progression: str = "none"

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``dataset.json`` (tuples become lists). ``progression`` is left out when
        "none", so cohorts without progression keep the ``dataset.json`` they always had.
        """
        out = asdict(self)
        out["split_fractions"] = list(self.split_fractions)
        if self.progression == "none":
            del out["progression"]
        return out

    def validate(self) -> None:
        """Raise ValueError with one sentence naming the first bad parameter."""
        _int_at_least("n_patients", self.n_patients, 1)
        smallest = min_patients_for_splits(self.split_fractions)
        if self.n_patients < smallest:
            from clincode.data.splits import SPLIT_NAMES, split_counts

            empty = [n for n, c in zip(SPLIT_NAMES, split_counts(self.n_patients, self.split_fractions), strict=True) if c == 0]
            raise ValueError(
                f"n_patients is {self.n_patients}: split(s) {', '.join(empty)} would have no patient; "
                f"expected n_patients >= {smallest} with split fractions {list(self.split_fractions)}."
            )
        _int_at_least("n_codes", self.n_codes, 1)
        _int_at_least("seed", self.seed, 0)
        _int_at_least("shard_size", self.shard_size, 1)
        _int_at_least("max_visits", self.max_visits, 1)
        _int_at_least("max_process_size", self.max_process_size, 1)
        _positive("mean_visits", self.mean_visits, minimum=1.0)
        _positive("visits_dispersion", self.visits_dispersion)
        _positive("mean_codes_per_visit", self.mean_codes_per_visit)
        _positive("zipf_exponent", self.zipf_exponent)
        _positive("codes_per_activation", self.codes_per_activation, minimum=1.0)
        _positive("median_gap_days", self.median_gap_days, minimum=1.0)
        for name in ("background_fraction", "chronic_record_prob", "prevalent_fraction", "female_fraction",
                     "pediatric_fraction", "short_gap_fraction"):  # fmt: skip
            _fraction(name, getattr(self, name))
        if self.background_fraction >= 1.0:
            raise ValueError("background_fraction must be below 1 (some codes must come from latent processes).")
        fractions = self.split_fractions
        numbers = all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in fractions)
        if len(fractions) != 3 or not numbers or any(not math.isfinite(f) or f < 0 for f in fractions):
            raise ValueError(
                f"split_fractions={fractions!r} must be three non-negative numbers (train, tuning, held_out)."
            )
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions={fractions!r} must sum to 1 (they sum to {sum(fractions):.6g}).")
        if self.progression not in PROGRESSION_MODES:
            raise ValueError(f"progression={self.progression!r} must be one of {', '.join(PROGRESSION_MODES)}.")
        start, end = self.start_end()
        if (end - start).days < 365:
            raise ValueError(f"end_date {self.end_date} must be at least one year after start_date {self.start_date}.")

    def start_end(self) -> tuple[dt.datetime, dt.datetime]:
        """The study window as datetimes (ValueError naming the field if not ISO dates)."""
        out = []
        for name in ("start_date", "end_date"):
            text = getattr(self, name)
            try:
                out.append(dt.datetime.fromisoformat(text))
            except (TypeError, ValueError):
                raise ValueError(f"{name}={text!r} is not an ISO date such as '2010-01-01'.") from None
        return out[0], out[1]


def _int_at_least(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}.")


def _positive(name: str, value: object, minimum: float = 0.0) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0 or value < minimum:  # type: ignore[operator]  # isinstance-checked in ok
        bound = f">= {minimum:g}" if minimum > 0 else "> 0"
        raise ValueError(f"{name}={value!r} must be a finite number {bound}.")


def _fraction(name: str, value: object) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0.0 <= value <= 1.0:  # type: ignore[operator]  # isinstance-checked in ok
        raise ValueError(f"{name}={value!r} must be a number in [0, 1].")


def min_patients_for_splits(fractions: tuple[float, ...] = (0.8, 0.1, 0.1)) -> int:
    """Smallest cohort whose every split (largest-remainder rounding of ``fractions``) has a patient."""
    from clincode.data.splits import split_counts

    if any(f <= 0 for f in fractions):
        raise ValueError(f"split_fractions must all be > 0; got {list(fractions)}.")
    n = len(fractions)
    while (split_counts(n, fractions) == 0).any():
        n += 1
    return n
