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
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils.translation import gettext_lazy as _

from cache_dashboard import services
from cache_dashboard.formatting import human_duration
from cache_dashboard.models import CacheAuditEntry, CacheDashboard, TTLOverride
from cache_dashboard.web.permissions import PERM_CHANGE_TTL, DashboardPermissionsMixin
from cache_dashboard.web.urls import dashboard_urls


class CacheDashboardAdmin(DashboardPermissionsMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic only in django-stubs
    """The admin-index entry of the dashboard; its URLs are the dashboard pages, not CRUD views."""

    def get_urls(self) -> list[URLPattern]:
        # Replaces the CRUD URLs entirely: the model has no table.
        return dashboard_urls(self.admin_site)


class TTLOverrideAdmin(DashboardPermissionsMixin, admin.ModelAdmin):  # type: ignore[type-arg]  # generic only in django-stubs
    """CRUD of TTL overrides for users with ``change_ttl``; every change is audited."""

    write_permission = PERM_CHANGE_TTL
    list_display = ("name", "seconds", "human", "updated_by", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("updated_by", "updated_at")
    fields = ("name", "seconds", "updated_by", "updated_at")

    @admin.display(description=TTLOverride._meta.get_field("seconds").verbose_name)
    def human(self, obj: TTLOverride) -> str:
        return human_duration(obj.seconds)

    def save_model(self, request: HttpRequest, obj: TTLOverride, form: Any, change: bool) -> None:
        previous = None
        if obj.pk:
            previous = TTLOverride.objects.filter(pk=obj.pk).values_list("seconds", flat=True).first()
        obj.updated_by = request.user if request.user.pk else None
        super().save_model(request, obj, form, change)
        services.record_ttl(obj.name, previous, obj.seconds, user=request.user)

    def delete_model(self, request: HttpRequest, obj: TTLOverride) -> None:
        name, seconds = obj.name, obj.seconds
        super().delete_model(request, obj)
        services.record_ttl(name, seconds, None, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TTLOverride]) -> None:
        # Row by row so each removal is audited.
        for obj in queryset:
            self.delete_model(request, obj)


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
