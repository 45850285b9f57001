"""Redis Sentinel: a master, a replica and three sentinels on loopback, reached through
django-redis's SentinelClient and through Django's RedisCache with redis-py's SentinelConnectionPool."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.cache import caches

from cache_dashboard import CacheManager, testing
from cache_dashboard.adapters import get_adapter
from cache_dashboard.manager import aio, health
from cache_dashboard.overview import build_overview
from tests.procs import run_loop
from tests.topologies import SERVICE, SentinelGroup

TIMEOUTS = 1.0


def sentinel_caches(group: SentinelGroup) -> dict[str, dict[str, Any]]:
    from redis.sentinel import Sentinel

    return {
        # The README's two ways: django-redis's Sentinel client, and Django's own RedisCache with
        # redis-py's SentinelConnectionPool as its pool class.
        "sentinel_dr": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{SERVICE}/3",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.SentinelClient",
                        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                        "SENTINELS": group.addresses,
                        "SOCKET_TIMEOUT": TIMEOUTS, "SOCKET_CONNECT_TIMEOUT": TIMEOUTS},
        },
        "sentinel_dj": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{SERVICE}/4",
            "OPTIONS": {"pool_class": "redis.sentinel.SentinelConnectionPool", "service_name": SERVICE,
                        "sentinel_manager": Sentinel(group.addresses, socket_timeout=TIMEOUTS),
                        "socket_timeout": TIMEOUTS, "socket_connect_timeout": TIMEOUTS},
        },
    }


@pytest.fixture(params=["sentinel_dr", "sentinel_dj"])
def sentinel_alias(request: pytest.FixtureRequest, sentinel_group: SentinelGroup, extra_alias) -> str:  # type: ignore[no-untyped-def]
    extra_alias(**sentinel_caches(sentinel_group))
    caches[request.param].clear()  # this session's throwaway servers only
    return str(request.param)


def _roles(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in report["server"]:
        out.setdefault(row.get("role") or "?", []).append(row)
    return out


def test_health_discovers_master_replica_and_sentinels(sentinel_alias: str, sentinel_group: SentinelGroup) -> None:
    report = health.check(sentinel_alias)
    assert report["status"] == "healthy", report
    roles = _roles(report)
    sentinels = sorted(row["address"] for row in roles["sentinel"])
    assert sentinels == sorted(f"127.0.0.1:{s.port}" for s in sentinel_group.sentinels)
    master = f"127.0.0.1:{sentinel_group.master_port()}"
    assert [row["address"] for row in roles["master"]] == [master]
    assert [row["ok"] for row in roles["slave"]] == [True]
    for row in roles["sentinel"]:  # each sentinel's own view
        assert row["ok"] and row["sees"] == master and row["quorum"] == 2
        assert f"sees master {master} of {SERVICE}" in row["note"] and "quorum 2" in row["note"]
    # Never the service name taken for a host (django-redis's LOCATION is redis://mymaster/3).
    assert f"{SERVICE}:6379" not in str(report)
    assert SERVICE in report["location"]


def test_overview_shows_the_topology_as_healthy(sentinel_alias: str, sentinel_group: SentinelGroup) -> None:
    data = build_overview(sentinel_alias)
    assert data["health"]["status"] == "healthy"
    notes = [row["note"] for row in data["servers"] if row.get("role") == "sentinel"]
    assert len(notes) == 3 and all("quorum 2" in note for note in notes)


def test_cache_manager_through_sentinel(sentinel_alias: str) -> None:
    cm = CacheManager(sentinel_alias)
    calls: list[int] = []
    for _ in range(2):
        assert cm.get("ruc:20100070970", lambda: calls.append(1) or {"name": "x"}, namespace="ruc") == {"name": "x"}
    assert calls == [1]
    cm.invalidate_namespace("ruc")
    assert testing.wait_for_purges()  # the old generation's keys go in the background
    assert cm.get("ruc:20100070970", lambda: calls.append(1) or "again", namespace="ruc") == "again"
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    assert cm.is_invalid("20999999999", namespace="ruc")
    assert cm.invalid_breakdown(namespace="ruc") == {"NO_EXISTE_SUNAT": 1}
    assert get_adapter(sentinel_alias).sentinel() is not None


def test_the_async_api_through_sentinel_runs_in_a_thread(sentinel_alias: str) -> None:
    cm = CacheManager(sentinel_alias)

    async def main() -> list[Any]:
        return [await aio.native_ops(sentinel_alias), await cm.aget("k", lambda: "v", 60, namespace="ruc"),
                await cm.amark_invalid("2099", "ERROR_API", namespace="ruc") is not None,
                await cm.ais_invalid("2099", namespace="ruc")]

    assert run_loop(main) == [None, "v", True, True]  # (a SentinelConnectionPool has no asyncio twin here)
    assert cm.get("k", namespace="ruc") == "v"


def test_a_disagreeing_or_unreachable_sentinel_set_warns(sentinel_alias: str, sentinel_group: SentinelGroup,
                                                         extra_alias) -> None:  # type: ignore[no-untyped-def]
    from redis.sentinel import Sentinel

    from tests.servers import free_port

    # Two of the configured sentinels do not exist: below the quorum of 2, and said so.
    settings = sentinel_caches(sentinel_group)[sentinel_alias]
    dead = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
    addresses = [sentinel_group.addresses[0], *dead]
    if "SENTINELS" in settings["OPTIONS"]:
        settings["OPTIONS"]["SENTINELS"] = addresses
    else:
        settings["OPTIONS"]["sentinel_manager"] = Sentinel(addresses, socket_timeout=TIMEOUTS)
    # Another database: django-redis shares its connection pools between aliases of one LOCATION.
    settings["LOCATION"] = f"redis://{SERVICE}/5"
    extra_alias(partial=settings)
    report = health.check("partial")
    assert report["status"] == "warning", report
    down = [row for row in report["server"] if not row["ok"]]
    assert sorted(row["address"] for row in down) == sorted(f"127.0.0.1:{port}" for _h, port in dead)
    assert any("fewer than the quorum of 2" in w for w in report["warnings"]), report["warnings"]


def test_failover_under_load_fails_no_request(sentinel_alias: str, sentinel_group: SentinelGroup) -> None:
    """SENTINEL FAILOVER in the middle of a load run: every call answers right (from the cache,
    or from the fetch while the cache fails over), hits come back, and health names the new
    master without a restart."""
    cm = CacheManager(sentinel_alias)
    keys = [f"k{i}" for i in range(50)]
    for key in keys:
        cm.get(key, lambda key=key: f"value-{key}", namespace="load")
    fetched, failed, served = [0], [], [0]
    stop = threading.Event()
    lock = threading.Lock()

    def load() -> None:
        while not stop.is_set():
            for key in keys:
                def fetch(key: str = key) -> str:
                    with lock:
                        fetched[0] += 1
                    return f"value-{key}"
                try:
                    got = cm.get(key, fetch, namespace="load")
                except Exception as exc:  # a failed request
                    failed.append(repr(exc))
                    continue
                with lock:
                    served[0] += 1
                if got != f"value-{key}":
                    failed.append(f"{key}: {got!r}")

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        old = sentinel_group.master_port()
        new = sentinel_group.failover()
        assert new != old
        # Hits come back: a whole second in which the load fetched nothing (generous deadline).
        deadline = time.monotonic() + 30
        while True:
            before = fetched[0]
            time.sleep(1.0)
            if fetched[0] == before:
                break
            assert time.monotonic() < deadline, "the cache did not serve hits again after the failover"
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert failed == []
    assert served[0] > 0
    health.forget()
    report = health.check(sentinel_alias)
    masters = [row["address"] for row in report["server"] if row.get("role") == "master"
               and not row.get("note")]
    assert masters == [f"127.0.0.1:{new}"]



@pytest.mark.django_db
def test_the_servers_table_names_each_sentinel_and_the_master(sentinel_alias: str, sentinel_group: SentinelGroup,
                                                              admin_client) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    page = admin_client.get(reverse("admin:cache_dashboard_overview"), {"alias": sentinel_alias})
    html = page.content.decode()
    assert page.status_code == 200
    # One row per sentinel in the table, each with its view.
    assert html.count(f'<span class="cd-quiet">sees master 127.0.0.1:{sentinel_group.master_port()} of {SERVICE}') == 3
    assert f"{SERVICE}:6379" not in html
