"""The overview data of one cache alias, shared by the HTML page, its JSON poll and the commands.

:func:`build_overview` never raises because of the cache server: every section that fails is
reported inside the result, so a dead server shows as "unhealthy" instead of a 500. It never
scans keys either (the live poll calls it every few seconds).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.formatting import describe_error, hit_ratio, human_duration
from cache_dashboard.invalidation import rules_status
from cache_dashboard.manager import CacheManager

logger = logging.getLogger(__name__)

#: Chart windows the dashboard offers, in seconds.
WINDOWS = (3600, 86400)
#: The totals every stats section carries, even when the stats could not be read.
TOTALS = ("hits", "misses", "sets", "invalidations", "errors")


def build_overview(alias: str, *, window: int = 3600, invalid_counts: bool = True) -> dict[str, Any]:
    """Everything the overview shows for one alias, as JSON-serialisable data.

    ``window`` is the chart span in seconds (one of :data:`WINDOWS`). Sections that fail carry an
    ``error`` string instead of raising. No key scans; with ``invalid_counts=False`` (the live
    poll) the per-namespace invalid counts, which read the negative-cache registry, are left out.
    """
    started = time.monotonic()
    if window not in WINDOWS:
        window = WINDOWS[0]
    cm = CacheManager(alias)
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
        adapter = cm.adapter
        data["backend"] = adapter.name
        data["location"] = adapter.location_display()
        data["capabilities"] = adapter.capabilities.as_dict()
    except Exception as exc:
        data["errors"].append(describe_error(exc))
        adapter = None

    health = cm.get_health()  # never raises
    data["health"] = health
    data["health_error"] = health_error(health)
    data["servers"] = [adapter.summarize_server(row) for row in health.get("server") or []] if adapter else []

    stats: dict[str, Any] | None
    try:
        stats = cm.get_stats(window=window)
    except Exception as exc:
        stats = None
        data["errors"].append(describe_error(exc))
    data["stats"] = _stats_section(stats)
    data["namespaces"] = _namespace_rows(cm, stats, invalid_counts)
    try:
        data["rules"] = rules_status()
    except Exception as exc:  # a broken rule must not hide the rest of the page
        data["rules"] = []
        data["errors"].append(describe_error(exc))
    data["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
    return data


def _namespace_rows(cm: CacheManager, stats: dict[str, Any] | None, invalid_counts: bool) -> list[dict[str, Any]]:
    try:
        names = cm.known_namespaces()
    except Exception as exc:  # a dead server must not hide the rest of the page
        logger.warning("cache_dashboard: known_namespaces failed: %s", describe_error(exc))
        names = []
    per_ns = (stats or {}).get("namespaces") or {}
    rows = []
    for name in names:
        counters = per_ns.get(name) or {}
        hits, misses = int(counters.get("hits") or 0), int(counters.get("misses") or 0)
        row: dict[str, Any] = {
            "name": name,
            "hits": hits,
            "misses": misses,
            "hit_ratio": hit_ratio(hits, misses),
            "invalidations": int(counters.get("invalidations") or 0),
            "ttl": None,
            "ttl_display": "",
        }
        try:
            row["ttl"] = cm.ttl_for(name)
            row["ttl_display"] = human_duration(row["ttl"])
        except Exception as exc:
            row["ttl_display"] = describe_error(exc)
        if invalid_counts:
            try:
                row["invalid"] = sum(cm.invalid_breakdown(name).values())
            except Exception:  # the registry lives on the cache server; None renders as "—"
                row["invalid"] = None
        rows.append(row)
    return rows


def health_error(health: dict[str, Any]) -> str:
    """Why a cache is not healthy, in one line for the health card ("" when every check passed)."""
    if health.get("error"):
        return str(health["error"])
    for check in health.get("checks") or []:
        if not check.get("ok") and check.get("error"):
            return f"{check.get('name') or '?'}: {check['error']}"
    return ""


def _stats_section(stats: dict[str, Any] | None) -> dict[str, Any]:
    if not stats:
        return {
            "available": False,
            "shared": False,
            "scope": "",
            "resolution": 60,
            "totals": {**dict.fromkeys(TOTALS, 0), "hit_ratio": None},
            "series": {"timestamps": [], "hits": [], "misses": []},
            "sources": {},
        }
    totals = stats["totals"]
    series = stats["series"]
    return {
        "available": True,
        "shared": bool(stats["shared"]),
        "scope": stats["scope"],
        "resolution": stats["resolution"],
        "totals": {**{name: totals[name] for name in TOTALS}, "hit_ratio": totals["hit_ratio"]},
        "series": {"timestamps": list(series["timestamps"]), "hits": list(series["hits"]),
                   "misses": list(series["misses"])},
        "sources": dict(stats["sources"]),
    }
