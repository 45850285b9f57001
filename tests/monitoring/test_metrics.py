"""The Prometheus endpoint: off until configured, its token and staff access, and values equal to
what ``get_stats`` says, on LocMem, Redis and memcached."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from cache_dashboard import CacheManager
from tests.conftest import require
from tests.monitoring.conftest import METRICS

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-token"
WITH_TOKEN = override_settings(CACHE_DASHBOARD={"METRICS_TOKEN": TOKEN})
ENABLED = override_settings(CACHE_DASHBOARD={"METRICS_ENABLED": True})


def scrape(client: Client | None = None, **headers: Any) -> tuple[int, str]:
    response = (client or Client()).get(METRICS, **headers)
    return response.status_code, response.content.decode()


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(found: dict[str, Any], name: str, **labels: str) -> float:
    matches = [s.value for s in found[name].samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, found[name].samples)
    return float(matches[0])


def sample(found: dict[str, Any], family: str, name: str, **labels: str) -> float:
    """One sample of a family by its own name (a counter's ``_total``, a summary's ``_count``)."""
    matches = [s.value for s in found[family].samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, found[family].samples)
    return float(matches[0])


def traffic(cm: CacheManager, namespace: str = "ruc") -> None:
    """3 hits and 1 miss (with its fetch and set) in ``namespace``."""
    cm.get("k", lambda: "v", namespace=namespace)
    for _ in range(3):
        assert cm.get("k", namespace=namespace) == "v"


def test_the_url_name_is_in_the_admin_namespace() -> None:
    assert reverse("admin:cache_dashboard_metrics") == METRICS


def test_off_until_configured() -> None:
    assert scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")[0] == 404


def test_off_even_for_a_superuser(client_for: Any) -> None:
    assert scrape(client_for("superuser"))[0] == 404


@WITH_TOKEN
def test_token_accepted_and_refused() -> None:
    status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200 and "# TYPE cache_dashboard_hits_last_hour gauge" in body
    assert scrape(HTTP_AUTHORIZATION="Bearer wrong")[0] == 403
    assert scrape(HTTP_AUTHORIZATION=f"Basic {TOKEN}")[0] == 401  # not a bearer token: no credentials
    response = Client().get(METRICS)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert Client().post(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


@ENABLED
def test_a_token_is_refused_when_none_is_set() -> None:
    assert scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")[0] == 403


@ENABLED
@pytest.mark.parametrize(("role", "status"), [("anonymous", 401), ("nonstaff", 403), ("staff", 403),
                                              ("view", 200), ("superuser", 200)])
def test_staff_with_the_view_permission(client_for: Any, role: str, status: int) -> None:
    assert scrape(client_for(role))[0] == status


@WITH_TOKEN
def test_a_staff_session_works_with_a_token_set_too(client_for: Any) -> None:
    assert scrape(client_for("view"))[0] == 200


@WITH_TOKEN
def test_without_prometheus_client_501(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "prometheus_client" or m.startswith("prometheus_client.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 501 and "django-cache-dashboard[prometheus]" in body


@pytest.mark.parametrize("alias", ["locmem", "redis", "memcached"])
def test_values_equal_get_stats(servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    traffic(cm)
    cm.invalidate(["k"], namespace="ruc", source="nightly")
    stats = cm.get_stats(window=3600)
    ruc = stats["namespaces"]["ruc"]
    assert (ruc["hits"], ruc["misses"]) == (3, 1)
    with WITH_TOKEN:
        status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200
    found = families(body)
    for field in ("hits", "misses", "sets", "invalidations", "errors", "fetches"):
        name = f"cache_dashboard_{field}_last_hour"
        assert f"# TYPE {name} gauge" in body and f"# HELP {name} " in body
        assert value(found, name, alias=alias, namespace="ruc") == ruc[field], field
    assert value(found, "cache_dashboard_hits_last_hour", alias=alias, namespace="ruc") == 3
    assert value(found, "cache_dashboard_misses_last_hour", alias=alias, namespace="ruc") == 1
    assert value(found, "cache_dashboard_invalidations_by_source_last_hour", alias=alias,
                 source="nightly") == stats["sources"]["nightly"] == 1
    assert value(found, "cache_dashboard_fetch_seconds_last_hour", alias=alias, namespace="ruc") == pytest.approx(
        ruc["fetch_time_total_ms"] / 1000)
    assert value(found, "cache_dashboard_stats_shared", alias=alias) == (0 if alias == "locmem" else 1)
    assert value(found, "cache_dashboard_health_status", alias=alias, status="healthy") == 1
    assert value(found, "cache_dashboard_health_status", alias=alias, status="unhealthy") == 0
    assert value(found, "cache_dashboard_circuit_state", alias=alias, state="closed") == 1
    assert "# TYPE cache_dashboard_server_evictions_total counter" in body  # the server's own counter
    # The running totals: counters, which only grow with traffic, whichever process makes it.
    totals = cm.get_totals()["namespaces"]["ruc"]
    for field in ("hits", "misses", "sets", "invalidations", "fetches"):
        assert f"# TYPE cache_dashboard_{field}_total counter" in body or f"# TYPE cache_dashboard_{field} counter" \
            in body, field
        assert sample(found, f"cache_dashboard_{field}", f"cache_dashboard_{field}_total", alias=alias,
                      namespace="ruc") == totals[field] > 0
    assert sample(found, "cache_dashboard_fetch_seconds", "cache_dashboard_fetch_seconds_count", alias=alias,
                  namespace="ruc") == totals["fetches"]
    assert sample(found, "cache_dashboard_invalidations_by_source", "cache_dashboard_invalidations_by_source_total",
                  alias=alias, source="nightly") >= 1
    traffic(cm)  # the next scrape: every counter went up by this traffic, none down
    with WITH_TOKEN:
        later = families(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")[1])
    for field, more in (("hits", 3), ("misses", 1), ("sets", 1)):  # a miss again: it was invalidated
        assert sample(later, f"cache_dashboard_{field}", f"cache_dashboard_{field}_total", alias=alias,
                      namespace="ruc") == totals[field] + more
    if alias != "locmem":
        assert value(found, "cache_dashboard_server_up", alias=alias, server="0") == 1
        assert value(found, "cache_dashboard_server_memory_bytes", alias=alias, server="0") > 0
        assert value(found, "cache_dashboard_server_evictions", alias=alias, server="0") >= 0
        assert 0 <= value(found, "cache_dashboard_server_hit_ratio", alias=alias, server="0") <= 1


@pytest.mark.parametrize("alias", ["locmem", "redis"])
def test_hostile_namespace_names_are_escaped(servers: Any, alias: str) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    hostile = {'q"uote': 'q"uote', "back\\slash": "back\\slash", "new\nline": "new\nline",
               "x\ud800y": "x\\ud800y", '"} 1\nevil_metric{a="': '"} 1\nevil_metric{a="'}
    for name in hostile:
        traffic(cm, name)
    with WITH_TOKEN:
        status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200
    found = families(body)  # parses: nothing broke out of its label
    assert not any(name.startswith("evil_metric") for name in found)
    for given, exported in hostile.items():
        assert value(found, "cache_dashboard_hits_last_hour", alias=alias, namespace=exported) == 3, given


def test_openmetrics_when_asked() -> None:
    with WITH_TOKEN:
        response = Client().get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
                                HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


def test_no_location_or_password(servers: Any, extra_alias: Any) -> None:
    require("redis", servers)
    from django.conf import settings

    location = f"redis://:hunter2@127.0.0.1:{servers.redis.port}/5"
    extra_alias(secret={**settings.CACHES["redis"], "LOCATION": location})
    with WITH_TOKEN:
        status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status == 200 and 'alias="secret"' in body
    assert "hunter2" not in body and str(servers.redis.port) not in body and "127.0.0.1" not in body
