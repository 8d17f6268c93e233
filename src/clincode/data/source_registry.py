"""What every registered data source declares, and the one check of the options given to it.

EHR sources (:data:`clincode.data.sources.EHR_SOURCES`) and notes sources
(:data:`clincode.data.notes.sources.NOTE_SOURCES`) are :class:`clincode.registry.Registry`
entries built on :class:`Source`: a name, a one-line description, a reader and the names of the
reader's options. Adding a source is one :func:`register_source` call. An option that a source
does not accept is rejected by name when it is set (differs from its default), never silently
ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clincode.registry import Registry

R = TypeVar("R")
S = TypeVar("S", bound="Source[Any]")


@dataclass(frozen=True, kw_only=True)
class Source(Generic[R]):
    """One registered source.

    Attributes:
        name: the registry key (``--source`` value).
        description: one line: what the source is and what PATH must hold.
        read: the reader; called with the path (plus what the registry's caller adds) and, as
            keyword arguments, exactly the options in ``options``.
        options: names of the caller's options this source accepts.
        note: why the other options do not apply (shown when one is rejected), may be empty.
    """

    name: str
    description: str
    read: Callable[..., R]
    options: tuple[str, ...] = ()
    note: str = ""


def register_source(registry: Registry[S], source: S) -> S:
    """Add ``source`` to ``registry`` under ``source.name`` (a duplicate name raises ValueError)."""
    return registry.register(source.name)(source)


def keyword_defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """Defaults of ``fn``'s keyword-only parameters (what "not set" means for an option)."""
    params = inspect.signature(fn).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def option_flag(name: str) -> str:
    """The command-line spelling of option ``name`` (``icd_version`` -> ``--icd-version``)."""
    return "--" + name.replace("_", "-")


def select_options(
    registry: Registry[S], name: str, values: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[S, dict[str, Any]]:
    """The source ``name`` and the options of ``values`` it accepts (to pass to its reader).

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the known sources).
        ValueError: an option the source does not accept is set (differs from ``defaults``); the
            message names it and the sources it applies to.
    """
    source = registry.get(name)
    rejected = [k for k, v in values.items() if k not in source.options and v != defaults[k]]
    if rejected:
        raise ValueError(_rejection(registry, source, rejected))
    return source, {k: values[k] for k in source.options}


def _rejection(registry: Registry[S], source: S, rejected: Sequence[str]) -> str:
    one = len(rejected) == 1
    text = f"{_and([option_flag(k) for k in rejected])} {'does' if one else 'do'} not apply to {source.name}"
    if source.note:
        text += f" ({source.note})"
    users = [n for n, s in registry.items() if all(k in s.options for k in rejected)]
    if users:
        text += f"; {'it applies' if one else 'they apply'} to {_and(users)}"
    return text + "."


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
