"""Multi-process launches (torchrun, SLURM srun, Lightning's own DDP launcher) before
``torch.distributed`` is initialised: which process builds shared files, and waiting for them.

torchrun and srun start every rank at once, and every rank runs the whole command, so without
care each would build the prepared-task cache at the same time (N times the memory, racing
renames). The first process (every rank variable the launcher sets is 0) builds; the others wait
for the finished directory, which appears atomically (temp directory, then rename). Lightning's
own launcher starts ranks 1.. only inside ``trainer.fit``, after rank 0 has built the cache.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console

# Global rank (torchrun), task id (srun), node and local rank (torchrun, Lightning's launcher).
RANK_VARIABLES = ("RANK", "SLURM_PROCID", "NODE_RANK", "LOCAL_RANK")


def is_first_process() -> bool:
    """True unless a launcher marked this process as a rank other than the first."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and value != "0":
            return False
    return True


def wait_for_dir(path: Path, console: Console, timeout_s: float = 6 * 3600, poll_s: float = 2.0) -> None:
    """Block until ``path`` exists (built by the first process).

    Raises:
        TimeoutError: it did not appear within ``timeout_s`` seconds.
    """
    start = time.monotonic()
    if not path.exists():
        console.print(f"waiting for the first process to build {path}")
    while not path.exists():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(
                f"{path} did not appear within {timeout_s:.0f} s; expected the first process of this launch to build it "
                "(out_dir must be on a filesystem every node sees)."
            )
        time.sleep(poll_s)


T = TypeVar("T")


def load_shared_cache(cache: Path, load: Callable[[Path], T], console: Console) -> T | None:
    """The prepared task in ``cache``, or None when this process must build it.

    Ranks other than the first wait for the first to build it; a stale or damaged cache is
    reported and rebuilt, never trusted.
    """
    if not cache.is_dir() and not is_first_process():
        wait_for_dir(cache, console)
    if cache.is_dir():
        try:
            return load(cache)
        except Exception as exc:
            console.print(f"[yellow]rebuilding task cache {cache}: {exc}[/yellow]")
    return None
