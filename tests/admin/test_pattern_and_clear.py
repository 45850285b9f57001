"""Glob-pattern invalidation (Redis: count, confirm, delete) and "clear everything"."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require

pytestmark = pytest.mark.django_db

URL = "admin:cache_dashboard_invalidate_pattern"


@pytest.fixture
def redis_cm(servers: Any) -> CacheManager:
    require("redis", servers)
    cm = CacheManager("redis")
    for n in range(3):
        cm.set(f"user:{n}", n, namespace="ruc")
    cm.set("other", "x", namespace="ruc")
    return cm


def test_pattern_counts_first_and_deletes_only_after_confirmation(client_for: Any, redis_cm: CacheManager) -> None:
    client = client_for("namespace")
    data = {"alias": "redis", "pattern": "user:*", "namespace": "ruc"}
    step1 = client.post(reverse(URL), data)
    assert step1.status_code == 200
    assert step1.context["count"] == 3
    assert "matches 3 keys" in step1.content.decode()
    assert redis_cm.get("user:0", namespace="ruc") == 0  # nothing deleted yet
    assert not CacheAuditEntry.objects.exists()

    step2 = client.post(reverse(URL), {**data, "confirm": "True"}, follow=True)
    [message] = [str(m) for m in step2.context["messages"]]
    assert "3 keys deleted" in message
    assert [redis_cm.get(f"user:{n}", namespace="ruc") for n in range(3)] == [None, None, None]
    assert redis_cm.get("other", namespace="ruc") == "x"
    entry = CacheAuditEntry.objects.get()
    assert (entry.action, entry.pattern, entry.namespace, entry.count) == (
        "invalidate_pattern",
        "user:*",
        "ruc",
        3,
    )


@pytest.mark.parametrize("pattern", ["*", "**", "?*", "[a-z]*"])
def test_match_all_pattern_needs_explicit_confirmation(client_for: Any, redis_cm: CacheManager, pattern: str) -> None:
    client = client_for("namespace")
    data = {"alias": "redis", "pattern": pattern, "namespace": "ruc", "confirm": "True"}
    response = client.post(reverse(URL), data)
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert "pattern" in response.context["pattern_form"].errors
    assert redis_cm.get("other", namespace="ruc") == "x"
    assert not CacheAuditEntry.objects.exists()
    # Ticking the box leads to the count + confirmation step, still without deleting.
    response = client.post(reverse(URL), {**data, "confirm": "", "allow_match_all": "on"})
    assert response.status_code == 200 and response.context["count"] >= 1
    assert redis_cm.get("other", namespace="ruc") == "x"


def test_pattern_form_hidden_where_unsupported(client_for: Any) -> None:
    html = client_for("namespace").get(reverse("admin:cache_dashboard_invalidate")).content.decode()
    assert "cannot delete keys by pattern" in html
    assert 'name="pattern"' not in html


def test_pattern_on_locmem_reports_unsupported(client_for: Any) -> None:
    response = client_for("namespace").post(reverse(URL), {"alias": "default", "pattern": "k*"}, follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert "did not accept" in message
    assert not CacheAuditEntry.objects.exists()


def test_clear_confirmation_page_states_what_goes_and_stays(client_for: Any) -> None:
    html = client_for("superuser").get(reverse("admin:cache_dashboard_clear")).content.decode()
    assert "Will be removed" in html and "Will not be removed" in html
    assert "not FLUSHDB" in html


def test_clear_needs_the_confirmation_box(client_for: Any, cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    response = client_for("superuser").post(reverse("admin:cache_dashboard_clear"), {"alias": "default"})
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert "confirm" in response.context["form"].errors
    assert cm.get("k1", namespace="ruc") == "v1"
    assert not CacheAuditEntry.objects.exists()


def test_clear_keeps_foreign_keys(client_for: Any, redis_cm: CacheManager) -> None:
    from django.core.cache import caches

    caches["redis"].set("someone-elses-key", "keep")
    response = client_for("superuser").post(
        reverse("admin:cache_dashboard_clear"), {"alias": "redis", "confirm": "on"}, follow=True
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert "“redis”" in message
    assert redis_cm.get("other", namespace="ruc") is None
    assert caches["redis"].get("someone-elses-key") == "keep"
    assert CacheAuditEntry.objects.get().action == "clear"


@pytest.mark.parametrize("pattern", ["*[^", "?*[^", "[^]*", "**[^", "*[^]"])
def test_patterns_redis_reads_as_match_all_are_guarded(client_for: Any, redis_cm: CacheManager,
                                                       pattern: str) -> None:
    # Redis's glob runs an unclosed "[" class to the end of the pattern: "*[^" is "any key with
    # one character not in the empty set", every key. The guard must see it so (and Redis agrees).
    assert redis_cm.count_pattern(pattern, namespace="ruc") == redis_cm.count_pattern("*", namespace="ruc") == 4
    response = client_for("namespace").post(
        reverse(URL), {"alias": "redis", "pattern": pattern, "namespace": "ruc", "confirm": "True"})
    assert response.status_code == 200
    assert [e.code for e in response.context["pattern_form"].errors.as_data()["pattern"]] == ["match_all"]
    assert redis_cm.get("other", namespace="ruc") == "x"
    assert not CacheAuditEntry.objects.exists()


def test_a_pattern_with_a_space_is_a_form_error_not_a_500(client_for: Any, redis_cm: CacheManager) -> None:
    from django.core.management import CommandError, call_command

    redis_cm.set("user 9", 9, namespace="ruc")  # stored as "user%209"
    response = client_for("namespace").post(reverse(URL), {"alias": "redis", "pattern": "user 9*", "namespace": "ruc"})
    assert response.status_code == 200
    [error] = response.context["pattern_form"].errors.as_data()["pattern"]
    assert error.code == "space"
    assert "a space written as %20. Use %20 or ?" in response.context["pattern_form"].errors["pattern"][0]
    assert "count" not in response.context  # nothing was counted, let alone deleted
    assert redis_cm.count_pattern("user%209*", namespace="ruc") == 1  # what the message suggests works
    with pytest.raises(CommandError, match="written as %20"):
        call_command("cache_invalidate", "--alias", "redis", "--pattern", "user 9*", "--namespace", "ruc", "--yes")
    assert redis_cm.get("user 9", namespace="ruc") == 9
    assert not CacheAuditEntry.objects.exists()
