"""The shared Registry: unknown names, the one constructor-parameter check and the one description."""

from __future__ import annotations

import pytest

from clincode.coders.registry import CODERS
from clincode.forecasters import FORECASTERS
from clincode.losses import LOSSES
from clincode.models import MODELS
from clincode.registry import ParamsError, Registry, UnknownNameError
from clincode.tasks import TASKS


class _Thing:
    """A thing to register.

    More text.
    """

    def __init__(self, num_labels: int, alpha: float, beta: str = "b", *args: int, **kwargs: int) -> None:
        pass


class _Undocumented:
    def __init__(self) -> None:
        pass


@pytest.fixture
def registry() -> Registry[type]:
    reg: Registry[type] = Registry("thing", supplied=("num_labels",))
    reg.register("thing")(_Thing)
    reg.register("bare")(_Undocumented)
    return reg


def test_params_in_signature_order_without_supplied_and_variadic(registry: Registry[type]) -> None:
    assert registry.params("thing") == {"alpha": None, "beta": "b"}
    assert registry.params("bare") == {}


def test_check_params_returns_the_entry_and_raises_one_error_for_unknown_names(registry: Registry[type]) -> None:
    assert registry.check_params("thing", {"alpha": 1.0}) is _Thing
    with pytest.raises(ParamsError, match=r"thing 'thing' got unknown parameter\(s\) 'gama', 'num_labels'; accepted: alpha, beta$"):
        registry.check_params("thing", {"gama": 1, "num_labels": 3})
    with pytest.raises(ParamsError, match=r"accepted: extra, alpha, beta$"):
        registry.check_params("thing", {"x": 1}, also=("extra",))
    assert registry.check_params("thing", {"extra": 1}, also=("extra",)) is _Thing
    with pytest.raises(ParamsError, match=r"accepted: \(none\)"):
        registry.check_params("bare", {"x": 1})
    with pytest.raises(UnknownNameError, match="known: bare, thing"):
        registry.check_params("thin", {})


def test_params_error_is_both_a_type_error_and_a_value_error(registry: Registry[type]) -> None:
    assert issubclass(ParamsError, TypeError) and issubclass(ParamsError, ValueError)
    for caught in (TypeError, ValueError):
        with pytest.raises(caught):
            registry.check_params("thing", {"gama": 1})


def test_describe_lists_every_entry_with_its_own_first_docstring_line(registry: Registry[type]) -> None:
    assert registry.describe(prefix="[p] ") == [
        {"name": "bare", "summary": "[p] ", "params": {}},
        {"name": "thing", "summary": "[p] A thing to register.", "params": {"alpha": None, "beta": "b"}},
    ]


@pytest.mark.parametrize("reg", [LOSSES, MODELS, CODERS, FORECASTERS, TASKS], ids=lambda r: r.kind)
def test_every_builder_registry_raises_the_one_error(reg: Registry[type]) -> None:
    name = reg.names()[0]
    with pytest.raises(ParamsError, match=rf"{reg.kind} {name!r} got unknown parameter\(s\) 'no_such_param'"):
        reg.check_params(name, {"no_such_param": 1})
    assert [d["name"] for d in reg.describe()] == reg.names()
