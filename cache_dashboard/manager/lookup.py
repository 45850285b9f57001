"""The hit path's one round trip: the entry, or (namespaced) the generation and the entry together.

Through the adapter's readers (kept on the backend instance, so per thread: see
``adapters.fastread``), with the cache's own ``make_key``. Measured by ``bench/hit_path.py``.

The backend instance is this thread's (``adapters.base.instance``: ``caches[alias]`` remembered).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import base, get_adapter
from cache_dashboard.adapters.fastread import READERS_ATTR, demote, is_fast
from cache_dashboard.keys import KeyLayout
from cache_dashboard.manager import epochs

#: What :func:`read` returns: the backend instance, the key layout, the entry key, what is stored
#: under it (not yet validated) and the namespace generation (None without a namespace).
Read = tuple[BaseCache, KeyLayout, str, Any, Any]


def read(alias: str, nkey: str, nns: str | None, *, public: bool = False) -> Read:
    """One round trip; ``public``: through Django's own ``get``/``get_many`` whatever the readers."""
    cache = base.instance(alias)
    keys = epochs.layout(alias)
    attrs = cache.__dict__
    if public or "get" in attrs:
        # (Or a tool wrapped this instance's own get/get_many — django-debug-toolbar's cache panel,
        # an APM agent: reading through the wrappers lets the tool see the reads.)
        readers = get_adapter(alias).public_readers(cache)
    else:
        try:
            readers = attrs[READERS_ATTR]
        except KeyError:
            readers = get_adapter(alias).readers(cache)
    ekey = keys.entry(nkey, nns)
    try:
        if nns is None:
            return cache, keys, ekey, readers[0](ekey), None
        gen, stored = readers[1](keys.generation(nns), ekey)
        return cache, keys, ekey, stored, gen
    except (AttributeError, TypeError) as exc:
        if not is_fast(readers):
            raise
        # Read again through Django's public API: if that fails too, the stored value or the server
        # is at fault (its error propagates); if not, the fast reader's library changed under this
        # process, and the instance switches to the public readers for good.
        found = read(alias, nkey, nns, public=True)
        demote(cache, alias, exc, get_adapter(alias).public_readers(cache))
        return found
