"""The load balancer probe: off until a token or an allow-list is set, 200 while no alias is
unhealthy, 503 when one is, and nothing of the configuration in its body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import require
from tests.monitoring.conftest import PROBE

pytestmark = pytest.mark.django_db

TOKEN = "probe-token"
REFUSED = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://:pw@127.0.0.1:1/0",
           "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}


def dashboard(**conf: Any) -> Any:
    return override_settings(CACHE_DASHBOARD={"ALIASES": ["default", "locmem"], **conf})


def test_the_url_name_is_in_the_admin_namespace() -> None:
    assert reverse("admin:cache_dashboard_probe") == PROBE


def test_off_until_configured(client_for: Any) -> None:
    assert Client().get(PROBE, {"token": TOKEN}).status_code == 404
    assert client_for("superuser").get(PROBE).status_code == 404


@dashboard(PROBE_TOKEN=TOKEN)
def test_healthy_with_the_token_as_bearer_or_query() -> None:
    for response in (Client().get(PROBE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"), Client().get(PROBE, {"token": TOKEN})):
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {"status": "healthy",
                                                "aliases": {"default": "healthy", "locmem": "healthy"}}


@dashboard(PROBE_TOKEN=TOKEN)
def test_token_refused() -> None:
    assert Client().get(PROBE, {"token": "wrong"}).status_code == 403
    assert Client().get(PROBE, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = Client().get(PROBE)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert Client().post(PROBE, {"token": TOKEN}).status_code == 405


@dashboard(PROBE_ALLOWED_IPS=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
def test_allow_list_on_remote_addr_only() -> None:
    assert Client(REMOTE_ADDR="10.1.2.3").get(PROBE).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.7").get(PROBE).status_code == 200
    assert Client(REMOTE_ADDR="2001:db8::1").get(PROBE).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.8").get(PROBE).status_code == 403
    # A forwarded header is not trusted: the project's proxy setup must set REMOTE_ADDR.
    assert Client(REMOTE_ADDR="192.0.2.8").get(PROBE, HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    assert Client(REMOTE_ADDR="192.0.2.8").get(PROBE, {"token": "anything"}).status_code == 403


@dashboard(PROBE_ALLOWED_IPS=["10.0.0.0/8"], PROBE_TOKEN=TOKEN)
def test_token_or_allow_list() -> None:
    assert Client(REMOTE_ADDR="10.1.2.3").get(PROBE).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.8").get(PROBE, {"token": TOKEN}).status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.8").get(PROBE).status_code == 401


@dashboard(PROBE_ALLOWED_IPS=["10.0.0.0/33", "nonsense", "127.0.0.1"])
def test_a_malformed_entry_allows_nothing_and_is_reported() -> None:
    assert Client(REMOTE_ADDR="127.0.0.1").get(PROBE).status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.1").get(PROBE).status_code == 403
    errors = [m for m in run_checks() if m.id == "cache_dashboard.E006"]
    assert len(errors) == 1 and "'nonsense'" in errors[0].msg and "'10.0.0.0/33'" in errors[0].msg


def test_503_when_an_alias_is_unhealthy(servers: Any, extra_alias: Any) -> None:
    require("redis", servers)
    extra_alias(refused=REFUSED)
    with override_settings(CACHE_DASHBOARD={"ALIASES": ["default", "redis", "refused"], "PROBE_TOKEN": TOKEN}):
        response = Client().get(PROBE, {"token": TOKEN})
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "unhealthy", "aliases": {
        "default": "healthy", "redis": "healthy", "refused": "unhealthy"}}
    body = response.content.decode()
    for secret in ("127.0.0.1", ":1/", "pw", "redis://", "Error", "refused connection", "version"):
        assert secret not in body.replace('"refused"', ""), secret


@override_settings(CACHE_DASHBOARD={"ALIASES": ["default", "dummy"], "PROBE_TOKEN": TOKEN})
def test_a_warning_is_200() -> None:
    response = Client().get(PROBE, {"token": TOKEN})
    assert response.status_code == 200  # a DummyCache stores nothing: "warning" in its health report
    assert json.loads(response.content) == {"status": "warning", "aliases": {"default": "healthy", "dummy": "warning"}}


def test_every_alias_by_default() -> None:
    with override_settings(CACHE_DASHBOARD={"PROBE_TOKEN": TOKEN}):
        found = json.loads(Client().get(PROBE, {"token": TOKEN}).content)
    assert set(found["aliases"]) == set(settings.CACHES)
