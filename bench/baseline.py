"""BASELINE, not cache_dashboard: the cache-aside class a user would otherwise write.

It follows the seeds' ``CacheManager`` and ``APICacheService`` (``../shared/seeds/``) as written
there, through Django's cache API alone, so the benchmark suite can show what each of
cache_dashboard's mechanisms buys against it:

* ``get`` is check → fetch → set: no stampede lock (every concurrent caller of a cold key fetches),
  no fail-open (a down server raises into the caller), no namespace (invalidating a service means
  listing its keys);
* the stats are a dict in this process's memory (each worker counts its own, none sees the total);
* the invalid registry is one dict stored under one cache key, read, modified and written back on
  every mark (``add_invalid_ruc``): concurrent marks overwrite each other, and counting reasons
  means reading every entry.

Used by ``bench/run.py`` only; never imported by the package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches

REGISTRY_KEY = "invalid_rucs"


class SeedsCacheManager:
    """BASELINE (see the module docstring): the seeds' cache-aside, stats and invalid registry."""

    def __init__(self, alias: str = "default") -> None:
        self.cache = caches[alias]
        self.stats = {"hits": 0, "misses": 0}

    def get(self, key: str, fetch_func: Callable[[], Any] | None = None, ttl: float | None = None) -> Any:
        value = self.cache.get(key)
        if value is not None:
            self.stats["hits"] += 1
            return value
        self.stats["misses"] += 1
        if fetch_func is None:
            return None
        value = fetch_func()
        self.cache.set(key, value, ttl)
        return value

    def invalidate(self, keys: list[str]) -> None:
        self.cache.delete_many(keys)

    def add_invalid_ruc(self, ruc: str, reason: str, ttl: float = 86400) -> None:
        registry = self.cache.get(REGISTRY_KEY) or {}
        registry[ruc] = {"reason": reason, "marked_at": time.time()}
        self.cache.set(REGISTRY_KEY, registry, ttl)

    def is_ruc_invalid(self, ruc: str) -> bool:
        return ruc in (self.cache.get(REGISTRY_KEY) or {})

    def invalid_breakdown(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for info in (self.cache.get(REGISTRY_KEY) or {}).values():
            out[info["reason"]] = out.get(info["reason"], 0) + 1
        return out
