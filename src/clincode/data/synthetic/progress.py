"""Progress bar for the synthetic generator (rich on stderr, or a silent stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class ProgressLike(Protocol):
    def add_task(self, description: str, *, total: float | None = ...) -> Any: ...
    def update(self, task_id: Any, *, description: str | None = ...) -> None: ...
    def advance(self, task_id: Any, advance: float = ...) -> None: ...


class _Silent:
    def add_task(self, description: str, *, total: float | None = None) -> int:
        return 0

    def update(self, task_id: Any, *, description: str | None = None) -> None:
        return None

    def advance(self, task_id: Any, advance: float = 1) -> None:
        return None


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressLike]:
    """A rich progress bar counting patients when ``enabled``, else a no-op object."""
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        yield bar
