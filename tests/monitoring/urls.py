"""A urlconf with django-health-check's view over the dashboard's checks (built at each request,
so ``override_settings`` of the aliases applies)."""

from typing import Any

from django.http import HttpRequest
from django.urls import include, path
from health_check.views import HealthCheckView

from cache_dashboard.contrib.health_check import dashboard_checks


async def health(request: HttpRequest) -> Any:
    return await HealthCheckView.as_view(checks=dashboard_checks())(request)


urlpatterns = [path("ht/", health, name="health"), path("", include("tests.urls"))]
