"""A hung cache server: once the circuit is open, the dashboard's own reads (health, stats, the
names index, the rules' records) skip the server like the application's do, so a page or a poll
costs no socket timeout, and the pages still say what is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from cache_dashboard.manager.breaker import get_breaker
from tests.servers import CountingHungServer

pytestmark = pytest.mark.django_db

BACKENDS = {
    "redis": ("django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:{port}/0",
              {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}),
    "django_redis": ("django_redis.cache.RedisCache", "redis://127.0.0.1:{port}/0",
                     {"SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3}),
    "memcached": ("django.core.cache.backends.memcached.PyMemcacheCache", "127.0.0.1:{port}",
                  {"timeout": 0.3, "connect_timeout": 0.3, "retry_attempts": 0}),
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_with_the_circuit_open_pages_and_polls_do_not_touch_the_server(
    client_for: Any, extra_alias: Any, backend: str
) -> None:
    hung = CountingHungServer()
    path, location, options = BACKENDS[backend]
    extra_alias(stuck={"BACKEND": path, "LOCATION": location.format(port=hung.port), "OPTIONS": options})
    client = client_for("superuser")
    try:
        with override_settings(CACHE_DASHBOARD={"CIRCUIT_RESET_TIMEOUT": 60}):
            first = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": "stuck"}).json()
            assert first["health"]["status"] == "unhealthy"
            assert get_breaker("stuck").state == "open"  # the health probe's timeout opened it
            accepted = hung.accepted
            for _ in range(3):
                data = client.get(reverse("admin:cache_dashboard_overview_json"), {"alias": "stuck"}).json()
                for page in ("overview", "invalid", "invalidate", "ttl"):
                    assert client.get(reverse(f"admin:cache_dashboard_{page}"), {"alias": "stuck"}).status_code == 200
            assert hung.accepted == accepted, "a dashboard read went to the server with the circuit open"
            # ...and the pages still say what is wrong.
            assert data["health"]["status"] == "unhealthy" and data["health"]["circuit"] == "open"
            assert "circuit breaker is open" in data["health_error"]
            assert data["stats"]["available"] is False and data["stats"]["totals"]["hits"] is None
    finally:
        hung.close()
