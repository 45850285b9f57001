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
from django.http import HttpRequest
from django.urls import URLPattern

from cache_dashboard import audit
from cache_dashboard.models import CacheAuditEntry, CacheDashboard, TTLOverride
from cache_dashboard.views import PERM_CHANGE_TTL, PERM_VIEW, DashboardViews, user_can


class DashboardPermissionsMixin:
    """The dashboard's admin entries answer to its own permissions, not to model CRUD permissions.

    Seeing them needs ``view_dashboard``; writing needs :attr:`write_permission` (None: read-only).
    """

    write_permission: str | None = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return user_can(request.user, PERM_VIEW)

    def _can_write(self, request: HttpRequest) -> bool:
        return self.write_permission is not None and user_can(request.user, self.write_permission)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._can_write(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can_write(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can_write(request)


class CacheDashboardAdmin(DashboardPermissionsMixin, admin.ModelAdmin):
    """The admin-index entry of the dashboard; its URLs are the dashboard pages, not CRUD views."""

    def get_urls(self) -> list[URLPattern]:
        # Replaces the CRUD URLs entirely: the model has no table.
        return DashboardViews(self).get_urls()


class TTLOverrideAdmin(DashboardPermissionsMixin, admin.ModelAdmin):
    """CRUD of TTL overrides for users with ``change_ttl``; every change is audited."""

    write_permission = PERM_CHANGE_TTL
    list_display = ("name", "seconds", "human", "updated_by", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("updated_by", "updated_at")
    fields = ("name", "seconds", "updated_by", "updated_at")

    @admin.display(description=TTLOverride._meta.get_field("seconds").verbose_name)
    def human(self, obj: TTLOverride) -> str:
        from cache_dashboard.dashboard import human_duration

        return human_duration(obj.seconds)

    def save_model(self, request: HttpRequest, obj: TTLOverride, form: Any, change: bool) -> None:
        previous = None
        if obj.pk:
            previous = TTLOverride.objects.filter(pk=obj.pk).values_list("seconds", flat=True).first()
        obj.updated_by = request.user if request.user.pk else None
        super().save_model(request, obj, form, change)
        audit.record_ttl(obj.name, previous, obj.seconds, user=request.user)

    def delete_model(self, request: HttpRequest, obj: TTLOverride) -> None:
        name, seconds = obj.name, obj.seconds
        super().delete_model(request, obj)
        audit.record_ttl(name, seconds, None, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # Row by row so each removal is audited and the in-process TTL copy is refreshed.
        for obj in queryset:
            self.delete_model(request, obj)


class CacheAuditEntryAdmin(DashboardPermissionsMixin, admin.ModelAdmin):
    """Read-only, filterable audit log of every dashboard mutation."""

    list_display = ("created_at", "username", "alias", "action", "namespace", "short_key", "pattern", "count")
    list_filter = ("action", "alias", "namespace", "created_at")
    search_fields = ("username", "key", "pattern", "namespace", "detail")
    date_hierarchy = "created_at"
    list_per_page = 50

    @admin.display(description=CacheAuditEntry._meta.get_field("key").verbose_name)
    def short_key(self, obj: CacheAuditEntry) -> str:
        return obj.key if len(obj.key) <= 80 else obj.key[:79] + "…"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


def register(site: admin.AdminSite) -> None:
    """Register the dashboard, TTL overrides and audit log on ``site`` (for custom admin sites)."""
    site.register(CacheDashboard, CacheDashboardAdmin)
    site.register(TTLOverride, TTLOverrideAdmin)
    site.register(CacheAuditEntry, CacheAuditEntryAdmin)


register(admin.site)
