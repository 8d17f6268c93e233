"""Tiny name -> object registries shared by losses, models and data sources.

Duplicate names raise; an unknown name raises a ``KeyError`` that lists the known names and
suggests the closest one. For registries of classes, :meth:`Registry.check_params` is the one
check of constructor parameters (unknown names raise :class:`ParamsError`) and
:meth:`Registry.describe` the one description (``clincode list``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class ParamsError(TypeError, ValueError):
    """Unknown constructor parameters for a registered name; the message names them and the accepted ones.

    Both a TypeError (what a call with an unexpected keyword raises) and a ValueError (a bad
    config value), so callers catching either keep working.
    """


class Registry(Generic[T]):
    """A named collection of builders (classes or functions).

    ``supplied`` names the constructor arguments the builder fills in itself (e.g. ``num_labels``
    from the data): a config may not set them, and they are neither accepted nor described.
    ``schema``: for entries configured through a pydantic model of their own rather than their
    constructor (a task's ``data.params``), entry -> that model class; :meth:`params` then lists
    its fields.
    """

    def __init__(self, kind: str, *, supplied: Sequence[str] = (), schema: Callable[[T], Any] | None = None) -> None:
        self.kind = kind
        self.supplied = tuple(supplied)
        self.schema = schema
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            close = difflib.get_close_matches(name, list(self._items), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}.{hint}") from None

    def params(self, name: str) -> dict[str, Any]:
        """The configurable constructor parameters of ``name`` in signature order, with their defaults
        (None for a required one); ``self``, ``*args``, ``**kwargs`` and the supplied ones left out.
        With a ``schema``: the fields of the entry's schema in order, with their defaults.
        """
        obj: Any = self.get(name)
        if self.schema is not None:  # a pydantic model: its fields, required ones as None
            fields = self.schema(obj).model_fields
            return {k: (None if f.is_required() else f.get_default(call_default_factory=True)) for k, f in fields.items()}
        target = obj.__init__ if inspect.isclass(obj) else obj  # a class: its constructor's parameters
        return {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in inspect.signature(target).parameters.values()
            if p.name != "self" and p.name not in self.supplied and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def check_params(self, name: str, params: Mapping[str, Any], *, also: Sequence[str] = ()) -> T:
        """The entry of ``name``; a :class:`ParamsError` naming the parameters its constructor does not
        accept, and the accepted ones (``also``: names the caller handles itself, listed first).
        """
        obj = self.get(name)
        accepted = [*also, *self.params(name)]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ParamsError(
                f"{self.kind} {name!r} got unknown parameter(s) {', '.join(map(repr, unknown))}; "
                f"accepted: {', '.join(accepted) or '(none)'}"
            )
        return obj

    def describe(self, *, prefix: str = "") -> list[dict[str, Any]]:
        """One dict per entry, by name: name, summary (first line of its own docstring, after
        ``prefix``) and params (:meth:`params`: name -> default).
        """
        out = []
        for name, obj in self.items():
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            out.append({"name": name, "summary": prefix + (doc[0].strip() if doc else ""), "params": self.params(name)})
        return out

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
