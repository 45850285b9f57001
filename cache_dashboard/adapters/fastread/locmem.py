"""LocMemCache: ``get`` on the instance's own storage, without Django's per-call key validation.

``LocMemCache.get`` is a dict lookup under a lock; half of its cost is ``make_and_validate_key``
(a generator and a regex search per key, only to warn about keys memcached would refuse). This
does what ``get`` does — the same key (``make_key``), the same lock, expiry check, deletion of an
expired entry, move to the front (LRU) and unpickling — with :func:`~base.key_maker`'s validation,
which calls ``validate_key`` exactly when Django would warn.

Private attributes used (probed when built): ``LocMemCache._cache`` (an ``OrderedDict``),
``_expire_info``, ``_lock`` and ``_delete``.
"""

from __future__ import annotations

import pickle
import time
from collections import OrderedDict
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.fastread.base import FastReader, Incompatible, Readers, key_maker, stock


class LocMemReader(FastReader):
    library = "Django"

    def build(self, cache: BaseCache) -> Readers:
        from django.core.cache.backends.locmem import LocMemCache

        backend: Any = stock(cache, LocMemCache)
        store, expiry, lock, delete = backend._cache, backend._expire_info, backend._lock, backend._delete
        if not isinstance(store, OrderedDict) or not isinstance(expiry, dict):
            raise Incompatible("LocMemCache._cache / _expire_info changed type")
        if not (callable(delete) and hasattr(lock, "__enter__")):
            raise Incompatible("LocMemCache._delete / _lock changed")
        make, loads, clock = key_maker(cache), pickle.loads, time.time

        def one(key: str) -> Any:
            raw = make(key)
            with lock:
                exp = expiry.get(raw, -1)
                if exp is not None and exp <= clock():  # LocMemCache._has_expired
                    delete(raw)
                    return None
                pickled = store[raw]
                store.move_to_end(raw, last=False)
            return loads(pickled)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            return one(key1), one(key2)

        return one, pair
