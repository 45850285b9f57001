"""CacheManager: cache-aside with stampede protection, namespaces, a negative cache, stats, health.

Algorithms (details in each method's docstring):

* **Entries** are stored as ``(TAG, value, generation, soft_expiry, fetch_seconds)``. ``soft_expiry``
  is the TTL the caller asked for; the physical TTL is longer by ``min(STALE_GRACE, ttl)`` so that a
  stale value exists to serve while one caller refreshes it.
* **Stampede protection** is a lock per key taken with ``cache.add`` (atomic on Redis ``SET NX``,
  memcached ``add`` and LocMem), with a TTL so a crashed holder never blocks a key. Other callers
  get the stale value when one exists, otherwise wait (polling, at most ``min(2 × last fetch time,
  STAMPEDE_MAX_WAIT)``) for the holder's result, and fetch themselves when the wait runs out.
* **Early refresh** is XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): a caller refreshes
  before expiry with probability growing as expiry nears, scaled by how long the fetch took
  (``now - delta·β·ln(rand) ≥ expiry``), so popular keys are refreshed before they expire at all.
* **Namespaces** carry a generation counter. An entry records the generation it was written under;
  ``invalidate_namespace`` increments the counter (one atomic ``incr``, O(1) on every backend) and
  every entry of the old generation stops matching at once, in every process. The hit path reads
  the generation and the entry together (one MGET / multi-key get: one round trip) at every call,
  never from a per-process copy. Redis also purges the old entries physically (SCAN + UNLINK in
  a background thread) so memory comes back.
* **clear_all** moves every key CacheManager writes to a new *epoch* (part of every key name).
  Processes re-read the epoch at most once a second; Redis also deletes the old epoch's keys at
  once (SCAN + UNLINK within this site's KEY_PREFIX). Nothing else in the cache is touched: no
  FLUSHDB, no flush_all.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from cache_dashboard import health, stats
from cache_dashboard.adapters import Adapter, Capabilities, get_adapter
from cache_dashboard.adapters.base import READERS_ATTR
from cache_dashboard.conf import get_setting, get_settings
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager import registry
from cache_dashboard.manager import ttl as ttl_policy
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.keys import KeyBuilder, normalize_key, normalize_namespace

logger = logging.getLogger("cache_dashboard")

TAG = "cd1"
_MISSING = object()
#: Returned by ``_fail_open`` when the cache was skipped (open circuit) or failed.
_FAILED = object()
#: Largest value XFetch's -ln(random() or 1e-12) can take: random() returns multiples of 2**-53,
#: so the smallest positive draw is 2**-53 (0 becomes 1e-12, which is larger). Plus a margin.
_XFETCH_MAX_DRAW = 53 * math.log(2) + 1e-6
#: Seconds a process trusts its copy of the epoch (see clear_all).
EPOCH_REFRESH = 1.0

_epochs: dict[str, tuple[KeyBuilder, float]] = {}


def hard_timeout(ttl: float, grace: float) -> int:
    """Seconds the server keeps an entry: its TTL, then up to ``grace`` (at most the TTL) stale.

    Rounded up, plus one second: Django's Redis and memcached backends truncate timeouts to
    whole seconds, and memcached's clock ticks once a second, so an entry given ``n`` seconds
    may vanish after ``n - 1``. Without the margin a 1 s TTL with 1 s of grace could be gone
    before it is ever stale. Freshness never depends on this: the soft expiry stored in the
    entry decides hits, this only bounds how long a stale copy can be served.
    """
    return math.ceil(ttl + min(grace, ttl)) + 1


def _fresh_counter() -> int:
    # Starting values of epochs and generations: time-based, so a counter that was evicted and
    # re-created never comes back to a value that old entries carry.
    return int(time.time() * 1000)


def _bump(cache: BaseCache, key: str) -> None:
    """Move a generation/epoch counter on; a missing one gets a fresh value (which differs from
    anything old entries carry)."""
    try:
        cache.incr(key)
    except ValueError:
        if not cache.add(key, _fresh_counter(), None):
            cache.incr(key)


class CacheManager:
    """The shared cache API. Cheap to build; holds no connection (``caches[alias]`` per call)."""

    def __init__(self, alias: str | None = None) -> None:
        self._alias = alias

    def __repr__(self) -> str:
        return f"<CacheManager alias={self.alias!r}>"

    # -- identity ---------------------------------------------------------------------------------
    @property
    def alias(self) -> str:
        """The CACHES alias (``CACHE_DASHBOARD["ALIAS"]`` when built without one)."""
        return self._alias or get_setting("ALIAS")

    @property
    def adapter(self) -> Adapter:
        return get_adapter(self.alias)

    @property
    def backend(self) -> str:
        """locmem, file, db, dummy, memcached, redis or django_redis."""
        return self.adapter.name

    @property
    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities

    @property
    def location_display(self) -> str:
        """The alias's LOCATION with passwords masked."""
        return self.adapter.location_display()

    # -- keys -----------------------------------------------------------------------------------
    def _keys(self, alias: str, cache: BaseCache) -> KeyBuilder:
        now = time.monotonic()
        cached = _epochs.get(alias)
        if cached is not None and now - cached[1] < EPOCH_REFRESH:
            return cached[0]
        epoch_key = f"{get_setting('KEY_PREFIX')}:epoch"
        epoch = cache.get(epoch_key)
        if epoch is None:
            fresh = _fresh_counter()
            epoch = fresh if cache.add(epoch_key, fresh, None) else get_adapter(alias).get_primary(epoch_key)
        kb = cached[0] if cached is not None and cached[0].epoch == epoch else KeyBuilder(
            get_setting("KEY_PREFIX"), int(epoch)
        )
        _epochs[alias] = (kb, now)
        return kb

    @contextmanager
    def _loud(self, operation: str, **params: Any):  # type: ignore[no-untyped-def]
        """Run a write the caller must know about: errors become CacheUnavailable.

        ``operation`` is a key of ``exceptions.OPERATIONS`` (its text is translated where shown).
        """
        alias = self.alias
        breaker = get_breaker(alias)
        if not breaker.allow():
            raise CacheUnavailable.circuit_open(operation, alias=alias, **params)
        try:
            yield
        except (UnsupportedOperation, TypeError, ValueError):
            raise
        except Exception as exc:
            breaker.failure(exc)
            stats.get_recorder(alias).incr(None, "errors")
            raise CacheUnavailable.failed(
                operation, error=self.adapter.mask(f"{type(exc).__name__}: {exc}"), **params
            ) from exc
        else:
            breaker.success()

    @staticmethod
    def _fail_open(alias: str, nns: str | None, count_skipped: bool, op: Callable[..., Any], *args: Any) -> Any:
        """Run a read or write that fails open: ``op(*args)``, or ``_FAILED`` when the circuit is
        open (counted as an error if ``count_skipped``) or ``op`` raised (counted, and the
        breaker told). The quiet counterpart of ``_loud``; a plain call, no context manager or
        closure, so the hit path pays one function call for it."""
        breaker = get_breaker(alias)
        if not breaker.allow():  # lock-free on a closed circuit
            if count_skipped:
                stats.get_recorder(alias).incr(nns, "errors")
            return _FAILED
        try:
            result = op(*args)
        except Exception as exc:
            breaker.failure(exc)
            stats.get_recorder(alias).incr(nns, "errors")
            return _FAILED
        breaker.success()  # returns at once on a closed, error-free circuit
        return result

    # -- cache-aside ----------------------------------------------------------------------------
    def get(
        self,
        key: str,
        fetch_func: Callable[[], Any] | None = None,
        ttl: float | None = None,
        *,
        namespace: str | None = None,
        default: Any = None,
    ) -> Any:
        """Return the cached value of ``key``; on a miss call ``fetch_func``, store and return it.

        ``None`` and falsy values are cached like any other. Without ``fetch_func`` a miss returns
        ``default``. An exception from ``fetch_func`` propagates and nothing is cached. When the
        cache server is down or hung the value is fetched and returned (fail open) and an error is
        counted. ``ttl``: see ``ttl_for``; 0 or less stores nothing.
        """
        # The hit path (measured by bench/hit_path.py): settings read once, stats
        # counted in memory, one round trip through the adapter's readers (``_read``).
        nkey = normalize_key(key)
        conf = get_settings()
        alias = self._alias or conf["ALIAS"]
        recorder = stats.get_recorder(alias)
        if namespace is None:
            nns = None
        else:
            nns = normalize_namespace(namespace)
            recorder.saw_namespace(nns, namespace)
        read = self._fail_open(alias, nns, True, self._read, alias, nkey, nns)
        if read is _FAILED:
            return self._bypass(fetch_func, nns, default, recorder)
        cache, kb, ekey, entry, gen = read

        stale = None
        if type(entry) is tuple and len(entry) == 5 and entry[0] == TAG and (nns is None or entry[2] == gen):
            now = time.time()
            soft, delta = entry[3], entry[4]
            if now < soft:
                if conf["STATS_ENABLED"]:
                    recorder.count(nns, "hits")
                if fetch_func is not None and delta and self._refresh_early(now, soft, delta, conf["XFETCH_BETA"]):
                    return self._fill(cache, kb, alias, key, namespace, nns, ekey, gen, fetch_func, ttl,
                                      entry, True, recorder, get_breaker(alias))
                return entry[1]
            stale = entry
        recorder.incr(nns, "misses")
        if fetch_func is None:
            return default
        return self._fill(cache, kb, alias, key, namespace, nns, ekey, gen, fetch_func, ttl,
                          stale, False, recorder, get_breaker(alias))

    def _read(self, alias: str, nkey: str, nns: str | None) -> tuple[BaseCache, KeyBuilder, str, Any, Any]:
        """The hit path's one round trip: the entry, or (namespaced) the generation and the entry.

        Through the adapter's readers (kept on the backend instance, so per thread): the cache's
        own ``make_key``, no per-call key maps (see ``Adapter.readers``)."""
        cache = caches[alias]
        kb = self._keys(alias, cache)
        try:
            one, pair = getattr(cache, READERS_ATTR)
        except AttributeError:
            one, pair = get_adapter(alias).readers(cache)
        ekey = kb.entry(nkey, nns)
        if nns is None:
            return cache, kb, ekey, one(ekey), None
        gen, entry = pair(kb.generation(nns), ekey)
        return cache, kb, ekey, entry, gen

    @staticmethod
    def _refresh_early(now: float, soft: float, delta: float, beta: float) -> bool:
        """XFetch: refresh before ``soft`` with a probability growing as it nears (``beta``: XFETCH_BETA)."""
        if not beta or soft - now > delta * beta * _XFETCH_MAX_DRAW:  # also False when soft is inf
            return False  # -ln(random()) cannot reach that far: no need to draw
        return now - delta * beta * math.log(random.random() or 1e-12) >= soft

    def _bypass(self, fetch_func: Callable[[], Any] | None, nns: str | None, default: Any,
                recorder: stats.StatsRecorder) -> Any:
        """The cache is unusable: fetch without storing (fail open)."""
        if fetch_func is None:
            return default
        start = time.perf_counter()
        value = fetch_func()
        recorder.fetched(nns, time.perf_counter() - start)
        return value

    def _fill(self, cache: BaseCache, kb: KeyBuilder, alias: str, key: str, namespace: str | None,
              nns: str | None, ekey: str, gen: Any, fetch_func: Callable[[], Any], ttl: float | None,
              stale: tuple | None, early: bool, recorder: stats.StatsRecorder, breaker: Any) -> Any:
        """Refresh ``ekey`` under the stampede lock, or serve stale / wait for the holder."""
        lock_key = kb.lock(ekey)
        token = uuid.uuid4().hex
        hint = stale[4] if stale is not None else None
        try:
            if nns is not None and gen is None:
                gen = self._init_generation(cache, kb.generation(nns))
            acquired = cache.add(lock_key, (token, hint), get_setting("STAMPEDE_LOCK_TIMEOUT"))
        except Exception as exc:
            breaker.failure(exc)
            recorder.incr(nns, "errors")
            return self._bypass(fetch_func, nns, None, recorder)
        if acquired:
            try:
                # Double-checked: another caller may have stored a fresh value and released the
                # lock between our read and our ``add``. Only the miss path pays this round trip.
                fresh = self._fresh_since(cache, ekey, gen, nns, stale)
                if fresh is not _MISSING:
                    return fresh
                return self._compute(cache, alias, key, namespace, nns, ekey, gen, fetch_func, ttl,
                                     recorder, breaker)
            finally:
                self._release(cache, lock_key, token)
        if stale is not None:
            if not early:
                recorder.incr(nns, "stale")
            return stale[1]
        value = self._wait(cache, ekey, lock_key, gen, nns)
        if value is not _MISSING:
            return value
        # The holder is slow or gone: fetch ourselves (fail open) rather than wait longer.
        return self._compute(cache, alias, key, namespace, nns, ekey, gen, fetch_func, ttl, recorder, breaker)

    @staticmethod
    def _fresh_since(cache: BaseCache, ekey: str, gen: Any, nns: str | None, seen: tuple | None) -> Any:
        """The value of a fresh entry written since we read ``seen`` (None: nothing), else _MISSING."""
        try:
            entry = cache.get(ekey)
        except Exception:
            return _MISSING  # we hold the lock: fetching is the fail-open answer
        if (type(entry) is tuple and len(entry) == 5 and entry[0] == TAG and (nns is None or entry[2] == gen)
                and time.time() < entry[3] and (seen is None or entry[3] != seen[3])):
            return entry[1]
        return _MISSING

    def _wait(self, cache: BaseCache, ekey: str, lock_key: str, gen: Any, nns: str | None) -> Any:
        try:
            held = cache.get(lock_key)
            hint = held[1] if isinstance(held, tuple) and len(held) == 2 else None
            limit = float(get_setting("STAMPEDE_MAX_WAIT"))
            if hint:
                limit = min(2 * float(hint), limit)
            deadline = time.monotonic() + limit
            pause = 0.005
            while time.monotonic() < deadline:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.05)
                got = cache.get_many([ekey, lock_key])
                entry = got.get(ekey)
                if (type(entry) is tuple and len(entry) == 5 and entry[0] == TAG
                        and (nns is None or entry[2] == gen) and time.time() < entry[3]):
                    return entry[1]
                if lock_key not in got:  # the holder failed and released: no value is coming
                    break
        except Exception:
            pass
        return _MISSING

    def _compute(self, cache: BaseCache, alias: str, key: str, namespace: str | None, nns: str | None,
                 ekey: str, gen: Any, fetch_func: Callable[[], Any], ttl: float | None,
                 recorder: stats.StatsRecorder, breaker: Any) -> Any:
        start = time.perf_counter()
        value = fetch_func()
        delta = time.perf_counter() - start
        recorder.fetched(nns, delta)
        effective = ttl if ttl is not None else ttl_policy.resolve(alias, namespace if namespace is not None else key)
        try:
            self._store(cache, ekey, value, gen, effective, delta)
            recorder.incr(nns, "sets")
            breaker.success()
        except Exception as exc:
            breaker.failure(exc)
            recorder.incr(nns, "errors")
        return value

    @staticmethod
    def _store(cache: BaseCache, ekey: str, value: Any, gen: Any, ttl: float | None, delta: float) -> bool:
        if ttl is not None and ttl <= 0:  # Django's contract: 0 means "expire now"
            cache.delete(ekey)
            return False
        if ttl is None:
            soft, timeout = math.inf, None
        else:
            ttl = ttl_policy.jittered(float(ttl))
            soft = time.time() + ttl
            timeout = hard_timeout(ttl, float(get_setting("STALE_GRACE")))
        cache.set(ekey, (TAG, value, gen, soft, round(delta, 6)), timeout)
        return True

    @staticmethod
    def _release(cache: BaseCache, lock_key: str, token: str) -> None:
        try:
            held = cache.get(lock_key)
            if isinstance(held, tuple) and held and held[0] == token:
                cache.delete(lock_key)
        except Exception:
            pass  # the lock's TTL frees it

    def _init_generation(self, cache: BaseCache, gkey: str) -> Any:
        fresh = _fresh_counter()
        # The value we added, or the primary's (a replica may not have the other writer's yet).
        return fresh if cache.add(gkey, fresh, None) else self.adapter.get_primary(gkey)

    def _generation(self, cache: BaseCache, kb: KeyBuilder, nns: str | None) -> Any:
        if nns is None:
            return None
        gen = cache.get(kb.generation(nns))
        return gen if gen is not None else self._init_generation(cache, kb.generation(nns))

    # -- writes ---------------------------------------------------------------------------------
    def set(self, key: str, value: Any, ttl: float | None = None, *, namespace: str | None = None) -> bool:
        """Store ``value``; return False (and count an error) when the cache is unreachable."""
        nkey = normalize_key(key)
        nns = None if namespace is None else normalize_namespace(namespace)
        alias = self.alias
        recorder = stats.get_recorder(alias)
        if nns is not None:
            recorder.saw_namespace(nns, namespace)  # type: ignore[arg-type]
        stored = self._fail_open(alias, nns, True, self._write, alias, key, nkey, namespace, nns, value, ttl)
        if stored is _FAILED:
            return False
        if stored:
            recorder.incr(nns, "sets")
        return stored

    def _write(self, alias: str, key: str, nkey: str, namespace: str | None, nns: str | None, value: Any,
               ttl: float | None) -> bool:
        effective = ttl if ttl is not None else ttl_policy.resolve(alias, namespace if namespace is not None else key)
        cache = caches[alias]
        kb = self._keys(alias, cache)
        return self._store(cache, kb.entry(nkey, nns), value, self._generation(cache, kb, nns), effective, 0.0)

    def delete(self, key: str, *, namespace: str | None = None) -> bool:
        """Delete one key; True if it existed. Raises CacheUnavailable when the server is down."""
        return self.invalidate([key], namespace=namespace) == 1

    def invalidate(self, keys: str | Iterable[str], *, namespace: str | None = None,
                   source: str | None = None) -> int:
        """Delete one key or several; return how many existed. ``source`` labels it in the stats."""
        if isinstance(keys, str):
            keys = [keys]
        nkeys = [normalize_key(k) for k in keys]
        nns = None if namespace is None else normalize_namespace(namespace)
        alias = self.alias
        with self._loud("invalidate"):
            cache = caches[alias]
            kb = self._keys(alias, cache)
            count = self.adapter.delete_count([kb.entry(k, nns) for k in nkeys])
        stats.get_recorder(alias).invalidated(nns, count, source)
        return count

    def invalidate_namespace(self, namespace: str, *, source: str | None = None) -> None:
        """Invalidate every entry of ``namespace`` at once, in O(1), on every backend.

        Visible to every process at its next ``get``. On Redis the old entries are also deleted
        physically by a background SCAN + UNLINK (see ``purge_namespace``).
        """
        nns = normalize_namespace(namespace)
        alias = self.alias
        with self._loud("invalidate_namespace", namespace=namespace):
            cache = caches[alias]
            kb = self._keys(alias, cache)
            _bump(cache, kb.generation(nns))
        recorder = stats.get_recorder(alias)
        recorder.saw_namespace(nns, namespace)
        recorder.invalidated(nns, 1, source)
        if self.capabilities.physical_purge and get_setting("PURGE_ON_INVALIDATE"):
            threading.Thread(target=self._purge_quietly, args=(namespace,), daemon=True,
                             name="cache_dashboard-purge").start()

    def purge_namespace(self, namespace: str) -> int:
        """Delete physically the entries of a namespace left behind by ``invalidate_namespace``.

        Redis only: SCAN COUNT 1000 over the namespace's keys, then UNLINK per batch those whose
        generation is not the current one (entries written since the invalidation are kept).
        This returns memory; correctness never depends on it. Returns how many were deleted.
        """
        nns = normalize_namespace(namespace)
        with self._loud("purge_namespace", namespace=namespace):
            cache = caches[self.alias]
            kb = self._keys(self.alias, cache)
            current = cache.get(kb.generation(nns))

            def old(value: Any) -> bool:
                return not (type(value) is tuple and len(value) == 5 and value[0] == TAG and value[2] == current)

            return self.adapter.scan_delete(kb.entry_prefix(nns), "*", old)

    def _purge_quietly(self, namespace: str) -> None:
        try:
            self.purge_namespace(namespace)
        except Exception:
            logger.warning("background purge of namespace %r failed", namespace, exc_info=True)

    def invalidate_pattern(self, pattern: str, *, namespace: str | None = None,
                           source: str | None = None) -> int:
        """Delete keys matching a glob ``pattern`` (Redis backends only; SCAN, never KEYS).

        The pattern applies to normalised key names (identical to the key for printable ASCII
        keys) and only within this site's KEY_PREFIX and the namespace. Other backends raise
        ``UnsupportedOperation``.
        """
        nns = self._check_pattern(pattern, namespace)
        alias = self.alias
        with self._loud("invalidate_pattern", pattern=pattern):
            cache = caches[alias]
            count = self.adapter.scan_delete(self._keys(alias, cache).entry_prefix(nns), pattern)
        stats.get_recorder(alias).invalidated(nns, count, source)
        return count

    def count_pattern(self, pattern: str, *, namespace: str | None = None) -> int:
        """How many keys ``invalidate_pattern`` would delete now (Redis only)."""
        nns = self._check_pattern(pattern, namespace)
        with self._loud("count_pattern", pattern=pattern):
            cache = caches[self.alias]
            return self.adapter.scan_count(self._keys(self.alias, cache).entry_prefix(nns), pattern)

    def _check_pattern(self, pattern: str, namespace: str | None) -> str | None:
        if not isinstance(pattern, str):
            raise TypeError(f"a pattern must be str, not {type(pattern).__name__}")
        if not pattern or len(pattern) > 1000 or any(ord(c) < 32 or c.isspace() for c in pattern):
            raise ValueError("a pattern must be 1-1000 printable characters without spaces")
        if not self.capabilities.pattern_invalidation:
            self.adapter.scan_delete("", pattern)  # raises UnsupportedOperation with the reason
        return None if namespace is None else normalize_namespace(namespace)

    def clear_all(self) -> None:
        """Remove everything written through CacheManager in this alias, and nothing else.

        Other keys of the alias (sessions, other apps), other KEY_PREFIXes and other tenants of
        the server survive: the epoch moves on (every process follows within a second) and, on
        Redis, the old epoch's keys are UNLINKed in SCAN batches. Never FLUSHDB / flush_all.
        Statistics are history and are kept.
        """
        alias = self.alias
        with self._loud("clear"):
            cache = caches[alias]
            old = self._keys(alias, cache)
            _bump(cache, f"{get_setting('KEY_PREFIX')}:epoch")
            _epochs.pop(alias, None)
            self._keys(alias, cache)
            if self.capabilities.physical_purge:
                self.adapter.scan_delete(old.base)

    # -- negative cache -------------------------------------------------------------------------
    def mark_invalid(self, key: str, reason: str, *, namespace: str, ttl: float | None = None,
                     detail: Any = None) -> dict[str, Any] | None:
        """Record that ``key`` is known bad (e.g. an invalid RUC) with a ``reason``.

        ``ttl`` defaults to ``ttl_for(f"{namespace}_invalid")``. Re-marking replaces the entry
        (counted once). Returns the entry, or None when the cache is unreachable (fail open).
        """
        nkey = normalize_key(key)
        nns = normalize_namespace(namespace)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a reason must be a non-empty string, e.g. 'NO_EXISTE_SUNAT'")
        alias = self.alias
        effective = ttl if ttl is not None else ttl_policy.resolve(alias, f"{namespace}_invalid")
        now = time.time()
        info = {
            "key": key, "namespace": namespace, "reason": reason, "detail": detail,
            "marked_at": now, "expires_at": None if effective is None else now + float(effective),
        }
        stored = self._fail_open(alias, nns, True, self._mark, alias, namespace, nns, nkey, info, effective)
        return None if stored is _FAILED or stored is None else registry.public(stored)

    def _mark(self, alias: str, namespace: str, nns: str, nkey: str, info: dict[str, Any],
              effective: float | None) -> dict[str, Any] | None:
        cache = caches[alias]
        kb = self._keys(alias, cache)
        if effective is not None and effective <= 0:
            cache.delete(kb.registry_entry(nns, nkey))
            return None
        stored = registry.mark(cache, self.adapter, kb, nns, nkey, info, effective)
        recorder = stats.get_recorder(alias)
        if nns not in recorder._published["namespaces"]:
            recorder.saw_namespace(nns, namespace)
            recorder._publish_names()  # once per namespace and process: listable at once
        return stored

    def get_invalid_info(self, key: str, *, namespace: str) -> dict[str, Any] | None:
        """The live entry of ``key`` (reason, detail, marked_at, expires_at, ...) or None."""
        nkey, nns = normalize_key(key), normalize_namespace(namespace)
        alias = self.alias
        # An open circuit is not counted as an error here (it is by get/set/mark_invalid).
        info = self._fail_open(alias, nns, False, self._read_invalid, alias, nns, nkey)
        return None if info is _FAILED or info is None else registry.public(info)

    def _read_invalid(self, alias: str, nns: str, nkey: str) -> dict[str, Any] | None:
        cache = caches[alias]
        return registry.read(cache, self._keys(alias, cache), nns, nkey)

    def is_invalid(self, key: str, *, namespace: str) -> bool:
        """Is ``key`` marked invalid (and not expired)? False when the cache is unreachable."""
        return self.get_invalid_info(key, namespace=namespace) is not None

    def remove_invalid(self, key: str, *, namespace: str) -> bool:
        """Unmark ``key``; True if it was marked. Raises CacheUnavailable when the server is down."""
        nkey, nns = normalize_key(key), normalize_namespace(namespace)
        with self._loud("remove_invalid"):
            cache = caches[self.alias]
            kb = self._keys(self.alias, cache)
            existed = self.adapter.delete_count([kb.registry_entry(nns, nkey)]) == 1
        return existed

    def invalid_entries(self, namespace: str) -> list[dict[str, Any]]:
        """Live entries of ``namespace``, newest first. Raises CacheUnavailable when down."""
        nns = normalize_namespace(namespace)
        with self._loud("invalid_entries"):
            cache = caches[self.alias]
            found = registry.entries(cache, self._keys(self.alias, cache), nns)
        return [registry.public(info) for info in found]

    def invalid_breakdown(self, namespace: str | None = None) -> dict[str, int]:
        """{reason: live count} for one namespace, or summed over every known namespace."""
        if namespace is not None:
            names = [namespace]
        else:
            names = list(stats.get_recorder(self.alias).known("namespaces").values())
        out: dict[str, int] = {}
        for name in names:
            for info in self.invalid_entries(name):
                out[info["reason"]] = out.get(info["reason"], 0) + 1
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))

    # -- policy, stats, health ----------------------------------------------------------------
    def ttl_for(self, name: str | None) -> int | None:
        """Effective TTL in seconds of a namespace / data type: admin override > settings TTLS >
        the alias's TIMEOUT. None means "never expires"."""
        value = ttl_policy.resolve(self.alias, name)
        return None if value is None else int(round(value))

    def known_namespaces(self) -> list[str]:
        """Namespaces from settings TTLS, TTL overrides and those seen in stats or the registry."""
        # "<ns>_invalid" (negative-cache TTL) and "<ns>_error" (TTL of upstream-failure marks)
        # are TTLs of a namespace, not namespaces of their own.
        names = {n for n in get_setting("TTLS") if not n.endswith(("_invalid", "_error"))}
        names.update(n for n in ttl_policy.overrides() if not n.endswith(("_invalid", "_error")))
        names.update(stats.get_recorder(self.alias).known("namespaces").values())
        return sorted(names)

    def flush_stats(self) -> None:
        """Push this process's buffered counters to the cache server now."""
        stats.get_recorder(self.alias).flush()

    def get_stats(self, namespace: str | None = None, *, window: int = 3600) -> dict[str, Any]:
        """Totals, per-namespace totals, invalidations by source and a per-minute (or, past 2 h,
        per-hour) series over ``window`` seconds. ``shared`` says whether every process sees the
        same numbers (False on LocMem/Dummy: per process). Raises CacheUnavailable when down."""
        nns = None if namespace is None else normalize_namespace(namespace)
        recorder = stats.get_recorder(self.alias)
        with self._loud("get_stats"):
            recorder.flush()
            return stats.read_stats(recorder, nns, window)

    def get_health(self) -> dict[str, Any]:
        """Health of the alias (never raises, returns within ~HEALTH_TIMEOUT); see ``health``."""
        return health.check(self.alias)


#: The module-level manager: built without an alias, it follows ``CACHE_DASHBOARD["ALIAS"]`` at every call.
cache_manager = CacheManager()
