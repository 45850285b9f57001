"""Every page on every configured backend, the invalid-entries table, and the poll's cost."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.urls import reverse

from cache_dashboard import CacheManager
from tests.conftest import require

pytestmark = pytest.mark.django_db

ALIASES = [
    "default",
    "locmem",
    "file",
    "db",
    "dummy",
    "redis",
    "django_redis",
    "redis_multi",
    "memcached",
    "memcached_pool",
]
PAGES = ["overview", "overview_json", "invalid", "ttl", "invalidate", "clear"]


@pytest.mark.parametrize("alias", ALIASES)
def test_every_page_renders_on_every_backend(client_for: Any, servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    cm.set("k1", "v1", namespace="ruc")
    cm.get("k1", namespace="ruc")
    cm.mark_invalid("20999999999", "ERROR_API", namespace="ruc")
    client = client_for("superuser")
    for page in PAGES:
        response = client.get(reverse(f"admin:cache_dashboard_{page}"), {"alias": alias})
        assert response.status_code == 200, (alias, page)
    data = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": alias}).json()
    assert data["backend"] and data["health"]["status"] in ("healthy", "warning")
    # The key invalidation works everywhere (the dummy cache never held it: 0 removed).
    response = client.post(
        reverse("admin:cache_dashboard_invalidate_key"), {"alias": alias, "key": "k1", "namespace": "ruc"}
    )
    assert response.status_code == 302
    assert cm.get("k1", namespace="ruc") is None


def test_invalid_entries_search_and_pagination(client_for: Any, cm: Any) -> None:
    for n in range(30):
        cm.mark_invalid(f"2010000{n:04d}", "NO_EXISTE_SUNAT" if n % 3 else "ERROR_API", namespace="ruc")
    client = client_for("view")
    url = reverse("admin:cache_dashboard_invalid")
    first = client.get(url, {"namespace": "ruc"})
    assert first.context["page"].paginator.count == 30
    assert len(first.context["rows"]) == 25
    chart = first.context["chart"]
    assert (chart["labels"], chart["values"]) == (["NO_EXISTE_SUNAT", "ERROR_API"], [20, 10])
    second = client.get(url, {"namespace": "ruc", "page": "2"})
    assert len(second.context["rows"]) == 5
    assert {r["key"] for r in first.context["rows"]}.isdisjoint(r["key"] for r in second.context["rows"])
    found = client.get(url, {"namespace": "ruc", "q": "error_api"})
    assert found.context["page"].paginator.count == 10
    assert all(row["reason"] == "ERROR_API" for row in found.context["rows"])
    assert client.get(url, {"namespace": "nope"}).status_code == 404


def test_remove_invalid_entry(client_for: Any, cm: Any) -> None:
    cm.mark_invalid("20100000001", "ERROR_API", namespace="ruc")
    client = client_for("key")
    next_url = reverse("admin:cache_dashboard_invalid") + "?namespace=ruc"
    response = client.post(
        reverse("admin:cache_dashboard_remove_invalid"),
        {"alias": "default", "key": "20100000001", "namespace": "ruc", "next": next_url},
    )
    assert response.status_code == 302 and response["Location"] == next_url
    assert not cm.is_invalid("20100000001", namespace="ruc")
    # An off-site "next" is ignored.
    response = client.post(
        reverse("admin:cache_dashboard_remove_invalid"),
        {"alias": "default", "key": "20100000001", "namespace": "ruc", "next": "https://evil.example/"},
    )
    assert response["Location"].startswith("/admin/")


def _command_calls(stats: dict[str, Any], name: str) -> int:
    return int((stats.get(f"cmdstat_{name}") or {}).get("calls", 0))


def test_the_live_poll_never_scans_keys(client_for: Any, servers: Any) -> None:
    require("redis", servers)
    cm = CacheManager("redis")
    for n in range(200):
        cm.set(f"k{n}", n, namespace="ruc")
    for n in range(50):
        cm.mark_invalid(f"bad{n}", "ERROR_API", namespace="ruc")
    client = client_for("view")
    url = reverse("admin:cache_dashboard_overview_json")
    client.get(url, {"alias": "redis"})  # warm-up: connections, published names
    redis = caches["redis"]._cache.get_client(write=True)
    before = redis.info("commandstats")
    for _ in range(3):
        assert client.get(url, {"alias": "redis"}).status_code == 200
    after = redis.info("commandstats")
    for command in ("scan", "keys"):
        assert _command_calls(after, command) == _command_calls(before, command), command
    # Reads per poll stay small and do not depend on the 250 keys above.
    reads = sum(_command_calls(after, c) - _command_calls(before, c) for c in ("get", "mget"))
    assert reads / 3 < 60
