"""What both registry implementations share: the interface, the scope of a namespace, the entry shape."""


from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import Adapter
from cache_dashboard.keys import KeyLayout, normalize_key

#: Entries read per call by a listing that filters (a short call each: the server is not held long).
REASON_CHUNK = 500

#: The documented fields of an entry, as ``invalid_entries`` and ``get_invalid_info`` return it.
PUBLIC_FIELDS = ("key", "namespace", "reason", "detail", "marked_at", "expires_at")


@dataclass(frozen=True)
class Scope:
    """Where one namespace's registry lives: the backend instance, its adapter, the key layout."""

    adapter: Adapter
    cache: BaseCache
    keys: KeyLayout
    nns: str
    namespace: str


def entry(key: str, namespace: str, reason: str, detail: Any, marked_at: float,
          expires_at: float | None) -> dict[str, Any]:
    """An entry in its public shape."""
    return {"key": key, "namespace": namespace, "reason": reason, "detail": detail,
            "marked_at": marked_at, "expires_at": expires_at}


def timeout(expires_at: float | None, now: float) -> int | None:
    """Server TTL of a registry key that must outlive ``expires_at`` (checked on read): backends
    truncate timeouts to whole seconds."""
    return None if expires_at is None else max(1, math.ceil(expires_at - now) + 1)


class Registry:
    """The negative cache of one backend. ``now`` is the caller's clock (epoch seconds)."""

    def mark(self, scope: Scope, nkey: str, item: dict[str, Any], cap: int, now: float) -> dict[str, Any]:
        """Store ``item`` (public shape) as the entry of ``nkey``, replacing any; returns it."""
        raise NotImplementedError

    def read(self, scope: Scope, nkey: str, now: float) -> dict[str, Any] | None:
        """The live entry of ``nkey``, or None."""
        raise NotImplementedError

    def remove(self, scope: Scope, nkey: str, now: float) -> bool:
        """Remove the entry of ``nkey``; whether a live one existed."""
        raise NotImplementedError

    def page(self, scope: Scope, now: float, offset: int, limit: int | None) -> list[dict[str, Any]]:
        """Live entries, newest first: ``limit`` of them from ``offset`` (None: all)."""
        raise NotImplementedError

    def counts(self, scope: Scope, now: float) -> dict[str, int]:
        """{reason: live entries}, reasons with none left out."""
        raise NotImplementedError

    def dropped(self, scope: Scope) -> int:
        """How many live entries were dropped to keep the namespace within its cap."""
        raise NotImplementedError

    #: Whether :meth:`page_reason` lists every entry of a reason (else only among the newest
    #: ``budget`` entries of the namespace).
    exact_reason_pages = False

    def page_reason(self, scope: Scope, reason: str, now: float, offset: int, limit: int,
                    budget: int = 5000) -> list[dict[str, Any]]:
        """Live entries of ``reason``, newest first, ``limit`` of them from ``offset``: here by
        reading the newest ``budget`` entries in chunks and keeping that reason's."""
        out: list[dict[str, Any]] = []
        skip = offset
        for start in range(0, budget, REASON_CHUNK):
            chunk = self.page(scope, now, start, min(REASON_CHUNK, budget - start))
            for found in chunk:
                if found["reason"] != reason:
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append(found)
                if len(out) >= limit:
                    return out
            if len(chunk) < REASON_CHUNK:
                break
        return out

    def remove_reason(self, scope: Scope, reason: str, now: float) -> int:
        """Remove every live entry of ``reason``; how many there were. (One listing of the
        namespace, then one removal per entry; the Redis registry does it in batches.)"""
        doomed = [normalize_key(e["key"]) for e in self.page(scope, now, 0, None) if e["reason"] == reason]
        return sum(1 for nkey in doomed if self.remove(scope, nkey, now))

