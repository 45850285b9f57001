"""The hit path's one round trip: the entry, or (namespaced) the generation and the entry together.

Through the adapter's readers (kept on the backend instance, so per thread: see
``adapters.fastread``), with the cache's own ``make_key``. Measured by ``bench/hit_path.py``.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.fastread import READERS_ATTR
from cache_dashboard.keys import KeyLayout
from cache_dashboard.manager import epochs

#: What :func:`read` returns: the backend instance, the key layout, the entry key, what is stored
#: under it (not yet validated) and the namespace generation (None without a namespace).
Read = tuple[BaseCache, KeyLayout, str, Any, Any]


def read(alias: str, nkey: str, nns: str | None) -> Read:
    cache = caches[alias]
    keys = epochs.layout(alias, cache)
    try:
        one, pair = cache.__dict__[READERS_ATTR]
    except KeyError:
        one, pair = get_adapter(alias).readers(cache)
    ekey = keys.entry(nkey, nns)
    if nns is None:
        return cache, keys, ekey, one(ekey), None
    gen, stored = pair(keys.generation(nns), ekey)
    return cache, keys, ekey, stored, gen
