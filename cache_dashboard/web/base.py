"""What every dashboard view shares: the admin site it is mounted on, URL reversing, the page
frame (tabs, alias switcher, permissions) and the request's alias and window."""

from __future__ import annotations

from typing import Any

import django
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from cache_dashboard.conf import dashboard_aliases, default_alias
from cache_dashboard.models import CacheDashboard
from cache_dashboard.overview import WINDOWS
from cache_dashboard.web.permissions import dashboard_permissions

#: Tabs and page links of the frame, by URL name.
PAGES = ("overview", "invalid", "keys", "ttl", "invalidate", "clear", "audit")
#: Where the frame's forms post, by URL name.
ACTIONS = ("invalidate_key", "invalidate_namespace", "invalidate_pattern", "clear", "remove_invalid", "remove_reason",
           "ttl", "ttl_reset", "key_delete", "key_ttl", "keys_delete")


class DashboardResponse(TemplateResponse):
    """A page that renders whatever the cache holds: a ``str`` UTF-8 cannot encode (a lone
    surrogate, which any JSON API can hand over and the cache stores as it is) is written as its
    ``\\udXXX`` escape instead of failing the whole page with ``UnicodeEncodeError``."""

    def make_bytes(self, value: object) -> bytes:
        if isinstance(value, str):
            return value.encode(self.charset, "backslashreplace")
        return super().make_bytes(value)


class DashboardSite:
    """The dashboard mounted on one admin site (never the global ``admin.site``)."""

    def __init__(self, admin_site: AdminSite) -> None:
        self.admin_site = admin_site

    def url(self, name: str, **query: Any) -> str:
        """Reverse a dashboard URL on this admin site, with an optional query string."""
        url = reverse(f"{self.admin_site.name}:cache_dashboard_{name}")
        # A value UTF-8 cannot encode (a stored lone surrogate) goes as its escape, not a 500.
        query = {k: v.encode("utf-8", "backslashreplace").decode() if isinstance(v, str) else v
                 for k, v in query.items() if v not in (None, "")}
        return f"{url}?{urlencode(query)}" if query else url

    def context(self, request: HttpRequest, *, title: str, tab: str, alias: str, **extra: Any) -> dict[str, Any]:
        """The page frame every dashboard template extends, plus ``extra``."""
        aliases = dashboard_aliases()
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "tab": tab,
            "alias": alias,
            "aliases": aliases,
            "opts": CacheDashboard._meta,
            "app_label": CacheDashboard._meta.app_label,
            "can": dashboard_permissions(request.user),
            # The admin's breadcrumbs are an <ol> of <li> since Django 6.1, a <div> before: match them.
            "cd_breadcrumbs_list": django.VERSION >= (6, 1),
            "cd_urls": {name: self.url(name, alias=alias if len(aliases) > 1 else None) for name in PAGES},
            "cd_post_urls": {name: self.url(name) for name in ACTIONS},
            **extra,
        }

    # -- what the request asks for ----------------------------------------------------------
    @staticmethod
    def alias_from(value: str | None) -> str:
        """The alias a GET asks for (the default one when none), or 404."""
        alias = value or default_alias()
        if alias not in dashboard_aliases():
            raise Http404(_("Unknown cache alias."))
        return alias

    @staticmethod
    def posted_alias(request: HttpRequest) -> str:
        """The posted alias if it is a dashboard alias, else the default (form choices only: the
        form itself rejects an unknown alias)."""
        value = request.POST.get("alias")
        return value if value in dashboard_aliases() else default_alias()

    @staticmethod
    def window(request: HttpRequest) -> int:
        try:
            window = int(request.GET.get("window", WINDOWS[0]))
        except ValueError:
            return WINDOWS[0]
        return window if window in WINDOWS else WINDOWS[0]

    @staticmethod
    def safe_next(request: HttpRequest) -> str:
        """The posted ``next`` if it is a safe URL of this host, else ""."""
        target = request.POST.get("next") or ""
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return ""

    def redirect_back(self, request: HttpRequest, default: str) -> HttpResponseRedirect:
        """To the posted ``next`` if it is a safe URL of this host, else to ``default``."""
        return HttpResponseRedirect(self.safe_next(request) or default)
