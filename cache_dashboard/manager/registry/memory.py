"""The negative cache of a process-local cache (LocMem): kept beside it, in this process's memory.

LocMemCache is this process's memory, shared by its threads only, so its negative cache can be
too: a dict per namespace in mark order (listing newest first walks it backwards), a heap of
expiries (expired entries are dropped lazily, each once) and kept counts per reason. Exact, O(1)
per mark, O(reasons) per count, O(page) per listing, and it uses none of LocMemCache's entries
(whose ``MAX_ENTRIES``, 300 by default, would otherwise evict the application's own data). It
follows ``clear_all`` (the epoch is part of its key); ``cache.clear()`` does not reach it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from cache_dashboard.manager.registry.base import Registry, Scope


@dataclass
class _Namespace:
    #: nkey -> (entry, mark number), in mark order (a re-mark moves the key to the end).
    entries: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    #: (expires_at, mark number, nkey) of every mark with an expiry.
    expiries: list[tuple[float, int, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    marks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, nkey: str) -> None:
        """Remove ``nkey``'s entry and its count (the caller holds the lock)."""
        info, _seq = self.entries.pop(nkey)
        reason = info["reason"]
        self.counts[reason] -= 1
        if not self.counts[reason]:
            del self.counts[reason]

    def trim(self, now: float) -> None:
        """Drop what has expired by ``now`` (the caller holds the lock)."""
        while self.expiries and self.expiries[0][0] <= now:
            _expires, seq, nkey = heapq.heappop(self.expiries)
            found = self.entries.get(nkey)
            if found is not None and found[1] == seq:  # not re-marked or removed since
                self.take(nkey)


class MemoryRegistry(Registry):
    """See the module docstring."""

    def __init__(self) -> None:
        self._stores: dict[str, dict[str, _Namespace]] = {}  # raw registry prefix -> namespaces
        self._lock = threading.Lock()

    def _namespace(self, scope: Scope) -> _Namespace:
        # The cache's own make_key (KEY_PREFIX, VERSION) and our epoch name the store, like the
        # keys this registry would otherwise write; LOCATION names the LocMem storage itself.
        location = str(scope.adapter.params.get("LOCATION", ""))
        base = f"{location}\x00{scope.cache.make_key(scope.keys.base)}"
        store = self._stores.get(base)
        if store is None:
            with self._lock:
                store = self._stores.get(base)
                if store is None:
                    stale = [b for b in self._stores if b.split("\x00", 1)[0] == location]
                    for old in stale:  # an older epoch (clear_all) or version of this storage
                        del self._stores[old]
                    store = self._stores[base] = {}
        found = store.get(scope.nns)
        if found is None:
            with self._lock:
                found = store.setdefault(scope.nns, _Namespace())
        return found

    def forget(self) -> None:
        """Drop every namespace of every process-local cache (tests, after ``cache.clear()``)."""
        with self._lock:
            self._stores.clear()

    def mark(self, scope: Scope, nkey: str, item: dict[str, Any], cap: int, now: float) -> dict[str, Any]:
        ns = self._namespace(scope)
        with ns.lock:
            if nkey in ns.entries:
                ns.take(nkey)
            ns.marks += 1
            info = dict(item)
            ns.entries[nkey] = (info, ns.marks)
            ns.counts[info["reason"]] = ns.counts.get(info["reason"], 0) + 1
            if info["expires_at"] is not None:
                heapq.heappush(ns.expiries, (info["expires_at"], ns.marks, nkey))
            if cap and len(ns.entries) > cap:
                ns.trim(now)  # what expired anyway is not "dropped"
                while len(ns.entries) > cap:
                    ns.take(next(iter(ns.entries)))
                    ns.dropped += 1
        return dict(info)

    def read(self, scope: Scope, nkey: str, now: float) -> dict[str, Any] | None:
        found = self._namespace(scope).entries.get(nkey)
        if found is None:
            return None
        info = found[0]
        expires = info["expires_at"]
        return dict(info) if expires is None or expires > now else None

    def remove(self, scope: Scope, nkey: str, now: float) -> bool:
        ns = self._namespace(scope)
        with ns.lock:
            ns.trim(now)
            if nkey not in ns.entries:
                return False
            ns.take(nkey)
        return True

    def counts(self, scope: Scope, now: float) -> dict[str, int]:
        ns = self._namespace(scope)
        with ns.lock:
            ns.trim(now)
            return dict(ns.counts)

    def page(self, scope: Scope, now: float, offset: int, limit: int | None) -> list[dict[str, Any]]:
        ns = self._namespace(scope)
        with ns.lock:
            ns.trim(now)
            out: list[dict[str, Any]] = []
            for position, nkey in enumerate(reversed(ns.entries)):
                if position < offset:
                    continue
                if limit is not None and len(out) >= limit:
                    break
                out.append(dict(ns.entries[nkey][0]))
        return out

    exact_reason_pages = True

    def page_reason(self, scope: Scope, reason: str, now: float, offset: int, limit: int,
                    budget: int = 5000) -> list[dict[str, Any]]:
        ns = self._namespace(scope)
        with ns.lock:  # in process memory: every entry, whatever the budget
            ns.trim(now)
            matching = (info for info, _seq in reversed(ns.entries.values()) if info["reason"] == reason)
            return [dict(info) for info in itertools.islice(matching, offset, offset + limit)]

    def dropped(self, scope: Scope) -> int:
        return self._namespace(scope).dropped
