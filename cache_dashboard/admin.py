"""Admin registration: the dashboard entry (pages via ``get_urls``), TTL overrides and the audit log.

To use a custom ``AdminSite``, register the same classes on it::

    from cache_dashboard.admin import register
    register(my_site)

Everything renders with ``self.admin_site.each_context(request)`` and reverses URLs inside the
site's own namespace, so nothing assumes the default ``admin.site``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils.translation import gettext_lazy as _

from cache_dashboard.formatting import human_duration
from cache_dashboard.models import CacheAuditEntry, CacheDashboard, TTLOverride
from cache_dashboard.web.base import DashboardSite
from cache_dashboard.web.permissions import DashboardPermissionsMixin
from cache_dashboard.web.urls import dashboard_urls, monitoring_urls


class CacheDashboardAdmin(DashboardPermissionsMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic only in django-stubs
    """The admin-index entry of the dashboard; its URLs are the dashboard pages, not CRUD views."""

    def get_urls(self) -> list[URLPattern]:
        # Replaces the CRUD URLs entirely: the model has no table. The monitoring endpoints are
        # under the same prefix but outside admin_view (they check a token or an allow-list).
        return dashboard_urls(self.admin_site) + monitoring_urls()


class TTLOverrideAdmin(DashboardPermissionsMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic only in django-stubs
    """The TTL overrides, read-only (no add, change or delete for anyone): they are changed on the
    dashboard's TTL page only, which checks the names, refuses a save from a stale page and audits
    each change in its transaction. Every page here links there."""

    list_display = ("name", "ttl", "updated_by", "updated_at")
    search_fields = ("name",)
    fields = ("name", "seconds", "updated_by", "updated_at")
    readonly_fields = fields

    @admin.display(description=_("TTL"), ordering="seconds")
    def ttl(self, obj: TTLOverride) -> str:
        return human_duration(obj.seconds)

    def _with_ttl_page(self, extra_context: dict[str, Any] | None) -> dict[str, Any]:
        return {**(extra_context or {}), "cd_ttl_page_url": DashboardSite(self.admin_site).url("ttl")}

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, self._with_ttl_page(extra_context))

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, self._with_ttl_page(extra_context))


class CacheAuditEntryAdmin(DashboardPermissionsMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic only in django-stubs
    """Read-only, filterable audit log of every dashboard mutation."""

    list_display = ("created_at", "username", "alias", "action", "namespace", "short_key", "pattern", "count",
                    "change")
    list_filter = ("action", "alias", "namespace", "created_at")
    search_fields = ("username", "key", "pattern", "namespace", "detail")
    date_hierarchy = "created_at"
    list_per_page = 50

    @admin.display(description=CacheAuditEntry._meta.get_field("key").verbose_name)
    def short_key(self, obj: CacheAuditEntry) -> str:
        return obj.key if len(obj.key) <= 80 else obj.key[:79] + "…"

    @admin.display(description=_("TTL change"))
    def change(self, obj: CacheAuditEntry) -> str:
        """Old → new of a TTL row (see ``CacheAuditEntry.change_display``); empty for other actions."""
        return obj.change_display

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields] + ["change"]


def register(site: admin.AdminSite) -> None:
    """Register the dashboard, TTL overrides and audit log on ``site`` (for custom admin sites)."""
    site.register(CacheDashboard, CacheDashboardAdmin)
    site.register(TTLOverride, TTLOverrideAdmin)
    site.register(CacheAuditEntry, CacheAuditEntryAdmin)


register(admin.site)
