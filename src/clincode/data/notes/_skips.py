"""The ``on_error`` policy shared by the notes readers: raise at the first bad input, or count and log.

A reader never drops a document or a code silently: with ``on_error="skip"`` every skip is counted
under a short reason (``empty_text``, ``missing_text_file``, ...) that ends up in the result's
report, and logged (the first few messages per reason in full, then only the count).
"""

from __future__ import annotations

import logging
from typing import Literal

from clincode.data.errors import DataError

OnError = Literal["raise", "skip"]
ON_ERROR_CHOICES: tuple[str, ...] = ("raise", "skip")

log = logging.getLogger("clincode.data.notes")

# Enough messages to diagnose a problem without flooding the log on a 50k-document release.
_LOGGED_PER_REASON = 5


def check_on_error(on_error: str) -> OnError:
    """Return ``on_error`` if it is ``"raise"`` or ``"skip"``; ValueError otherwise."""
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error is {on_error!r}; expected one of {', '.join(ON_ERROR_CHOICES)}.")
    return on_error  # type: ignore[return-value]  # checked against ON_ERROR_CHOICES above


class SkipCounter:
    """Apply the ``on_error`` policy and count what was skipped, by reason."""

    def __init__(self, on_error: str, source: str) -> None:
        self.on_error: OnError = check_on_error(on_error)
        self.source = source
        self.counts: dict[str, int] = {}

    def problem(self, reason: str, message: str) -> None:
        """Raise DataError(message) under ``"raise"``; else count one skip under ``reason`` and log it."""
        if self.on_error == "raise":
            raise DataError(f"{message} (pass on_error='skip' to skip and count such inputs instead).")
        n = self.counts.get(reason, 0) + 1
        self.counts[reason] = n
        if n <= _LOGGED_PER_REASON:
            log.warning("%s: skipped (%s): %s", self.source, reason, message)

    def summary(self) -> dict[str, int]:
        """Counts by reason (sorted by reason), logging one summary line if anything was skipped."""
        if self.counts:
            parts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            log.warning("%s: skipped inputs: %s", self.source, parts)
        return dict(sorted(self.counts.items()))
