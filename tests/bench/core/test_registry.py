import sys
import types
from importlib import metadata

import pytest

from bench.core.registry import DATASETS, METHODS, METRICS, REGISTRIES
from bench.core.registry import Registry, UnknownNameError


def test_register_object_and_lazy_target():
    reg = Registry("thing", "frbench.test-none")
    reg.register("direct", dict, "a dict")
    reg.register("lazy", "collections:OrderedDict", "an ordered dict")
    assert reg.names() == ["direct", "lazy"]
    assert reg.create("direct", a=1) == {"a": 1}
    from collections import OrderedDict
    assert reg.get("lazy") is OrderedDict
    assert reg.describe("lazy") == "an ordered dict"


def test_decorator_and_docstring_description():
    reg = Registry("thing", "frbench.test-none")

    @reg.register("Widget")
    class Widget:
        """Makes widgets.

        More text."""

    assert "widget" in reg  # names are case-insensitive
    assert reg.describe("WIDGET") == "Makes widgets."
    with pytest.raises(ValueError, match="already registered"):
        reg.register("widget", dict)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as info:
        METHODS.get("bicubc")
    message = str(info.value)
    assert "Did you mean 'bicubic'" in message
    assert "Known methods" in message and "bilinear" in message
    with pytest.raises(UnknownNameError, match="Did you mean 'utkface'"):
        DATASETS.get("utkfac")
    with pytest.raises(UnknownNameError, match="Did you mean 'psnr'"):
        METRICS.get("psrn")


def test_builtins_come_from_entry_points_and_describe_themselves():
    """Built-ins are registered like plug-ins (pyproject entry points, origin frbench) and their description
    is the component's own (nothing listed twice)."""
    for name, registry in REGISTRIES.items():
        assert registry.names(), name
        for entry_name in registry.names():
            entry = registry.entry(entry_name)
            assert entry.origin == "frbench", (name, entry_name)
            component = registry.get(entry_name)
            own = getattr(component, "description", None) or component.__doc__.strip().splitlines()[0]
            assert registry.describe(entry_name) == own and own, f"{name}:{entry_name}"


def test_a_component_can_be_registered_for_a_while():
    with METHODS.temporarily("bicubic-copy", dict, "a copy"):
        assert METHODS.describe("bicubic-copy") == "a copy"
    assert "bicubic-copy" not in METHODS


def test_entry_points_are_discovered(monkeypatch):
    module = types.ModuleType("frbench_fake_plugin")

    class PluginMethod:
        """A plug-in restoration method."""

    module.PluginMethod = PluginMethod
    monkeypatch.setitem(sys.modules, "frbench_fake_plugin", module)
    ep = metadata.EntryPoint(name="plugin-method", value="frbench_fake_plugin:PluginMethod", group="frbench.methods")

    def fake_entry_points(group=None, **_):
        return [ep] if group == "frbench.methods" else []

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    reg = Registry("method", "frbench.methods")
    reg.register("bicubic", dict, "built-in")
    assert reg.names() == ["bicubic", "plugin-method"]
    assert reg.get("plugin-method") is PluginMethod
    assert reg.describe("plugin-method") == "A plug-in restoration method."
