"""Item 10 (health) and item 11 (fail open, circuit breaker, loud admin writes)."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import override_settings

from cache_dashboard import CacheManager, CacheUnavailable
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require
from tests.servers import CountingHungServer, HungServer, free_port, start_memcached, start_redis

REDIS_KEYS = {"version", "uptime", "used_memory", "maxmemory", "evicted_keys", "expired_keys",
              "keyspace_hits", "keyspace_misses", "connected_clients", "instantaneous_ops_per_sec"}
MEMCACHED_KEYS = {"version", "uptime", "curr_items", "bytes", "limit_maxbytes", "get_hits", "get_misses",
                  "evictions", "curr_connections"}


def test_health_shape(cm: CacheManager) -> None:
    report = cm.get_health()
    assert report["status"] == "healthy"
    assert report["backend"] == {"locmem": "locmem", "redis": "redis", "django_redis": "django_redis",
                                 "valkey": "redis", "django_valkey": "django_valkey",
                                 "memcached": "memcached"}[cm.alias]  # valkey: Django's RedisCache
    assert [c["name"] for c in report["checks"]] == ["connection", "roundtrip", "registry"]
    assert all(c["ok"] and c["latency_ms"] is not None for c in report["checks"])
    json.dumps(report)  # JSON-ready for the admin endpoint
    if cm.backend in ("redis", "django_redis", "django_valkey"):
        assert REDIS_KEYS <= set(report["server"][0]) and report["server"][0]["ok"]
    elif cm.backend == "memcached":
        assert MEMCACHED_KEYS <= set(report["server"][0]) and report["server"][0]["ok"]
    else:
        assert report["server"] == []


def test_health_reports_every_server_of_a_pool(servers: object) -> None:
    require("memcached", servers)  # type: ignore[arg-type]
    require("redis", servers)  # type: ignore[arg-type]
    pool = CacheManager("memcached_pool").get_health()
    assert pool["status"] == "healthy" and len(pool["server"]) == 2
    assert all(MEMCACHED_KEYS <= set(s) for s in pool["server"])
    multi = CacheManager("redis_multi").get_health()
    assert len(multi["server"]) == 2 and {s["role"] for s in multi["server"]} == {"master", "slave"}



def test_passwords_are_masked_everywhere(extra_alias, servers: object) -> None:  # type: ignore[no-untyped-def]
    require("redis", servers)  # type: ignore[arg-type]
    port = servers.redis.port  # type: ignore[attr-defined]
    extra_alias(secret={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": f"redis://user:s3cr3t-pw@127.0.0.1:{port}/3",
                        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}})
    cm = CacheManager("secret")
    report = cm.get_health()
    assert "s3cr3t-pw" not in json.dumps(report)
    assert "***" in report["location"]
    assert report["status"] == "unhealthy"  # the server has no such user: the error is shown, masked
    assert "s3cr3t-pw" not in cm.location_display


@pytest.mark.parametrize(("backend", "options"), [
    ("django.core.cache.backends.redis.RedisCache", {"password": "0pt-s3cret", "socket_timeout": 0.3}),
    ("django_redis.cache.RedisCache", {"PASSWORD": "0pt-s3cret", "SOCKET_TIMEOUT": 0.3,
                                       "CONNECTION_POOL_KWARGS": {"password": "n3sted-s3cret"}}),
])
def test_passwords_in_options_are_masked_too(extra_alias, backend: str, options: dict) -> None:  # type: ignore[no-untyped-def]
    # Nothing listens on port 1: every probe fails, and its error text is what staff see.
    extra_alias(opts={"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": options})
    cm = CacheManager("opts")
    report = cm.get_health()
    assert report["status"] == "unhealthy"
    assert cm.get("k", lambda: "fetched") == "fetched"  # fails open; the error is logged, masked
    with pytest.raises(CacheUnavailable) as raised:
        cm.invalidate_namespace("ns")
    shown = json.dumps(report) + str(raised.value) + cm.location_display
    assert "s3cret" not in shown
    assert cm.adapter.mask(f"redis://u:0pt-s3cret@h password=0pt-s3cret {options}") .count("s3cret") == 0


def test_health_of_unreachable_and_hung_servers_is_bounded(extra_alias) -> None:  # type: ignore[no-untyped-def]
    hung = HungServer()
    try:
        extra_alias(
            closed={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": f"redis://127.0.0.1:{free_port()}/0"},
            hung={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                  "LOCATION": f"redis://127.0.0.1:{hung.port}/0",
                  "OPTIONS": {"socket_timeout": 30, "socket_connect_timeout": 30}},
            hung_mc={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                     "LOCATION": f"127.0.0.1:{hung.port}"},  # pymemcache: no timeout at all
        )
        for alias in ("closed", "hung", "hung_mc"):
            started = time.monotonic()
            report = CacheManager(alias).get_health()
            elapsed = time.monotonic() - started
            assert report["status"] == "unhealthy", alias
            assert report["checks"][0]["ok"] is False and report["checks"][0]["error"]
            # A bound, not a benchmark: without it a hung server would block for 30 s or forever.
            assert elapsed < 5, (alias, elapsed)
    finally:
        hung.close()


@pytest.mark.parametrize("backend", ["redis", "django_redis", "django_valkey", "memcached", "memcached_ignore_exc"])
def test_fail_open_on_hung_server_and_circuit_opens(backend: str, extra_alias) -> None:  # type: ignore[no-untyped-def]
    if backend == "django_valkey":
        pytest.importorskip("django_valkey", reason="django-valkey needs Python 3.11")
    hung = CountingHungServer()
    location = f"127.0.0.1:{hung.port}"
    config = {
        "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://{location}/0",
                  "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}},
        "django_redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{location}/0",
                         "OPTIONS": {"SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2}},
        "django_valkey": {"BACKEND": "django_valkey.cache.ValkeyCache", "LOCATION": f"valkey://{location}/0",
                          "OPTIONS": {"SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2}},
        "memcached": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": location,
                      "OPTIONS": {"timeout": 0.2, "connect_timeout": 0.2, "retry_attempts": 0}},
        "memcached_ignore_exc": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                                 "LOCATION": location,
                                 "OPTIONS": {"timeout": 0.2, "connect_timeout": 0.2, "ignore_exc": True}},
    }[backend]
    extra_alias(flaky=config)
    cm = CacheManager("flaky")
    try:
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_FAILURE_THRESHOLD": 3, "CIRCUIT_RESET_TIMEOUT": 60}):
            for i in range(3):
                assert cm.get(f"k{i}", lambda: "fetched", 60) == "fetched"
            accepted = hung.accepted
            for i in range(200):
                assert cm.get(f"k{i}", lambda: "fetched", 60, namespace="ns") == "fetched"
            if backend != "memcached_ignore_exc":
                assert get_breaker("flaky").state == "open"
                assert hung.accepted == accepted  # open circuit: no further connection attempts
                cm.flush_stats()
                with pytest.raises(CacheUnavailable):
                    cm.invalidate("k1")  # admin writes fail loudly
                with pytest.raises(CacheUnavailable):
                    cm.invalidate_namespace("ns")
                assert cm.get_invalid_info("k", namespace="ruc") is None  # reads fail open
                assert cm.mark_invalid("k", "ERROR_API", namespace="ruc") is None
                assert cm.set("k", 1, 60) is False
    finally:
        hung.close()


@pytest.mark.parametrize("backend", ["django.core.cache.backends.redis.RedisCache", "django_redis.cache.RedisCache",
                                     "django_valkey.cache.ValkeyCache",
                                     "django.core.cache.backends.memcached.PyMemcacheCache"])
def test_a_hung_server_costs_one_socket_timeout_per_breaker_window(backend: str, extra_alias) -> None:  # type: ignore[no-untyped-def]
    # A timeout opens the circuit at once (threshold 3 counts refused connections, which fail fast);
    # valkey-py's TimeoutError is its own class, not redis-py's, and must count as one too.
    if backend.startswith("django_valkey"):
        pytest.importorskip("django_valkey", reason="django-valkey needs Python 3.11")
    hung = CountingHungServer()
    memcached = "memcached" in backend
    options = ({"timeout": 0.3, "connect_timeout": 0.3, "retry_attempts": 0} if memcached else
               {"SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3} if backend.startswith("django_") else
               {"socket_timeout": 0.3, "socket_connect_timeout": 0.3})
    location = f"127.0.0.1:{hung.port}" if memcached else f"redis://127.0.0.1:{hung.port}/0"
    extra_alias(stuck={"BACKEND": backend, "LOCATION": location, "OPTIONS": options})
    cm = CacheManager("stuck")
    try:
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_FAILURE_THRESHOLD": 3, "CIRCUIT_RESET_TIMEOUT": 60}):
            took = []
            for i in range(6):
                started = time.monotonic()
                assert cm.get(f"k{i}", lambda: "fetched", 60, namespace="ns") == "fetched"
                took.append(time.monotonic() - started)
        assert sum(t > 0.25 for t in took) == 1, took
        assert get_breaker("stuck").state == "open"
    finally:
        hung.close()


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_half_open_probe_closes_circuit_when_server_returns(kind: str, extra_alias, servers: object) -> None:  # type: ignore[no-untyped-def]
    require(kind, servers)  # type: ignore[arg-type]
    server = start_redis() if kind == "redis" else start_memcached()
    try:
        if kind == "redis":
            extra_alias(own={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                             "LOCATION": f"redis://{server.address}/0",
                             "OPTIONS": {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}})
        else:
            extra_alias(own={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                             "LOCATION": server.address,
                             "OPTIONS": {"timeout": 0.3, "connect_timeout": 0.3, "retry_attempts": 0,
                                         "dead_timeout": 0.1}})
        cm = CacheManager("own")
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_RESET_TIMEOUT": 0.5}):
            assert cm.get("k", lambda: "v1", 60) == "v1"
            server.stop()
            for _ in range(5):
                assert cm.get("k", lambda: "from-source", 60) == "from-source"
            assert get_breaker("own").state == "open"
            server.restart()
            time.sleep(0.7)
            deadline = time.monotonic() + 10
            while get_breaker("own").state != "closed" and time.monotonic() < deadline:
                cm.get("k", lambda: "v2", 60)
                time.sleep(0.2)
            assert get_breaker("own").state == "closed"
            assert cm.get("k", lambda: "v3", 60) in ("v2", "v3")
            assert cm.get("k") in ("v2", "v3")  # cached again
            cm.flush_stats()
            assert cm.get_stats()["totals"]["errors"] >= 3
    finally:
        server.stop()


def test_errors_are_logged_rate_limited(extra_alias, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    extra_alias(down={"BACKEND": "django.core.cache.backends.redis.RedisCache",
                      "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                      "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}})
    cm = CacheManager("down")
    with caplog.at_level(logging.ERROR, logger="cache_dashboard"), override_settings(
        CACHE_DASHBOARD={"CIRCUIT_RESET_TIMEOUT": 0}
    ):
        for _ in range(20):
            cm.get("k", lambda: 1, 60)
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1


def test_a_memcached_client_answering_defaults_is_a_cache_failure_not_a_type_error(extra_alias) -> None:  # type: ignore[no-untyped-def]
    # For a second after a server failed, pymemcache answers every call with its defaults
    # without trying (None for get and incr, False for add). The epoch and generation counters
    # then neither exist nor can be created: that is the cache being down (CacheUnavailable,
    # the breaker told), not int(None).
    extra_alias(gone={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                      "LOCATION": f"127.0.0.1:{free_port()}", "OPTIONS": {"retry_timeout": 30}})
    from django.core.cache import caches

    with pytest.raises(OSError):
        caches["gone"].get("first")  # refused: pymemcache marks the server failed
    assert caches["gone"].add("k", 1) is False and caches["gone"].get("k") is None  # defaults now
    cm = CacheManager("gone")
    for mutation in (cm.clear_all, lambda: cm.invalidate_namespace("ruc")):
        with pytest.raises(CacheUnavailable):
            mutation()
    assert get_breaker("gone").failures >= 1
    assert cm.get("k", lambda: "fetched", 60, namespace="ruc") == "fetched"  # reads fail open


def test_a_full_locmem_says_it_is_evicting(extra_alias) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import caches

    extra_alias(small={"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-small",
                       "OPTIONS": {"MAX_ENTRIES": 20}})
    cm = CacheManager("small")
    assert not any("MAX_ENTRIES" in w for w in cm.get_health()["warnings"])
    for n in range(25):
        caches["small"].set(f"k{n}", n)
    warnings = cm.get_health()["warnings"]
    assert any("of its MAX_ENTRIES (20): it is evicting" in w for w in warnings), warnings
    caches["small"].clear()
