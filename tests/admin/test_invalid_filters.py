"""Invalid entries at outage size: filters by reason and key prefix, numbered pages, and a bulk
"remove every ERROR_API entry" behind a confirmation with the count."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import INFO, SUCCESS
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require

pytestmark = pytest.mark.django_db

PAGE = "admin:cache_dashboard_invalid"
REMOVE = "admin:cache_dashboard_remove_reason"


def seed(cm: CacheManager) -> None:
    for n in range(300):
        cm.mark_invalid(f"20{n:09d}", "ERROR_API" if n % 3 else "NO_EXISTE_SUNAT", namespace="ruc")
    cm.mark_invalid("10999999999", "FORMATO_INVALIDO", namespace="sunat")


@pytest.mark.parametrize("alias", ["locmem", "redis", "memcached"])
def test_filters_pages_and_bulk_removal(client_for: Any, servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    seed(cm)
    client = client_for("namespace")
    page = client.get(reverse(PAGE), {"alias": alias, "reason": "NO_EXISTE_SUNAT"})
    assert page.context["page"].paginator.count == 100
    assert {row["reason"] for row in page.context["rows"]} == {"NO_EXISTE_SUNAT"}
    assert page.context["page_range"][:4] == [1, 2, 3, 4]
    body = page.content.decode()
    assert "100 live entries have reason “NO_EXISTE_SUNAT” in all." in body
    # A reason in the breakdown links to its entries (the chart's slices carry the same URLs).
    assert page.context["chart"]["urls"][0] == page.context["breakdown"][0]["url"]
    prefixed = client.get(reverse(PAGE), {"alias": alias, "prefix": "2000000001"})
    assert sorted(row["key"] for row in prefixed.context["rows"]) == [f"20{n:09d}" for n in range(10, 20)]
    assert client.get(reverse(PAGE), {"alias": alias, "page": "4", "reason": "ERROR_API"}).status_code == 200

    confirm = client.post(reverse(REMOVE), {"alias": alias, "reason": "ERROR_API"})
    assert confirm.status_code == 200 and confirm.context["count"] == 200
    assert "Yes, remove 200 entries" in confirm.content.decode()
    assert cm.invalid_breakdown()["ERROR_API"] == 200  # nothing removed yet
    done = client.post(reverse(REMOVE), {"alias": alias, "reason": "ERROR_API", "confirm": "True"}, follow=True)
    [message] = list(done.context["messages"])
    assert message.level == SUCCESS and "200 “ERROR_API” entries removed" in str(message)
    assert cm.invalid_breakdown() == {"NO_EXISTE_SUNAT": 100, "FORMATO_INVALIDO": 1}
    audit = CacheAuditEntry.objects.get()
    assert (audit.action, audit.count, audit.detail) == ("remove_invalid", 200, "reason: ERROR_API")
    again = client.post(reverse(REMOVE), {"alias": alias, "reason": "ERROR_API", "confirm": "True"}, follow=True)
    assert list(again.context["messages"])[0].level == INFO


def test_bulk_removal_needs_the_namespace_permission_and_a_post(client_for: Any, cm: Any) -> None:
    seed(cm)
    assert client_for("key").post(reverse(REMOVE), {"alias": "default", "reason": "ERROR_API",
                                                    "confirm": "True"}).status_code == 403
    assert client_for("namespace").get(reverse(REMOVE)).status_code == 302  # GET goes to the page
    assert cm.invalid_breakdown()["ERROR_API"] == 200


def test_remove_buttons_in_the_breakdown_follow_the_permission(client_for: Any, cm: Any) -> None:
    seed(cm)
    assert "Remove all…" in client_for("namespace").get(reverse(PAGE)).content.decode()
    assert "Remove all…" not in client_for("view").get(reverse(PAGE)).content.decode()


@pytest.mark.parametrize("alias", ["locmem", "redis"])
def test_a_reason_lists_every_one_of_its_entries(client_for: Any, servers: Any, alias: str) -> None:
    # Beyond the 5,000 newest a plain search reads: a reason's pages reach all of its entries.
    require(alias, servers)
    cm = CacheManager(alias)
    for n in range(6000):
        cm.mark_invalid(f"20{n:09d}", "ERROR_API" if n < 200 else "NO_EXISTE_SUNAT", namespace="ruc")
    client = client_for("view")
    page = client.get(reverse(PAGE), {"alias": alias, "reason": "ERROR_API"})
    assert page.context["page"].paginator.count == 200 and page.context["searched"] is None
    last = client.get(reverse(PAGE), {"alias": alias, "reason": "ERROR_API", "page": 8})
    keys = [row["key"] for row in last.context["rows"]]
    assert len(keys) == 25 and {row["reason"] for row in last.context["rows"]} == {"ERROR_API"}
    everything = {row["key"] for p in range(1, 9)
                  for row in client.get(reverse(PAGE), {"alias": alias, "reason": "ERROR_API",
                                                        "page": p}).context["rows"]}
    assert everything == {f"20{n:09d}" for n in range(200)}
