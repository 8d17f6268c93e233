"""Atomic writes: a temp file (or directory) beside the target, then ``os.replace``.

An interrupted process never leaves a half-written file or output directory that looks whole.
Also the checks every command that writes an output directory runs first, and the one parquet
writer (deterministic bytes).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

PARQUET_COMPRESSION = "zstd"


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def replace_dir(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Move a finished directory ``src`` into place at ``dst`` (same filesystem).

    An existing ``dst`` is first renamed aside, then removed once ``src`` is in place, so at every
    moment ``dst`` is either the old complete directory or the new complete one.
    """
    import shutil
    import uuid

    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.is_dir() and not any(dst.iterdir()):
        dst.rmdir()
    if not dst.exists():
        os.replace(src, dst)
        return dst
    old = dst.parent / f".{dst.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.replace(dst, old)
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return dst


def check_output_target(out: Path, overwrite: bool) -> None:
    """Fail early (before any work) if ``out`` cannot become the output directory.

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
            raise NotADirectoryError(f"{out} exists and is a file; the output must be a directory path.")
        if any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True (--overwrite) to replace it.")


@contextmanager
def staging_dir(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temp dir next to ``out``; on success it replaces ``out``, on error it is removed.

    A crash never leaves a half-written output at ``out``: readers see the old directory (or none)
    until the final rename.
    """
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(tmp)
    try:
        yield tmp
        check_output_target(out, overwrite)  # the target may have changed while we were writing
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Deterministic parquet write (same frame -> same bytes)."""
    df.write_parquet(path, compression=PARQUET_COMPRESSION, statistics=True)
