"""The audit log inside the dashboard section: tabs, filters, pages, and a TTL change shown as
old → new (not as a count of keys)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cache_dashboard import CacheManager, services
from cache_dashboard.models import CacheAuditEntry

pytestmark = pytest.mark.django_db

URL = "admin:cache_dashboard_audit"


def test_audit_log_is_a_tab_of_the_section(client_for: Any) -> None:
    CacheManager("default").set("k1", 1, namespace="ruc")
    services.invalidate_key("default", "k1", namespace="ruc", user=None, actor="cron")
    services.set_ttl("ruc", 120, user=None, actor="cron")
    services.set_ttl("ruc", 600, user=None, actor="cron")
    client = client_for("view")
    overview = client.get(reverse("admin:cache_dashboard_overview")).content.decode()
    assert f'href="{reverse(URL)}?alias=default"' in overview
    response = client.get(reverse(URL))
    body = response.content.decode()
    assert response.status_code == 200 and 'aria-current="page">Audit log<' in body
    rows = response.context["rows"]
    assert [row["action_display"] for row in rows] == ["Change TTL", "Change TTL", "Invalidate key"]
    assert rows[0]["result"] == "2 min → 10 min" and rows[1]["result"] == "— → 2 min"
    assert rows[2]["result"] == "1 key"
    assert "2 min → 10 min" in body


def test_audit_log_filters_and_pages_in_the_database(client_for: Any) -> None:
    CacheAuditEntry.objects.bulk_create(
        CacheAuditEntry(action="invalidate_key", alias="default", key=f"k{n}", username="ana" if n % 2 else "luis",
                        count=1) for n in range(120))
    services.record(user=None, actor="cron", action="clear", alias="default")
    client = client_for("view")
    first = client.get(reverse(URL))
    assert first.context["page"].paginator.count == 121 and len(first.context["rows"]) == 50
    assert 3 in first.context["page_range"]
    assert client.get(reverse(URL), {"action": "clear"}).context["page"].paginator.count == 1
    assert client.get(reverse(URL), {"q": "ana"}).context["page"].paginator.count == 60
    assert client.get(reverse(URL), {"q": "k11"}).context["page"].paginator.count == 11  # k11, k110..k119
    assert client.get(reverse(URL), {"action": "bogus"}).context["page"].paginator.count == 121
    assert client.get(reverse(URL), {"page": "999"}).status_code == 200


def test_audit_log_needs_the_view_permission(client_for: Any) -> None:
    assert client_for("staff").get(reverse(URL)).status_code == 403
