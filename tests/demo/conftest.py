"""Demo tests: the demo's apps (demo_site, ruc, shop) are installed by tests/demo/settings.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Servers, require

DEMO_TTLS = {
    "ruc": 3600,
    "ruc_invalid": 86400,
    "ruc_error": 60,
    "nubefact": 3600,
    "nubefact_invalid": 86400,
    "nubefact_error": 60,
    "estadisticas_ventas": 300,
    "estadisticas_usuarios": 600,
}


@pytest.fixture(params=["locmem", "redis"])
def alias(request: pytest.FixtureRequest, servers: Servers) -> str:
    """Demo tests run on LocMem and on a real Redis server."""
    require(request.param, servers)
    return request.param


@pytest.fixture
def demo_settings(settings, alias: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """The demo's TTLs and a zero-latency upstream, with ``alias`` as the dashboard's alias."""
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "ALIAS": alias, "TTLS": DEMO_TTLS}
    settings.DEMO_UPSTREAM = {"LATENCY": 0, "FAILURE_RATE": 0, "NOT_FOUND_PERCENT": 20}
    settings.DEMO_TRAFFIC_TOKEN = "test-token"
    settings.ROOT_URLCONF = "demo_site.urls"
    yield settings
