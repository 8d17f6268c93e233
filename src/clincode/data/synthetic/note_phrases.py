"""How a synthetic note mentions a code: rephrasings of its description, never the description itself.

A code's *surface forms* are built once from its official description and, when simple_icd_10_cm
knows the code, its inclusion terms (synonyms such as "Congestive heart failure NOS" for I50.9):

- inclusion terms with the "NOS" marker removed;
- the description rewritten: qualifiers dropped (", unspecified", "site not specified"),
  parentheses / brackets resolved ("Essential (primary) hypertension" -> "primary hypertension"),
  comma inversion ("Obesity, unspecified" -> "unspecified obesity"), "A of B" -> "B A" for short
  phrases ("Calculus of kidney" -> "kidney calculus"), "without complications" -> "uncomplicated";
- clinical abbreviations applied to any of these ("hypertension" -> "HTN", "chronic kidney
  disease" -> "CKD") and lay synonyms for one-word descriptions ("hyperkalemia" -> "high potassium");
- one inessential word dropped at random when a mention is drawn.

Every form is checked against the description (case-insensitive, whitespace-normalised): a form
containing it is discarded. If nothing is left, the fallback is a realistic typo of the description
(two inner letters swapped), which never contains it. :func:`scrub` repeats the check on a
finished document, so no label description can appear verbatim anywhere in the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

# Longest phrases first when applied (see _ABBREVIATION_PATTERNS). [ours, common clinical usage]
ABBREVIATIONS: dict[str, str] = {
    "type 2 diabetes mellitus": "T2DM",
    "type 1 diabetes mellitus": "T1DM",
    "diabetes mellitus": "DM",
    "chronic obstructive pulmonary disease": "COPD",
    "chronic kidney disease": "CKD",
    "end stage renal disease": "ESRD",
    "acute kidney failure": "AKI",
    "congestive heart failure": "CHF",
    "heart failure": "HF",
    "atrial fibrillation": "AFib",
    "atherosclerotic heart disease": "ASHD",
    "coronary artery disease": "CAD",
    "myocardial infarction": "MI",
    "gastro-esophageal reflux disease": "GERD",
    "urinary tract infection": "UTI",
    "deep vein thrombosis": "DVT",
    "pulmonary embolism": "PE",
    "obstructive sleep apnea": "OSA",
    "benign prostatic hyperplasia": "BPH",
    "major depressive disorder": "MDD",
    "generalized anxiety disorder": "GAD",
    "rheumatoid arthritis": "RA",
    "osteoarthritis": "OA",
    "human immunodeficiency virus": "HIV",
    "hyperlipidemia": "HLD",
    "hypertension": "HTN",
    "pneumonia": "PNA",
    "fracture": "fx",
    "history": "hx",
    "without": "w/o",
    "with": "w/",
    "bilateral": "bilat",
    "disease": "dz",
    "infection": "infxn",
    "abdominal": "abd",
    "left": "L",
    "right": "R",
}

# Plain-language or shorthand rewordings of frequent phrases, applied as one more variant. [ours]
PHRASE_SYNONYMS: dict[str, str] = {
    "malignant neoplasm": "cancer",
    "benign neoplasm": "benign tumor",
    "neoplasm": "tumor",
    "personal history of": "h/o",
    "family history of": "FH of",
    "encounter for": "here for",
    "presence of": "s/p placement of",
    "disorder": "d/o",
    "calculus": "stone",
    "laceration": "lac",
    "dependence": "dependency",
    "pain in": "pain of",
}

# Lay or alternative names: used as whole surface forms when the description is one of these.
LAY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "hyperkalemia": ("high potassium", "elevated K"),
    "hypokalemia": ("low potassium", "low K"),
    "hyponatremia": ("low sodium", "low Na"),
    "hypernatremia": ("high sodium",),
    "hypomagnesemia": ("low magnesium",),
    "prediabetes": ("pre-diabetes", "borderline diabetes"),
    "dehydration": ("volume depletion, dry",),
    "syncope and collapse": ("fainting episode", "passed out"),
    "epistaxis": ("nosebleed",),
    "nausea with vomiting, unspecified": ("N/V", "nausea and emesis"),
    "constipation, unspecified": ("hard stools",),
    "calculus of kidney": ("kidney stone", "nephrolithiasis"),
}

# Words a mention may lose (never the head noun of a short phrase). [ours]
DROPPABLE = frozenset(
    {"unspecified", "other", "primary", "essential", "acute", "chronic", "mellitus", "type", "of", "the",
     "and", "specified", "site", "not", "elsewhere", "classified", "episode", "single", "organism"}
)  # fmt: skip

_QUALIFIERS = (
    (re.compile(r"\bunspecified\s+(part|site|side)\s+of\s+", re.I), ""),
    (re.compile(r",?\s*unspecified\s+(organism|site|type|part|side)\b", re.I), ""),
    (re.compile(r",?\s*site not specified\b", re.I), ""),
    (re.compile(r",?\s*not elsewhere classified\b", re.I), ""),
    (re.compile(r",?\s*unspecified\b", re.I), ""),
    (re.compile(r"^unspecified\s+", re.I), ""),
    (re.compile(r"\bwithout complications\b", re.I), "uncomplicated"),
)
_PAREN = re.compile(r"\s*[\(\[]([^\)\]]*)[\)\]]")
# "Essential (primary) hypertension": the parenthesised word is an alternative to the one before.
_ALTERNATIVE = re.compile(r"\S+\s*\(([^\)]*)\)")
# "Aortic arch syndrome [Takayasu]": a trailing bracket is an eponym / synonym of the whole.
_TRAILING_BRACKET = re.compile(r"\[([^\]]*)\]\s*$")
_SPACES = re.compile(r"\s+")
_PHRASE_PATTERNS = [
    (re.compile(rf"(?<![\w-]){re.escape(k)}(?![\w-])", re.I), v)
    for k, v in sorted(PHRASE_SYNONYMS.items(), key=lambda kv: -len(kv[0]))
]
_ABBREVIATION_PATTERNS = [
    (re.compile(rf"(?<![\w-]){re.escape(k)}(?![\w-])", re.I), v)
    for k, v in sorted(ABBREVIATIONS.items(), key=lambda kv: -len(kv[0]))
]


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed: the form in which 'verbatim' is checked."""
    return _SPACES.sub(" ", text).strip().lower()


_DOUBLED = re.compile(r"\b(of|and|or|with)\s+(?:of|and|or|with)\b", re.I)


def _clean(text: str) -> str:
    """Collapse spaces, trim stray punctuation and doubled joiners left by removals ("of of")."""
    text = _DOUBLED.sub(r"\1", _SPACES.sub(" ", text))
    return text.strip(" ,;")


def _rewrites(description: str) -> list[str]:
    """Deterministic rewritings of ``description`` (may still contain it; filtered by the caller)."""
    out: list[str] = []
    base = description
    # Parentheses / brackets: drop them, or keep their content in place of the preceding word.
    if _PAREN.search(base):
        out.append(_clean(_PAREN.sub("", base)))
        if _ALTERNATIVE.search(base):
            out.append(_clean(_PAREN.sub("", _ALTERNATIVE.sub(lambda m: m.group(1), base))))
        trailing = _TRAILING_BRACKET.search(base)
        if trailing is not None and trailing.group(1).strip():
            out.append(_clean(trailing.group(1)))
        base = _clean(_PAREN.sub("", base))
    stripped = base
    for pattern, repl in _QUALIFIERS:
        stripped = _clean(pattern.sub(repl, stripped))
    if stripped and normalise(stripped) != normalise(base):
        out.append(stripped)
    # Comma inversion: "Obesity, unspecified" -> "unspecified Obesity".
    if base.count(",") == 1:
        head, tail = (p.strip() for p in base.split(","))
        if head and tail and len(tail.split()) <= 4:
            out.append(_clean(f"{tail} {head}"))
    # "A of B" -> "B A" when both are short ("Calculus of kidney" -> "kidney Calculus").
    for text in (stripped, base):
        parts = re.split(r"\s+of\s+", text, maxsplit=1, flags=re.I)
        if len(parts) == 2 and 1 <= len(parts[0].split()) <= 2 and 1 <= len(parts[1].split()) <= 3:
            out.append(_clean(f"{parts[1]} {parts[0]}"))
    return [t for t in out if t]


def _abbreviate(text: str) -> str:
    for pattern, short in _ABBREVIATION_PATTERNS:
        text = pattern.sub(short, text)
    return _clean(text)


def _reword(text: str) -> str:
    for pattern, other in _PHRASE_PATTERNS:
        text = pattern.sub(other, text)
    return _clean(text)


def _case(text: str) -> str:
    """Lower-case ordinary words ("Hyperlipidemia" -> "hyperlipidemia"), keep acronyms (HTN, AFib)."""
    return " ".join(w.lower() if w[1:] == w[1:].lower() else w for w in text.split(" "))


_VOWEL_SHIFT = str.maketrans("aeiouAEIOU", "eiouaEIOUA")


def typo(text: str) -> str:
    """A misspelling of ``text`` that never contains it (case-insensitively).

    Two adjacent, different inner letters of the longest word are swapped ("hyperkalemia" ->
    "hpyerkalemia"); for short words, the last vowel is changed ("flu" -> "fla"). Either way the
    result has the same length as ``text`` and differs from it, so it cannot contain it.
    """
    words = text.split(" ")
    i = max(range(len(words)), key=lambda k: (len(words[k]), -k))
    word = words[i]
    if len(word) >= 4:
        for j in range(1, len(word) - 2):
            if word[j].lower() != word[j + 1].lower():
                words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
                return " ".join(words)
    vowels = [k for k, ch in enumerate(word) if ch in "aeiouAEIOU"]
    if vowels:
        k = vowels[-1]
        words[i] = word[:k] + word[k].translate(_VOWEL_SHIFT) + word[k + 1 :]
    elif word:
        k = len(word) - 1
        words[i] = word[:k] + ("x" if word[k].lower() != "x" else "z")
    else:  # text was empty or only spaces: nothing can be contained but the empty string
        return text + "x"
    return " ".join(words)


@lru_cache(maxsize=1)
def _inclusion_lookup():  # -> Callable[[str], list[str]] | None
    try:
        import simple_icd_10_cm as sicd
    except ImportError:  # optional: descriptions alone still give several forms
        return None

    def lookup(body: str) -> list[str]:
        if not sicd.is_valid_item(body):
            return []
        return [str(t) for t in sicd.get_inclusion_term(body)]

    return lookup


def inclusion_terms(code: str) -> list[str]:
    """simple_icd_10_cm inclusion terms of an ``ICD10CM//`` code, "NOS" removed ([] otherwise)."""
    vocab, _, body = code.partition("//")
    lookup = _inclusion_lookup()
    if vocab != "ICD10CM" or lookup is None:
        return []
    return [_clean(re.sub(r"\bNOS\b", "", t)) for t in lookup(body)]


def surface_forms(description: str, synonyms: Sequence[str] = ()) -> tuple[str, ...]:
    """Distinct ways to mention a code with this ``description``, none containing it (see module doc).

    Never empty: the typo fallback is used when no rewriting avoids the description.
    """
    target = normalise(description)
    candidates = [*synonyms, *LAY_SYNONYMS.get(target, ()), *_rewrites(description)]
    candidates += [_reword(c) for c in [*candidates, description]]
    candidates += [_abbreviate(c) for c in [*candidates, description]]
    seen: set[str] = set()
    forms: list[str] = []
    for text in candidates:
        key = normalise(text)
        if not key or target in key or key in seen:
            continue
        seen.add(key)
        forms.append(_case(text))
    if not forms:
        forms.append(typo(description.lower()))
    return tuple(forms)


def draw_mention(forms: Sequence[str], description: str, rng: np.random.Generator) -> str:
    """One mention: a random surface form, sometimes with one droppable word removed."""
    text = forms[int(rng.integers(len(forms)))]
    words = text.split(" ")
    droppable = [i for i, w in enumerate(words) if w.lower().strip(",") in DROPPABLE]
    if len(words) >= 3 and droppable and rng.random() < 0.3:
        del words[droppable[int(rng.integers(len(droppable)))]]
        shorter = _clean(" ".join(words))
        if shorter and normalise(description) not in normalise(shorter):
            text = shorter
    return text


@lru_cache(maxsize=65536)
def _description_pattern(description: str) -> re.Pattern[str]:
    """Case-insensitive pattern of ``description`` allowing any whitespace between its words."""
    return re.compile(r"\s+".join(re.escape(w) for w in description.split()), re.I)


def scrub(text: str, descriptions: Sequence[str]) -> str:
    """``text`` with every case-insensitive occurrence of any of ``descriptions`` replaced by a typo.

    Raises RuntimeError if some description survives (cannot happen: a typo never contains the
    description; the loop guards against a replacement recreating another one).
    """
    for _ in range(5):
        hit = False
        for description in descriptions:
            pattern = _description_pattern(description)
            if pattern.search(text):
                hit = True
                text = pattern.sub(lambda m: typo(m.group(0)), text)
        if not hit:
            return text
    raise RuntimeError("a label description is still present after scrubbing the synthetic note.")
