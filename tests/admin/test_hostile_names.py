"""Any ``str`` is storable and displayable: a lone surrogate (``json.loads('"x\\ud800y"')``, what
any JSON API can receive) or a name from ``Object.prototype`` never makes a page fail."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import CONTRACT_ALIASES, require

pytestmark = pytest.mark.django_db

#: What ``json.loads('"x\\ud800y"')`` returns: UTF-8 cannot encode it.
SURROGATE = "x\ud800y"
ESCAPED = "x\\ud800y"
PAGES = ["overview", "overview_json", "invalid", "keys", "ttl", "invalidate", "clear"]


@pytest.mark.parametrize("alias", CONTRACT_ALIASES)
def test_a_lone_surrogate_is_stored_and_every_page_shows_it(client_for: Any, servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    assert cm.set("k", "v", namespace=SURROGATE)
    assert cm.get("k", namespace=SURROGATE) == "v"
    assert cm.get(SURROGATE, lambda: 1, namespace="ruc") == 1
    cm.mark_invalid(SURROGATE, SURROGATE, namespace="ruc", detail={"why": SURROGATE})
    info = cm.get_invalid_info(SURROGATE, namespace="ruc")
    assert info is not None and info["reason"] == SURROGATE and info["detail"] == {"why": SURROGATE}
    assert cm.invalid_breakdown("ruc") == {SURROGATE: 1}
    cm.flush_stats()
    assert SURROGATE in cm.known_namespaces()

    client = client_for("superuser")
    for page in PAGES:
        response = client.get(reverse(f"admin:cache_dashboard_{page}"), {"alias": alias})
        assert response.status_code == 200, page
        if page != "overview_json":
            assert ESCAPED in response.content.decode(), page
    invalid = client.get(reverse("admin:cache_dashboard_invalid"), {"alias": alias, "namespace": "ruc"})
    assert invalid.content.decode().count(ESCAPED) >= 2  # the key and the reason
    assert client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": alias}).json()["namespaces"]


def test_invalidating_a_surrogate_key_is_audited(client_for: Any) -> None:
    cm = CacheManager("default")
    cm.set(SURROGATE, "v", namespace="ruc")
    from cache_dashboard import services

    assert services.invalidate_key("default", SURROGATE, namespace="ruc", user=None, actor="test") == 1
    assert cm.get(SURROGATE, namespace="ruc") is None
    row = CacheAuditEntry.objects.get()
    assert row.key == ESCAPED


@pytest.mark.parametrize("alias", ["locmem", "redis", "memcached"])
def test_an_entry_whose_key_only_shows_escaped_is_removed_from_its_button(
    client_for: Any, servers: Any, alias: str
) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    cm.mark_invalid(SURROGATE, "FORMATO_INVALIDO", namespace="ruc")
    client = client_for("key")
    page = client.get(reverse("admin:cache_dashboard_invalid"), {"alias": alias, "namespace": "ruc"})
    [row] = page.context["rows"]
    body = page.content.decode()
    assert f'name="nkey" value="{row["nkey"]}"' in body and 'name="key" value="x\\ud800y"' in body
    # What the browser posts back: the key as the page shows it, and its stored form.
    response = client.post(reverse("admin:cache_dashboard_remove_invalid"),
                           {"alias": alias, "key": ESCAPED, "nkey": row["nkey"], "namespace": "ruc"}, follow=True)
    assert "removed" in str(list(response.context["messages"])[0])
    assert not cm.is_invalid(SURROGATE, namespace="ruc")
