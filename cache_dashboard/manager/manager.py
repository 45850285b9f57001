"""CacheManager: the shared cache API. Each public method is a short delegation to its part.

* **Entries** (``entry``) are stored with a soft expiry: the TTL asked for. The physical TTL is
  longer by ``min(STALE_GRACE, ttl)``, so a stale value exists to serve while one caller
  refreshes it (``aside``: stampede lock, XFetch early refresh).
* **Namespaces** carry a generation counter (``epochs``). An entry records the generation it was
  written under; ``invalidate_namespace`` increments the counter (one atomic ``incr``, O(1) on
  every backend) and every entry of the old generation stops matching at once, in every process.
  The hit path reads the generation and the entry together (``lookup``: one MGET / multi-get).
  Redis also purges the old entries physically (SCAN + UNLINK in a background thread).
* **clear_all** moves every key CacheManager writes to a new *epoch* (part of every key name).
  Processes re-read the epoch at most once a second; Redis also deletes the old epoch's keys at
  once (SCAN + UNLINK within this site's KEY_PREFIX). Nothing else in the cache is touched: no
  FLUSHDB, no flush_all.
* Reads fail open and writes staff must know about raise ``CacheUnavailable`` (``guard``, around
  the alias's circuit ``breaker``); hits and misses are counted in process memory (``stats``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from cache_dashboard.adapters import Adapter, Capabilities, get_adapter, instance
from cache_dashboard.conf import get_setting, get_settings
from cache_dashboard.keys import describe_role, glob_matcher, key_role, normalize_key, normalize_namespace
from cache_dashboard.manager import aio, decorator, epochs, health, lookup, purge, registry, sampler, stats
from cache_dashboard.manager import ttl as ttl_policy
from cache_dashboard.manager.aside import Miss, bypass, refresh_early, store
from cache_dashboard.manager.entry import FETCH_SECONDS, GENERATION, SOFT_EXPIRY, VALUE, load
from cache_dashboard.manager.guard import FAILED, fail_open, loud, quiet

logger = logging.getLogger("cache_dashboard")


class CacheManager:
    """The shared cache API. Cheap to build; holds no connection (the thread's backend instance per call)."""

    def __init__(self, alias: str | None = None) -> None:
        self._alias = alias

    def __repr__(self) -> str:
        return f"<CacheManager alias={self._alias!r}>" if self._alias else "<CacheManager of CACHE_DASHBOARD['ALIAS']>"

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
        """The adapter's name: locmem, file, db, dummy, memcached, redis, django_redis, django_valkey or
        redis_cluster."""
        return self.adapter.name

    @property
    def capabilities(self) -> Capabilities:
        return self.adapter.capabilities

    @property
    def location_display(self) -> str:
        """The alias's LOCATION with passwords masked."""
        return self.adapter.location_display()

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
        # The hit path (measured by bench/hit_path.py): settings read once, stats counted in
        # memory, one round trip (``lookup.read``).
        nkey = normalize_key(key)
        conf = get_settings()
        alias = self._alias or conf["ALIAS"]
        recorder = stats.get_recorder(alias)
        if namespace is None:
            nns = None
        else:
            nns = normalize_namespace(namespace)
            recorder.saw_namespace(nns, namespace)
        read = fail_open(alias, nns, True, lookup.read, alias, nkey, nns)
        if read is FAILED:
            return bypass(fetch_func, nns, default, recorder)
        cache, keys, ekey, stored, gen = read
        entry = load(stored, gen)
        early = False
        if entry is not None:
            now = time.time()
            soft = entry[SOFT_EXPIRY]
            if soft is None or now < soft:  # entry.fresh(), written out: the hit path
                if conf["STATS_ENABLED"]:
                    recorder.count(nns, "hits")
                delta = entry[FETCH_SECONDS]
                if fetch_func is None or not delta or not refresh_early(now, soft, delta, conf["XFETCH_BETA"]):
                    return entry[VALUE]
                early = True  # XFetch: this caller refreshes a still-fresh entry
        if not early:
            recorder.incr(nns, "misses")
        if fetch_func is None:
            return default
        return Miss(alias=alias, cache=cache, keys=keys, key=key, namespace=namespace, nns=nns, ekey=ekey,
                    generation=gen, fetch=fetch_func, ttl=ttl, stale=entry, early=early, recorder=recorder).run()

    # -- async twins (``manager.aio``: native on Redis, a worker thread elsewhere) ----------------
    async def aget(self, key: str, fetch_func: Callable[[], Any] | None = None, ttl: float | None = None, *,
                   namespace: str | None = None, default: Any = None) -> Any:
        """``get`` from async code, in the same entries. ``fetch_func`` may be ``async def`` (awaited)
        or a plain function (run by ``sync_to_async``). Coroutines of one loop missing the same key
        share one fetch, and the stampede lock is shared with every process."""
        return await aio.aget(self, key, fetch_func, ttl, namespace, default)

    async def aset(self, key: str, value: Any, ttl: float | None = None, *, namespace: str | None = None) -> bool:
        """``set`` from async code."""
        return await aio.aset(self, key, value, ttl, namespace)

    async def adelete(self, key: str, *, namespace: str | None = None) -> bool:
        """``delete`` from async code (raises CacheUnavailable when the server is down)."""
        return await aio.ainvalidate(self, [key], namespace, None) == 1

    async def ainvalidate(self, keys: str | Iterable[str], *, namespace: str | None = None,
                          source: str | None = None) -> int:
        """``invalidate`` from async code."""
        return await aio.ainvalidate(self, keys, namespace, source)

    async def ainvalidate_namespace(self, namespace: str, *, source: str | None = None) -> None:
        """``invalidate_namespace`` from async code (the purge, if any, runs in this process's worker)."""
        await aio.ainvalidate_namespace(self, namespace, source)

    async def amark_invalid(self, key: str, reason: str, *, namespace: str, ttl: float | None = None,
                            detail: Any = None) -> dict[str, Any] | None:
        """``mark_invalid`` from async code."""
        return await aio.amark_invalid(self, key, reason, namespace, ttl, detail)

    async def aget_invalid_info(self, key: str, *, namespace: str) -> dict[str, Any] | None:
        """``get_invalid_info`` from async code."""
        return await aio.aget_invalid_info(self, key, namespace)

    async def ais_invalid(self, key: str, *, namespace: str) -> bool:
        """``is_invalid`` from async code."""
        return await aio.aget_invalid_info(self, key, namespace) is not None

    async def aget_health(self) -> dict[str, Any]:
        """``get_health`` in a worker thread (its probes keep their own timeouts)."""
        found: dict[str, Any] = await aio.in_thread(self.get_health)
        return found

    async def aclose(self) -> None:
        """Close the running event loop's connections now (else they close when the loop shuts
        down: ``asyncio.run`` and asgiref see to it). They are opened again on next use."""
        await aio.close_loop_clients()

    # -- writes ---------------------------------------------------------------------------------
    def cached(self, namespace: str | None = None, ttl: float | None = None,
               key: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Any]:
        """Decorate a function to read through this cache: ``get(key, lambda: func(*args), ttl,
        namespace=namespace)``, for ``def`` and ``async def`` functions. ``key(*args, **kwargs)``
        names the entry of a call; without it the key is derived from the arguments
        (``manager.decorator``: deterministic, collision-free, for builtin-typed arguments). The
        wrapped function gains ``.invalidate(*args, **kwargs)`` and ``.cache_key(*args, **kwargs)``::

            @cache_manager.cached(namespace="ruc", key=lambda ruc: ruc)
            def consultar_ruc(ruc): ...
        """
        def wrap(func: Callable[..., Any]) -> Any:
            return decorator.decorate(self, func, namespace=namespace, ttl=ttl, key=key)

        return wrap

    def set(self, key: str, value: Any, ttl: float | None = None, *, namespace: str | None = None) -> bool:
        """Store ``value``; return False (and count an error) when the cache is unreachable."""
        nkey = normalize_key(key)
        alias = self.alias
        recorder = stats.get_recorder(alias)
        nns = None
        if namespace is not None:
            nns = normalize_namespace(namespace)
            recorder.saw_namespace(nns, namespace)
        stored = fail_open(alias, nns, True, self._write, alias, key, nkey, namespace, nns, value, ttl)
        if stored is FAILED:
            return False
        if stored:
            recorder.incr(nns, "sets")
        return bool(stored)

    @staticmethod
    def _write(alias: str, key: str, nkey: str, namespace: str | None, nns: str | None, value: Any,
               seconds: float | None) -> bool:
        cache = instance(alias)
        keys = epochs.layout(alias)
        gen = None if nns is None else epochs.generation(alias, keys, nns)
        seconds = ttl_policy.for_entry(alias, key, namespace, seconds)
        return store(cache, keys.entry(nkey, nns), value, gen, seconds, 0.0)

    def delete(self, key: str, *, namespace: str | None = None) -> bool:
        """Delete one key; True if it existed. Raises CacheUnavailable when the server is down."""
        return self.invalidate([key], namespace=namespace) == 1

    def invalidate(self, keys: str | Iterable[str], *, namespace: str | None = None,
                   source: str | None = None) -> int:
        """Delete one key or several; return how many existed. ``source`` labels it in the stats."""
        nkeys = [normalize_key(k) for k in ([keys] if isinstance(keys, str) else keys)]
        nns = None if namespace is None else normalize_namespace(namespace)
        alias = self.alias
        with loud(alias, "invalidate"):
            layout = epochs.layout(alias)
            count = self.adapter.delete_count([layout.entry(k, nns) for k in nkeys])
        stats.get_recorder(alias).invalidated(nns, count, source)
        return count

    def namespaces_holding(self, key: str, namespaces: Iterable[str]) -> list[str | None]:
        """Where ``key`` has a live entry now: each of ``namespaces`` that holds it, and None for
        the key without a namespace. One multi-key read; counts no hit or miss. Raises
        CacheUnavailable when the server is down."""
        nkey = normalize_key(key)
        names = list(dict.fromkeys(namespaces))
        alias = self.alias
        with loud(alias, "invalidate"):
            layout = epochs.layout(alias)
            plain = layout.entry(nkey, None)
            pairs = [(name, layout.generation(normalize_namespace(name)), layout.entry(nkey, normalize_namespace(name)))
                     for name in names]
            versions, found = self.adapter.versions_and_values([g for _, g, _ in pairs],
                                                               [plain, *(e for _, _, e in pairs)])
        holding: list[str | None] = [None] if load(found.get(plain), None) is not None else []
        for name, gen_key, entry_key in pairs:
            gen = versions.get(gen_key)
            if gen is not None and load(found.get(entry_key), gen) is not None:
                holding.append(name)
        return holding

    def namespace_key_prefix(self, namespace: str) -> str:
        """What the keys of ``namespace``'s entries start with in the current epoch (before the
        cache's ``make_key``): the key browser lists a namespace by it."""
        return epochs.layout(self.alias).namespaced_entries() + normalize_namespace(namespace) + "}:"

    def describe_key(self, key: str, stored: Any = None) -> dict[str, Any] | None:
        """What CacheManager knows of one of its own keys (``key`` as given to the cache, before
        ``make_key``): which part of the layout it is, its namespace and key as given, whether it
        is of the current epoch and, for an entry, what ``stored`` (its value as read) holds:
        the cached value, its soft expiry and fetch time, and its ``state`` — "fresh", "stale"
        (past its soft expiry, served while refreshed), "old generation" (its namespace was
        invalidated since), "old epoch" (cleared since) or "other format". None for a key that
        is not CacheManager's. Reads the epoch and the namespace's generation (never creates
        them); raises CacheUnavailable when the server is down."""
        role = key_role(key, get_setting("KEY_PREFIX"))
        if role is None:
            return None
        alias = self.alias
        out = describe_role(role)
        with loud(alias, "describe_key", key=key):
            layout = epochs.layout(alias)
            out["current_epoch"] = role.epoch is None or role.epoch == layout.epoch
            generation = None if role.nns is None else self.adapter.version(layout.generation(role.nns))
        out["generation"] = generation
        if role.part != "entry" or stored is None:
            return out
        entry = load(stored, stored[GENERATION] if type(stored) in (tuple, list) and len(stored) == 5 else None)
        if entry is None:
            out["state"] = "other format"
            return out
        out.update(value=entry[VALUE], entry_generation=entry[GENERATION], soft_expiry=entry[SOFT_EXPIRY],
                   fetch_seconds=entry[FETCH_SECONDS])
        if not out["current_epoch"]:
            out["state"] = "old epoch"
        elif role.nns is not None and entry[GENERATION] != generation:
            out["state"] = "old generation"
        else:
            soft = entry[SOFT_EXPIRY]
            out["state"] = "fresh" if soft is None or time.time() < soft else "stale"
        return out

    def invalidate_namespace(self, namespace: str, *, source: str | None = None) -> None:
        """Invalidate every entry of ``namespace`` at once, in O(1), on every backend.

        Visible to every process at its next ``get``. On Redis the old entries are also deleted
        physically by a background SCAN + UNLINK (see ``purge_namespace``).
        """
        nns = normalize_namespace(namespace)
        alias = self.alias
        with loud(alias, "invalidate_namespace", namespace=namespace):
            epochs.bump(alias, epochs.layout(alias).generation(nns))
        recorder = stats.get_recorder(alias)
        recorder.saw_namespace(nns, namespace)
        recorder.invalidated(nns, 1, source)
        if self.capabilities.physical_purge and get_setting("PURGE_ON_INVALIDATE"):
            try:
                purge.request(alias, namespace)  # this process's worker: paced, coalesced
            except Exception:  # the invalidation is done; memory then comes back at expiry
                logger.warning("could not ask for a purge of namespace %r", namespace, exc_info=True)

    def namespace_in_use(self, namespace: str) -> bool:
        """Whether ``namespace`` may hold entries: something was written to it in this epoch (its
        generation exists). False means ``invalidate_namespace`` would change nothing. Raises
        CacheUnavailable when the server is down."""
        nns = normalize_namespace(namespace)
        alias = self.alias
        with loud(alias, "invalidate_namespace", namespace=namespace):
            return self.adapter.version(epochs.layout(alias).generation(nns)) is not None

    def purge_namespace(self, namespace: str) -> int:
        """Delete physically, now, the entries of a namespace left behind by ``invalidate_namespace``.

        Redis only: SCAN the namespace's keys in small steps, then UNLINK those whose generation
        is not the current one (entries written since the invalidation are kept).
        This returns memory; correctness never depends on it. Returns how many were deleted.
        ``invalidate_namespace`` asks the process's background worker for the same (see
        ``manager.purge``).
        """
        normalize_namespace(namespace)
        alias = self.alias
        with loud(alias, "purge_namespace", namespace=namespace):
            deleted = purge.purge(alias, namespace)
            purge.done(alias, namespace)
            return deleted

    def invalidate_pattern(self, pattern: str, *, namespace: str | None = None, source: str | None = None,
                           every_namespace: bool = False) -> int:
        """Delete keys matching a glob ``pattern`` (Redis backends only; SCAN, never KEYS).

        The pattern applies to normalised key names (identical to the key for printable ASCII
        keys) and only within this site's KEY_PREFIX: keys without a namespace, or those of
        ``namespace``, or with ``every_namespace`` every key of this site, with a namespace or
        without. Other backends raise ``UnsupportedOperation``.
        """
        scans = self._pattern_scans(pattern, namespace, every_namespace)
        alias = self.alias
        with loud(alias, "invalidate_pattern", pattern=pattern):
            count = sum(self.adapter.scan_delete(prefix, glob, select=select) for prefix, glob, select in scans)
        nns = None if namespace is None or every_namespace else normalize_namespace(namespace)
        stats.get_recorder(alias).invalidated(nns, count, source)
        return count

    def count_pattern(self, pattern: str, *, namespace: str | None = None, every_namespace: bool = False) -> int:
        """How many keys ``invalidate_pattern`` would delete now (Redis only)."""
        scans = self._pattern_scans(pattern, namespace, every_namespace)
        with loud(self.alias, "count_pattern", pattern=pattern):
            return sum(self.adapter.scan_count(prefix, glob, select=select) for prefix, glob, select in scans)

    def _pattern_scans(self, pattern: str, namespace: str | None,
                       every_namespace: bool) -> list[tuple[str, str, Callable[[bytes], bool] | None]]:
        """``(prefix, glob, select)`` per SCAN a pattern needs. SCAN's MATCH narrows the walk; where
        its ``*`` could run past the key into the layout's ``}`` (a key may contain ``}:``),
        ``select`` checks the normalised key itself against the pattern, exactly."""
        if not isinstance(pattern, str):
            raise TypeError(f"a pattern must be str, not {type(pattern).__name__}")
        if not pattern or len(pattern) > 1000 or any(ord(c) < 32 or c.isspace() for c in pattern):
            raise ValueError("a pattern must be 1-1000 printable characters without spaces")
        if not self.capabilities.pattern_invalidation:
            self.adapter.scan_count("")  # raises UnsupportedOperation with the reason
        nns = None if namespace is None else normalize_namespace(namespace)
        with loud(self.alias, "count_pattern", pattern=pattern):
            layout = epochs.layout(self.alias)
        matches = glob_matcher(pattern)

        def select(prefix: str, rest: Callable[[str], str | None]) -> Callable[[bytes], bool]:
            skip = len(self.adapter.raw_prefix(prefix))

            def check(raw: bytes) -> bool:
                key = rest(raw.decode("utf-8", "surrogatepass")[skip:])
                return key is not None and matches(key)

            return check

        plain_prefix, plain_glob = layout.entry_match(None, pattern)
        plain = (plain_prefix, plain_glob, select(plain_prefix, lambda t: t[:-1] if t.endswith("}") else None))
        if every_namespace:
            prefix = layout.namespaced_entries()
            namespaced = (prefix, f"*}}:{pattern}", select(prefix, lambda t: t.partition("}:")[2] or None))
            return [plain, namespaced]
        if nns is None:
            return [plain]
        return [(*layout.entry_match(nns, pattern), None)]

    def clear_all(self) -> None:
        """Remove everything written through CacheManager in this alias, and nothing else.

        Other keys of the alias (sessions, other apps), other KEY_PREFIXes and other tenants of
        the server survive: the epoch moves on (every process follows within a second) and, on
        Redis, the old epoch's keys are UNLINKed in SCAN batches. Never FLUSHDB / flush_all.
        Statistics are history and are kept.
        """
        alias = self.alias
        with loud(alias, "clear"):
            old = epochs.advance(alias)
            if self.capabilities.physical_purge:
                self.adapter.scan_delete(old.base)

    # -- negative cache -------------------------------------------------------------------------
    def mark_invalid(self, key: str, reason: str, *, namespace: str, ttl: float | None = None,
                     detail: Any = None) -> dict[str, Any] | None:
        """Record that ``key`` is known bad (e.g. an invalid RUC) with a ``reason``.

        ``ttl`` defaults to ``ttl_for(f"{namespace}_invalid")``. Re-marking replaces the entry
        (counted once). At most ``REGISTRY_MAX_ENTRIES`` entries are kept per namespace: beyond,
        the oldest are dropped (see ``invalid_dropped``). Returns the entry, or None when the cache
        is unreachable (fail open).
        """
        alias = self.alias
        nkey, nns, item, seconds, now = self.invalid_item(alias, key, reason, namespace, ttl, detail)
        stored = fail_open(alias, nns, True, self._mark, alias, namespace, nkey, item, seconds, now)
        return None if stored is FAILED else stored

    @staticmethod
    def invalid_item(alias: str, key: str, reason: str, namespace: str, ttl: float | None,
                     detail: Any) -> tuple[str, str, dict[str, Any], float | None, float]:
        """(normalised key and namespace, the entry, its TTL, now) of a mark; bad input raises."""
        nkey, nns = normalize_key(key), normalize_namespace(namespace)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a reason must be a non-empty string, e.g. 'NO_EXISTE_SUNAT'")
        seconds = ttl if ttl is not None else ttl_policy.resolve(alias, f"{namespace}_invalid")
        now = time.time()
        item = registry.entry(key, namespace, reason, detail, now, None if seconds is None else now + float(seconds))
        return nkey, nns, item, seconds, now

    @staticmethod
    def _mark(alias: str, namespace: str, nkey: str, item: dict[str, Any], seconds: float | None,
              now: float) -> dict[str, Any] | None:
        scope = registry.scope(alias, namespace)
        store = registry.registry_for(scope.adapter)
        if seconds is not None and seconds <= 0:  # Django's contract: 0 means "expire now"
            store.remove(scope, nkey, now)
            return None
        stored = store.mark(scope, nkey, item, int(get_setting("REGISTRY_MAX_ENTRIES") or 0), now)
        stats.get_recorder(alias).publish_namespace(scope.nns, namespace)  # listable at once
        return stored

    def get_invalid_info(self, key: str, *, namespace: str) -> dict[str, Any] | None:
        """The live entry of ``key`` (reason, detail, marked_at, expires_at, ...) or None."""
        nkey, nns = normalize_key(key), normalize_namespace(namespace)
        alias = self.alias
        # An open circuit is not counted as an error here (it is by get/set/mark_invalid).
        info = fail_open(alias, nns, False, self._read_invalid, alias, namespace, nkey)
        return None if info is FAILED else info

    @staticmethod
    def _read_invalid(alias: str, namespace: str, nkey: str) -> dict[str, Any] | None:
        scope = registry.scope(alias, namespace)
        return registry.registry_for(scope.adapter).read(scope, nkey, time.time())

    def is_invalid(self, key: str, *, namespace: str) -> bool:
        """Is ``key`` marked invalid (and not expired)? False when the cache is unreachable."""
        return self.get_invalid_info(key, namespace=namespace) is not None

    def remove_invalid(self, key: str, *, namespace: str) -> bool:
        """Unmark ``key``; True if it was marked. Raises CacheUnavailable when the server is down."""
        nkey = normalize_key(key)
        with loud(self.alias, "remove_invalid"):
            scope = registry.scope(self.alias, namespace)
            return registry.registry_for(scope.adapter).remove(scope, nkey, time.time())

    def remove_invalid_reason(self, reason: str, *, namespace: str | None = None) -> int:
        """Unmark every live entry of ``reason`` in ``namespace`` (None: every known namespace),
        e.g. the ERROR_API marks an upstream outage left; how many were removed. Raises
        CacheUnavailable when the server is down."""
        names = [namespace] if namespace is not None else self.known_namespaces()
        removed = 0
        with loud(self.alias, "remove_invalid"):
            for name in names:
                scope = registry.scope(self.alias, name)
                removed += registry.registry_for(scope.adapter).remove_reason(scope, reason, time.time())
        return removed

    def invalid_entries(self, namespace: str, *, offset: int = 0, limit: int | None = None,
                        reason: str | None = None) -> list[dict[str, Any]]:
        """Live entries of ``namespace``, newest first: all, or ``limit`` from ``offset`` (a page
        costs the page, not the namespace). With ``reason``, only that reason's (``limit``
        required): every one on Redis and LocMem (``lists_every_reason``), elsewhere among the
        namespace's newest 5,000 entries. Raises CacheUnavailable when down."""
        with loud(self.alias, "invalid_entries"):
            scope = registry.scope(self.alias, namespace)
            store = registry.registry_for(scope.adapter)
            if reason is not None:
                return store.page_reason(scope, reason, time.time(), max(0, offset), max(0, limit or 0))
            return store.page(scope, time.time(), max(0, offset), limit)

    @property
    def lists_every_reason(self) -> bool:
        """Whether ``invalid_entries(reason=...)`` reaches every entry of the reason (Redis, LocMem)."""
        return registry.registry_for(self.adapter).exact_reason_pages

    def invalid_breakdown(self, namespace: str | None = None) -> dict[str, int]:
        """{reason: live count}, largest first, for one namespace or summed over every known one.
        Kept counts: O(reasons) per namespace, whatever the number of entries."""
        names = [namespace] if namespace is not None else self.known_namespaces()
        out: dict[str, int] = {}
        with loud(self.alias, "invalid_entries"):
            now = time.time()
            for name in names:
                scope = registry.scope(self.alias, name)
                for reason, count in registry.registry_for(scope.adapter).counts(scope, now).items():
                    out[reason] = out.get(reason, 0) + count
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))

    def invalid_dropped(self, namespace: str) -> int:
        """How many live entries of ``namespace`` were dropped to keep it within REGISTRY_MAX_ENTRIES."""
        with loud(self.alias, "invalid_entries"):
            scope = registry.scope(self.alias, namespace)
            return registry.registry_for(scope.adapter).dropped(scope)

    # -- policy, stats, health ----------------------------------------------------------------
    def ttl_for(self, name: str | None) -> int | None:
        """Effective TTL in seconds of a namespace / data type: admin override > settings TTLS >
        the alias's TIMEOUT. None means "never expires"."""
        value = ttl_policy.resolve(self.alias, name)
        return None if value is None else int(round(value))

    def explain_ttl(self, name: str | None) -> ttl_policy.TTL:
        """Where the TTL of ``name`` comes from (override, settings, the alias's TIMEOUT)."""
        return ttl_policy.explain(self.alias, name)

    def known_namespaces(self) -> list[str]:
        """Namespaces configured in settings TTLS and those active within the stats retention in
        any process (stats, negative cache). A TTL override alone makes no namespace: it is a TTL."""
        return stats.known_namespaces(self.alias, get_setting("TTLS"))

    def configured_namespaces(self) -> list[str]:
        """The namespaces among settings TTLS names (``<ns>_invalid``/``<ns>_error`` are TTLs of ``<ns>``)."""
        return sorted(stats.namespace_names(get_setting("TTLS")))

    def active_namespaces(self) -> list[str]:
        """The namespaces that held data within the stats retention, in any process (a configured
        namespace nothing was written to yet is not among them)."""
        return stats.known_namespaces(self.alias)

    def flush_stats(self) -> None:
        """Push this process's buffered counters to the cache server now."""
        stats.get_recorder(self.alias).flush()

    def get_stats(self, namespace: str | None = None, *, window: int = 3600) -> dict[str, Any]:
        """Totals, per-namespace totals, invalidations by source and a per-minute (or, past 2 h,
        per-hour) series over ``window`` seconds. ``shared`` says whether every process sees the
        same numbers (False on LocMem/Dummy: per process). Raises CacheUnavailable when down."""
        nns = None if namespace is None else normalize_namespace(namespace)
        recorder = stats.get_recorder(self.alias)
        with loud(self.alias, "get_stats"):
            recorder.flush()
            return stats.read_stats(recorder, nns, window)

    def get_totals(self) -> dict[str, Any]:
        """Every counter since the cache began keeping them, per namespace (hits, misses, sets,
        invalidations, errors, fetches, ``fetch_us``, stale) and invalidations by source: monotonic
        across processes (what Prometheus counters need), reset only when the server loses them.
        Raises when the cache cannot be read."""
        recorder = stats.get_recorder(self.alias)
        with loud(self.alias, "get_stats"):
            recorder.flush()
            return stats.read_totals(recorder)

    def get_server_history(self, *, window: int = 3600) -> dict[str, Any] | None:
        """The servers' memory, operations per second, evictions and hit ratio over ``window``
        seconds, as the background sampler recorded them once a minute (see ``sampler``); None
        while the circuit is open or the cache fails."""
        found: dict[str, Any] | None = quiet(self.alias, None, sampler.read_history, self.alias, window)
        return found

    def roll_up_stats(self) -> list[int]:
        """Store the closed hours of statistics the history store does not hold yet (the
        background flusher does it every few minutes); the hours this call stored."""
        return stats.roll_up(self.alias)

    def read_quietly(self, op: Callable[..., Any], *args: Any, default: Any = None) -> Any:
        """``op(*args)`` (a read of this alias's cache) through the circuit breaker: ``default``
        at once while the circuit is open, or when ``op`` fails (which the breaker is told)."""
        return quiet(self.alias, default, op, *args)

    def run_loudly(self, operation: str, op: Callable[..., Any], *args: Any, **params: Any) -> Any:
        """``op(*args)`` (a call the caller must know the outcome of) through the circuit breaker:
        cache errors become ``CacheUnavailable`` naming ``operation`` (a key of
        ``exceptions.OPERATIONS``, formatted with ``params``)."""
        with loud(self.alias, operation, **params):
            return op(*args)

    def get_health(self) -> dict[str, Any]:
        """Health of the alias (never raises, returns within ~HEALTH_TIMEOUT); see ``health``."""
        return health.check(self.alias)


#: The module-level manager: built without an alias, it follows ``CACHE_DASHBOARD["ALIAS"]`` at every call.
cache_manager = CacheManager()
