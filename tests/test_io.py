"""Output staging (clincode.io): free-space check, interrupted staging directories cleaned up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clincode.io import check_free_space, clean_stale_staging, staging_dir


def test_free_space_error_names_path_and_numbers(tmp_path: Path) -> None:
    with pytest.raises(OSError, match=rf"needs about .* but {tmp_path}.* has only .* free"):
        check_free_space(tmp_path, 1 << 60, "a test output")


def test_stale_staging_dirs_are_removed_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "cohort"
    stale = tmp_path / ".cohort.tmp-999999999-abcd"  # no such process
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x")
    live = tmp_path / f".cohort.tmp-{os.getpid()}-beef"  # this process: kept
    live.mkdir()
    notes: list[str] = []
    assert clean_stale_staging(out, notes.append) == [stale]
    assert not stale.exists() and live.exists()
    assert "interrupted" in notes[0] and str(stale) in notes[0]
    live.rmdir()
    with staging_dir(out, overwrite=False) as tmp:
        (tmp / "f").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]
