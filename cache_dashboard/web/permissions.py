"""Who may do what in the dashboard: one policy for pages, buttons, actions and admin entries.

Every view is wrapped in ``admin_site.admin_view`` (staff login, CSRF, never_cache), which only
checks ``is_staff``: each view checks its own permission here on top. Every action also needs
``view_dashboard``; "clear everything" is for superusers only. Users without a permission do not
see its buttons, and a forged POST gets 403 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

PERM_VIEW = "cache_dashboard.view_dashboard"
PERM_INVALIDATE_KEY = "cache_dashboard.invalidate_key"
PERM_INVALIDATE_NAMESPACE = "cache_dashboard.invalidate_namespace"
PERM_CHANGE_TTL = "cache_dashboard.change_ttl"
PERM_VIEW_KEYS = "cache_dashboard.view_keys"
PERM_DELETE_KEYS = "cache_dashboard.delete_keys"
PERM_CHANGE_KEY_TTL = "cache_dashboard.change_key_ttl"
#: Not a stored permission: superusers only.
CLEAR = "clear"


def user_can(user: Any, perm: str) -> bool:
    """Whether ``user`` may use a dashboard feature. Actions need ``view_dashboard`` too.

    ``user`` is ``request.user``: AnonymousUser or the project's user model, which needs
    ``is_staff``/``is_superuser``/``has_perm`` as the admin does (AbstractBaseUser alone has none)."""
    if not (user.is_active and user.is_staff):
        return False
    if perm == CLEAR:
        return bool(user.is_superuser)
    if not user.has_perm(PERM_VIEW):
        return False
    return bool(user.has_perm(perm))


def dashboard_permissions(user: Any) -> dict[str, bool]:
    """What ``user`` may do, for templates (buttons are hidden, not just disabled)."""
    return {
        "view": user_can(user, PERM_VIEW),
        "invalidate_key": user_can(user, PERM_INVALIDATE_KEY),
        "invalidate_namespace": user_can(user, PERM_INVALIDATE_NAMESPACE),
        "change_ttl": user_can(user, PERM_CHANGE_TTL),
        "view_keys": user_can(user, PERM_VIEW_KEYS),
        "delete_keys": user_can(user, PERM_DELETE_KEYS) and user_can(user, PERM_VIEW_KEYS),
        "change_key_ttl": user_can(user, PERM_CHANGE_KEY_TTL) and user_can(user, PERM_VIEW_KEYS),
        "clear": user_can(user, CLEAR),
    }


def require(request: HttpRequest, perm: str) -> None:
    """403 unless the request's user has ``perm`` (see :func:`user_can`)."""
    if not user_can(request.user, perm):
        raise PermissionDenied


class DashboardPermissionsMixin:
    """For the dashboard's ModelAdmins: they answer to its permissions, not to model CRUD ones.

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
