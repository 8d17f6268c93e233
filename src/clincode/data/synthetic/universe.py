"""The code universe of a synthetic cohort: which real ICD-10-CM codes exist and how frequent each is.

The most frequent codes are the curated clinical clusters (:mod:`clusters`); the rest are
real billable codes drawn category by category (so siblings such as E11.9 / E11.65 appear
together, as in real data), with chapter shares loosely following inpatient + primary care mixes.
Target per-visit frequencies follow a Zipf law over a random frequency ranking (curated codes near
the head), which gives the long tail of MIMIC / CPRD: head codes hundreds of times more frequent
than tail codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from clincode.codes import (
    billable_icd10cm_bodies,
    ccs_category,
    icd10_chapter,
    is_billable_icd10cm,
    is_chronic,
    is_pregnancy_code,
    sex_restriction,
)
from clincode.data.synthetic.clusters import CLUSTERS

PREFIX = "ICD10CM//"

# Chapters left out of the universe: perinatal conditions (P, newborn records) and external causes
# (V00-Y99, secondary "how it happened" codes that would need their own event model).
EXCLUDED_CHAPTERS = frozenset({16, 20})

# Ranks reserved for curated codes at the head of the frequency distribution.
HEAD_CURATED = 40

# Relative share of the filled-in (non-curated) categories per ICD-10-CM chapter number. [ours]
CHAPTER_SHARE: dict[int, float] = {
    1: 0.05, 2: 0.08, 3: 0.03, 4: 0.06, 5: 0.05, 6: 0.05, 7: 0.03, 8: 0.01, 9: 0.09, 10: 0.05,
    11: 0.07, 12: 0.03, 13: 0.07, 14: 0.05, 15: 0.03, 17: 0.01, 18: 0.08, 19: 0.10, 21: 0.09,
    22: 0.001,
}  # fmt: skip


@dataclass(frozen=True)
class CodeUniverse:
    """The V codes a cohort may use, sorted by code string (index = code id).

    Attributes:
        codes: (V,) prefixed codes, e.g. ``ICD10CM//E11.9``, sorted.
        rate: (V,) target expected number of occurrences per visit (sums to mean codes per visit).
        chronic: (V,) HCUP chronic condition indicator (unknown -> False).
        restriction: (V,) None, ``"F"``, ``"M"`` or ``"F_pregnancy"`` (female and aged 15-49).
        group: (V,) grouping used by the automatic processes: ``CCS//<id>`` or the chapter code.
        chapter: (V,) ``ICD10CM_CHAPTER//NN``.
        curated: (V,) whether the code belongs to a curated clinical cluster.
    """

    codes: tuple[str, ...]
    rate: np.ndarray
    chronic: np.ndarray
    restriction: tuple[str | None, ...]
    group: tuple[str, ...]
    chapter: tuple[str, ...]
    curated: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def index(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.codes)}


def restriction_of(code: str) -> str | None:
    """Who may carry ``code``: None (anyone), ``"F"``, ``"M"`` or ``"F_pregnancy"``."""
    if is_pregnancy_code(code):
        return "F_pregnancy"
    return sex_restriction(code)


def _chapter_number(body: str) -> int:
    return int(icd10_chapter(PREFIX + body).rsplit("//", 1)[1])


@lru_cache(maxsize=1)
def curated_ranking() -> tuple[str, ...]:
    """Curated codes (dotted bodies) ranked by cluster weight and position within the cluster."""
    score: dict[str, float] = {}
    for cluster in CLUSTERS:
        for position, body in enumerate(cluster.codes):
            if is_billable_icd10cm(PREFIX + body) and _chapter_number(body) not in EXCLUDED_CHAPTERS:
                score[body] = score.get(body, 0.0) + cluster.weight / (1.0 + 0.5 * position)
    return tuple(sorted(score, key=lambda body: (-score[body], body)))


def available_codes() -> int:
    """How many distinct codes the generator can use (the upper bound of ``n_codes``)."""
    return len(_candidates_by_category()[0]) + len(curated_ranking())


def check_n_codes(n_codes: int) -> None:
    """ValueError if ``n_codes`` exceeds :func:`available_codes`."""
    limit = available_codes()
    if n_codes > limit:
        raise ValueError(
            f"n_codes={n_codes} exceeds the {limit} billable ICD-10-CM codes the generator can use "
            "(chapters P and V-Y are left out)."
        )


@lru_cache(maxsize=1)
def _candidates_by_category() -> tuple[list[str], dict[str, list[str]], dict[str, int]]:
    """(all candidate bodies, {category: bodies}, {category: chapter}); callers must not mutate."""
    curated = set(curated_ranking())
    by_category: dict[str, list[str]] = {}
    chapter_of: dict[str, int] = {}
    flat: list[str] = []
    for body in billable_icd10cm_bodies():
        if body in curated:
            continue
        category = body[:3]
        if category not in chapter_of:
            chapter_of[category] = _chapter_number(body)
        if chapter_of[category] in EXCLUDED_CHAPTERS:
            continue
        by_category.setdefault(category, []).append(body)
        flat.append(body)
    return flat, by_category, chapter_of


def _fill(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` non-curated bodies drawn category by category (weighted order, 1-4ish codes each)."""
    flat, by_category, chapter_of = _candidates_by_category()
    categories = sorted(by_category)
    per_chapter: dict[int, int] = {}
    for category in categories:
        per_chapter[chapter_of[category]] = per_chapter.get(chapter_of[category], 0) + 1
    weight = np.array([CHAPTER_SHARE.get(chapter_of[c], 0.01) / per_chapter[chapter_of[c]] for c in categories])
    # Weighted random order without replacement (Efraimidis & Spirakis 2006): sort by log(U) / w.
    order = np.argsort(-(np.log(rng.random(len(categories))) / weight), kind="stable")
    remaining = {c: list(by_category[c]) for c in categories}
    chosen: list[str] = []
    while len(chosen) < n:
        before = len(chosen)
        for i in order:
            pool = remaining[categories[i]]
            if not pool:
                continue
            take = min(int(rng.geometric(0.45)), len(pool), n - len(chosen))
            # Less specific (shorter) codes are used more often in practice.
            lengths = np.array([len(b.replace(".", "")) for b in pool], dtype=np.float64)
            p = np.exp(-0.8 * (lengths - 3.0))
            picks = rng.choice(len(pool), size=take, replace=False, p=p / p.sum())
            for j in sorted(picks.tolist(), reverse=True):
                chosen.append(pool.pop(j))
            if len(chosen) >= n:
                break
        if len(chosen) == before:  # cannot happen while n <= available_codes(); never loop forever
            raise ValueError(f"only {len(chosen)} candidate codes remain; {n} were requested.")
    return chosen


def build_universe(
    n_codes: int, zipf_exponent: float, mean_codes_per_visit: float, rng: np.random.Generator
) -> CodeUniverse:
    """Choose ``n_codes`` real billable ICD-10-CM codes and their target per-visit frequencies.

    Raises ValueError if ``n_codes`` exceeds :func:`available_codes`.
    """
    check_n_codes(n_codes)
    ranked = curated_ranking()
    curated = list(ranked[:n_codes])
    bodies = curated + _fill(n_codes - len(curated), rng)
    # Frequency ranking: curated codes in their clinical order with some jitter, alone at the very
    # head (so the most frequent codes are I10, E78.5, ... as in real cohorts), the rest at random.
    n_fill = n_codes - len(curated)
    head = min(len(curated), HEAD_CURATED) * 1.5
    key = np.concatenate(
        [np.arange(len(curated)) * 1.5 + rng.random(len(curated)) * 4.0, head + rng.random(n_fill) * 1.15 * n_codes]
    )
    rank = np.empty(n_codes, dtype=np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(n_codes)
    rate = (rank + 3.0) ** (-zipf_exponent)
    rate *= mean_codes_per_visit / rate.sum()

    codes = [PREFIX + b for b in bodies]
    order = sorted(range(n_codes), key=lambda i: codes[i])
    codes = [codes[i] for i in order]
    groups = []
    for code in codes:
        ccs = ccs_category(code)
        groups.append(ccs if ccs is not None else icd10_chapter(code))
    return CodeUniverse(
        codes=tuple(codes),
        rate=rate[order],
        chronic=np.array([bool(is_chronic(c)) for c in codes]),
        restriction=tuple(restriction_of(c) for c in codes),
        group=tuple(groups),
        chapter=tuple(icd10_chapter(c) for c in codes),
        curated=np.array([i < len(curated) for i in order]),
    )
