"""The overview data of one cache alias, shared by the HTML page, the JSON endpoint and a command.

:func:`build_overview` never raises because of the cache server: every section that fails is
reported inside the result, so a dead server shows as "unhealthy" instead of a 500. It never
scans keys either (the live poll calls it every few seconds).
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from cache_dashboard import CacheManager

logger = logging.getLogger(__name__)

#: Chart windows the dashboard offers, in seconds.
WINDOWS = (3600, 86400)

_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^@/\s]*@", re.IGNORECASE)
_PASSWORD_KV = re.compile(r"(password|passwd|pwd)=([^&\s]+)", re.IGNORECASE)


def safe_error(exc: BaseException) -> str:
    """Describe an exception for staff without leaking credentials it may carry (e.g. a URL)."""
    text = str(exc) or exc.__class__.__name__
    text = _CREDENTIALS.sub(r"\g<scheme>***@", text)
    text = _PASSWORD_KV.sub(r"\1=***", text)
    return f"{exc.__class__.__name__}: {text}"[:500]


def human_duration(seconds: int | float | None) -> str:
    """Render a TTL for humans: ``300`` → "5 min", ``3600`` → "1 h", ``86400`` → "24 h".

    None means "never expires"; 0 or less "expires at once" (Django's timeout semantics).
    """
    if seconds is None:
        return _("never expires")
    seconds = int(seconds)
    if seconds <= 0:
        return _("expires at once")
    days, rest = divmod(seconds, 86400)
    if days >= 2 and rest == 0:
        return _("%(n)d d") % {"n": days}
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes:
        parts.append(_("%(n)d min") % {"n": minutes})
    if secs:
        parts.append(_("%(n)d s") % {"n": secs})
    return " ".join(parts)


def dashboard_aliases() -> list[str]:
    """Cache aliases the dashboard shows: ``CACHE_DASHBOARD["ALIASES"]`` or every alias in CACHES."""
    from cache_dashboard.conf import get_setting

    configured = get_setting("ALIASES")
    names = list(configured) if configured else list(settings.CACHES)
    return [name for name in names if name in settings.CACHES]


def default_alias() -> str:
    """The alias shown when none is chosen: ``CACHE_DASHBOARD["ALIAS"]`` if shown, else the first one."""
    from cache_dashboard.conf import get_setting

    aliases = dashboard_aliases()
    preferred = get_setting("ALIAS")
    if preferred in aliases or not aliases:
        return preferred
    return aliases[0]


def get_manager(alias: str) -> CacheManager:
    """A CacheManager for ``alias`` (cheap: holds no connection)."""
    from cache_dashboard import CacheManager

    return CacheManager(alias=alias)


def table_namespaces(cm: CacheManager, stats: dict[str, Any] | None = None) -> list[str]:
    """Namespaces worth a row in the overview: known ones and ones seen in stats.

    ``<ns>_invalid`` names are TTL names of the negative cache, not namespaces of their own.
    """
    names: set[str] = set()
    try:
        names.update(cm.known_namespaces())
    except Exception as exc:  # a dead server must not hide the rest of the page
        logger.warning("cache_dashboard: known_namespaces failed: %s", safe_error(exc))
    if stats:
        names.update((stats.get("namespaces") or {}).keys())
    names.discard("")
    return sorted(n for n in names if not (n.endswith("_invalid") and n[: -len("_invalid")] in names))


def _ratio(hits: int, misses: int) -> float | None:
    total = hits + misses
    return hits / total if total else None


def build_overview(
    alias: str, *, window: int = 3600, health: bool = True, invalid_counts: bool = True
) -> dict[str, Any]:
    """Everything the overview shows for one alias, as JSON-serialisable data.

    ``window`` is the chart span in seconds (one of :data:`WINDOWS`). Sections that fail carry an
    ``error`` string instead of raising. No key scans; with ``invalid_counts=False`` (the live poll)
    the per-namespace invalid counts, which read the negative-cache registry, are left out unless
    the manager offers an O(1) ``invalid_count(namespace)``.
    """
    started = time.monotonic()
    if window not in WINDOWS:
        window = WINDOWS[0]
    cm = get_manager(alias)
    data: dict[str, Any] = {
        "alias": alias,
        "aliases": dashboard_aliases(),
        "generated_at": time.time(),
        "window": window,
        "backend": None,
        "location": "",
        "capabilities": {},
        "errors": [],
    }
    try:
        data["backend"] = cm.backend
        data["location"] = cm.location_display
        caps = cm.capabilities
        data["capabilities"] = {
            name: bool(getattr(caps, name, False))
            for name in (
                "pattern_invalidation",
                "key_count",
                "server_stats",
                "shared_stats",
                "physical_purge",
            )
        }
    except Exception as exc:
        data["errors"].append(safe_error(exc))

    if health:
        try:
            data["health"] = cm.get_health()
        except Exception as exc:
            data["health"] = {
                "status": "unhealthy",
                "checks": [],
                "server": [],
                "warnings": [],
                "error": safe_error(exc),
            }

    data["health_error"] = health_error(data.get("health") or {})
    data["servers"] = server_rows((data.get("health") or {}).get("server") or [])

    stats: dict[str, Any] | None
    try:
        stats = cm.get_stats(window=window)
    except Exception as exc:
        stats = None
        data["errors"].append(safe_error(exc))
    data["stats"] = _stats_section(stats)

    rows = []
    for name in table_namespaces(cm, stats):
        counters = ((stats or {}).get("namespaces") or {}).get(name) or {}
        hits, misses = int(counters.get("hits") or 0), int(counters.get("misses") or 0)
        row: dict[str, Any] = {
            "name": name,
            "hits": hits,
            "misses": misses,
            "hit_ratio": counters.get("hit_ratio", _ratio(hits, misses)),
            "invalidations": int(counters.get("invalidations") or 0),
            "ttl": None,
            "ttl_display": "",
        }
        try:
            row["ttl"] = cm.ttl_for(name)
            row["ttl_display"] = human_duration(row["ttl"])
        except Exception as exc:
            row["ttl_display"] = safe_error(exc)
        counter = getattr(cm, "invalid_count", None)
        if counter is not None or invalid_counts:
            try:
                row["invalid"] = (
                    counter(name) if counter is not None else sum(cm.invalid_breakdown(name).values())
                )
            except Exception:  # the registry lives on the cache server; None renders as "—"
                row["invalid"] = None
        rows.append(row)
    data["namespaces"] = rows
    data["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
    return data


def health_error(health: dict[str, Any]) -> str:
    """Why a cache is not healthy, in one line for the health card ("" when every check passed)."""
    if health.get("error"):
        return str(health["error"])
    for check in health.get("checks") or []:
        if not check.get("ok") and check.get("error"):
            return f"{check.get('name') or '?'}: {check['error']}"
    return ""


def _first(server: dict[str, Any], *names: str) -> Any:
    for name in names:
        if server.get(name) is not None:
            return server[name]
    return None


def server_rows(servers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Redis INFO and memcached stats under common names, one row per server of the pool."""
    rows = []
    for server in servers:
        hits = _first(server, "keyspace_hits", "get_hits")
        misses = _first(server, "keyspace_misses", "get_misses")
        ratio = server.get("hit_ratio")
        if ratio is None and hits is not None and misses is not None:
            ratio = _ratio(int(hits), int(misses))
        rows.append(
            {
                "address": str(server.get("address") or ""),
                "ok": bool(server.get("ok")),
                "error": server.get("error") or "",
                "version": str(_first(server, "version") or ""),
                "uptime": _first(server, "uptime", "uptime_in_seconds"),
                "memory": _first(server, "used_memory", "bytes"),
                "memory_limit": _first(server, "maxmemory", "limit_maxbytes"),
                "items": _first(server, "curr_items", "keys"),
                "connections": _first(server, "connected_clients", "curr_connections"),
                "hits": hits,
                "misses": misses,
                "hit_ratio": ratio,
                "evictions": _first(server, "evicted_keys", "evictions"),
                "expired": _first(server, "expired_keys", "expired_unfetched"),
            }
        )
    return rows


def _stats_section(stats: dict[str, Any] | None) -> dict[str, Any]:
    empty_totals = {"hits": 0, "misses": 0, "sets": 0, "invalidations": 0, "errors": 0, "hit_ratio": None}
    if not stats:
        return {
            "available": False,
            "shared": False,
            "scope": "",
            "resolution": 60,
            "totals": empty_totals,
            "series": {"timestamps": [], "hits": [], "misses": []},
            "sources": {},
        }
    totals = {**empty_totals, **(stats.get("totals") or {})}
    if totals.get("hit_ratio") is None:
        totals["hit_ratio"] = _ratio(int(totals["hits"] or 0), int(totals["misses"] or 0))
    series = stats.get("series") or {}
    return {
        "available": True,
        "shared": bool(stats.get("shared")),
        "scope": stats.get("scope", ""),
        "resolution": stats.get("resolution", 60),
        "totals": totals,
        "series": {
            "timestamps": list(series.get("timestamps") or []),
            "hits": list(series.get("hits") or []),
            "misses": list(series.get("misses") or []),
        },
        "sources": dict(stats.get("sources") or {}),
    }
