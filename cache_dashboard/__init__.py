"""cache_dashboard: a Cache section for the Django admin, backed by one shared CacheManager."""

from __future__ import annotations

from cache_dashboard.exceptions import CacheDashboardError, CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager import CacheManager, cache_manager

__version__ = "0.2.0.dev0"

__all__ = [
    "CacheDashboardError", "CacheManager", "CacheUnavailable", "UnsupportedOperation",
    "__version__", "cache_manager",
]
