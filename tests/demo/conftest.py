"""Demo tests: the demo's apps (demo_site, ruc, shop) are installed by tests/demo/settings.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from demo_site import settings as demo_site_settings

from tests.conftest import Servers, require

#: The demo's own TTLs (one per data type / namespace), as demo/demo_site/settings.py sets them.
DEMO_TTLS: dict[str, int] = dict(demo_site_settings.CACHE_DASHBOARD["TTLS"])
#: The shop's data types: each one a namespace (shop.stats).
SHOP_NAMESPACES = (
    "estadisticas_ventas",
    "estadisticas_usuarios",
    "productos_vendidos",
    "metodos_pago",
    "perfil_usuario",
    "lista_productos",
)


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
