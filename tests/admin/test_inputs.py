"""Bad input, CSRF, escaping, audit rows and behaviour when the cache server is down."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import override_settings
from django.urls import reverse

from cache_dashboard.models import CacheAuditEntry, TTLOverride

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)>"
KEY_URL = "admin:cache_dashboard_invalidate_key"


@pytest.fixture
def superuser(client_for: Any) -> Any:
    return client_for("superuser")


@pytest.mark.parametrize(
    ("key", "namespace", "field"),
    [
        ("", "ruc", "key"),
        ("k" * 10_000, "ruc", "key"),
        ("bad\x00key", "ruc", "key"),
        ("bad\nkey", "ruc", "key"),
        ("bad\tkey", "ruc", "key"),
        ("bad\u200bkey", "ruc", "key"),
        ("   ", "ruc", "key"),
        ("k1", "no-such-namespace", "namespace"),
    ],
)
def test_invalidate_key_bad_input(superuser: Any, cm: Any, key: str, namespace: str, field: str) -> None:
    cm.set("k1", "v1", namespace="ruc")
    response = superuser.post(reverse(KEY_URL), {"alias": "default", "key": key, "namespace": namespace})
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert field in response.context["key_form"].errors
    assert cm.get("k1", namespace="ruc") == "v1"
    assert not CacheAuditEntry.objects.exists()


def test_unknown_alias_is_a_form_error(superuser: Any, cm: Any) -> None:
    response = superuser.post(reverse(KEY_URL), {"alias": "nope", "key": "k1"})
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert "alias" in response.context["key_form"].errors
    assert not CacheAuditEntry.objects.exists()


def test_unknown_namespace_for_namespace_invalidation(superuser: Any) -> None:
    response = superuser.post(
        reverse("admin:cache_dashboard_invalidate_namespace"), {"alias": "default", "namespace": "zzz"}
    )
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert "namespace" in response.context["namespace_form"].errors
    assert not CacheAuditEntry.objects.exists()


@pytest.mark.parametrize("seconds", ["-5", "abc", "0", "2592001", "1.5", ""])
def test_ttl_bad_input(superuser: Any, seconds: str) -> None:
    response = superuser.post(reverse("admin:cache_dashboard_ttl"), {"name": "ruc", "seconds": seconds})
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert "seconds" in response.context["bound"].errors
    assert not TTLOverride.objects.exists()
    assert not CacheAuditEntry.objects.exists()
    # The error is shown next to the row that was edited.
    assert 'class="errorlist' in response.content.decode()


def test_ttl_unknown_name(superuser: Any) -> None:
    response = superuser.post(reverse("admin:cache_dashboard_ttl"), {"name": "nope", "seconds": "60"})
    assert response.status_code == 200  # re-rendered with errors, like the admin's forms
    assert not TTLOverride.objects.exists()


def test_ttl_change_applies_and_is_audited(superuser: Any, cm: Any) -> None:
    assert cm.ttl_for("ruc") == 3600
    response = superuser.post(reverse("admin:cache_dashboard_ttl"), {"name": "ruc", "seconds": "300"})
    assert response.status_code == 302
    assert cm.ttl_for("ruc") == 300  # this process at once; others within TTL_OVERRIDE_REFRESH
    page = superuser.get(response["Location"]).content.decode()
    assert "5 min" in page
    entry = CacheAuditEntry.objects.get()
    # The TTL is in ``seconds``; ``count`` means "keys affected", which a TTL change has none of.
    assert (entry.action, entry.namespace, entry.count, entry.seconds, entry.detail) == (
        "ttl_change",
        "ruc",
        None,
        300,
        "- -> 300",
    )
    assert LogEntry.objects.filter(object_id=str(entry.pk)).exists()


def test_csrf_is_enforced_on_every_action(client_for: Any, cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    client = client_for("superuser", enforce_csrf_checks=True)
    posts = {
        KEY_URL: {"alias": "default", "key": "k1", "namespace": "ruc"},
        "admin:cache_dashboard_invalidate_namespace": {"alias": "default", "namespace": "ruc", "confirm": "True"},
        "admin:cache_dashboard_invalidate_pattern": {"alias": "default", "pattern": "k*", "confirm": "True"},
        "admin:cache_dashboard_clear": {"alias": "default", "confirm": "on"},
        "admin:cache_dashboard_remove_invalid": {"alias": "default", "key": "k1", "namespace": "ruc"},
        "admin:cache_dashboard_ttl": {"name": "ruc", "seconds": "60"},
        "admin:cache_dashboard_ttl_reset": {"name": "ruc"},
    }
    for url_name, data in posts.items():
        assert client.post(reverse(url_name), data).status_code == 403, url_name
    assert cm.get("k1", namespace="ruc") == "v1"
    assert not CacheAuditEntry.objects.exists()
    assert not TTLOverride.objects.exists()
    # With the token from the form, the same POST goes through.
    page = client.get(reverse("admin:cache_dashboard_invalidate"))
    token = page.cookies["csrftoken"].value
    data = {**posts[KEY_URL], "csrfmiddlewaretoken": token}
    assert client.post(reverse(KEY_URL), data).status_code == 302
    assert cm.get("k1", namespace="ruc") is None


def test_forms_carry_csrf_tokens(superuser: Any, cm: Any) -> None:
    cm.mark_invalid("k9", "ERROR_API", namespace="ruc")
    for name in ("overview", "invalidate", "ttl", "invalid", "clear"):
        html = superuser.get(reverse(f"admin:cache_dashboard_{name}")).content.decode()
        assert html.count('method="post"') >= 1, name
        assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"'), name


def test_xss_key_is_escaped_everywhere(superuser: Any, cm: Any) -> None:
    cm.mark_invalid(XSS, "FORMATO_INVALIDO", namespace="ruc", detail=XSS)
    html = superuser.get(reverse("admin:cache_dashboard_invalid")).content.decode()
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # ... in the success message too.
    response = superuser.post(
        reverse("admin:cache_dashboard_remove_invalid"),
        {"alias": "default", "key": XSS.replace(" ", "_"), "namespace": "ruc"},
        follow=True,
    )
    assert XSS.replace(" ", "_") not in response.content.decode()


def test_json_endpoint_shape(superuser: Any, cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    cm.get("k1", namespace="ruc")
    cm.get("k2", namespace="ruc")
    data = superuser.get(reverse("admin:cache_dashboard_overview_json"), {"window": "86400"}).json()
    assert data["alias"] == "default" and data["window"] == 86400
    assert data["health"]["status"] == "healthy"
    assert data["stats"]["totals"]["hits"] == 1 and data["stats"]["totals"]["misses"] == 1
    assert len(data["stats"]["series"]["timestamps"]) == 24
    ruc = next(row for row in data["namespaces"] if row["name"] == "ruc")
    assert (ruc["hits"], ruc["misses"], ruc["ttl"], ruc["ttl_display"]) == (1, 1, 3600, "1 h")
    assert "invalid" not in ruc  # the poll does not read the negative-cache registry


def test_unknown_alias_page_is_404(superuser: Any) -> None:
    assert superuser.get(reverse("admin:cache_dashboard_overview"), {"alias": "nope"}).status_code == 404


DEAD_REDIS = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://:s3cret-pw@127.0.0.1:1/0",
    "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
}


@pytest.fixture
def dead_cache(settings: Any) -> Any:
    caches = {**settings.CACHES, "dead": DEAD_REDIS}
    with override_settings(CACHES=caches):
        yield "dead"


def test_pages_do_not_fail_when_the_server_is_down(superuser: Any, dead_cache: str) -> None:
    for name in ("overview", "overview_json", "invalid", "ttl", "invalidate", "clear"):
        response = superuser.get(reverse(f"admin:cache_dashboard_{name}"), {"alias": dead_cache})
        assert response.status_code == 200, name
        assert "s3cret-pw" not in response.content.decode(), name
    data = superuser.get(reverse("admin:cache_dashboard_overview_json"), {"alias": dead_cache}).json()
    assert data["health"]["status"] == "unhealthy"
    assert any(check["error"] for check in data["health"]["checks"])
    html = superuser.get(reverse("admin:cache_dashboard_overview"), {"alias": dead_cache}).content.decode()
    assert "cd-badge--unhealthy" in html


def test_mutation_on_a_dead_server_reports_an_error(superuser: Any, dead_cache: str) -> None:
    response = superuser.post(reverse(KEY_URL), {"alias": dead_cache, "key": "k1", "namespace": "ruc"}, follow=True)
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and "did not accept" in messages[0]
    assert "s3cret-pw" not in messages[0]
    assert not CacheAuditEntry.objects.exists()


def test_success_messages(superuser: Any, cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    response = superuser.post(reverse(KEY_URL), {"alias": "default", "key": "k1", "namespace": "ruc"}, follow=True)
    [message] = [str(m) for m in response.context["messages"]]
    assert message == "Key “k1” (namespace: ruc) invalidated in cache “default”: 1 key removed."
    response = superuser.post(
        reverse("admin:cache_dashboard_invalidate_namespace"),
        {"alias": "default", "namespace": "ruc", "confirm": "True"},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert "“ruc”" in message and "“default”" in message
    actions = list(CacheAuditEntry.objects.order_by("pk").values_list("action", "namespace", "key"))
    assert actions == [("invalidate_key", "ruc", "k1"), ("invalidate_namespace", "ruc", "")]
