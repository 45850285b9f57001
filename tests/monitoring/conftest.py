"""Fixtures of the monitoring tests: users per role (the admin tests' own) and the endpoints' URLs."""

from __future__ import annotations

from tests.admin.conftest import client_for, make_user  # noqa: F401  (fixtures)

METRICS = "/admin/cache_dashboard/cachedashboard/metrics"
PROBE = "/admin/cache_dashboard/cachedashboard/probe"
