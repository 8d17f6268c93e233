"""Atomic writes: a temp file (or directory) beside the target, then ``os.replace``.

An interrupted process never leaves a half-written file or output directory that looks whole.
Also the checks every command that writes an output directory runs first, and the one parquet
writer (deterministic bytes), and :func:`cache_home`, where files that can be rebuilt are kept.
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
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import polars as pl

PARQUET_COMPRESSION: Final = "zstd"
CACHE_ENV: Final = "CLINCODE_CACHE_DIR"


def cache_home() -> Path:
    """Folder of files clincode derives and can rebuild (e.g. the ICD-10-CM table): ``$CLINCODE_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/clincode``, else ``~/.cache/clincode``. Not created here.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "clincode"


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


def read_text_file(path: str | os.PathLike[str], what: str = "a text file") -> str:
    """The UTF-8 text of ``path``; a missing, unreadable or non-UTF-8 file raises one sentence naming it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IsADirectoryError: ``path`` is a directory.
        ValueError: ``path`` is not UTF-8 text, or cannot be read (permissions, I/O error).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected {what}.")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; expected {what}.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); expected {what} encoded as UTF-8."
        ) from None
    except OSError as exc:
        raise ValueError(f"{path} could not be read ({exc.strerror or exc}); expected {what}.") from None


def read_json(path: str | os.PathLike[str], what: str = "a JSON file") -> Any:
    """Parsed JSON of ``path``; errors name the file (see :func:`read_text_file`)."""
    text = read_text_file(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); expected {what}.") from None


def short_error(exc: BaseException) -> str:
    """``Type: first line of the message`` of a library error, for a one-line report."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0].strip() if text else ''}".rstrip(": ")


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
    check_writable_dir(parent, f"the output {out} is created there")


def check_writable_dir(path: Path, why: str = "") -> None:
    """PermissionError naming ``path`` unless a file can be created in the directory ``path``.

    Probes by creating (and removing) a temp file, so read-only file systems and ACLs are caught
    too, before any work starts.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".clincode-write-probe-", dir=path)
    except OSError as exc:
        reason = f" ({why})" if why else ""
        raise PermissionError(f"cannot write in {path}{reason}: {exc.strerror or exc}.") from None
    os.close(fd)
    os.unlink(probe)


def check_free_space(path: Path, needed: int, what: str) -> None:
    """OSError naming ``path`` and both numbers when its file system has less than ``needed`` bytes free."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise OSError(
            f"{what} needs about {_bytes(needed)} but {probe.absolute()} has only {_bytes(free)} free; "
            "free some space or choose a smaller size."
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


STAGING_MARK = ".tmp-"


def clean_stale_staging(out: Path, notice: Callable[[str], Any] | None = None) -> list[Path]:
    """Remove temp directories of ``out`` left by a killed process (``.NAME.tmp-PID-*`` / ``.NAME.old-PID-*``
    whose process is gone); each removal is reported through ``notice`` (default: stderr).
    """
    import sys

    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for leftover in out.parent.glob(f".{glob_escape(out.name)}.{kind}-*"):
            pid_text = leftover.name[len(f".{out.name}.{kind}-") :].split("-", 1)[0]
            if not pid_text.isdigit() or _process_alive(int(pid_text)):
                continue
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
            message = f"removed {leftover}, left behind by an interrupted run (process {pid_text})"
            (notice or (lambda m: print(m, file=sys.stderr)))(message)
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staging_dir(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temp dir next to ``out``; on success it replaces ``out``, on error it is removed.

    A crash never leaves a half-written output at ``out``: readers see the old directory (or none)
    until the final rename. A process killed outright (SIGKILL, power loss) cannot remove its temp
    dir; the next staging of the same ``out`` removes it and says so (:func:`clean_stale_staging`).
    """
    clean_stale_staging(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.mkdir(tmp)
    except OSError as exc:
        raise PermissionError(f"cannot write the output {out}: {exc.strerror or exc}.") from None
    try:
        yield tmp
        check_output_target(out, overwrite)  # the target may have changed while we were writing
        replace_dir(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        name = str(exc.filename or "")
        if name.startswith(str(tmp)):  # name the user's path, not the temp dir
            inside = name[len(str(tmp)) :].lstrip(os.sep)
            target = out / inside if inside else out
            raise OSError(exc.errno, f"writing the output {out} failed at {target}: {exc.strerror or exc}") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Deterministic parquet write (same frame -> same bytes)."""
    df.write_parquet(path, compression=PARQUET_COMPRESSION, statistics=True)
