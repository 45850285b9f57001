"""The dashboard's URL table, mounted by ``admin.CacheDashboardAdmin.get_urls()``.

Every view is wrapped in ``admin_site.admin_view`` (staff login, CSRF, never_cache) and gets the
:class:`~cache_dashboard.web.base.DashboardSite` of the admin site it is mounted on, so a custom
``AdminSite`` works. The monitoring endpoints (:func:`monitoring_urls`) are the exception: a
scraper or a load balancer has no staff session, so they check their own token or allow-list.
GET never mutates: a GET on an action URL (a reload after a form error, a
bookmark) is redirected to its page instead of a bare 405.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.web import actions, keys, monitoring, pages
from cache_dashboard.web.base import DashboardResponse, DashboardSite

Page = Callable[[DashboardSite, HttpRequest], HttpResponse]


def _page(view: Page, *, post: str | None = None) -> Page:
    """GET (and HEAD) render ``view``; with ``post``, a POST runs that mutation."""

    def dispatch(site: DashboardSite, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            return view(site, request)
        if post is not None and request.method == "POST":
            return actions.mutate(site, request, post)
        return HttpResponseNotAllowed(["GET", "POST"] if post else ["GET"])

    dispatch.__name__ = view.__name__
    return dispatch


def _action(name: str, *, page: str) -> Page:
    """POST runs the mutation ``name``; a GET goes to ``page``."""

    def dispatch(site: DashboardSite, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD"):
            alias = request.GET.get("alias")
            return HttpResponseRedirect(site.url(page, alias=alias if alias in dashboard_aliases() else None))
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return actions.mutate(site, request, name)

    dispatch.__name__ = name
    return dispatch


#: (route, URL name without the ``cache_dashboard_`` prefix, view).
ROUTES: list[tuple[str, str, Page]] = [
    # The changelist name makes the admin index link to the overview.
    ("", "cachedashboard_changelist", _page(pages.overview)),
    ("overview/", "overview", _page(pages.overview)),
    ("overview.json", "overview_json", _page(pages.overview_json)),
    ("invalid/", "invalid", _page(pages.invalid_entries)),
    ("invalid/remove/", "remove_invalid", _action("remove_invalid", page="invalid")),
    ("invalid/remove-reason/", "remove_reason", _action("remove_reason", page="invalid")),
    ("ttl/", "ttl", _page(pages.ttl, post="ttl")),
    ("ttl/reset/", "ttl_reset", _action("ttl_reset", page="ttl")),
    ("invalidate/", "invalidate", _page(pages.invalidate)),
    ("invalidate/key/", "invalidate_key", _action("invalidate_key", page="invalidate")),
    ("invalidate/namespace/", "invalidate_namespace", _action("invalidate_namespace", page="invalidate")),
    ("invalidate/pattern/", "invalidate_pattern", _action("invalidate_pattern", page="invalidate")),
    ("clear/", "clear", _page(pages.clear, post="clear")),
    ("audit/", "audit", _page(pages.audit)),
    ("keys/", "keys", _page(keys.keys)),
    ("keys/key/", "key", _page(keys.key)),
    ("keys/delete/", "key_delete", _action("key_delete", page="keys")),
    ("keys/ttl/", "key_ttl", _action("key_ttl", page="keys")),
    ("keys/delete-matching/", "keys_delete", _action("keys_delete", page="keys")),
]


def dashboard_urls(admin_site: AdminSite) -> list[URLPattern]:
    """URL patterns named ``cache_dashboard_*`` inside ``admin_site``'s namespace."""
    site = DashboardSite(admin_site)

    def wrap(view: Page) -> Callable[..., HttpResponse]:
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # Like ModelAdmin views: {% url 'admin:…' %} then resolves to *this* admin site.
            request.current_app = admin_site.name
            try:
                return view(site, request)
            except PermissionDenied:
                # In the admin's frame, with a way back, rather than the project's bare 403 page.
                context = {**admin_site.each_context(request), "title": _("Permission denied")}
                return DashboardResponse(request, "cache_dashboard/denied.html", context, status=403)

        wrapper.__name__ = view.__name__
        return admin_site.admin_view(wrapper)

    return [path(route, wrap(view), name=f"cache_dashboard_{name}") for route, name, view in ROUTES]


#: (route, URL name without the ``cache_dashboard_`` prefix, view) of the monitoring endpoints.
MONITORING_ROUTES = [
    ("metrics", "metrics", monitoring.metrics),
    ("probe", "probe", monitoring.probe),
]


def monitoring_urls() -> list[URLPattern]:
    """The metrics and probe endpoints, *not* wrapped in ``admin_view``: each checks its own
    credentials (a token, an allow-list or a staff session) and answers 404 until configured."""
    return [path(route, view, name=f"cache_dashboard_{name}") for route, name, view in MONITORING_ROUTES]
