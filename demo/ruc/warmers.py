"""The demo's cache warmer: its most frequently looked-up RUCs, loaded before traffic asks
(``python demo/manage.py cache_warm``). The seeds' idea ("pre-cargar RUCs frecuentes")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cache_dashboard.warming import warmer
from ruc.checkdigit import complete
from ruc.upstream import KNOWN_COMPANIES, exists, provider_for

#: How many RUCs the warmer loads.
FREQUENT = 50


def frequent_rucs(count: int = FREQUENT) -> list[str]:
    """The RUCs the demo's users look up most: the well-known companies, then registered RUCs of
    the traffic generator's range (a stand-in for a real site's access log)."""
    found = list(KNOWN_COMPANIES)
    n = 0
    while len(found) < count:
        ruc = complete(f"2060{n:06d}")
        n += 1
        if exists(ruc) and ruc not in found:
            found.append(ruc)
    return found


@warmer("ruc", name="demo: frequent RUCs")
def warm_frequent_rucs() -> list[tuple[str, Callable[[], Any]]]:
    provider = provider_for("ruc")
    return [(ruc, lambda ruc=ruc: provider.lookup(ruc)) for ruc in frequent_rucs()]
