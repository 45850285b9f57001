"""A key invalidation that removes nothing says where the key does exist; a pattern says which
scope its count covers and can cover every namespace; a confirm page never offers to delete 0."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import INFO, WARNING
from django.urls import reverse

from cache_dashboard import CacheManager
from tests.conftest import require

pytestmark = pytest.mark.django_db

KEY_URL = "admin:cache_dashboard_invalidate_key"
PATTERN_URL = "admin:cache_dashboard_invalidate_pattern"


@pytest.mark.parametrize("alias", ["locmem", "redis", "memcached"])
def test_key_not_found_names_the_namespaces_that_hold_it(client_for: Any, servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    cm.set("20100047218", {"ok": 1}, namespace="ruc")
    cm.set("20100047218", {"ok": 2}, namespace="nubefact")
    cm.set("20100047218", {"ok": 3})
    cm.set("other", 1, namespace="sunat")
    cm.invalidate_namespace("nubefact")  # its copy is stale now: not "held"
    response = client_for("key").post(reverse(KEY_URL), {"alias": alias, "key": "20100047218",
                                                         "namespace": "sunat"}, follow=True)
    [message] = list(response.context["messages"])
    assert message.level == WARNING
    text = str(message)
    assert "was not found in namespace “sunat”" in text
    assert "“ruc”" in text and "(no namespace)" in text and "nubefact" not in text
    # The namespace chosen is kept for the next key.
    assert response.context["key_form"].initial.get("namespace") == "sunat"
    assert cm.get("20100047218", namespace="ruc") == {"ok": 1}  # nothing else touched
    assert cm.get_stats()["totals"]["hits"] == 1  # the lookup counted no hit or miss


def test_pattern_scope_every_namespace(client_for: Any, servers: Any) -> None:
    require("redis", servers)
    cm = CacheManager("redis")
    for n in range(3):
        cm.set(f"ruc_{n}", n, namespace="ruc")
        cm.set(f"ruc_{n}", n, namespace="sunat")
    cm.set("ruc_plain", 1)
    cm.set("x}:ruc_9", 1, namespace="ruc")  # a key whose tail matches: SCAN's * would run past }
    cm.set("other", 1, namespace="ruc")
    client = client_for("namespace")
    plain = client.post(reverse(PATTERN_URL), {"alias": "redis", "pattern": "ruc_*"})
    assert plain.context["count"] == 1 and "only the keys without a namespace" in plain.content.decode()
    every = client.post(reverse(PATTERN_URL), {"alias": "redis", "pattern": "ruc_*", "every_namespace": "on"})
    assert every.context["count"] == 7
    assert "every key of this site" in every.content.decode()
    done = client.post(reverse(PATTERN_URL), {"alias": "redis", "pattern": "ruc_*", "every_namespace": "on",
                                              "confirm": "True"}, follow=True)
    assert "7 keys deleted" in str(list(done.context["messages"])[0])
    assert cm.get("x}:ruc_9", namespace="ruc") == 1 and cm.get("other", namespace="ruc") == 1
    assert cm.get("ruc_1", namespace="sunat") is None and cm.get("ruc_plain") is None


def test_confirm_page_offers_no_delete_when_nothing_matches(client_for: Any, servers: Any) -> None:
    require("redis", servers)
    client = client_for("namespace")
    page = client.post(reverse(PATTERN_URL), {"alias": "redis", "pattern": "nothing_*"})
    body = page.content.decode()
    assert page.context["count"] == 0 and "Nothing matches" in body
    assert "Yes, delete the matching keys" not in body
    done = client.post(reverse(PATTERN_URL), {"alias": "redis", "pattern": "nothing_*", "confirm": "True"},
                       follow=True)
    [message] = list(done.context["messages"])
    assert message.level == INFO and "nothing was deleted" in str(message)


def test_a_stale_copy_left_by_a_namespace_invalidation_is_not_counted_as_removed(client_for: Any) -> None:
    cm = CacheManager("default")
    cm.set("20100047218", {"ok": 1}, namespace="ruc")
    cm.invalidate_namespace("ruc")  # the entry is a miss now, its bytes may still be there
    response = client_for("key").post(reverse(KEY_URL), {"alias": "default", "key": "20100047218",
                                                         "namespace": "ruc"}, follow=True)
    [message] = list(response.context["messages"])
    assert message.level == WARNING and "was not found" in str(message)
    from cache_dashboard.models import CacheAuditEntry

    assert CacheAuditEntry.objects.get(action="invalidate_key").count == 0
