"""ICD-10-CM neighbours of a code (parent, siblings, children) and label spaces extended by them.

Codes are ``ICD10CM//`` codes as CodiEsp's reader spells them (``ICD10CM//I48.92``). The relations
come from the ICD-10-CM release of simple_icd_10_cm (offline), read through its cached table
(:mod:`clincode.codes._icd10cm_table`, so importing this module does not parse the release):

- ``parent``: the code one level up, if it is a code (a 3-character category's parent is a
  block such as ``I30-I5A``, which is no code and is left out);
- ``sibling``: the parent's other children;
- ``child``: the code's own children (``S72.001`` -> ``S72.001A`` ...).

Other vocabularies (CodiEsp-P's ICD-10-PCS codes) and codes unknown to the release have no
relations. The relations feed the dictionary coder's hierarchy back-off and the ranker's
hierarchy candidates (:mod:`clincode.coders.mention_coder`, :mod:`clincode.coders.ranker`),
where a code never seen in training can be proposed because a related code was matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np

from clincode.codes._icd10cm_table import icd10cm_table

PREFIX = "ICD10CM//"
RELATIONS: tuple[str, ...] = ("parent", "sibling", "child")


def _is_code(item: str) -> bool:
    return "-" not in item and icd10cm_table().is_valid_item(item)


@cache
def related_codes(code: str) -> tuple[tuple[str, str], ...]:
    """``(code, relation)`` pairs of ``code``'s ICD-10-CM parent, siblings and children (each code once)."""
    if not code.startswith(PREFIX):
        return ()
    body = code[len(PREFIX):]
    if not _is_code(body):
        return ()
    table = icd10cm_table()
    out: dict[str, str] = {}
    parent = table.get_parent(body)
    if parent and _is_code(parent):
        out[parent] = "parent"
        for sibling in table.get_children(parent):
            if sibling != body:
                out.setdefault(sibling, "sibling")
    for child in table.get_children(body):
        out.setdefault(child, "child")
    return tuple((PREFIX + c, r) for c, r in out.items())


def hierarchy_extension(codes: Iterable[str]) -> list[str]:
    """Codes related to some code of ``codes`` and not among them, sorted (the extended labels)."""
    have = set(codes)
    return sorted({r for c in have for r, _ in related_codes(c)} - have)


class LabelHierarchy:
    """The relations of :func:`related_codes` restricted to a label space, as label indices.

    ``related[i]`` holds the indices of label ``i``'s related labels and ``relation[i]`` their
    relation (an index into :data:`RELATIONS`), both int64 arrays.
    """

    def __init__(self, label_codes: Sequence[str]) -> None:
        index = {c: i for i, c in enumerate(label_codes)}
        rel_id = {r: j for j, r in enumerate(RELATIONS)}
        self.related: list[np.ndarray] = []
        self.relation: list[np.ndarray] = []
        for code in label_codes:
            pairs = [(index[c], rel_id[r]) for c, r in related_codes(code) if c in index]
            self.related.append(np.array([p[0] for p in pairs], dtype=np.int64))
            self.relation.append(np.array([p[1] for p in pairs], dtype=np.int64))

    def backoff(self, scores: dict[int, float]) -> dict[int, tuple[float, int, int]]:
        """Label -> (best source score, number of sources, relation of the best source) over
        the labels related to some label of ``scores`` (label index -> match score).
        """
        out: dict[int, tuple[float, int, int]] = {}
        for src, s in scores.items():
            for r, rel in zip(self.related[src], self.relation[src], strict=True):
                r = int(r)
                best, n, best_rel = out.get(r, (-1.0, 0, 0))
                if s > best:
                    best, best_rel = s, int(rel)
                out[r] = (best, n + 1, best_rel)
        return out
