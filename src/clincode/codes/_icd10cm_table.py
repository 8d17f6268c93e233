"""simple_icd_10_cm's ICD-10-CM tree as a compact table, read out of the package once per version.

simple_icd_10_cm parses its whole XML release when it is imported (about 3 s on two cores), which
dominated short commands such as ``clincode explain``. :func:`icd10cm_table` answers the queries
the toolkit asks of it (validity, description, parent, children, leaf, chapter-or-block, every
code in tabular order) from a table taken through the package's own public functions, so every
answer is the package's answer (a test compares them code by code). The first use imports the
package, builds the table and writes it as JSON under :func:`clincode.io.cache_home` (``codes/``),
named by the package's version and :data:`FORMAT` and written atomically; later processes read
that file (a fraction of a second) and never import the package. A missing, damaged or foreign
file is rebuilt; if the cache cannot be written, the table is kept in memory only.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from clincode.io import atomic_path, cache_home

PACKAGE = "simple_icd_10_cm"
FORMAT = 1  # bump when the file's layout changes


class Icd10cmTable:
    """The package's tree: one row per distinct item (chapters, blocks, categories, subcategories).

    Methods have the names and the answers of simple_icd_10_cm's functions (with their default
    ``prioritize_blocks=False``); an item may be given dotted or not (``E11.9`` / ``E119``).
    """

    def __init__(self, names: list[str], descriptions: list[str], parents: list[str], children: list[str],
                 chapter_or_block: str, all_codes: str) -> None:
        if not len(names) == len(descriptions) == len(parents) == len(children) == len(chapter_or_block):
            raise ValueError("the ICD-10-CM table's columns differ in length")
        self._row = {name: i for i, name in enumerate(names)}
        self._descriptions = descriptions
        self._parents = parents
        self._children = children  # each row's children, space-separated (codes hold no space)
        self._chapter_or_block = chapter_or_block  # one "1" / "0" per row
        self._all_codes = all_codes  # every tree node's name in tabular order, newline-separated

    def _key(self, code: str) -> str | None:
        # simple_icd_10_cm's lookup: an undotted item whose dotted form exists means the dotted one
        if len(code) >= 4 and code[3] != ".":
            dotted = f"{code[:3]}.{code[3:]}"
            if dotted in self._row:
                return dotted
        return code if code in self._row else None

    def _index(self, code: str) -> int:
        key = self._key(code)
        if key is None:
            raise ValueError(f'The code "{code}" does not exist.')
        return self._row[key]

    def is_valid_item(self, code: str) -> bool:
        return self._key(code) is not None

    def get_description(self, code: str) -> str:
        return self._descriptions[self._index(code)]

    def get_parent(self, code: str) -> str:
        """The parent's name, ``""`` for a chapter."""
        return self._parents[self._index(code)]

    def get_children(self, code: str) -> list[str]:
        text = self._children[self._index(code)]
        return text.split(" ") if text else []

    def is_leaf(self, code: str) -> bool:
        return not self._children[self._index(code)]

    def is_chapter_or_block(self, code: str) -> bool:
        key = self._key(code)
        return key is not None and self._chapter_or_block[self._row[key]] == "1"

    def get_all_codes(self, with_dots: bool = True) -> list[str]:
        """Every item in tabular order (an item that is both a block and a category appears twice)."""
        if not with_dots:
            raise NotImplementedError("the ICD-10-CM table lists dotted codes only")
        return self._all_codes.split("\n")

    def columns(self) -> dict[str, Any]:
        return {
            "names": list(self._row),
            "descriptions": self._descriptions,
            "parents": self._parents,
            "children": self._children,
            "chapter_or_block": self._chapter_or_block,
            "all_codes": self._all_codes,
        }


def package_version() -> str:
    """The installed simple_icd_10_cm's version (PackageNotFoundError if it is not installed)."""
    from importlib.metadata import version

    return version(PACKAGE)


def table_path(version: str) -> Path:
    return cache_home() / "codes" / f"{PACKAGE}-{version}.table-v{FORMAT}.json"


def build_table() -> Icd10cmTable:
    """The table read out of the imported package (seconds: the import parses the release)."""
    import simple_icd_10_cm as sicd

    all_codes = sicd.get_all_codes(True)
    names = list(dict.fromkeys(all_codes))
    children = [sicd.get_children(c) for c in names]
    if any(" " in c or "\n" in c for c in all_codes):
        raise ValueError(f"{PACKAGE} has an item name with a space or a newline; the table cannot hold it")
    return Icd10cmTable(
        names=names,
        descriptions=[sicd.get_description(c) for c in names],
        parents=[sicd.get_parent(c) for c in names],
        children=[" ".join(c) for c in children],
        chapter_or_block="".join("1" if sicd.is_chapter_or_block(c) else "0" for c in names),
        all_codes="\n".join(all_codes),
    )


def _read(path: Path, version: str) -> Icd10cmTable | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("package") != PACKAGE or data.get("version") != version or data.get("format") != FORMAT:
            return None
        return Icd10cmTable(**{k: data[k] for k in ("names", "descriptions", "parents", "children",
                                                    "chapter_or_block", "all_codes")})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):  # absent, damaged or foreign: rebuild
        return None


def _write(path: Path, version: str, table: Icd10cmTable) -> None:
    data = {"package": PACKAGE, "version": version, "format": FORMAT, **table.columns()}
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    except OSError:  # a read-only or full cache: the table still serves this process
        pass


@lru_cache(maxsize=1)
def icd10cm_table() -> Icd10cmTable:
    """The installed simple_icd_10_cm's table: from the cache, else built from the package and cached."""
    version = package_version()
    path = table_path(version)
    table = _read(path, version)
    if table is None:
        table = build_table()
        _write(path, version, table)
    return table
