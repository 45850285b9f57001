"""cache_dashboard: a Cache section for the Django admin, backed by one shared CacheManager."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cache_dashboard.exceptions import CacheDashboardError, CacheUnavailable, UnsupportedOperation

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cache_dashboard.manager.core import CacheManager, cache_manager


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package (e.g. from settings or INSTALLED_APPS) loads no Django
    # machinery before the apps are ready.
    if name in ("CacheManager", "cache_manager"):
        from cache_dashboard.manager import core

        return getattr(core, name)
    raise AttributeError(name)


__all__ = [
    "CacheDashboardError", "CacheManager", "CacheUnavailable", "UnsupportedOperation",
    "__version__", "cache_manager",
]
