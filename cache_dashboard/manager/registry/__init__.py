"""The negative cache: keys marked invalid with a reason, with counts per reason kept, not recomputed.

One interface (:class:`Registry`), two implementations chosen by what the backend can do:

* :mod:`.sorted` (Redis: ``capabilities.sorted_sets``): per namespace, a sorted set of marks by
  mark time (listing newest first: one ``ZREVRANGE`` of a page), a sorted set per reason scored by
  expiry (a count is ``ZCOUNT now +inf``; expired members are trimmed lazily) and a hash of
  extras (detail, original key). Every operation is one Lua script: exact under concurrency, one
  round trip, O(reasons) + O(page).
* :mod:`.memory` (LocMem: ``capabilities.process_local``): the cache is this process's memory, so
  its negative cache is kept beside it, in Python structures: exact, O(1) per mark.
* :mod:`.log` (memcached and every other backend): one entry key per marked key, an append-only
  log of marks read backwards from its head for a page, and per reason counters of entries by
  expiry (hour, minute and 100 ms buckets): a count is the sum of the buckets still ahead, a read
  of O(reasons × horizon) keys whatever the number of entries.

Both keep at most ``REGISTRY_MAX_ENTRIES`` marks per namespace (the oldest are dropped first and
counted: :meth:`Registry.dropped`), and a re-mark replaces the entry (counted once).
"""

from __future__ import annotations

from cache_dashboard.adapters import Adapter, get_adapter, instance
from cache_dashboard.keys import KeyLayout, normalize_namespace
from cache_dashboard.manager import epochs
from cache_dashboard.manager.registry.base import PUBLIC_FIELDS, Registry, Scope, entry
from cache_dashboard.manager.registry.log import LogRegistry
from cache_dashboard.manager.registry.memory import MemoryRegistry
from cache_dashboard.manager.registry.sorted import SortedSetRegistry, native


def registry_for(adapter: Adapter) -> Registry:
    """The registry implementation for ``adapter``'s backend."""
    if adapter.capabilities.sorted_sets:
        return SORTED
    return MEMORY if adapter.capabilities.process_local else LOG


def forget() -> None:
    """Forget the negative caches kept in this process (those of process-local caches)."""
    MEMORY.forget()


def scope(alias: str, namespace: str, layout: KeyLayout | None = None) -> Scope:
    """Where the registry of ``namespace`` in ``alias`` lives now (this thread's backend instance,
    the current epoch, or ``layout``'s)."""
    cache = instance(alias)
    return Scope(get_adapter(alias), cache, layout or epochs.layout(alias), normalize_namespace(namespace), namespace)


SORTED = SortedSetRegistry()
LOG = LogRegistry()
MEMORY = MemoryRegistry()

__all__ = ["PUBLIC_FIELDS", "SORTED", "Registry", "Scope", "entry", "forget", "native", "registry_for", "scope"]
