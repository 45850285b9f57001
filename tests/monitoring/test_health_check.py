"""The django-health-check plugin inside health_check's own view: 500 when an alias is unhealthy,
a DummyCache, or not on the backend ``EXPECTED_BACKENDS`` names; 200 otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, override_settings

from cache_dashboard.contrib.health_check import CacheDashboard, dashboard_checks, problem
from tests.conftest import require
from tests.monitoring.test_probe import REFUSED

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring.urls")]


def health(aliases: list[str], **conf: Any) -> tuple[int, dict[str, str]]:
    with override_settings(CACHE_DASHBOARD={"ALIASES": aliases, **conf}):
        response = Client().get("/ht/", {"format": "json"})
    return response.status_code, json.loads(response.content)


def test_one_check_per_dashboard_alias() -> None:
    with override_settings(CACHE_DASHBOARD={"ALIASES": ["default", "locmem"]}):
        assert dashboard_checks() == [("cache_dashboard.contrib.health_check.CacheDashboard", {"alias": "default"}),
                                      ("cache_dashboard.contrib.health_check.CacheDashboard", {"alias": "locmem"})]
    assert repr(CacheDashboard(alias="locmem")) == "CacheDashboard(alias='locmem')"


def test_healthy_aliases_200() -> None:
    assert health(["default", "locmem"]) == (200, {"CacheDashboard(alias='default')": "OK",
                                                   "CacheDashboard(alias='locmem')": "OK"})


def test_a_fallback_to_locmem_is_unhealthy() -> None:
    status, found = health(["default", "locmem"], EXPECTED_BACKENDS={"default": "redis"})
    assert status == 500
    assert found["CacheDashboard(alias='default')"] == (
        "Unavailable: cache alias 'default' is on locmem, expected redis")
    assert found["CacheDashboard(alias='locmem')"] == "OK"


def test_a_dummy_cache_is_always_unhealthy() -> None:
    status, found = health(["dummy"])
    assert status == 500 and "DummyCache" in found["CacheDashboard(alias='dummy')"]
    assert health(["dummy"], EXPECTED_BACKENDS={"dummy": "dummy"})[0] == 500


def test_expected_backends_on_real_servers(servers: Any) -> None:
    require("redis", servers)
    require("memcached", servers)
    expected = {"redis": "redis", "django_redis": ["redis", "django_redis"], "memcached": "memcached"}
    assert health(["redis", "django_redis", "memcached"], EXPECTED_BACKENDS=expected)[0] == 200
    status, found = health(["redis", "memcached"], EXPECTED_BACKENDS={"memcached": "redis"})
    assert status == 500 and found["CacheDashboard(alias='redis')"] == "OK"
    assert found["CacheDashboard(alias='memcached')"].endswith("is on memcached, expected redis")


def test_a_refused_server_is_unhealthy_without_its_location(servers: Any, extra_alias: Any) -> None:
    extra_alias(refused=REFUSED)
    status, found = health(["default", "refused"])
    assert status == 500
    message = found["CacheDashboard(alias='refused')"]
    assert message.startswith("Unavailable: cache alias 'refused' is unhealthy (")
    assert "127.0.0.1" not in message and "pw" not in message and "redis://" not in message


def test_an_alias_not_in_caches() -> None:
    assert problem("nope") == "cache alias 'nope' is not in CACHES"


def test_expected_backends_of_an_unknown_alias_is_a_warning() -> None:
    with override_settings(CACHE_DASHBOARD={"EXPECTED_BACKENDS": {"nope": "redis"}}):
        assert [m.id for m in run_checks() if m.id == "cache_dashboard.W010"] == ["cache_dashboard.W010"]
