"""One generic registry for methods, metrics and datasets.

Entries are registered either with the object itself or lazily with a ``"module:attribute"`` string,
so that listing names (``bench list``) imports nothing heavy and no import cycle can form.  Other
installed packages add entries through entry points in the groups ``frbench.methods``,
``frbench.metrics`` and ``frbench.datasets``; the entry-point name is the registered name and the
object's docstring (first line) is its description.  An unknown name raises :class:`UnknownNameError`
with "did you mean" suggestions.
"""
from __future__ import annotations

import contextlib
import difflib
import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is not registered; the message suggests close matches."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(sorted(known)) or "(none)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}")

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


@dataclass
class Entry(Generic[T]):
    name: str
    target: Any  # the object, or a "module:attr" string resolved on first use
    description: str = ""
    origin: str = "frbench"

    def load(self) -> T:
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self.target = obj
        return self.target


def _first_doc_line(obj: Any) -> str:
    doc = getattr(obj, "description", None) or (obj.__doc__ or "")
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


class Registry(Generic[T]):
    """Name -> factory. ``kind`` is used in messages; ``group`` is the entry-point group scanned."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry[T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str, target: Any = None, description: str = "", *, replace: bool = False):
        """Register ``target`` (object or ``"module:attr"``) under ``name``; usable as a decorator."""

        def _do(obj: Any):
            key = name.lower()
            if key in self._entries and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self._entries[key].origin})")
            desc = description or (_first_doc_line(obj) if not isinstance(obj, str) else "")
            self._entries[key] = Entry(key, obj, desc)
            return obj

        if target is None:
            return _do
        return _do(target)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True

        def origin(ep) -> str:
            return ep.dist.name if getattr(ep, "dist", None) is not None else "entry point"

        # frbench's own entry points first: a plug-in cannot silently replace a built-in name
        for ep in sorted(metadata.entry_points(group=self.group), key=lambda ep: origin(ep) != "frbench"):
            key = ep.name.lower()
            if key in self._entries:
                continue
            self._entries[key] = Entry(key, ep.value, "", origin(ep))

    @contextlib.contextmanager
    def temporarily(self, name: str, target: Any, description: str = ""):
        """Register ``target`` under ``name`` for the duration of a ``with`` block (tests, notebooks), then
        restore whatever was registered under that name before."""
        self._load_entry_points()
        key = name.lower()
        previous = self._entries.get(key)
        self.register(name, target, description, replace=True)
        try:
            yield target
        finally:
            if previous is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = previous

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry[T]:
        self._load_entry_points()
        key = name.lower()
        if key not in self._entries:
            raise UnknownNameError(self.kind, name, list(self._entries))
        return self._entries[key]

    def get(self, name: str) -> T:
        """The registered object (usually a class or factory)."""
        return self.entry(name).load()

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the registered factory: ``registry.create("bicubic")``."""
        factory: Callable[..., Any] = self.get(name)
        return factory(*args, **kwargs)

    def build(self, name: str, /, **options: Any) -> Any:  # positional-only: a component may take an option 'name'
        """``create(name, **options)`` with a clear :class:`~bench.core.errors.ConfigurationError` for an option
        the factory does not take (with a "did you mean" suggestion and the list of its options)."""
        import inspect

        from bench.core.errors import ConfigurationError

        factory = self.get(name)
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins without a signature
            parameters = {}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        if parameters and not takes_any:
            known = [n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
            for key in options:
                if key not in known:
                    close = difflib.get_close_matches(key, known, n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    shown = ", ".join(k for k in known if k not in ("root", "device")) or "(none)"
                    raise ConfigurationError(f"{self.kind} {name!r} has no option {key!r}.{hint} "
                                             f"Its options: {shown}")
        return factory(**options)

    def component_class(self, name: str) -> type | None:
        """The class behind a registered name: the registered class, or the class a factory function declares
        it returns (``def psnr_y(...) -> PSNR``), so its declarations can be read without building one."""
        import inspect
        import typing

        obj = self.get(name)
        if inspect.isclass(obj):
            return obj
        try:
            returned = typing.get_type_hints(obj).get("return")
        except Exception:  # unresolvable annotations of a plug-in
            return None
        return returned if inspect.isclass(returned) else None

    def describe(self, name: str) -> str:
        entry = self.entry(name)
        if not entry.description:
            try:
                entry.description = _first_doc_line(entry.load())
            except Exception as exc:  # a broken plug-in must not break `bench list`
                entry.description = f"(cannot load: {exc})"
        return entry.description

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: The four registries of the suite.  Built-in components are registered like plug-ins, by entry points
#: in ``pyproject.toml`` (one line per component: ``name = "module:attribute"``); each component
#: describes itself (``description``, direction, unit, range, licence), so nothing is listed twice.
METHODS: Registry = Registry("method", "frbench.methods")
METRICS: Registry = Registry("metric", "frbench.metrics")
DATASETS: Registry = Registry("dataset", "frbench.datasets")
DEGRADATIONS: Registry = Registry("degradation", "frbench.degradations")

REGISTRIES = {"methods": METHODS, "metrics": METRICS, "datasets": DATASETS, "degradations": DEGRADATIONS}
