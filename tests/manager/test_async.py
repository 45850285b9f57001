"""The async API: the sync calls' meaning in the same entries, native on Redis (one pool per event
loop, closed with the loop), a thread elsewhere; stampede, fail-open and the breaker as in sync code."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from django.test import override_settings

from cache_dashboard import CacheManager, CacheUnavailable, testing
from cache_dashboard.adapters import aio as adapters_aio
from cache_dashboard.adapters import get_adapter
from cache_dashboard.manager import aio
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require
from tests.procs import run_loop as run
from tests.procs import run_processes
from tests.servers import CountingHungServer, start_redis
from tests.workers import astampede

NATIVE = {"redis", "django_redis", "valkey", "django_valkey"}


def test_native_on_redis_a_thread_elsewhere(cm: CacheManager) -> None:
    async def main() -> Any:
        return await aio.native_ops(cm.alias)

    ops = run(main)
    assert (ops is not None) == (cm.alias in NATIVE)
    said = cm.get_health()["async"]
    assert said["native"] == (cm.alias in NATIVE) and bool(said["note"]) != said["native"]
    assert run(cm.aget_health)["async"] == said


def test_sync_and_async_share_entries_and_stats(cm: CacheManager) -> None:
    cm.set("20100070970", {"razon_social": "ACME"}, 60, namespace="ruc")
    cm.flush_stats()
    before = cm.get_stats()["totals"]

    async def main() -> list[Any]:
        hit = await cm.aget("20100070970", namespace="ruc")
        stored = await cm.aset("plain", ["a", 1], 60)
        missing = await cm.aget("missing", default="MISS", namespace="ruc")
        return [hit, stored, missing]

    assert run(main) == [{"razon_social": "ACME"}, True, "MISS"]
    assert cm.get("plain") == ["a", 1]  # written by aset, a hit for get
    after = cm.get_stats()["totals"]
    if cm.backend != "dummy":
        assert after["hits"] - before["hits"] == 2  # aget's hit and get's
        assert after["misses"] - before["misses"] == 1
        assert after["sets"] - before["sets"] == 1


def test_fetch_func_sync_or_async_and_errors_cache_nothing(cm: CacheManager) -> None:
    calls: list[str] = []

    def sync_fetch() -> str:
        calls.append("sync")
        return "from sync"

    async def async_fetch() -> str:
        await asyncio.sleep(0)
        calls.append("async")
        return "from async"

    async def failing() -> str:
        raise LookupError("SUNAT is down")

    async def main() -> list[Any]:
        out = [await cm.aget("a", sync_fetch, 60), await cm.aget("a", sync_fetch, 60),
               await cm.aget("b", async_fetch, 60, namespace="ns"), await cm.aget("b", async_fetch, 60, namespace="ns")]
        with pytest.raises(LookupError):
            await cm.aget("c", failing, 60)
        out.append(await cm.aget("c", default="nothing cached"))
        out.append(await cm.aget("z", lambda: None, 60))  # None is cached like any value
        out.append(await cm.aget("z", lambda: "refetched", 60))
        return out

    assert run(main) == ["from sync", "from sync", "from async", "from async", "nothing cached", None, None]
    assert calls == ["sync", "async"]


def test_invalidation_is_seen_by_both_apis(cm: CacheManager) -> None:
    cm.set("k1", 1, 60, namespace="ns")
    cm.set("k2", 2, 60, namespace="ns")
    cm.set("solo", 3, 60)

    async def main() -> list[Any]:
        deleted = await cm.adelete("solo")
        again = await cm.adelete("solo")
        await cm.ainvalidate_namespace("ns", source="test")
        gone = await cm.aget("k1", namespace="ns", default="GONE")
        await cm.aset("k3", 3, 60, namespace="ns")
        return [deleted, again, gone]

    assert run(main) == [cm.backend != "dummy", False, "GONE"]
    assert cm.get("k2", namespace="ns", default="GONE") == "GONE"
    assert cm.get("k3", namespace="ns") == (None if cm.backend == "dummy" else 3)


def test_negative_cache_in_both_apis(cm: CacheManager) -> None:
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc", ttl=600)
    hostile = "\ud800__proto__\x00"

    async def main() -> list[Any]:
        marked = await cm.amark_invalid(hostile, "FORMATO_INVALIDO", namespace="ruc", ttl=600, detail={"d": 1})
        return [await cm.ais_invalid("20999999999", namespace="ruc"),
                (await cm.aget_invalid_info("20999999999", namespace="ruc") or {}).get("reason"),
                marked is not None, await cm.ais_invalid("unknown", namespace="ruc")]

    assert run(main) == [True, "NO_EXISTE_SUNAT", True, False]
    info = cm.get_invalid_info(hostile, namespace="ruc")
    assert info is not None and info["key"] == hostile and info["detail"] == {"d": 1}
    assert cm.invalid_breakdown("ruc") == {"FORMATO_INVALIDO": 1, "NO_EXISTE_SUNAT": 1}
    with pytest.raises(ValueError):
        run(lambda: cm.amark_invalid("x", "  ", namespace="ruc"))


def test_decorated_async_function_reads_natively(cm: CacheManager) -> None:
    calls: list[str] = []

    @cm.cached(namespace="ruc", key=lambda ruc: ruc)
    async def consultar_ruc(ruc: str) -> dict[str, str]:
        calls.append(ruc)
        return {"ruc": ruc}

    async def main() -> list[Any]:
        first = await consultar_ruc("20100070970")
        second = await consultar_ruc("20100070970")
        removed = await consultar_ruc.ainvalidate("20100070970")
        return [first == second == {"ruc": "20100070970"}, removed]

    assert run(main) == [True, 1]
    assert cm.get("20100070970", namespace="ruc", default="GONE") == "GONE"
    assert calls == ["20100070970"]


def test_one_fetch_for_concurrent_coroutines(cm: CacheManager) -> None:
    fetches: list[int] = []

    async def fetch() -> str:
        fetches.append(1)
        await asyncio.sleep(0.2)
        return "computed"

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(cm.aget("cold", fetch, 60, namespace="hot") for _ in range(100))))

    assert run(main) == ["computed"] * 100
    assert len(fetches) == 1
    cm.flush_stats()
    totals = cm.get_stats()["totals"]
    assert totals["fetches"] == 1 and totals["misses"] + totals["hits"] == 100
    if cm.alias in NATIVE:  # all 100 missed; in threads, those queued behind the pool's workers hit
        assert totals["misses"] == 100


@pytest.mark.slow
@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_one_fetch_for_a_loop_of_100_and_three_other_processes(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    results = run_processes(astampede, [(alias_name, "cold-key", 0.3, n) for n in (100, 10, 10, 10)])
    assert [len(r) for r in results] == [100, 10, 10, 10]
    assert all(r == {"value": "cold-key"} for found in results for r in found)
    assert get_adapter(alias_name).read_ints(["test:fetch-count"]) == {"test:fetch-count": 1}


@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_one_pool_per_loop_closed_at_shutdown(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    client = get_adapter(alias_name).client()
    # Count the loop's connections only: no background purge or stats flush opens one meanwhile.
    assert testing.wait_for_purges()
    with testing.flusher_paused():
        seen: list[Any] = []

        def clients() -> int:
            return len(client.client_list())

        idle = clients()

        async def main() -> int:
            await asyncio.gather(*(cm.aget(f"k{i}", lambda: "v", 60) for i in range(20)))
            ops = await aio.native_ops(alias_name)
            seen.append(ops)
            assert ops is await aio.native_ops(alias_name)  # one per loop
            return clients()

        during = run(main)
        assert during > idle  # the loop's own connections
        assert clients() == idle  # closed when asyncio.run shut the loop down
        run(main)
        assert seen[0] is not seen[1] and seen[0].pool is not seen[1].pool  # never shared across loops
        assert clients() == idle

        async def closed_early() -> int:
            await cm.aget("k1")
            await cm.aclose()
            return clients()

        assert run(closed_early) == idle


@pytest.mark.parametrize("backend", ["django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache"])
def test_hung_server_one_socket_timeout_then_fail_open(backend: str, extra_alias) -> None:  # type: ignore[no-untyped-def]
    hung = CountingHungServer()
    options = ({"SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3} if backend.startswith("django_")
               else {"socket_timeout": 0.3, "socket_connect_timeout": 0.3})
    extra_alias(stuck={"BACKEND": backend, "LOCATION": f"redis://127.0.0.1:{hung.port}/0", "OPTIONS": options})
    cm = CacheManager("stuck")

    async def main() -> tuple[list[float], Any]:
        assert await aio.native_ops("stuck") is not None
        took = []
        for i in range(6):
            started = time.monotonic()
            assert await cm.aget(f"k{i}", lambda: "fetched", 60, namespace="ns") == "fetched"
            took.append(time.monotonic() - started)
        with pytest.raises(CacheUnavailable):
            await cm.ainvalidate_namespace("ns")
        return took, [await cm.aset("k", 1, 60), await cm.amark_invalid("k", "ERROR_API", namespace="ruc"),
                      await cm.ais_invalid("k", namespace="ruc")]

    try:
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_FAILURE_THRESHOLD": 3, "CIRCUIT_RESET_TIMEOUT": 60}):
            took, writes = run(main)
        assert sum(t > 0.25 for t in took) == 1, took
        assert writes == [False, None, False]
        assert get_breaker("stuck").state == "open"
    finally:
        hung.close()


def test_connection_options_carried_or_refused() -> None:
    import redis

    pool = redis.ConnectionPool.from_url("redis://user:secret@127.0.0.1:6390/3", socket_timeout=0.7,
                                         max_connections=7)
    cloned, limit = adapters_aio.clone_pool(pool, redis)
    kwargs = cloned.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["username"], kwargs["password"]) == \
        ("127.0.0.1", 6390, 3, "user", "secret")
    assert kwargs["socket_timeout"] == 0.7 and limit == 7
    assert type(cloned).__module__ == "redis.asyncio.connection"
    odd = redis.ConnectionPool(host="127.0.0.1", unheard_of_option=1)
    with pytest.raises(adapters_aio.NotNative, match="unheard_of_option"):
        adapters_aio.clone_pool(odd, redis)
    with pytest.raises(adapters_aio.NotNative, match="no asyncio twin"):
        adapters_aio.clone_pool(redis.sentinel.SentinelConnectionPool("svc", redis.sentinel.Sentinel([])), redis)


@pytest.mark.parametrize("alias_name", ["redis", "django_redis"])
def test_concurrent_hits_are_coalesced_and_stay_within_the_pool_limit(alias_name: str, servers: object) -> None:
    require(alias_name, servers)  # type: ignore[arg-type]
    cm = CacheManager(alias_name)
    for i in range(1000):
        cm.set(f"k{i}", i, 600, namespace="many")
    client = get_adapter(alias_name).client()

    def commands() -> int:
        stats = client.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("get", "mget"))

    async def main() -> tuple[list[Any], int]:
        await cm.aget("k0", namespace="many")  # the loop's client and the epoch, read once
        before = commands()
        found = await asyncio.gather(*(cm.aget(f"k{i}", namespace="many") for i in range(1000)))
        return list(found), commands() - before

    found, sent = run(main)
    assert found == list(range(1000))  # every caller its own value, none failed over the pool limit
    assert sent < 50, sent  # a few MGETs, not 1,000 round trips


def test_a_server_that_goes_away_and_comes_back(extra_alias, servers: object) -> None:  # type: ignore[no-untyped-def]
    require("redis", servers)  # type: ignore[arg-type]
    server = start_redis()
    extra_alias(own={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                     "LOCATION": f"redis://{server.address}/0",
                     "OPTIONS": {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}})
    cm = CacheManager("own")

    async def main() -> list[Any]:
        seen = [await cm.aget("k", lambda: "v1", 60)]
        server.stop()
        seen += [await cm.aget("k", lambda: "from-source", 60) for _ in range(5)]  # fail open
        seen.append(get_breaker("own").state)
        server.restart()
        await asyncio.sleep(0.7)
        deadline = time.monotonic() + 10
        while get_breaker("own").state != "closed" and time.monotonic() < deadline:
            await cm.aget("k", lambda: "v2", 60)
            await asyncio.sleep(0.2)
        seen.append(get_breaker("own").state)
        seen.append(await cm.aget("k", lambda: "v3", 60))  # the same loop's pool reconnected
        seen.append(await cm.aget("k"))  # cached again
        return seen

    try:
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_RESET_TIMEOUT": 0.5}):
            seen = run(main)
        assert seen[:7] == ["v1"] + ["from-source"] * 5 + ["open"]
        # (The server came back empty, its epoch too: the first write may go to the old one.)
        assert seen[7] == "closed" and seen[8] in ("v2", "v3") and seen[9] in ("v2", "v3")
    finally:
        server.stop()


def test_a_slow_fetch_keeps_the_loop_waiting_no_longer_than_stampede_max_wait(cm: CacheManager) -> None:
    fetches: list[str] = []

    async def slow() -> str:
        fetches.append("slow")
        await asyncio.sleep(1.5)
        return "slow"

    async def quick() -> str:
        fetches.append("quick")
        return "quick"

    async def main() -> tuple[list[Any], float]:
        first = asyncio.ensure_future(cm.aget("k", slow, 60, namespace="w"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        second = await cm.aget("k", quick, 60, namespace="w")
        waited = time.monotonic() - started
        return [await first, second], waited

    with override_settings(CACHE_DASHBOARD={"STAMPEDE_MAX_WAIT": 0.3}):
        found, waited = run(main)
    assert found == ["slow", "quick"] and fetches == ["slow", "quick"]
    assert waited < 1.2  # gave up waiting for the slow fetch (a bound, not a benchmark)
