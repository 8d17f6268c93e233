"""An optional step progress bar (rich) for the long evaluation passes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def steps(enabled: bool, total: int, description: str = "evaluating") -> Iterator[Callable[[str], None]]:
    """Yield ``advance(label)``; shows a rich progress bar of ``total`` steps when enabled."""
    if not enabled:
        yield lambda label: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task(description, total=total, step="")

        def advance(label: str) -> None:
            bar.update(task, advance=1, step=label)

        yield advance
