"""The access matrix: every role against every page, endpoint and action of the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cache_dashboard.models import CacheAuditEntry, TTLOverride

pytestmark = pytest.mark.django_db

ALL_ROLES = [
    "anonymous",
    "nonstaff",
    "staff",
    "view",
    "key",
    "namespace",
    "ttl",
    "key_without_view",
    "superuser",
]
VIEWERS = {"view", "key", "namespace", "ttl", "superuser"}

PAGES = {
    "overview": "admin:cache_dashboard_overview",
    "changelist": "admin:cache_dashboard_cachedashboard_changelist",
    "json": "admin:cache_dashboard_overview_json",
    "invalid": "admin:cache_dashboard_invalid",
    "ttl": "admin:cache_dashboard_ttl",
    "invalidate": "admin:cache_dashboard_invalidate",
    "audit": "admin:cache_dashboard_cacheauditentry_changelist",
    "overrides": "admin:cache_dashboard_ttloverride_changelist",
}


def allowed_page(role: str, page: str) -> bool:
    return role in VIEWERS


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("role", ALL_ROLES)
def test_pages(client_for: Any, role: str, page: str) -> None:
    response = client_for(role).get(reverse(PAGES[page]))
    if role in ("anonymous", "nonstaff"):
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
    elif allowed_page(role, page):
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ALL_ROLES)
def test_clear_confirmation_page_is_superuser_only(client_for: Any, role: str) -> None:
    response = client_for(role).get(reverse("admin:cache_dashboard_clear"))
    if role in ("anonymous", "nonstaff"):
        assert response.status_code == 302
    elif role == "superuser":
        assert response.status_code == 200
    else:
        assert response.status_code == 403


def seed(cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    cm.set("k2", "v2", namespace="estadisticas_ventas")
    cm.mark_invalid("20123456789", "NO_EXISTE_SUNAT", namespace="ruc")


#: action -> (url name, POST data, roles allowed, state check after a successful POST)
ACTIONS: dict[str, tuple[str, dict[str, str], set[str]]] = {
    "invalidate_key": (
        "admin:cache_dashboard_invalidate_key",
        {"alias": "default", "key": "k1", "namespace": "ruc"},
        {"key", "superuser"},
    ),
    "invalidate_namespace": (
        "admin:cache_dashboard_invalidate_namespace",
        {"alias": "default", "namespace": "estadisticas_ventas", "confirm": "True"},
        {"namespace", "superuser"},
    ),
    "remove_invalid": (
        "admin:cache_dashboard_remove_invalid",
        {"alias": "default", "key": "20123456789", "namespace": "ruc"},
        {"key", "superuser"},
    ),
    "ttl": (
        "admin:cache_dashboard_ttl",
        {"alias": "default", "name": "ruc", "seconds": "120"},
        {"ttl", "superuser"},
    ),
    "clear": ("admin:cache_dashboard_clear", {"alias": "default", "confirm": "on"}, {"superuser"}),
}


def state(cm: Any) -> dict[str, Any]:
    return {
        "k1": cm.get("k1", namespace="ruc"),
        "k2": cm.get("k2", namespace="estadisticas_ventas"),
        "invalid": cm.is_invalid("20123456789", namespace="ruc"),
        "ttl": dict(TTLOverride.objects.values_list("name", "seconds")),
    }


EXPECTED_AFTER = {
    "invalidate_key": {"k1": None},
    "invalidate_namespace": {"k2": None},
    "remove_invalid": {"invalid": False},
    "ttl": {"ttl": {"ruc": 120}},
    "clear": {"k1": None, "k2": None},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("role", ALL_ROLES)
def test_actions(client_for: Any, cm: Any, role: str, action: str) -> None:
    url_name, data, allowed = ACTIONS[action]
    seed(cm)
    before = state(cm)
    assert before == {"k1": "v1", "k2": "v2", "invalid": True, "ttl": {}}
    response = client_for(role).post(reverse(url_name), data)
    after = state(cm)
    if role in allowed:
        assert response.status_code == 302, response.content[:500]
        assert CacheAuditEntry.objects.count() == 1
        entry = CacheAuditEntry.objects.get()
        assert entry.username == role
        assert entry.action == {"ttl": "ttl_change"}.get(action, action)
        for field, value in EXPECTED_AFTER[action].items():
            assert after[field] == value
    else:
        # A forged POST: refused before anything happens.
        assert response.status_code == (302 if role in ("anonymous", "nonstaff") else 403)
        assert after == before
        assert CacheAuditEntry.objects.count() == 0


@pytest.mark.parametrize("role", ALL_ROLES)
def test_ttl_reset_action(client_for: Any, role: str) -> None:
    override = TTLOverride.objects.create(name="ruc", seconds=60)
    # The version the TTL page was loaded with: without it the removal is refused as a stale page.
    data = {"name": "ruc", "version": override.token}
    response = client_for(role).post(reverse("admin:cache_dashboard_ttl_reset"), data)
    exists = TTLOverride.objects.filter(name="ruc").exists()
    if role in ("ttl", "superuser"):
        assert response.status_code == 302
        assert not exists
        assert CacheAuditEntry.objects.get().action == "ttl_reset"
    else:
        assert response.status_code in (302, 403)
        assert response.status_code == 403 or role in ("anonymous", "nonstaff")
        assert exists
        assert not CacheAuditEntry.objects.exists()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_pattern_action_permission(client_for: Any, role: str) -> None:
    response = client_for(role).post(
        reverse("admin:cache_dashboard_invalidate_pattern"), {"alias": "default", "pattern": "k*"}
    )
    if role in ("anonymous", "nonstaff"):
        assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    elif role in ("namespace", "superuser"):
        # Allowed, but LocMem cannot do patterns: an error message and a redirect, nothing deleted.
        assert response.status_code == 302
    else:
        assert response.status_code == 403
    assert not CacheAuditEntry.objects.exists()


#: POST-only action URL -> the page a GET (reload, bookmark) is sent to instead of a bare 405.
ACTION_PAGES = {
    "admin:cache_dashboard_invalidate_key": "admin:cache_dashboard_invalidate",
    "admin:cache_dashboard_invalidate_namespace": "admin:cache_dashboard_invalidate",
    "admin:cache_dashboard_invalidate_pattern": "admin:cache_dashboard_invalidate",
    "admin:cache_dashboard_remove_invalid": "admin:cache_dashboard_invalid",
    "admin:cache_dashboard_ttl_reset": "admin:cache_dashboard_ttl",
}


@pytest.mark.parametrize("url_name", sorted([*ACTION_PAGES, "admin:cache_dashboard_clear"]))
def test_get_never_mutates(client_for: Any, cm: Any, url_name: str) -> None:
    seed(cm)
    TTLOverride.objects.create(name="ruc", seconds=60)
    client = client_for("superuser")
    query = {"alias": "default", "key": "k1", "namespace": "ruc", "confirm": "on", "pattern": "k*", "name": "ruc"}
    response = client.get(reverse(url_name), query)
    if url_name in ACTION_PAGES:
        # A reload of an action URL lands on the page that has its form, not on a blank 405 page.
        assert response.status_code == 302
        assert response["Location"] == reverse(ACTION_PAGES[url_name]) + "?alias=default"
        assert client.get(response["Location"]).status_code == 200
    else:
        assert response.status_code == 200  # the clear confirmation page
    assert client.put(reverse(url_name)).status_code == 405
    assert cm.get("k1", namespace="ruc") == "v1"
    assert cm.is_invalid("20123456789", namespace="ruc")
    assert TTLOverride.objects.filter(name="ruc").exists()
    assert not CacheAuditEntry.objects.exists()


def test_admin_index_lists_the_dashboard_only_for_viewers(client_for: Any) -> None:
    url = reverse("admin:cache_dashboard_cachedashboard_changelist")
    assert url in client_for("view").get(reverse("admin:index")).content.decode()
    staff_index = client_for("staff").get(reverse("admin:index")).content.decode()
    assert url not in staff_index


def test_a_denied_page_is_the_admin_s_own_with_a_way_back(client_for: Any) -> None:
    response = client_for("view").get(reverse("admin:cache_dashboard_clear"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Permission denied" in body and 'id="header"' in body and reverse("admin:index") in body
