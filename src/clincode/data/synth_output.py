"""Atomic creation of the cohort directory: build everything in a sibling temp dir, then rename."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clincode.io import replace_dir


def check_output_target(out: Path, overwrite: bool) -> None:
    """Fail early (before any work) if ``out`` cannot become the cohort directory.

    Raises:
        FileNotFoundError: the parent directory does not exist.
        NotADirectoryError: ``out`` or its parent exists but is not a directory.
        FileExistsError: ``out`` is a non-empty directory and ``overwrite`` is False.
    """
    parent = out.parent
    if not parent.exists():
        raise FileNotFoundError(f"{parent} does not exist; create the parent directory of the output {out} first.")
    if not parent.is_dir():
        raise NotADirectoryError(f"{parent} is a file; the output {out} needs a directory as its parent.")
    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"{out} exists and is a file; the synthetic cohort needs a directory path.")
        if any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it.")


@contextmanager
def staging_dir(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temp dir next to ``out``; on success it replaces ``out``, on error it is removed.

    A crash never leaves a half-written cohort at ``out``: readers see the old directory (or none)
    until the final rename.
    """
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(tmp)
    try:
        yield tmp
        _publish(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, out: Path, overwrite: bool) -> None:
    check_output_target(out, overwrite)  # the target may have changed while we were generating
    replace_dir(tmp, out)
