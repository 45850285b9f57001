"""The namespaces model of the overview: namespaces that hold or held data plus configured ones,
a "(no namespace)" row so the rows sum to the cards, server-side paging and search, and a
namespace invalidation that is confirmed first and says when it changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import INFO, SUCCESS
from django.test import override_settings
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.models import CacheAuditEntry
from cache_dashboard.overview import NAMESPACE_PAGE_SIZE, build_overview
from tests.conftest import require

pytestmark = pytest.mark.django_db

OVERVIEW = "admin:cache_dashboard_overview"
INVALIDATE_NS = "admin:cache_dashboard_invalidate_namespace"
TTLS = {"ruc": 3600, "ruc_invalid": 86400, "perfil_usuario": 600, "lista_precios": 300}


@pytest.mark.parametrize("alias", ["locmem", "redis", "memcached"])
def test_rows_sum_to_the_cards_with_a_no_namespace_row(servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    with override_settings(CACHE_DASHBOARD={"TTLS": TTLS}):
        for n in range(5):
            cm.get(f"20100{n}", lambda: {"ok": 1}, namespace="ruc")  # 5 misses + sets
            cm.get(f"20100{n}", namespace="ruc")  # 5 hits
        cm.get("estadisticas_ventas", lambda: [1, 2])  # a plain key: miss + set
        cm.get("estadisticas_ventas")  # hit
        cm.get("gone")  # miss
        data = build_overview(alias)
    rows = {row["name"]: row for row in data["namespaces"]}
    totals = data["stats"]["totals"]
    plain = data["namespace_table"]["no_namespace"]
    assert (plain["hits"], plain["misses"]) == (1, 2)
    for field in ("hits", "misses"):
        assert sum(row[field] for row in rows.values()) + plain[field] == totals[field]
        assert data["namespace_table"]["total"][field] == totals[field]
    # Configured namespaces are listed, marked "no data yet"; <ns>_invalid is a TTL, not a namespace.
    assert set(rows) == {"ruc", "perfil_usuario", "lista_precios"}
    assert rows["ruc"]["has_data"] and not rows["perfil_usuario"]["has_data"]
    assert rows["ruc"]["fetches"] == 5 and rows["ruc"]["saved_seconds"] is not None


def test_a_ttl_override_alone_is_no_namespace(client_for: Any) -> None:
    from cache_dashboard.models import TTLOverride

    TTLOverride.objects.create(name="rucc", seconds=60)
    cm = CacheManager("default")
    assert "rucc" not in cm.known_namespaces()
    response = client_for("view").get(reverse(OVERVIEW))
    assert 'data-cd-ns="rucc"' not in response.content.decode()
    assert "(no namespace)" in response.content.decode()


def test_namespace_table_pages_and_searches_server_side(client_for: Any) -> None:
    cm = CacheManager("default")
    for n in range(NAMESPACE_PAGE_SIZE + 10):
        cm.set("k", n, namespace=f"tenant_{n:03d}")
    cm.get("k", namespace="tenant_007")  # the busiest comes first
    client = client_for("view")
    first = client.get(reverse(OVERVIEW))
    table = first.context["data"]["namespace_table"]
    assert table["pages"] == 2 and len(first.context["data"]["namespaces"]) == NAMESPACE_PAGE_SIZE
    assert first.context["data"]["namespaces"][0]["name"] == "tenant_007"
    second = client.get(reverse(OVERVIEW), {"ns_page": 2})
    assert len(second.context["data"]["namespaces"]) == 35 - NAMESPACE_PAGE_SIZE + len(
        CacheManager("default").configured_namespaces())
    found = client.get(reverse(OVERVIEW), {"ns_q": "TENANT_01"})
    names = [row["name"] for row in found.context["data"]["namespaces"]]
    assert names == [f"tenant_{n:03d}" for n in range(10, 20)]
    poll = client.get(reverse("admin:cache_dashboard_overview_json"), {"ns_q": "tenant_03"}).json()
    assert [row["name"] for row in poll["namespaces"]] == [f"tenant_{n:03d}" for n in range(30, 35)]
    assert client.get(reverse(OVERVIEW), {"ns_page": "x"}).status_code == 200


def test_namespace_invalidation_is_confirmed_first(client_for: Any) -> None:
    cm = CacheManager("default")
    cm.set("20100047218", {"ok": 1}, namespace="ruc")
    client = client_for("namespace")
    page = client.post(reverse(INVALIDATE_NS), {"alias": "default", "namespace": "ruc", "next": "/admin/"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "becomes a miss" in body and 'name="confirm" value="True"' in body
    assert cm.get("20100047218", namespace="ruc") == {"ok": 1}  # nothing changed yet
    assert not CacheAuditEntry.objects.exists()
    done = client.post(reverse(INVALIDATE_NS), {"alias": "default", "namespace": "ruc", "confirm": "True"},
                       follow=True)
    [message] = list(done.context["messages"])
    assert message.level == SUCCESS
    assert cm.get("20100047218", namespace="ruc") is None
    assert CacheAuditEntry.objects.get().action == "invalidate_namespace"


def test_invalidating_an_empty_namespace_says_nothing_changed(client_for: Any) -> None:
    client = client_for("namespace")
    confirm = client.post(reverse(INVALIDATE_NS), {"alias": "default", "namespace": "estadisticas_ventas"})
    assert "would change nothing" in confirm.content.decode()
    assert "Yes, invalidate" not in confirm.content.decode()
    done = client.post(reverse(INVALIDATE_NS),
                       {"alias": "default", "namespace": "estadisticas_ventas", "confirm": "True"}, follow=True)
    [message] = list(done.context["messages"])
    assert message.level == INFO and "nothing changed" in str(message)
    assert not CacheAuditEntry.objects.exists()


def test_confirm_page_does_not_link_to_a_foreign_next(client_for: Any) -> None:
    CacheManager("default").set("k", 1, namespace="ruc")
    page = client_for("namespace").post(
        reverse(INVALIDATE_NS), {"alias": "default", "namespace": "ruc", "next": "https://evil.example/"})
    assert "evil.example" not in page.content.decode()
