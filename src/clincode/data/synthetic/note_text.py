"""Write one synthetic discharge summary from its labels' mentions, negations and distractors.

The layout imitates MIMIC discharge summaries (section headers, a short history, a problem-based
hospital course, a discharge diagnosis list). What a model must learn from:

- every label is mentioned positively at least once (history / past history / hospital course),
  and sometimes again in the discharge diagnoses, each time through a surface form drawn anew;
- codes that are NOT labels are mentioned under negation ("denies ...", "no evidence of ...") or
  as family history: the words of a code alone do not make it a label;
- distractor sentences carry no code at all (vitals, labs, social history, medications,
  follow-up), and some sections are left out or reordered, so position is no cue either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from clincode.data.synthetic.note_phrases import draw_mention


@dataclass(frozen=True)
class CodeText:
    """What the writer needs to know about one code: its description, forms and whether chronic."""

    code: str
    description: str
    forms: tuple[str, ...]
    chronic: bool


NEGATIONS: tuple[str, ...] = (
    "No evidence of {}.",
    "Denies {}.",
    "Negative for {}.",
    "{} was ruled out.",
    "No history of {}.",
    "No signs of {} on exam.",
    "Workup for {} was negative.",
    "Pt denies any {}.",
)
FAMILY: tuple[str, ...] = ("Mother with {}.", "Father had {}.", "Sister with {}.", "Family history of {}.")
PLANS: tuple[str, ...] = (
    "continued home regimen.",
    "monitored closely, stable at discharge.",
    "managed medically with improvement.",
    "treated per protocol; follow up as outpatient.",
    "consulted the specialist team, plan as below.",
    "improved over the hospital stay.",
    "at baseline; no changes made.",
)
HPI_OPENERS: tuple[str, ...] = (
    "{age} y/o {sex} with a PMH of {pmh} who presents with {acute}.",
    "Patient is a {age} year old {sex} with {pmh}, admitted for {acute}.",
    "{age}yo {sex} with hx of {pmh} presenting with {acute}.",
)
HPI_NO_PMH: tuple[str, ...] = (
    "{age} y/o {sex} presenting with {acute}.",
    "Patient is a {age} year old {sex} admitted for {acute}.",
)
SOCIAL: tuple[str, ...] = (
    "Lives with {who}. {smoke}. {etoh}.",
    "{smoke}. {etoh}. Works as a {job}.",
    "Lives alone, independent in ADLs. {smoke}.",
)
WHO = ("spouse", "daughter", "son", "partner", "family")
SMOKE = ("Never smoker", "Former smoker, quit years ago", "Current smoker, 1 ppd", "Denies tobacco")
ETOH = ("Occasional alcohol", "No alcohol use", "Drinks socially")
JOBS = ("teacher", "driver", "nurse", "retired engineer", "cashier", "farmer")
MEDS = ("acetaminophen 650 mg PO q6h PRN", "aspirin 81 mg PO daily", "metoprolol 25 mg PO BID",
        "atorvastatin 40 mg PO qHS", "lisinopril 10 mg PO daily", "metformin 500 mg PO BID",
        "omeprazole 20 mg PO daily", "furosemide 20 mg PO daily", "docusate 100 mg PO BID",
        "senna 8.6 mg PO qHS", "insulin glargine 10 units SC qHS", "amlodipine 5 mg PO daily")  # fmt: skip
FOLLOW_UP = (
    "Follow up with your PCP in 1-2 weeks.",
    "Please return to the ED for chest pain, fever or shortness of breath.",
    "Take all medications as prescribed and keep your appointments.",
    "Follow up in clinic in 4 weeks; labs to be drawn before the visit.",
)
EXAM = ("Gen: NAD, alert and oriented.", "CV: RRR, no murmurs.", "Lungs: CTAB.", "Abd: soft, NT/ND.",
        "Ext: no edema.", "Neuro: grossly intact.")  # fmt: skip


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _vitals(rng: np.random.Generator) -> str:
    return (
        f"VS: T {rng.normal(37.0, 0.5):.1f} BP {int(rng.integers(95, 170))}/{int(rng.integers(55, 100))} "
        f"HR {int(rng.integers(55, 115))} RR {int(rng.integers(12, 24))} O2 {int(rng.integers(90, 100))}% RA"
    )


def _labs(rng: np.random.Generator) -> str:
    return (
        f"Na {int(rng.integers(130, 146))} K {rng.normal(4.1, 0.4):.1f} Cl {int(rng.integers(96, 110))} "
        f"HCO3 {int(rng.integers(20, 30))} BUN {int(rng.integers(7, 40))} Cr {rng.gamma(4.0, 0.25):.1f} "
        f"WBC {rng.gamma(5.0, 1.8):.1f} Hgb {rng.normal(12.5, 1.8):.1f} Plt {int(rng.integers(120, 400))}"
    )


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _header(name: str, rng: np.random.Generator) -> str:
    return name.upper() + ":" if rng.random() < 0.3 else name + ":"


def compose_note(
    labels: Sequence[CodeText],
    negatives: Sequence[CodeText],
    family: Sequence[CodeText],
    age: int,
    female: bool,
    admitted: datetime,
    rng: np.random.Generator,
) -> str:
    """The text of one discharge summary (see the module docstring); ``labels`` must be non-empty."""
    if not labels:
        raise ValueError("compose_note needs at least one label code; got none.")

    def say(item: CodeText) -> str:
        return draw_mention(item.forms, item.description, rng)

    order = [labels[i] for i in rng.permutation(len(labels))]
    chronic = [c for c in order if c.chronic]
    acute = [c for c in order if not c.chronic] or order[:1]
    # Where each label's required positive mention goes: history (chronic -> PMH) or hospital course.
    in_course = [c for c in order if rng.random() < 0.55 or (c in acute and c is not acute[0])]
    sex = "F" if female else "M"
    sex_word = _pick(("woman", "female", "F") if female else ("man", "male", "M"), rng)
    discharged = admitted + timedelta(days=int(rng.integers(1, 9)))
    sections: list[str] = ["Discharge Summary" if rng.random() < 0.5 else "DISCHARGE SUMMARY"]
    sections.append(
        f"Admission Date: {admitted:%Y-%m-%d}  Discharge Date: {discharged:%Y-%m-%d}\nSex: {sex}  Age: {age}"
    )
    sections.append(f"{_header('Chief Complaint', rng)}\n{say(acute[0])}")

    pmh_items = [say(c) for c in chronic if c not in in_course or rng.random() < 0.3]
    acute_text = _join([say(c) for c in acute if c not in in_course or c is acute[0]])
    hpi_template = _pick(HPI_OPENERS, rng) if pmh_items else _pick(HPI_NO_PMH, rng)
    hpi = [hpi_template.format(age=age, sex=sex_word, pmh=_join(pmh_items), acute=acute_text)]
    for item in negatives:
        text = say(item)
        hpi.append(_pick(NEGATIONS, rng).format(text[0].upper() + text[1:] if rng.random() < 0.2 else text))
    hpi = [hpi[0], *[hpi[1 + i] for i in rng.permutation(len(hpi) - 1)]]
    sections.append(f"{_header('History of Present Illness', rng)}\n" + " ".join(hpi))

    if chronic and rng.random() < 0.8:
        sections.append(f"{_header('Past Medical History', rng)}\n" + "\n".join(f"- {say(c)}" for c in chronic))
    optional: list[str] = []
    if rng.random() < 0.8:
        social = _pick(SOCIAL, rng).format(who=_pick(WHO, rng), smoke=_pick(SMOKE, rng), etoh=_pick(ETOH, rng), job=_pick(JOBS, rng))
        optional.append(f"{_header('Social History', rng)}\n{social}")
    if family:
        optional.append(f"{_header('Family History', rng)}\n" + " ".join(_pick(FAMILY, rng).format(say(f)) for f in family))
    elif rng.random() < 0.5:
        optional.append(f"{_header('Family History', rng)}\nNoncontributory.")
    optional.append(
        f"{_header('Physical Exam', rng)}\n{_vitals(rng)}\n"
        + " ".join(EXAM[i] for i in sorted(rng.choice(len(EXAM), size=3, replace=False).tolist()))
    )
    if rng.random() < 0.7:
        optional.append(f"{_header('Pertinent Results', rng)}\n{_labs(rng)}")
    sections.extend(optional[i] for i in rng.permutation(len(optional)))

    course = [f"# {say(c)}: {_pick(PLANS, rng)}" for c in in_course]
    if not course:
        course = [f"Patient was admitted and {_pick(PLANS, rng)}"]
    sections.append(f"{_header('Brief Hospital Course', rng)}\n" + "\n".join(course))
    n_meds = int(rng.integers(2, 6))
    meds = [MEDS[i] for i in rng.choice(len(MEDS), size=n_meds, replace=False).tolist()]
    sections.append(f"{_header('Discharge Medications', rng)}\n" + "\n".join(f"{i}. {m}" for i, m in enumerate(meds, 1)))
    listed = [say(c) for c in order if rng.random() < 0.6]
    if listed:
        sections.append(f"{_header('Discharge Diagnosis', rng)}\n" + "\n".join(listed))
    sections.append(f"{_header('Discharge Instructions', rng)}\n{_pick(FOLLOW_UP, rng)}")
    return "\n\n".join(sections)
