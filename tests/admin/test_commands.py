"""Management commands: fed by the same functions as the admin views, audited the same way."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cache_dashboard.models import CacheAuditEntry

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_overview_json_matches_the_endpoint_data(cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    cm.get("k1", namespace="ruc")
    data = json.loads(run("cache_dashboard_overview", "--alias", "default", "--json"))
    assert list(data) == ["default"]
    assert data["default"]["stats"]["totals"]["hits"] == 1
    assert data["default"]["health"]["status"] == "healthy"


def test_overview_text_and_check(settings: Any) -> None:
    text = run("cache_dashboard_overview", "--alias", "default", "--check")
    assert text.startswith("default: healthy (locmem")
    assert "namespace ruc:" in text and "ttl 1 h" in text
    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        },
    }
    with pytest.raises(CommandError, match="unhealthy: dead"):
        run("cache_dashboard_overview", "--alias", "dead", "--check")


def test_invalidate_key_command_is_audited(cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    assert run("cache_dashboard_invalidate", "--key", "k1", "--namespace", "ruc").strip() == "1 key(s) removed."
    assert cm.get("k1", namespace="ruc") is None
    entry = CacheAuditEntry.objects.get()
    assert entry.user is None and entry.username.startswith("manage.py")
    assert (entry.action, entry.key, entry.namespace) == ("invalidate_key", "k1", "ruc")


def test_invalidate_command_validates_like_the_form(cm: Any) -> None:
    with pytest.raises(CommandError, match="namespace"):
        run("cache_dashboard_invalidate", "--key", "k1", "--namespace", "nope")
    with pytest.raises(CommandError, match="key"):
        run("cache_dashboard_invalidate", "--key", "bad\tkey")
    assert not CacheAuditEntry.objects.exists()


def test_invalidate_namespace_command(cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    run("cache_dashboard_invalidate", "--all-in-namespace", "--namespace", "ruc")
    assert cm.get("k1", namespace="ruc") is None
    assert CacheAuditEntry.objects.get().action == "invalidate_namespace"


def test_pattern_command_unsupported_on_locmem() -> None:
    with pytest.raises(CommandError):
        run("cache_dashboard_invalidate", "--pattern", "k*")
    assert not CacheAuditEntry.objects.exists()
