"""A django-health-check (4.x) check per dashboard alias, on ``CacheManager(alias).get_health()``.

django-health-check 4.x has no plugin registry: a project lists its checks in its view. Add one
check per dashboard alias with :func:`dashboard_checks`::

    from health_check.views import HealthCheckView
    from cache_dashboard.contrib.health_check import dashboard_checks

    urlpatterns = [
        path("ht/", HealthCheckView.as_view(checks=["health_check.checks.Database", *dashboard_checks()])),
    ]

Unlike the stock ``health_check.checks.Cache`` (a set and a get, which a LocMem or Dummy cache
passes), a check fails ("Unavailable", so the view answers 500) when:

* the alias is a DummyCache: it stores nothing, whatever its settings say;
* ``CACHE_DASHBOARD["EXPECTED_BACKENDS"]`` names the alias and its backend is another one (an
  adapter name, or a list of them: a settings file that silently fell back to LocMem);
* the health report of the alias is "unhealthy" (no connection, a failed round trip, a counter
  that does not count).

A "warning" (a slow round trip, one server of a pool down, an open circuit) passes: it is no
reason for a load balancer to take the instance out. Messages name the failed checks, never a
LOCATION, an address or a server's error text.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from django.conf import settings
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from cache_dashboard.conf import dashboard_aliases, get_setting
from cache_dashboard.manager import CacheManager


def expected_backends(alias: str) -> list[str]:
    """The adapter names ``EXPECTED_BACKENDS`` allows for ``alias`` ([]: any)."""
    expected = (get_setting("EXPECTED_BACKENDS") or {}).get(alias)
    if not expected:
        return []
    return [expected] if isinstance(expected, str) else [str(name) for name in expected]


def problem(alias: str) -> str | None:
    """Why ``alias`` is not a working cache of the expected backend; None when it is."""
    if alias not in settings.CACHES:
        return f"cache alias {alias!r} is not in CACHES"
    cm = CacheManager(alias)
    try:
        backend = cm.backend
    except Exception:
        return f"cache alias {alias!r} could not be loaded"
    if backend == "dummy":
        return f"cache alias {alias!r} is a DummyCache: it stores nothing"
    allowed = expected_backends(alias)
    if allowed and backend not in allowed:
        return f"cache alias {alias!r} is on {backend}, expected {' or '.join(allowed)}"
    report = cm.get_health()
    if report.get("status") == "unhealthy":
        failed = [str(check.get("name")) for check in report.get("checks") or [] if not check.get("ok")]
        return f"cache alias {alias!r} is unhealthy" + (f" ({', '.join(failed)} failed)" if failed else "")
    return None


@dataclasses.dataclass
class CacheDashboard(HealthCheck):  # type: ignore[misc]  # health_check ships no type information
    """The health of one cache alias as the dashboard sees it (see the module's docstring)."""

    alias: str = "default"

    def __post_init__(self) -> None:
        # get_health returns within about HEALTH_TIMEOUT; health_check's own budget is above it.
        self.timeout = datetime.timedelta(seconds=float(get_setting("HEALTH_TIMEOUT")) + 1)

    def run(self) -> None:
        found = problem(self.alias)
        if found is not None:
            raise ServiceUnavailable(found)


def dashboard_checks() -> list[tuple[str, dict[str, Any]]]:
    """One ``CacheDashboard`` check per dashboard alias, for ``HealthCheckView.as_view(checks=…)``."""
    return [(f"{__name__}.CacheDashboard", {"alias": alias}) for alias in dashboard_aliases()]
