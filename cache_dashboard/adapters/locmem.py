"""LocMemCache: per-process memory, so what goes with it can live in this process's memory too.

Statistics and the negative cache are kept beside it (``process_local``), and so are the version
counters (the epoch, namespace generations) and the stampede locks: a namespaced read is then one
LocMem ``get`` and a dict lookup instead of a two-key ``get_many``, a miss takes its lock without
pickling one, and none of LocMemCache's entries (300 by default, ``MAX_ENTRIES``) are spent on
them. Still exact: every reader is in this process.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, ClassVar

from django.core.cache.backends.base import BaseCache
from django.utils.translation import gettext as _

from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.fastread import READERS_ATTR, FastReader, Readers, readers_for
from cache_dashboard.adapters.fastread.base import ReadOne
from cache_dashboard.adapters.fastread.locmem import LocMemReader
from cache_dashboard.adapters.listing import DONE, KeyPage, ListedKey, RawValue, page_sorted, seconds_left
from cache_dashboard.keys import glob_matcher

#: Version counters of every LocMem storage of this process: {LOCATION + raw key: value}.
_versions: dict[str, int] = {}
_versions_lock = threading.Lock()
#: Stampede locks of every LocMem storage of this process: {LOCATION + raw key: (value, expiry
#: on the monotonic clock)}. Released by their holder; an abandoned one is pruned once expired.
_locks: dict[str, tuple[Any, float]] = {}
_LOCKS_PRUNE_AT = 10_000


def forget_versions() -> None:
    """Forget every process-local version counter and lock (tests, after ``cache.clear()``)."""
    with _versions_lock:
        _versions.clear()
        _locks.clear()


class LocMemAdapter(Adapter):
    name = "locmem"
    probe_in_thread = False  # no socket to hang on
    capabilities = Capabilities(shared_stats=False, process_local=True, key_browsing=True)
    fast_reader: ClassVar[FastReader | None] = LocMemReader()

    def location_display(self) -> str:
        return str(self.params.get("LOCATION", "")) or _("(process memory)")

    def health_notes(self) -> list[str]:
        notes = [_("LocMemCache is per process: each worker process has its own cache and statistics.")]
        try:  # LocMemCache's own storage and its MAX_ENTRIES (300 unless OPTIONS say otherwise)
            cache: Any = self.cache
            held, limit = len(cache._cache), int(cache._max_entries)
        except Exception:
            return notes
        if limit and held >= 0.9 * limit:
            notes.append(_("LocMemCache holds %(held)d of its MAX_ENTRIES (%(limit)d): it is evicting entries, so "
                           "keys go missing and the hit ratio drops. Raise OPTIONS['MAX_ENTRIES'].")
                         % {"held": held, "limit": limit})
        return notes

    def _slot(self, cache: BaseCache, key: str) -> str:
        # LocMemCache storage is named by LOCATION; make_key brings KEY_PREFIX and VERSION in.
        return f"{self.params.get('LOCATION', '')}\x00{cache.make_key(key)}"

    def version(self, key: str) -> int | None:
        return _versions.get(self._slot(self.cache, key))

    def versions_and_values(self, version_keys: list[str], keys: list[str]) -> tuple[dict[str, int], dict[str, Any]]:
        versions = {k: v for k in version_keys if (v := self.version(k)) is not None}
        return versions, self.cache.get_many(keys)

    def create_version(self, key: str, value: int) -> int:
        with _versions_lock:
            return _versions.setdefault(self._slot(self.cache, key), value)

    def bump_version(self, key: str, initial: int) -> int:
        slot = self._slot(self.cache, key)
        with _versions_lock:
            _versions[slot] = value = _versions.get(slot, initial) + 1
        return value

    # -- stampede locks: in process memory, like the cache they guard --------------------------
    def _held(self, slot: str, now: float) -> Any:
        found = _locks.get(slot)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        slot, now = self._slot(self.cache, add_key), time.monotonic()
        with _versions_lock:
            added = self._held(slot, now) is None
            if added:
                if len(_locks) >= _LOCKS_PRUNE_AT:
                    for stale in [k for k, (_v, until) in _locks.items() if until <= now]:
                        del _locks[stale]
                _locks[slot] = (value, math.inf if timeout is None else now + float(timeout))
        return added, self._get(get_key)

    def get_lock(self, key: str) -> Any:
        return self._held(self._slot(self.cache, key), time.monotonic())

    def lock_and_get(self, lock_key: str, get_key: str) -> tuple[Any, Any]:
        return self.get_lock(lock_key), self._get(get_key)

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        self.cache.set(set_key, value, timeout)
        self.release_lock(delete_key)

    def release_lock(self, key: str) -> None:
        with _versions_lock:
            _locks.pop(self._slot(self.cache, key), None)

    def _get(self, key: str) -> Any:
        """``cache.get(key)`` through this instance's readers (Django's own get if wrapped)."""
        cache = self.cache
        attrs = cache.__dict__
        if "get" in attrs:
            return cache.get(key)
        readers = attrs.get(READERS_ATTR) or self.readers(cache)
        return readers[0](key)

    def readers(self, cache: BaseCache) -> Readers:
        """The entry through :class:`LocMemReader` (when it fits), the generation from memory."""
        one, _ = readers_for(cache, self.fast_reader, self.alias)
        built = self._with_versions(cache, one)
        setattr(cache, READERS_ATTR, built)
        return built

    def public_readers(self, cache: BaseCache) -> Readers:
        """``get`` for an entry; for a namespaced read the generation from this process's memory
        and the entry with one ``get``."""

        def one(key: str) -> Any:
            return cache.get(key)

        one.reader = None  # type: ignore[attr-defined]  # not a fast reader
        return self._with_versions(cache, one)

    def _with_versions(self, cache: BaseCache, one: ReadOne) -> Readers:
        slot, versions = self._slot, _versions
        slots: dict[str, str] = {}  # generation key -> its slot (few: one per namespace read)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            try:
                where = slots[key1]
            except KeyError:
                if len(slots) > 4096:
                    slots.clear()
                where = slots[key1] = slot(cache, key1)
            return versions.get(where), one(key2)

        pair.reader = one.reader  # type: ignore[attr-defined]  # the strategy of both
        return one, pair

    # -- the key browser: this process's LocMemCache storage, read under its own lock ------------
    def _storage(self) -> tuple[Any, Any, Any]:
        cache: Any = self.cache  # LocMemCache keeps its entries in _cache, expiries in _expire_info
        return cache._cache, cache._expire_info, cache._lock

    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """A keyset page in key order (LocMemCache's own order moves with every read). Costs
        O(entries) per page: the storage is bounded by MAX_ENTRIES (300 unless set otherwise)."""
        entries, expiries, lock = self._storage()
        now = time.time()
        with lock:
            held = {raw: (expiries.get(raw), len(value)) for raw, value in entries.items()}
        alive = [raw for raw, (expiry, _size) in held.items() if expiry is None or expiry > now]
        names, after = page_sorted(alive, glob_matcher(match), cursor, count)
        return KeyPage(keys=[ListedKey(raw=_raw(name), ttl=seconds_left(held[name][0], now), size=held[name][1])
                             for name in names], cursor=after, scanned=len(held))

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        entries, expiries, lock = self._storage()
        name, now = _name(raw), time.time()
        with lock:
            value, expiry = entries.get(name), expiries.get(name)
        if value is None or (expiry is not None and expiry <= now):
            return None
        return RawValue(raw=raw, ttl=seconds_left(expiry, now), size=len(value), length=len(value),
                        payload=value[:limit])

    def delete_raw(self, raw: bytes) -> bool:
        entries, expiries, lock = self._storage()
        name = _name(raw)
        with lock:
            expiries.pop(name, None)
            return entries.pop(name, None) is not None

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        entries, expiries, lock = self._storage()
        name = _name(raw)
        with lock:
            if name not in entries:
                return False
            expiries[name] = None if seconds is None else time.time() + seconds
            return True


def _raw(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def _name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")
