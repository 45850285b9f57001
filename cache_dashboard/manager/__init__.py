"""The CacheManager and its parts, one job each:

``manager`` (the public API: short delegations), ``lookup`` (the hit path's one round trip),
``aside`` (the miss path), ``entry`` (the stored entry), ``epochs`` (epoch and generation
counters), ``guard`` + ``breaker`` (fail open / loud, circuit breaker), ``registry`` (negative
cache), ``ttl`` (the one TTL resolver), ``stats`` (shared counters), ``health`` (probes).
"""

from cache_dashboard.manager.manager import CacheManager, cache_manager

__all__ = ["CacheManager", "cache_manager"]
