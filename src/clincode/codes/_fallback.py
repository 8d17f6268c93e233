"""Map codes of newer ICD-10-CM releases onto an older table by their prefixes.

The HCUP tables are FY2019; simple_icd_10_cm is a later release in which some codes were split
(``N18.3`` -> ``N18.30``, ``N18.31``, ``N18.32``). [ours] A code missing from a table takes the
value of its longest prefix that the table either lists itself or whose listed descendants all
agree on one value (a code's own descendants count the same way); no agreement -> None.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

V = TypeVar("V", bound=Hashable)

_AMBIGUOUS = object()


def prefix_consensus(table: Mapping[str, V]) -> dict[str, V]:
    """{prefix: value} for every proper prefix (>= 3 chars) whose table codes agree on one value."""
    seen: dict[str, object] = {}
    for code, value in table.items():
        for end in range(3, len(code)):
            prefix = code[:end]
            old = seen.get(prefix, None)
            if old is None:
                seen[prefix] = value
            elif old is not _AMBIGUOUS and old != value:
                seen[prefix] = _AMBIGUOUS
    return {prefix: value for prefix, value in seen.items() if value is not _AMBIGUOUS}  # type: ignore[misc]  # _AMBIGUOUS filtered out


def lookup_with_prefixes(body: str, table: Mapping[str, V], consensus: Mapping[str, V]) -> V | None:
    """``table[body]``, else the longest prefix of ``body`` (itself included) found in ``table`` or
    ``consensus`` (the latter also maps a non-leaf such as ``N18`` whose descendants all agree).
    """
    for end in range(len(body), 2, -1):
        prefix = body[:end]
        if prefix in table:
            return table[prefix]
        if prefix in consensus:
            return consensus[prefix]
    return None
