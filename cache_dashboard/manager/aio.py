"""The async API (``CacheManager.aget`` & co.): the sync calls' meaning, on the running event loop.

* **Native** where the alias has an asyncio client (``adapters.aio``: Django's RedisCache,
  django-redis and django-valkey on one server, Valkey included): a hit is one awaited GET (or,
  namespaced, one MGET of the generation and the entry); a miss sends the commands of the sync
  ``aside.Miss`` to the same keys, in the same format, so a value written by ``set`` is a hit for
  ``aget`` and back. The negative cache's marks and reads are its Lua scripts, sent natively.
* **One flight per loop:** coroutines of one loop missing the same entry wait for the first one,
  which takes the stampede lock shared with every other process (``SET NX``) and fetches; they
  then read the stored entry (each caller its own copy, as from the sync path) without polling
  the server. A coroutine holding a stale copy serves it at once.
* The circuit breaker, fail-open and the stats are the sync ones (in process memory, shared by
  threads and loops): an open circuit answers at once, a hung server opens it after one timeout.
* **Elsewhere** (LocMem, file, database, memcached, Sentinel, Redis Cluster, a connection option
  the asyncio client does not take) each call runs its sync twin in a worker thread
  (``sync_to_async(thread_sensitive=False)``): the same results, a thread hop per call. So does
  ``aget_health`` everywhere (its probes have their own timeouts and threads).

A ``fetch_func`` may be ``async def`` (awaited on the loop) or a plain function, run by
``sync_to_async`` with Django's default (thread-sensitive: it may use the ORM).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from cache_dashboard.adapters import get_adapter, instance
from cache_dashboard.adapters.aio import AsyncOps, NotNative, close_loop_clients, loop_state, running_state
from cache_dashboard.conf import get_setting, get_settings
from cache_dashboard.keys import KeyLayout, epoch_key, normalize_key, normalize_namespace, purges_key
from cache_dashboard.manager import epochs, purge, registry, stats
from cache_dashboard.manager import ttl as ttl_policy
from cache_dashboard.manager.aside import _MISSING, Miss, _expiry, _lock_parts, lock_value, refresh_early
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.entry import FETCH_SECONDS, SOFT_EXPIRY, VALUE, load, pack
from cache_dashboard.manager.guard import FAILED, loud
from cache_dashboard.manager.stats import StatsRecorder

logger = logging.getLogger("cache_dashboard")
_UNSET: Any = object()

__all__ = ["aget", "aset", "ainvalidate", "ainvalidate_namespace", "amark_invalid", "aget_invalid_info",
           "close_loop_clients", "in_thread", "native_ops"]


# -- the loop's client, or None: run the sync twin in a thread ------------------------------------
async def native_ops(alias: str) -> AsyncOps | None:
    """The running loop's client of ``alias`` (built on first use), or None when it has none."""
    state = running_state()
    if state is None:
        state = await loop_state()
    found = state.clients.get(alias, _UNSET)
    if found is _UNSET:
        try:
            found = get_adapter(alias).async_ops()
        except NotNative as exc:
            logger.info("cache alias %r: async calls run the sync ones in a thread (%s)", alias, exc)
            found = None
        except Exception:  # a misconfigured alias: the sync call fails open and says why
            logger.warning("cache alias %r: no asyncio client", alias, exc_info=True)
            return None
        state.clients[alias] = found
    return found  # type: ignore[no-any-return]


async def in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` (a sync CacheManager call) in a worker thread."""
    return await sync_to_async(func, thread_sensitive=False)(*args, **kwargs)


def sync_fetch(fetch: Callable[[], Any] | None) -> Callable[[], Any] | None:
    """``fetch`` as the sync path calls it (an ``async def`` one runs back on the caller's loop)."""
    if fetch is not None and inspect.iscoroutinefunction(fetch):
        return async_to_sync(fetch)
    return fetch


async def call(fetch: Callable[[], Any]) -> Any:
    """Run a ``fetch_func``: awaited when ``async def``, else through ``sync_to_async``."""
    if inspect.iscoroutinefunction(fetch):
        return await fetch()
    value = await sync_to_async(fetch)()
    if inspect.isawaitable(value):  # a plain callable that returned a coroutine
        value = await value
    return value


async def afail_open(alias: str, nns: str | None, count_skipped: bool,
                     op: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``guard.fail_open`` for a coroutine function ``op``."""
    breaker = get_breaker(alias)
    if not breaker.allow():
        if count_skipped:
            stats.get_recorder(alias).incr(nns, "errors")
        return FAILED
    try:
        result = await op(*args)
    except Exception as exc:
        breaker.failure(exc)
        stats.get_recorder(alias).incr(nns, "errors")
        return FAILED
    breaker.success()
    return result


async def abypass(fetch: Callable[[], Any] | None, nns: str | None, default: Any, recorder: StatsRecorder) -> Any:
    """``aside.bypass``: the cache is unusable, fetch without storing (fail open)."""
    if fetch is None:
        return default
    start = time.perf_counter()
    value = await call(fetch)
    recorder.fetched(nns, time.perf_counter() - start)
    return value


# -- counters and entries -------------------------------------------------------------------------
async def layout(alias: str, ops: AsyncOps) -> KeyLayout:
    """``epochs.layout``, reading the epoch natively when this process's copy is too old."""
    found = epochs.trusted(alias)
    if found is not None:
        return found
    key = epoch_key()
    epoch = await ops.version(key)
    if epoch is None:
        epoch = await ops.create_version(key, epochs.fresh_counter())
    return epochs.remember(alias, epoch)


async def generation(ops: AsyncOps, keys: KeyLayout, nns: str) -> int:
    """``epochs.generation``: the namespace's current generation, created if missing."""
    key = keys.generation(nns)
    found = await ops.version(key)
    return found if found is not None else await ops.create_version(key, epochs.fresh_counter())


async def store(ops: AsyncOps, ekey: str, value: Any, gen: int | None, seconds: float | None,
                fetch_seconds: float) -> bool:
    """``aside.store``: write an entry fresh for ``seconds``; 0 or less deletes it (False)."""
    if seconds is not None and seconds <= 0:
        await ops.delete([ekey])
        return False
    soft, timeout = _expiry(seconds)
    await ops.set(ekey, pack(value, gen, soft, fetch_seconds), timeout)
    return True


# -- cache-aside ----------------------------------------------------------------------------------
async def aget(cm: Any, key: str, fetch: Callable[[], Any] | None, ttl: float | None, namespace: str | None,
               default: Any) -> Any:
    """``CacheManager.get`` on the loop (see the module's documentation)."""
    nkey = normalize_key(key)
    conf = get_settings()
    alias = cm._alias or conf["ALIAS"]
    ops = await native_ops(alias)
    if ops is None:
        return await in_thread(cm.get, key, sync_fetch(fetch), ttl, namespace=namespace, default=default)
    recorder = stats.get_recorder(alias)
    if namespace is None:
        nns = None
    else:
        nns = normalize_namespace(namespace)
        recorder.saw_namespace(nns, namespace)
    breaker = get_breaker(alias)
    if not breaker.allow():
        recorder.incr(nns, "errors")
        return await abypass(fetch, nns, default, recorder)
    try:
        keys = epochs.trusted(alias) or await layout(alias, ops)
        ekey = keys.entry(nkey, nns)
        if nns is None:
            stored, gen = await ops.get(ekey), None
        else:
            gen, stored = await ops.pair(keys.generation(nns), ekey)
    except Exception as exc:
        breaker.failure(exc)
        recorder.incr(nns, "errors")
        return await abypass(fetch, nns, default, recorder)
    breaker.success()
    entry = load(stored, gen)
    early = False
    if entry is not None:
        now = time.time()
        soft = entry[SOFT_EXPIRY]
        if soft is None or now < soft:
            if conf["STATS_ENABLED"]:
                recorder.count(nns, "hits")
            delta = entry[FETCH_SECONDS]
            if fetch is None or not delta or not refresh_early(now, soft, delta, conf["XFETCH_BETA"]):
                return entry[VALUE]
            early = True
    if not early:
        recorder.incr(nns, "misses")
    if fetch is None:
        return default
    return await AsyncMiss(ops, alias=alias, cache=instance(alias), keys=keys, key=key, namespace=namespace,
                           nns=nns, ekey=ekey, generation=gen, fetch=fetch, ttl=ttl, stale=entry, early=early,
                           recorder=recorder).run_async()


class AsyncMiss(Miss):
    """``aside.Miss`` on the loop, with one flight per loop and entry (see the module's documentation)."""

    __slots__ = ("ops",)

    def __init__(self, ops: AsyncOps, **fields: Any) -> None:
        super().__init__(**fields)
        self.ops = ops

    async def run_async(self) -> Any:
        state = running_state()
        if state is None:  # pragma: no cover - native_ops() made it
            return await self._locked()
        flight = (self.alias, self.ekey)
        leader = state.flights.get(flight)
        if leader is None:
            future = state.flights[flight] = asyncio.get_running_loop().create_future()
            try:
                return await self._locked()
            finally:
                future.set_result(None)
                if state.flights.get(flight) is future:
                    del state.flights[flight]
        if self.stale is not None:
            return self.serve_stale()
        try:  # as long as a waiter of the sync path would wait, then fetch (fail open)
            await asyncio.wait_for(asyncio.shield(leader), float(get_setting("STAMPEDE_MAX_WAIT")))
        except asyncio.TimeoutError:
            return await self._fetch_and_store()
        try:
            entry = self._current(await self.ops.get(self.ekey))
        except Exception:
            entry = None
        return entry[VALUE] if entry is not None else await self._locked()

    async def _locked(self) -> Any:
        """``Miss.run``: the stampede lock shared with every process, then fetch, wait or serve stale."""
        ops = self.ops
        try:
            if self.nns is not None and self.generation is None:
                self.generation = await ops.create_version(self.keys.generation(self.nns), epochs.fresh_counter())
            hint = self.stale[FETCH_SECONDS] if self.stale is not None else None
            taken = time.monotonic()
            acquired, stored = await ops.add_and_get(self.lock_key, lock_value(self.token, hint),
                                                     get_setting("STAMPEDE_LOCK_TIMEOUT"), self.ekey)
        except Exception as exc:
            get_breaker(self.alias).failure(exc)
            self.recorder.incr(self.nns, "errors")
            return await abypass(self.fetch, self.nns, None, self.recorder)
        if acquired:
            self.taken = taken
            try:
                entry = self._stored_since(stored)
                return entry[VALUE] if entry is not None else await self._fetch_and_store()
            finally:
                await self._unlock()
        if self.stale is not None:
            return self.serve_stale()
        value = await self._holder_value()
        return value if value is not _MISSING else await self._fetch_and_store()

    async def _holder_value(self) -> Any:
        """``Miss._wait``: poll for the holder's value (awaiting, not sleeping the thread)."""
        try:
            deadline, pause = self._wait_plan(await self.ops.get(self.lock_key))
            while time.monotonic() < deadline:
                sleep, pause = self._pause(pause, deadline)
                await asyncio.sleep(sleep)
                held, stored = await self.ops.lock_and_get(self.lock_key, self.ekey)
                entry = self._current(stored)
                if entry is not None:
                    return entry[VALUE]
                if held is None:
                    break
        except Exception:
            pass
        return _MISSING

    async def _fetch_and_store(self) -> Any:
        start = time.perf_counter()
        value = await call(self.fetch)
        seconds, delta = self.fetched(start)
        breaker = get_breaker(self.alias)
        try:
            found = self.packed(value, seconds, delta)
            if found is None:
                await store(self.ops, self.ekey, value, self.generation, seconds, delta)
            else:
                await self.ops.set_and_delete(self.ekey, found[0], found[1], self.lock_key)
                self.taken = None  # released
        except Exception as exc:
            self.failed(breaker, exc, delta)
        else:
            self.stored(breaker, delta)
        return value

    async def _unlock(self) -> None:
        if self.taken is None:
            return
        try:
            if not self._still_ours():
                token, _hint, _taken = _lock_parts(await self.ops.get(self.lock_key))
                if token != self.token:
                    return
            await self.ops.delete([self.lock_key])
        except Exception:
            pass  # the lock's TTL frees it
        finally:
            self.taken = None


# -- writes ---------------------------------------------------------------------------------------
async def aset(cm: Any, key: str, value: Any, ttl: float | None, namespace: str | None) -> bool:
    alias = cm.alias
    ops = await native_ops(alias)
    if ops is None:
        return bool(await in_thread(cm.set, key, value, ttl, namespace=namespace))
    nkey = normalize_key(key)
    recorder = stats.get_recorder(alias)
    nns = None
    if namespace is not None:
        nns = normalize_namespace(namespace)
        recorder.saw_namespace(nns, namespace)

    async def write() -> bool:
        keys = await layout(alias, ops)
        gen = None if nns is None else await generation(ops, keys, nns)
        seconds = ttl_policy.for_entry(alias, key, namespace, ttl)
        return await store(ops, keys.entry(nkey, nns), value, gen, seconds, 0.0)

    stored = await afail_open(alias, nns, True, write)
    if stored is FAILED:
        return False
    if stored:
        recorder.incr(nns, "sets")
    return bool(stored)


async def ainvalidate(cm: Any, keys: str | Iterable[str], namespace: str | None, source: str | None) -> int:
    alias = cm.alias
    ops = await native_ops(alias)
    if ops is None:
        return int(await in_thread(cm.invalidate, keys, namespace=namespace, source=source))
    nkeys = [normalize_key(k) for k in ([keys] if isinstance(keys, str) else keys)]
    nns = None if namespace is None else normalize_namespace(namespace)
    with loud(alias, "invalidate"):
        found = await layout(alias, ops)
        count = await ops.delete([found.entry(k, nns) for k in nkeys])
    stats.get_recorder(alias).invalidated(nns, count, source)
    return count


async def ainvalidate_namespace(cm: Any, namespace: str, source: str | None) -> None:
    alias = cm.alias
    ops = await native_ops(alias)
    if ops is None:
        await in_thread(cm.invalidate_namespace, namespace, source=source)
        return
    nns = normalize_namespace(namespace)
    purging = cm.capabilities.physical_purge and get_setting("PURGE_ON_INVALIDATE")
    with loud(alias, "invalidate_namespace", namespace=namespace):
        found = await layout(alias, ops)
        # The generation moves on and the purge is recorded (``purge.record``) in one round trip.
        await ops.bump_version(found.generation(nns), epochs.fresh_counter(),
                               note=(purges_key(), namespace) if purging else None)
    recorder = stats.get_recorder(alias)
    recorder.saw_namespace(nns, namespace)
    recorder.invalidated(nns, 1, source)
    if purging:
        try:
            purge.hand_over(alias, namespace)
        except Exception:  # the invalidation is done; memory then comes back at expiry
            logger.warning("could not ask for a purge of namespace %r", namespace, exc_info=True)


# -- negative cache -------------------------------------------------------------------------------
async def amark_invalid(cm: Any, key: str, reason: str, namespace: str, ttl: float | None,
                        detail: Any) -> dict[str, Any] | None:
    alias = cm.alias
    ops = await native_ops(alias)
    nkey, nns, item, seconds, now = cm.invalid_item(alias, key, reason, namespace, ttl, detail)
    if ops is None or (seconds is not None and seconds <= 0):  # (an unmark: the sync path's)
        found: dict[str, Any] | None = await in_thread(cm.mark_invalid, key, reason, namespace=namespace,
                                                       ttl=ttl, detail=detail)
        return found

    async def mark() -> dict[str, Any]:
        scope = registry.scope(alias, namespace, await layout(alias, ops))
        cap = int(get_setting("REGISTRY_MAX_ENTRIES") or 0)
        await ops.script(*registry.SORTED.mark_call(scope, nkey, item, cap, now))
        recorder = stats.get_recorder(alias)
        if recorder.unpublished(namespace):  # once an hour per namespace: listable at once
            await in_thread(recorder.publish_namespace, scope.nns, namespace)
        return dict(item)

    stored = await afail_open(alias, nns, True, mark)
    return None if stored is FAILED else stored


async def aget_invalid_info(cm: Any, key: str, namespace: str) -> dict[str, Any] | None:
    alias = cm.alias
    ops = await native_ops(alias)
    if ops is None:
        found: dict[str, Any] | None = await in_thread(cm.get_invalid_info, key, namespace=namespace)
        return found
    nkey, nns = normalize_key(key), normalize_namespace(namespace)

    async def read() -> dict[str, Any] | None:
        scope = registry.scope(alias, namespace, await layout(alias, ops))
        sorted_sets = registry.SORTED
        return sorted_sets.read_result(scope, nkey, await ops.script(*sorted_sets.read_call(scope, nkey, time.time())))

    info = await afail_open(alias, nns, False, read)
    return None if info is FAILED else info

