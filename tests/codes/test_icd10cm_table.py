"""The cached ICD-10-CM table gives simple_icd_10_cm's answers, and a warm cache never imports the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import simple_icd_10_cm as sicd

from clincode.codes import _icd10cm_table as tbl
from clincode.codes._icd10cm_table import FORMAT, PACKAGE, Icd10cmTable, build_table, icd10cm_table, table_path
from clincode.io import CACHE_ENV, cache_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table() -> Icd10cmTable:
    return build_table()


def _answers(fn, code: str):  # the value, or the error's type and message
    try:
        return fn(code)
    except ValueError as exc:
        return (type(exc), str(exc))


def test_every_item_answers_as_simple_icd_10_cm(table: Icd10cmTable) -> None:
    all_codes = sicd.get_all_codes(True)
    assert table.get_all_codes(True) == all_codes
    for code in dict.fromkeys(all_codes):
        assert table.is_valid_item(code), code
        assert table.get_description(code) == sicd.get_description(code), code
        assert table.get_parent(code) == sicd.get_parent(code), code
        assert table.get_children(code) == sicd.get_children(code), code
        assert table.is_leaf(code) == sicd.is_leaf(code), code
        assert table.is_chapter_or_block(code) == sicd.is_chapter_or_block(code), code


@pytest.mark.parametrize("code", ["E119", "E11.9", "E11", "S72001A", "S72.001A", "B99", "A00-A09", "4", "E11.", "E1",
                                  "", "ZZZ", "E11.99999", "e11.9", "I30-I5A", "X58.XXX"])
def test_undotted_unknown_and_odd_items_answer_as_simple_icd_10_cm(table: Icd10cmTable, code: str) -> None:
    assert table.is_valid_item(code) == sicd.is_valid_item(code)
    for name in ("get_description", "get_parent", "get_children", "is_leaf"):
        assert _answers(getattr(table, name), code) == _answers(getattr(sicd, name), code), name
    assert table.is_chapter_or_block(code) == sicd.is_chapter_or_block(code)


def _small_table() -> Icd10cmTable:
    return Icd10cmTable(names=["1", "A00-A09", "A00"], descriptions=["chapter", "block", "cholera"],
                        parents=["", "1", "A00-A09"], children=["A00-A09", "A00", ""], chapter_or_block="110",
                        all_codes="1\nA00-A09\nA00")


def test_first_use_writes_the_table_named_by_version_then_reads_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_home() == tmp_path
    built: list[int] = []
    monkeypatch.setattr(tbl, "build_table", lambda: built.append(1) or _small_table())
    icd10cm_table.cache_clear()
    try:
        first = icd10cm_table()
        path = table_path(tbl.package_version())
        assert path.parent == tmp_path / "codes" and tbl.package_version() in path.name and f"v{FORMAT}" in path.name
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left beside it
        icd10cm_table.cache_clear()
        second = icd10cm_table()
        assert built == [1] and second is not first
        assert second.columns() == first.columns() and second.get_children("1") == ["A00-A09"]
        data = json.loads(path.read_text(encoding="utf-8"))
        for damaged in ("{not json", json.dumps({**data, "version": "0.0"}), json.dumps({**data, "format": FORMAT + 1}),
                        json.dumps({**data, "parents": ["", "1"]})):
            path.write_text(damaged, encoding="utf-8")
            icd10cm_table.cache_clear()
            assert icd10cm_table().columns() == first.columns()
            assert json.loads(path.read_text(encoding="utf-8"))["package"] == PACKAGE  # rebuilt and rewritten
        assert len(built) == 5
    finally:
        icd10cm_table.cache_clear()


def test_an_unwritable_cache_still_gives_the_table(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(CACHE_ENV, str(blocker))  # a file where the folder should be
    monkeypatch.setattr(tbl, "build_table", _small_table)
    icd10cm_table.cache_clear()
    try:
        assert icd10cm_table().get_description("A00") == "cholera"
    finally:
        icd10cm_table.cache_clear()


def test_cache_home_follows_xdg_then_home(monkeypatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/x")
    assert cache_home() == Path("/x/clincode")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_home() == Path.home() / ".cache" / "clincode"


def test_explain_path_with_a_warm_cache_does_not_import_simple_icd_10_cm(table: Icd10cmTable, tmp_path) -> None:
    # the dictionary coder's hierarchy and the label descriptions read the cached table only
    version = tbl.package_version()
    tbl._write(tmp_path / "codes" / table_path(version).name, version, table)
    code = (
        "import sys\n"
        "import clincode.coders, clincode.coders.terminology, clincode.codes.icd10\n"
        "from clincode.coders.hierarchy import related_codes\n"
        "from clincode.codes import describe\n"
        "assert ('ICD10CM//I48.91', 'sibling') in related_codes('ICD10CM//I48.92')\n"
        "assert describe('ICD10CM//E11.9') == 'Type 2 diabetes mellitus without complications'\n"
        "assert 'simple_icd_10_cm' not in sys.modules, 'the warm cache imported simple_icd_10_cm'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), CACHE_ENV: str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
