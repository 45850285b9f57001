"""The overview data of one cache alias, shared by the HTML page, its JSON poll and the commands.

:func:`build_overview` never raises because of the cache server: every section that fails is
reported inside the result, so a dead server shows as "unhealthy" instead of a 500. It never
scans keys either (the live poll calls it every few seconds).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.formatting import describe_error, hit_ratio, human_duration
from cache_dashboard.invalidation import rules_status
from cache_dashboard.manager import CacheManager

logger = logging.getLogger(__name__)

#: Chart windows the dashboard offers, in seconds (past 2 h one point per hour; hours the cache
#: no longer keeps come from the statistics history).
WINDOWS = (3600, 86400, 7 * 86400)
#: Rows per page of the namespaces table.
NAMESPACE_PAGE_SIZE = 25
#: The totals every stats section carries, even when the stats could not be read.
TOTALS = ("hits", "misses", "sets", "invalidations", "errors")
#: Sources drawn as their own series in the invalidations chart (the busiest); the others are
#: added up into one.
SOURCE_LINES = 6


def build_overview(alias: str, *, window: int = 3600, invalid_counts: bool = True, ns_query: str = "",
                   ns_page: int = 1) -> dict[str, Any]:
    """Everything the overview shows for one alias, as JSON-serialisable data.

    ``window`` is the chart span in seconds (one of :data:`WINDOWS`). Sections that fail carry an
    ``error`` string instead of raising. No key scans; with ``invalid_counts=False`` (the live
    poll) the per-namespace invalid counts, which read the negative-cache registry, are left out.
    The namespaces table is one page (``ns_page``, :data:`NAMESPACE_PAGE_SIZE` rows) of the
    namespaces whose name contains ``ns_query``, with the "(no namespace)" row and the totals.
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

    health = cm.get_health()  # never raises; through the breaker
    data["health"] = health
    data["health_error"] = health_error(health)
    data["servers"] = [adapter.summarize_server(row) for row in health.get("server") or []] if adapter else []

    stats: dict[str, Any] | None
    try:
        stats = cm.get_stats(window=window)
        error = ""
    except Exception as exc:
        stats = None
        error = describe_error(exc)
        data["errors"].append(error)
    data["stats"] = _stats_section(stats, error)
    data["server_history"] = _server_section(cm, window, bool(data["capabilities"].get("server_stats")))
    table = _namespace_table(cm, stats, invalid_counts, ns_query, ns_page)
    data["namespaces"] = table.pop("rows")
    data["namespace_table"] = table
    try:
        data["rules"] = rules_status()
    except Exception as exc:  # a broken rule must not hide the rest of the page
        data["rules"] = []
        data["errors"].append(describe_error(exc))
    data["invalidation_sources"] = _sources(data["stats"], data["rules"])
    data["stats"]["source_chart"] = _source_chart(stats, data["invalidation_sources"])
    data["duration_ms"] = round((time.monotonic() - started) * 1000, 2)
    return data


def _row(cm: CacheManager, name: str, counters: dict[str, Any], *, has_data: bool) -> dict[str, Any]:
    """One row of the namespaces table (``name`` "" is the "(no namespace)" row)."""
    hits, misses = int(counters.get("hits") or 0), int(counters.get("misses") or 0)
    fetches = int(counters.get("fetches") or 0)
    total_ms = float(counters.get("fetch_time_total_ms") or 0.0)
    mean_ms = total_ms / fetches if fetches else None
    row: dict[str, Any] = {
        "name": name,
        "hits": hits,
        "misses": misses,
        "sets": int(counters.get("sets") or 0),
        "hit_ratio": hit_ratio(hits, misses),
        "invalidations": int(counters.get("invalidations") or 0),
        "errors": int(counters.get("errors") or 0),
        "fetches": fetches,
        "fetch_mean_ms": None if mean_ms is None else round(mean_ms, 3),
        "fetch_max_ms": float(counters.get("fetch_time_max_ms") or 0.0) if fetches else None,
        # What the cache is worth: each hit is a call to the source that did not happen, and the
        # time it would have taken (the namespace's mean fetch time over the same span).
        "saved_seconds": None if mean_ms is None else round(hits * mean_ms / 1000, 3),
        "has_data": has_data,
        "ttl": None,
        "ttl_display": "",
    }
    if name:
        try:
            row["ttl"] = cm.ttl_for(name)
            row["ttl_display"] = human_duration(row["ttl"])
        except Exception as exc:
            row["ttl_display"] = describe_error(exc)
    return row


def _namespace_table(cm: CacheManager, stats: dict[str, Any] | None, invalid_counts: bool, query: str,
                     page: int) -> dict[str, Any]:
    """The namespaces that hold or held data (within the stats retention) and the configured ones
    ("no data yet"), busiest first, one page of them; the "(no namespace)" row holds the plain
    keys, so the rows sum to the cards. Invalid counts only for the rows shown (O(page))."""
    per_ns = (stats or {}).get("namespaces") or {}
    try:
        active = set(cm.active_namespaces())
        configured = set(cm.configured_namespaces())
    except Exception as exc:  # a dead server must not hide the rest of the page
        logger.warning("cache_dashboard: namespaces unavailable: %s", describe_error(exc))
        active, configured = set(), set()
    names = (active | configured | set(per_ns)) - {""}
    rows = [_row(cm, name, per_ns.get(name) or {}, has_data=name in active or _moved(per_ns.get(name)))
            for name in names]
    if stats is None:  # the cache is unreachable: counts unknown, not 0, and no "no data yet"
        for row in rows:
            _unknown(row)
    rows.sort(key=lambda r: (-((r["hits"] or 0) + (r["misses"] or 0) + (r["sets"] or 0)), not r["has_data"], r["name"]))
    needle = query.casefold()
    shown = [row for row in rows if needle in row["name"].casefold()] if needle else rows
    pages = max(1, math.ceil(len(shown) / NAMESPACE_PAGE_SIZE))
    page = min(max(1, page), pages)
    page_rows = shown[(page - 1) * NAMESPACE_PAGE_SIZE: page * NAMESPACE_PAGE_SIZE]
    if invalid_counts:
        for row in page_rows:
            try:
                row["invalid"] = sum(cm.invalid_breakdown(row["name"]).values())
            except Exception:  # the registry lives on the cache server; None renders as "—"
                row["invalid"] = None
    plain = _row(cm, "", per_ns.get("") or {}, has_data=_moved(per_ns.get("")))
    total = _row(cm, "", (stats or {}).get("totals") or {}, has_data=True)
    if stats is None:
        _unknown(plain)
        _unknown(total)
    # Each namespace's hits at its own mean fetch time (a mean over every namespace would weigh
    # a slow source by a fast one's traffic); None when nothing was fetched in the span.
    saved = [row["saved_seconds"] for row in (*rows, plain) if row["saved_seconds"] is not None]
    total["saved_seconds"] = round(sum(saved), 3) if saved else None
    return {"rows": page_rows, "count": len(shown), "all": len(rows), "page": page, "pages": pages,
            "page_size": NAMESPACE_PAGE_SIZE, "query": query, "no_namespace": plain, "total": total,
            "available": stats is not None}


def _unknown(row: dict[str, Any]) -> None:
    """A row whose counters could not be read: every count None ("—"), data unknown."""
    for field in ("hits", "misses", "sets", "invalidations", "errors", "fetches", "fetch_mean_ms",
                  "fetch_max_ms", "saved_seconds", "hit_ratio"):
        row[field] = None
    row["has_data"] = None


def _sources(section: dict[str, Any], rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Invalidations over the span by who asked: the admin, the commands, each signal rule, and
    code (calls without a ``source``: what the counted total leaves over). Each rule's row gets its
    own count too (``invalidated``)."""
    if not section.get("available"):
        return []
    by_source: dict[str, int] = dict(section.get("sources") or {})
    for rule in rules:
        rule["invalidated"] = by_source.get(rule.get("source") or "", 0)
    rows = [{"source": name, "count": count, "kind": _kind(name)}
            for name, count in sorted(by_source.items(), key=lambda item: (-item[1], item[0]))]
    rest = int(section["totals"].get("invalidations") or 0) - sum(by_source.values())
    if rest > 0:
        rows.append({"source": "", "count": rest, "kind": "code"})
    return rows


def _source_chart(stats: dict[str, Any] | None, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Invalidations per bucket by source, for the chart: the busiest :data:`SOURCE_LINES`
    sources one series each, the other sources added up ("other"), and the invalidations made
    without a source ("code", ``source`` ""). ``shown``: whether anything was invalidated."""
    if not stats:
        return {"shown": False, "lines": []}
    per_bucket: dict[str, list[int]] = stats.get("source_series") or {}
    width = len(stats["series"]["timestamps"])
    named = [row["source"] for row in rows if row["source"] in per_bucket]  # busiest first
    lines = [{"source": name, "kind": _kind(name), "data": per_bucket[name]} for name in named[:SOURCE_LINES]]
    rest = [sum(per_bucket[name][i] for name in named[SOURCE_LINES:]) for i in range(width)]
    code = list(stats.get("source_rest") or [0] * width)
    if any(row["source"] and row["source"] not in per_bucket for row in rows):
        # Sources past SOURCE_SERIES_MAX have no series: the remainder is theirs and code's.
        rest, code = [a + b for a, b in zip(rest, code, strict=True)], [0] * width
    if any(rest):
        lines.append({"source": "", "kind": "other", "data": rest})
    if any(code):
        lines.append({"source": "", "kind": "code", "data": code})
    return {"shown": bool(lines), "lines": lines}


def _kind(source: str) -> str:
    if source in ("admin", "command"):
        return source
    return "rule" if source.startswith("rule:") else "code"


def _moved(counters: dict[str, Any] | None) -> bool:
    """Whether a namespace's counters show any traffic in the span."""
    if not counters:
        return False
    return any(int(counters.get(f) or 0) for f in ("hits", "misses", "sets", "invalidations"))


def health_error(health: dict[str, Any]) -> str:
    """Why a cache is not healthy, in one line for the health card ("" when every check passed)."""
    if health.get("error"):
        return str(health["error"])
    for check in health.get("checks") or []:
        if not check.get("ok") and check.get("error"):
            return f"{check.get('name') or '?'}: {check['error']}"
    return ""


def _stats_section(stats: dict[str, Any] | None, error: str = "") -> dict[str, Any]:
    if not stats:
        # Unknown, not zero: the cards show "—" and the chart says why it is empty.
        return {
            "available": False,
            "error": error,
            "shared": False,
            "scope": "",
            "resolution": 60,
            "totals": {**dict.fromkeys(TOTALS), "hit_ratio": None},
            "series": {"timestamps": [], "hits": [], "misses": []},
            "sources": {},
            "history": "",
        }
    totals = stats["totals"]
    series = stats["series"]
    return {
        "available": True,
        "error": "",
        "shared": bool(stats["shared"]),
        "scope": stats["scope"],
        "resolution": stats["resolution"],
        "totals": {**{name: totals[name] for name in TOTALS}, "hit_ratio": totals["hit_ratio"]},
        "series": {"timestamps": list(series["timestamps"]), "hits": list(series["hits"]),
                   "misses": list(series["misses"])},
        "sources": dict(stats["sources"]),
        "history": stats.get("history", ""),
    }


def _server_section(cm: CacheManager, window: int, has_servers: bool) -> dict[str, Any]:
    """The servers' chart: what the sampler recorded over the span (``available`` False when the
    backend has no server to ask, the cache cannot be read, or no sample exists yet)."""
    empty: dict[str, Any] = {
        "shown": has_servers, "available": False, "resolution": 60 if window <= 7200 else 3600,
        "timestamps": [], "memory": [], "ops": [], "evictions": [], "hit_ratio": [], "servers": [],
        "totals": {"evictions": None, "hit_ratio": None},
    }
    if not has_servers:
        return empty
    try:
        found = cm.get_server_history(window=window)  # through the breaker; None when it failed
    except Exception as exc:  # never a 500 for a chart
        logger.warning("cache_dashboard: server history unavailable: %s", describe_error(exc))
        found = None
    if not found:
        return empty
    available = any(value is not None for value in found["memory"]) or any(v is not None for v in found["ops"])
    return {**empty, **{k: found[k] for k in ("resolution", "timestamps", "memory", "ops", "evictions", "hit_ratio",
                                              "servers", "totals")}, "available": available}
