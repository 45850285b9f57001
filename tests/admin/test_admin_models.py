"""Admin integration: custom AdminSite, read-only audit log, server stats (the read-only TTL override
admin: test_ttl_overrides.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from cache_dashboard import services
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require

pytestmark = pytest.mark.django_db


@override_settings(ROOT_URLCONF="tests.admin.custom_site")
def test_works_on_a_custom_admin_site(client_for: Any) -> None:
    client = client_for("view")
    index = client.get("/ops/").content.decode()
    assert "/ops/cache_dashboard/cachedashboard/" in index
    response = client.get(reverse("ops:cache_dashboard_overview"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ops console" in html  # rendered with the custom site's each_context()
    assert 'href="/ops/cache_dashboard/cachedashboard/invalid/' in html  # tabs stay on this site
    assert "/admin/" not in html.replace("/static/admin/", "")
    assert client.get(reverse("ops:cache_dashboard_overview_json")).status_code == 200


def test_audit_log_is_read_only_and_filterable(client_for: Any) -> None:
    entry = services.record(user=None, actor="cron", action="clear", alias="default")
    services.record(user=None, actor="nightly-job", action="invalidate_key", alias="default", key="k")
    client = client_for("superuser")
    url = reverse("admin:cache_dashboard_cacheauditentry_changelist")
    everything = client.get(url).content.decode()
    assert "cron" in everything and "nightly-job" in everything
    assert 'id="changelist-filter"' in everything and "?action__exact=clear" in everything  # the filter is offered
    changelist = client.get(url, {"action__exact": "clear"})
    assert changelist.status_code == 200
    assert list(changelist.context["cl"].result_list) == [entry]  # and it filters
    assert "cron" in changelist.content.decode() and "nightly-job" not in changelist.content.decode()
    change = client.get(reverse("admin:cache_dashboard_cacheauditentry_change", args=[entry.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    delete = client.post(reverse("admin:cache_dashboard_cacheauditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert client.get(reverse("admin:cache_dashboard_cacheauditentry_add")).status_code == 403
    assert CacheAuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(("alias", "servers_expected"), [("redis", 1), ("memcached_pool", 2)])
def test_overview_shows_every_server_of_a_pool(
    client_for: Any, servers: Any, alias: str, servers_expected: int
) -> None:
    require(alias, servers)
    response = client_for("view").get(reverse("admin:cache_dashboard_overview"), {"alias": alias})
    data = response.context["data"]
    assert len(data["servers"]) == servers_expected
    assert all(server["ok"] and server["version"] for server in data["servers"])
    assert all(server["evictions"] is not None for server in data["servers"])
    html = response.content.decode()
    assert "Server hit ratio" in html and "Evictions" in html
    assert html.count("data-cd-servers") == 1


def test_location_passwords_are_masked(client_for: Any, settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "secret": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://:hunter2@127.0.0.1:1/0",
            "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        },
    }
    html = client_for("view").get(reverse("admin:cache_dashboard_overview"), {"alias": "secret"}).content.decode()
    assert "hunter2" not in html
    assert "127.0.0.1:1" in html


def test_alias_switcher_lists_every_alias(client_for: Any) -> None:
    html = client_for("view").get(reverse("admin:cache_dashboard_overview")).content.decode()
    assert 'href="?alias=redis"' in html and 'href="?alias=default" aria-current="true"' in html


def test_window_switch(client_for: Any) -> None:
    response = client_for("view").get(reverse("admin:cache_dashboard_overview"), {"window": "86400"})
    assert response.context["data"]["window"] == 86400
    assert len(response.context["data"]["stats"]["series"]["timestamps"]) == 24
    assert client_for("view").get(reverse("admin:cache_dashboard_overview"), {"window": "7"}).context["window"] == 3600
