"""Redis Cluster through ``cache_dashboard.backends.redis_cluster.RedisClusterCache``: three
primaries on loopback (``redis-server --cluster-enabled yes`` + ``redis-cli --cluster create``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from cache_dashboard import CacheManager, keyspace, testing
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.redis_cluster import SLOTS, RedisClusterAdapter
from cache_dashboard.manager import aio, health, purge
from cache_dashboard.manager.breaker import get_breaker
from tests.procs import run_loop
from tests.topologies import Cluster, start_cluster


def cluster_cache(locations: list[str], timeout: float = 1.0) -> dict[str, Any]:
    return {"BACKEND": "cache_dashboard.backends.redis_cluster.RedisClusterCache", "LOCATION": locations,
            "OPTIONS": {"socket_timeout": timeout, "socket_connect_timeout": timeout}}


@pytest.fixture
def cluster_alias(redis_cluster: Cluster, extra_alias) -> str:  # type: ignore[no-untyped-def]
    extra_alias(cluster=cluster_cache(redis_cluster.locations))
    caches["cluster"].clear()  # FLUSHDB on every primary of this session's throwaway cluster
    return "cluster"


def _slots_of(client: Any, port: int) -> set[int]:
    return {slot for slot, nodes in client.nodes_manager.slots_cache.items() if nodes[0].port == port}


def _node_keys(cluster: Cluster) -> dict[int, int]:
    import redis

    out = {}
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        try:
            out[node.port] = client.dbsize()
        finally:
            client.close()
    return out


def _calls(cluster: Cluster) -> int:
    """Commands the nodes ran, left out what asking costs (a connection's HELLO, INFO)."""
    import redis

    total = 0
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        try:
            for name, stats in client.info("commandstats").items():
                if name not in ("cmdstat_info", "cmdstat_hello", "cmdstat_client|setinfo"):
                    total += int(stats["calls"])
        finally:
            client.close()
    return total


def test_the_adapter_and_plain_django_cache_calls(cluster_alias: str, redis_cluster: Cluster) -> None:
    assert isinstance(get_adapter(cluster_alias), RedisClusterAdapter)
    cache = caches[cluster_alias]
    data = {f"key-{i}": {"n": i} for i in range(200)}
    cache.set_many(data, 60)  # keys on every node: no CROSSSLOT
    assert cache.get_many(list(data)) == data
    assert all(count > 0 for count in _node_keys(redis_cluster).values())
    cache.delete_many(list(data)[:100])
    assert len(cache.get_many(list(data))) == 100
    assert cache.incr("key-counter-missing", 1) if cache.add("key-counter-missing", 1) else False
    cache.clear()
    assert sum(_node_keys(redis_cluster).values()) == 0


def test_cache_manager_hit_is_one_command(cluster_alias: str, redis_cluster: Cluster) -> None:
    cm = CacheManager(cluster_alias)
    calls: list[int] = []
    assert cm.get("20100070970", lambda: calls.append(1) or {"ruc": 1}, namespace="ruc") == {"ruc": 1}
    testing.wait_for_purges()
    cm.get("20100070970", lambda: calls.append(1) or {"ruc": 2}, namespace="ruc")
    with testing.flusher_paused():
        before = _calls(redis_cluster)
        assert cm.get("20100070970", lambda: calls.append(1) or {"ruc": 3}, namespace="ruc") == {"ruc": 1}
        assert _calls(redis_cluster) - before == 1  # the entry and its generation: one MGET, one node
    assert calls == [1]


def test_namespaces_patterns_registry_and_stats(cluster_alias: str, redis_cluster: Cluster) -> None:
    cm = CacheManager(cluster_alias)
    for i in range(60):
        cm.get(f"a{i}", lambda i=i: i, namespace="ruc")
        cm.get(f"b{i}", lambda i=i: i)
    cm.invalidate_namespace("ruc")
    assert testing.wait_for_purges()
    assert cm.get("a1", lambda: "new", namespace="ruc") == "new"
    removed = cm.invalidate_pattern("b1*")  # keys b1, b10…b19 on several nodes
    assert removed == 11
    assert cm.get("b15", lambda: "again") == "again"
    for n in range(30):
        cm.mark_invalid(f"2099{n}", "ERROR_API" if n % 3 else "NO_EXISTE_SUNAT", namespace="ruc")
    assert cm.invalid_breakdown(namespace="ruc") == {"ERROR_API": 20, "NO_EXISTE_SUNAT": 10}
    cm.flush_stats()
    totals = cm.get_stats()["totals"]
    assert totals["misses"] >= 120 and totals["invalidations"] >= 1


def test_the_async_api_on_a_cluster_runs_in_a_thread(cluster_alias: str, redis_cluster: Cluster) -> None:
    cm = CacheManager(cluster_alias)

    async def main() -> list[Any]:
        return [await aio.native_ops(cluster_alias), await cm.aget("k", lambda: "v", 60, namespace="ruc"),
                await cm.aset("k2", 2, 60), await cm.ainvalidate("k2")]

    assert run_loop(main) == [None, "v", True, 1]
    assert cm.get("k", namespace="ruc") == "v"


def test_key_browser_walks_every_primary(cluster_alias: str, redis_cluster: Cluster) -> None:
    cache = caches[cluster_alias]
    names = [f"walk:{i}" for i in range(300)]
    cache.set_many(dict.fromkeys(names, "v"), 60)
    adapter = get_adapter(cluster_alias)
    seen: list[bytes] = []
    cursor, pages = "", 0
    while True:
        page = adapter.list_keys(adapter.raw_key("walk:*"), cursor, 50, 5.0)
        seen += [key.raw for key in page.keys]
        pages += 1
        if not page.cursor:
            break
        cursor = page.cursor
    assert sorted(seen) == sorted(adapter.raw_key(n).encode() for n in names)
    assert pages >= 6
    listed = keyspace.list_page(cluster_alias, query="walk:*")
    assert listed["rows"] and not listed.get("error")


def test_health_per_node_with_slot_coverage(cluster_alias: str, redis_cluster: Cluster) -> None:
    report = health.check(cluster_alias)
    assert report["status"] == "healthy", report
    rows = report["server"]
    assert sorted(row["address"] for row in rows) == sorted(f"127.0.0.1:{n.port}" for n in redis_cluster.nodes)
    assert sum(row["slots"] for row in rows) == SLOTS
    assert all(row["role"] == "master" and row["ok"] for row in rows)


@pytest.fixture
def own_cluster(extra_alias) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    """A cluster of this test's own: it kills a node."""
    cluster = start_cluster()
    try:
        extra_alias(doomed=cluster_cache(cluster.locations, timeout=0.5))
        yield cluster
    finally:
        cluster.stop()


def test_a_killed_primary_shows_in_health_and_its_keys_fail_open(own_cluster: Cluster) -> None:
    cm = CacheManager("doomed")
    adapter = get_adapter("doomed")
    assert isinstance(adapter, RedisClusterAdapter)
    keys = [f"k{i}" for i in range(90)]
    for key in keys:
        cm.get(key, lambda key=key: key)
    victim = own_cluster.nodes[0]
    victim.stop()
    report = health.check("doomed")
    down = [row for row in report["server"] if not row["ok"]]
    assert [row["address"] for row in down] == [f"127.0.0.1:{victim.port}"]
    assert report["status"] == "warning"
    assert any("slots have no primary that answers" in w for w in report["warnings"]), report["warnings"]
    client = adapter.client()
    layout, dead_slots = testing.keys("doomed"), _slots_of(client, victim.port)
    on_victim = {key for key in keys if client.keyslot(adapter.raw_key(layout.entry(key, None))) in dead_slots}
    assert 0 < len(on_victim) < len(keys)
    for _round in range(3):
        fetched: list[str] = []
        for key in keys:  # every call answers: from the cache, or from the fetch for the dead node's keys
            assert cm.get(key, lambda key=key, fetched=fetched: fetched.append(key) or key) == key
        # Only the dead node's keys went to the fetch: the others stayed hits, the breaker closed.
        assert set(fetched) == on_victim
        assert get_breaker("doomed").state == "closed"
    report = health.check("doomed")
    victim_row = next(row for row in report["server"] if row["address"] == f"127.0.0.1:{victim.port}")
    assert "left alone for" in victim_row["note"]


def test_a_hung_primary_costs_one_timeout_then_is_left_alone(own_cluster: Cluster, extra_alias) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import time

    from cache_dashboard.backends.redis_cluster import NodeDown

    extra_alias(hung=cluster_cache(own_cluster.locations, timeout=0.3) | {
        "OPTIONS": {"socket_timeout": 0.3, "socket_connect_timeout": 0.3, "node_down_seconds": 1.0}})
    cache = caches["hung"]
    adapter = get_adapter("hung")
    client = adapter.client()
    victim = own_cluster.nodes[1]
    dead_slots = _slots_of(client, victim.port)
    key = next(f"h{i}" for i in range(1000) if client.keyslot(adapter.raw_key(f"h{i}")) in dead_slots)
    other = next(f"h{i}" for i in range(1000) if client.keyslot(adapter.raw_key(f"h{i}")) not in dead_slots)
    cache.set(key, "v", 60)
    cache.set(other, "w", 60)
    os.kill(victim.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(NodeDown) as first:
            cache.get(key)
        assert type(first.value.__cause__).__name__ == "TimeoutError"  # the one socket timeout
        for _ in range(20):  # then at once, without a socket
            with pytest.raises(NodeDown) as again:
                cache.get(key)
            assert again.value.__cause__ is None
            assert cache.get(other) == "w"  # the other nodes keep serving
        assert adapter.contains(again.value) and not again.value.everything
    finally:
        os.kill(victim.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while True:  # after node_down_seconds one call tries it again, and it answers
        try:
            assert cache.get(key) == "v"
            break
        except NodeDown:
            assert time.monotonic() < deadline, "the node was not tried again"
            time.sleep(0.2)


@pytest.mark.django_db
def test_the_servers_table_has_a_row_per_node_with_its_slots(cluster_alias: str, redis_cluster: Cluster,
                                                             admin_client) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    page = admin_client.get(reverse("admin:cache_dashboard_overview"), {"alias": cluster_alias})
    html = page.content.decode()
    assert page.status_code == 200
    assert len(re.findall(r'<span class="cd-quiet">\d+ of 16384 slots</span>', html)) == 3  # the table's rows
    for node in redis_cluster.nodes:
        assert f"127.0.0.1:{node.port}" in html


def test_a_purge_of_several_namespaces_keeps_to_one_slot_per_call(cluster_alias: str, redis_cluster: Cluster) -> None:
    cm = CacheManager(cluster_alias)
    names = ["a", "b", "c"]  # three hash tags: three slots, most likely on different nodes
    for ns in names:
        for i in range(150):
            cm.set(f"k{i}", i, 600, namespace=ns)
    testing.wait_for_purges()
    with override_settings(CACHE_DASHBOARD={**settings.CACHE_DASHBOARD, "PURGE_ON_INVALIDATE": False}):
        for ns in names:
            cm.invalidate_namespace(ns)
    for ns in names:
        cm.set("fresh", ns, 600, namespace=ns)
    # Redis Cluster refuses a script whose keys span slots (CROSSSLOT): the walk groups them.
    assert purge.purge_many(cluster_alias, names) == 450
    for ns in names:
        assert cm.get("fresh", namespace=ns) == ns and cm.get("k1", namespace=ns) is None
