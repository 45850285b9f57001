"""Cache warming: functions that name the keys worth loading before traffic asks for them.

A *warmer* is registered with :func:`warmer` for a namespace and yields ``(key, fetch)`` pairs
(the seeds' idea: pre-load the most frequent RUCs)::

    from cache_dashboard.warming import warmer

    @warmer("ruc")
    def frequent_rucs():
        for ruc in top_rucs(100):
            yield ruc, lambda ruc=ruc: provider.lookup(ruc)

``manage.py cache_warm`` runs them through :meth:`CacheManager.get` — a key already cached is a
hit and costs nothing upstream; a missing one is fetched once, under the stampede lock, with the
namespace's TTL. Warmers live in a ``warmers`` module of any installed app (found like
``admin.py``) or anywhere imported at startup. A warmer that returns a sized collection (a list)
gets a progress bar with an ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import autodiscover_modules

from cache_dashboard.manager import CacheManager

Pairs = Iterable[tuple[str, Callable[[], Any]]]


@dataclass(frozen=True)
class Warmer:
    """One registered warmer."""

    name: str
    namespace: str | None
    func: Callable[[], Pairs]
    #: The alias it warms (None: CACHE_DASHBOARD["ALIAS"], or the command's --alias).
    alias: str | None = None
    #: TTL of what it loads (None: the namespace's).
    ttl: float | None = None


@dataclass
class Progress:
    """Where a warmer is: how many keys done, of how many (None: unknown), since when."""

    warmer: Warmer
    done: int = 0
    total: int | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None: unknown total or no rate yet)."""
        if self.total is None or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


@dataclass
class Result:
    """What a warmer did: keys fetched (``loaded``), found cached already, failed."""

    warmer: Warmer
    alias: str
    loaded: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0
    #: The first few failures, as "key: error" (never a traceback).
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.loaded + self.cached + self.failed


_registry: dict[str, Warmer] = {}
#: Failures kept in a result's ``errors``.
ERRORS_KEPT = 5


def warmer(namespace: str | None, *, alias: str | None = None, ttl: float | None = None,
           name: str | None = None) -> Callable[[Callable[[], Pairs]], Callable[[], Pairs]]:
    """Register the decorated function as the warmer of ``namespace`` (None: keys without one)."""

    def register(func: Callable[[], Pairs]) -> Callable[[], Pairs]:
        label = name or f"{func.__module__}.{func.__qualname__}"
        _registry[label] = Warmer(name=label, namespace=namespace, func=func, alias=alias, ttl=ttl)
        return func

    return register


def unregister(name: str) -> None:
    """Forget a warmer (tests)."""
    _registry.pop(name, None)


def registered(*, namespace: str | None = None, discover: bool = True) -> list[Warmer]:
    """The registered warmers (of one namespace when given), after importing every installed
    app's ``warmers`` module; in registration order."""
    if discover:
        autodiscover_modules("warmers")
    found = list(_registry.values())
    return [w for w in found if namespace is None or w.namespace == namespace]


def run(found: Warmer, alias: str, *, progress: Callable[[Progress], None] | None = None) -> Result:
    """Run one warmer against ``alias``: each key through ``CacheManager.get`` (a cached key is a
    hit, a missing one fetched once). A fetch that raises is counted and the next key goes on."""
    cm = CacheManager(alias)
    result = Result(warmer=found, alias=alias)
    pairs = found.func()
    state = Progress(warmer=found, total=len(pairs) if hasattr(pairs, "__len__") else None)  # type: ignore[arg-type]
    for key, fetch in pairs:
        fetched: list[bool] = []

        def counted(fetch: Callable[[], Any] = fetch, fetched: list[bool] = fetched) -> Any:
            fetched.append(True)
            return fetch()

        try:
            cm.get(key, counted, found.ttl, namespace=found.namespace)
        except Exception as exc:  # one key's trouble must not stop the others
            result.failed += 1
            if len(result.errors) < ERRORS_KEPT:
                result.errors.append(f"{key}: {type(exc).__name__}: {exc}"[:300])
        else:
            if fetched:
                result.loaded += 1
            else:
                result.cached += 1
        state.done += 1
        if progress is not None:
            progress(state)
    result.seconds = time.monotonic() - state.started
    return result
