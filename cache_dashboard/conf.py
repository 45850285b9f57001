"""Settings of cache_dashboard: one ``CACHE_DASHBOARD`` dict merged over documented defaults, and
the aliases the dashboard shows.

Never read at import time: the getter is cached and reset on ``setting_changed`` (so
``override_settings`` works in tests). Modules that cache something derived from settings connect
their own ``setting_changed`` receiver next to that cache.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: Every setting with its default. ``CACHE_DASHBOARD`` in the project's settings overrides any of them.
DEFAULTS: dict[str, Any] = {
    # Alias of CACHES that the module-level ``cache_manager`` uses.
    "ALIAS": "default",
    # Aliases the dashboard shows; None means every alias in CACHES.
    "ALIASES": None,
    # TTL in seconds per data type / namespace. ``<namespace>_invalid`` is the TTL of that
    # namespace's negative-cache entries. None means "never expires".
    "TTLS": {"ruc": 3600, "ruc_invalid": 86400, "estadisticas_ventas": 300},
    # Dotted path of a zero-argument callable returning {name: seconds} overrides (the admin's
    # TTL page stores them in the database). None disables overrides.
    "TTL_OVERRIDES": "cache_dashboard.ttl_store.overrides",
    # Seconds an in-process copy of the TTL overrides may be old (every worker sees an edit within this).
    "TTL_OVERRIDE_REFRESH": 5,
    # Fraction of a TTL removed at random (0.1 = up to 10 % shorter) so entries written together
    # do not all expire in the same second.
    "TTL_JITTER": 0.0,
    # Hit/miss statistics shared through the cache server.
    "STATS_ENABLED": True,
    # On Redis, delete an invalidated namespace's old entries in a background thread (SCAN + UNLINK)
    # so memory comes back at once instead of at expiry.
    "PURGE_ON_INVALIDATE": True,
    # A purge SCANs the whole database: skip it for a namespace that cannot hold this many entries
    # (fewer sets within its TTL); they expire on their own. 0: always purge.
    "PURGE_MIN_ENTRIES": 1000,
    # How long per-minute buckets are kept, in seconds (>= 24 h by default).
    "STATS_RETENTION": 86400 + 3600,
    # Where closed hours of statistics are kept once they leave the cache (what "Last 7 days" and
    # a restarted cache server read): the dotted path of a history store (the database model
    # StatsHour by default). None: the charts show what the cache keeps, nothing older.
    "STATS_HISTORY": "cache_dashboard.history.database",
    # Seconds of hours the history store keeps (older rows are deleted as new ones come). None: all.
    "STATS_HISTORY_RETENTION": 35 * 86400,
    # Seconds between two flushes of the in-process counters to the cache server.
    "STATS_FLUSH_INTERVAL": 1.0,
    # TTL of the per-key lock that lets one caller refresh a missing entry while others wait.
    "STAMPEDE_LOCK_TIMEOUT": 10,
    # Longest time a caller waits for another caller's refresh before fetching itself (fail open).
    "STAMPEDE_MAX_WAIT": 1.0,
    # Seconds an entry stays readable past its TTL, to be served to callers while one refreshes it.
    "STALE_GRACE": 60,
    # XFetch early-refresh aggressiveness (1.0 as in Vattani et al.; 0 disables early refresh).
    "XFETCH_BETA": 1.0,
    # Consecutive cache errors that open the circuit breaker, and seconds before a half-open probe.
    "CIRCUIT_FAILURE_THRESHOLD": 3,
    "CIRCUIT_RESET_TIMEOUT": 5.0,
    # Upper bound of a health check, in seconds, even when the server hangs.
    "HEALTH_TIMEOUT": 1.0,
    # A round trip slower than this makes the health status "warning".
    "HEALTH_LATENCY_WARNING_MS": 100.0,
    # Seconds between two polls of the admin overview.
    "POLL_INTERVAL": 5,
    # Prefix of every key CacheManager writes (inside the cache's own KEY_PREFIX/VERSION).
    "KEY_PREFIX": "cd",
    # Seconds between two errors logged for the same alias (the rest are counted, not logged).
    "LOG_RATE_LIMIT": 30.0,
    # Most negative-cache entries kept per namespace: beyond, the oldest are dropped first (and
    # counted). Anyone who can reach a lookup endpoint can mark keys; this bounds what it costs.
    # None or 0: no cap.
    "REGISTRY_MAX_ENTRIES": 100_000,
    # The key browser may delete keys and change TTLs of keys that are not this site's (another
    # KEY_PREFIX on a shared server, Celery's, anything without the prefix). Off: they are read-only.
    "KEY_BROWSER_FOREIGN_WRITES": False,
    # Seconds a bulk delete of the key browser's matches may count before its confirmation (past
    # it, the page says "at least N").
    "KEY_BROWSER_COUNT_BUDGET": 10.0,
    # -- monitoring endpoints (README, "Monitoring"); both answer 404 until configured -----------
    # Bearer token of the Prometheus endpoint ``<admin>/cache_dashboard/cachedashboard/metrics``
    # (``Authorization: Bearer <token>``). Setting it turns the endpoint on. None: no token.
    "METRICS_TOKEN": None,
    # Turn the metrics endpoint on without a token: staff users with ``view_dashboard`` may read it
    # in their admin session (they may with a token set too).
    "METRICS_ENABLED": False,
    # Token of the load balancer probe ``<admin>/cache_dashboard/cachedashboard/probe``
    # (``Authorization: Bearer <token>`` or ``?token=<token>``). Setting it turns the probe on.
    "PROBE_TOKEN": None,
    # Networks (CIDRs or addresses) allowed to call the probe without a token, matched against
    # REMOTE_ADDR only: behind a proxy that is the proxy's address unless the project sets it from
    # the forwarded header. Setting it turns the probe on. Empty: no allow-list.
    "PROBE_ALLOWED_IPS": [],
    # The backend each alias must have, for the django-health-check plugin: {alias: adapter name
    # or list of names} (redis, django_redis, django_valkey, memcached, locmem, db, file, dummy). An alias on
    # another backend (a fallback to LocMem left in production settings) is reported unhealthy.
    "EXPECTED_BACKENDS": {},
}


@cache
def get_settings() -> dict[str, Any]:
    """Return the effective settings: ``CACHE_DASHBOARD`` merged over :data:`DEFAULTS`."""
    user = getattr(settings, "CACHE_DASHBOARD", None) or {}
    unknown = set(user) - set(DEFAULTS)
    merged = {**DEFAULTS, **{k: v for k, v in user.items() if k not in unknown}}
    merged["TTLS"] = dict(user.get("TTLS", DEFAULTS["TTLS"]) or {})
    merged["_UNKNOWN"] = sorted(unknown)
    return merged


def get_setting(name: str) -> Any:
    """Return one effective setting by name."""
    return get_settings()[name]


def dashboard_aliases() -> list[str]:
    """Cache aliases the dashboard shows: ``CACHE_DASHBOARD["ALIASES"]`` or every alias in CACHES."""
    configured = get_setting("ALIASES")
    names = list(configured) if configured else list(settings.CACHES)
    return [name for name in names if name in settings.CACHES]


def default_alias() -> str:
    """The alias shown when none is chosen: ``CACHE_DASHBOARD["ALIAS"]`` if shown, else the first one."""
    aliases = dashboard_aliases()
    preferred: str = get_setting("ALIAS")
    if preferred in aliases or not aliases:
        return preferred
    return aliases[0]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    # override_settings() in tests must take effect at once.
    if setting == "CACHE_DASHBOARD":
        get_settings.cache_clear()
