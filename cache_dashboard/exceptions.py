"""Exceptions raised by cache_dashboard's public API."""

from __future__ import annotations


class CacheDashboardError(Exception):
    """Base class of every error cache_dashboard raises on purpose."""


class UnsupportedOperation(CacheDashboardError):
    """The configured cache backend cannot do what was asked (e.g. pattern deletes on memcached)."""


class CacheUnavailable(CacheDashboardError):
    """A write the caller must know about (an invalidation) did not reach the cache server."""
