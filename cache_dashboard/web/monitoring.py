"""The monitoring endpoints: Prometheus metrics and a load balancer probe (README, "Monitoring").

Neither goes through ``admin_site.admin_view``: a scraper or a load balancer has no staff
session. Each checks its own credentials and answers 404 until its settings turn it on:

* ``metrics``: on with ``METRICS_TOKEN`` or ``METRICS_ENABLED``. The right bearer token, or a
  logged-in staff user with ``view_dashboard``, may read it. No credentials: 401 (with
  ``WWW-Authenticate: Bearer``); a wrong token or a user without the permission: 403. Without the
  ``prometheus`` extra (``prometheus_client``): 501.
* ``probe``: on with ``PROBE_TOKEN`` or ``PROBE_ALLOWED_IPS``. The right token (bearer or
  ``?token=``) or a REMOTE_ADDR inside the allow-list may call it. No token: 401; a wrong one, or
  an address outside the list: 403. 200 unless an alias is unhealthy (503).

Neither body names a LOCATION, an address, an error or a version.

Why the traffic metrics are gauges over the last hour, not counters: the shared statistics live
in per-minute buckets that expire after ``STATS_RETENTION``, and nothing keeps a running total
since the start (the history store keeps closed hours and prunes them too). A ``_total`` counter
made from them would fall whenever a bucket expires or the cache server restarts, and
Prometheus' ``rate()``/``increase()`` would read each fall as a reset and count the whole value
again. So they are exported as what they are: the sum over the last 60 minutes, the same number
the overview's "Last hour" shows, in every process.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers

from cache_dashboard.conf import dashboard_aliases, get_setting
from cache_dashboard.manager import CacheManager
from cache_dashboard.web.permissions import PERM_VIEW, user_can

#: The window of the traffic gauges, in seconds (one of the overview's windows).
WINDOW = 3600
#: Health statuses, from best to worst.
STATUSES = ("healthy", "warning", "unhealthy")
#: Circuit breaker states (``manager.breaker``).
CIRCUIT_STATES = ("closed", "open", "half_open")
#: Traffic fields of ``get_stats`` exported per namespace: (field, help text).
TRAFFIC = (
    ("hits", "Cache hits"),
    ("misses", "Cache misses"),
    ("sets", "Entries written"),
    ("invalidations", "Entries invalidated"),
    ("errors", "Cache errors (calls that failed open)"),
    ("stale", "Stale entries served while one caller refreshed them"),
    ("fetches", "Calls of the fetch function on a miss"),
)
PROMETHEUS_MISSING = (
    "The metrics endpoint needs prometheus_client: pip install 'django-cache-dashboard[prometheus]'\n"
)


def _text(status: int, body: str, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name] = value
    add_never_cache_headers(response)
    return response


def _bearer(request: HttpRequest) -> str | None:
    """The bearer token of the request's Authorization header; None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _label(value: Any) -> str:
    """A label value the exposition can encode: a lone surrogate (a namespace name made of
    undecodable bytes) becomes its ``\\udcxx`` escape instead of failing the whole scrape."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


# -- metrics ---------------------------------------------------------------------------------------


def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition (OpenMetrics when the scraper asks for it)."""
    token = get_setting("METRICS_TOKEN")
    if not (token or get_setting("METRICS_ENABLED")):
        return _text(404, "Not found\n")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    given = _bearer(request)
    if given is not None:
        if not (token and _same(given, str(token))):
            return _text(403, "Forbidden\n")
    else:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return _text(401, "Unauthorized\n", **{"WWW-Authenticate": 'Bearer realm="cache_dashboard"'})
        if not user_can(user, PERM_VIEW):
            return _text(403, "Forbidden\n")
    try:
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.registry import CollectorRegistry
    except ImportError:
        return _text(501, PROMETHEUS_MISSING)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector(dashboard_aliases()))
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encoder(registry), content_type=content_type)
    add_never_cache_headers(response)
    return response


class DashboardCollector:
    """A ``prometheus_client`` collector of the dashboard's aliases, read at each scrape (one
    health check and one read of the last hour's shared statistics per alias)."""

    def __init__(self, aliases: Iterable[str]) -> None:
        self.aliases = list(aliases)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"cache_dashboard_{name}", doc, labels=labels)

        health = gauge("health_status", "Health of the alias: 1 for its current status, 0 for the others",
                       ["alias", "status"])
        circuit = gauge("circuit_state", "Circuit breaker of the alias in this process: 1 for its current state",
                        ["alias", "state"])
        shared = gauge("stats_shared", "1 when every process sees the same statistics (0: per process, LocMem)",
                       ["alias"])
        stats_up = gauge("stats_available", "1 when the statistics of the alias could be read", ["alias"])
        traffic = {field: gauge(f"{field}_last_hour", f"{doc} in the last hour (shared statistics)",
                                ["alias", "namespace"]) for field, doc in TRAFFIC}
        fetch_seconds = gauge("fetch_seconds_last_hour", "Seconds spent in fetch functions in the last hour",
                              ["alias", "namespace"])
        fetch_max = gauge("fetch_max_seconds_last_hour", "Longest fetch in the last hour, in seconds",
                          ["alias", "namespace"])
        by_source = gauge("invalidations_by_source_last_hour", "Entries invalidated in the last hour, by source",
                          ["alias", "source"])
        server_up = gauge("server_up", "1 when the server answered its statistics", ["alias", "server"])
        memory = gauge("server_memory_bytes", "Memory the server uses", ["alias", "server"])
        memory_limit = gauge("server_memory_limit_bytes", "Memory limit of the server (0: none)", ["alias", "server"])
        items = gauge("server_items", "Keys the server holds", ["alias", "server"])
        server_ratio = gauge("server_hit_ratio", "Hit ratio of the server since it started (0 to 1)",
                             ["alias", "server"])
        evictions = CounterMetricFamily("cache_dashboard_server_evictions", "Keys the server evicted since it started",
                                        labels=["alias", "server"])
        # The running totals every process adds to (monotonic until the server loses them: a reset).
        counters = {field: CounterMetricFamily(f"cache_dashboard_{field}", f"{doc} since the cache began keeping "
                                               "them (every process)", labels=["alias", "namespace"])
                    for field, doc in TRAFFIC}
        fetch_time = SummaryMetricFamily("cache_dashboard_fetch_seconds", "Time spent in fetch functions, every "
                                         "process", labels=["alias", "namespace"])
        invalidated_by = CounterMetricFamily("cache_dashboard_invalidations_by_source", "Entries invalidated since "
                                             "the cache began keeping them, by source", labels=["alias", "source"])

        for alias in self.aliases:
            cm = CacheManager(alias)
            report = cm.get_health()  # never raises; bounded by HEALTH_TIMEOUT
            name = _label(alias)
            for status in STATUSES:
                health.add_metric([name, status], 1.0 if report.get("status") == status else 0.0)
            for state in CIRCUIT_STATES:
                circuit.add_metric([name, state], 1.0 if report.get("circuit") == state else 0.0)
            self._servers(cm, report, name, server_up, memory, memory_limit, items, server_ratio, evictions)
            try:
                stats = cm.get_stats(window=WINDOW)
            except Exception:
                stats_up.add_metric([name], 0.0)
                continue
            stats_up.add_metric([name], 1.0)
            shared.add_metric([name], 1.0 if stats.get("shared") else 0.0)
            for namespace, totals in sorted(stats["namespaces"].items()):
                labels = [name, _label(namespace)]
                for field, _doc in TRAFFIC:
                    traffic[field].add_metric(labels, float(totals.get(field) or 0))
                fetch_seconds.add_metric(labels, float(totals.get("fetch_time_total_ms") or 0) / 1000)
                fetch_max.add_metric(labels, float(totals.get("fetch_time_max_ms") or 0) / 1000)
            for source, n in sorted(stats.get("sources", {}).items()):
                by_source.add_metric([name, _label(source)], float(n))
            self._totals(cm, name, counters, fetch_time, invalidated_by)

        yield health
        yield circuit
        yield stats_up
        yield shared
        yield from traffic.values()
        yield from counters.values()
        yield fetch_time
        yield invalidated_by
        yield fetch_seconds
        yield fetch_max
        yield by_source
        yield server_up
        yield memory
        yield memory_limit
        yield items
        yield server_ratio
        yield evictions

    @staticmethod
    def _totals(cm: CacheManager, alias: str, counters: dict[str, Any], fetch_time: Any, invalidated_by: Any) -> None:
        """The lifetime counters of ``cm``'s alias (nothing when the cache cannot be read)."""
        try:
            totals = cm.get_totals()
        except Exception:
            return
        for namespace, fields in sorted(totals["namespaces"].items()):
            labels = [alias, _label(namespace)]
            for field, _doc in TRAFFIC:
                counters[field].add_metric(labels, float(fields.get(field) or 0))
            fetch_time.add_metric(labels, count_value=float(fields.get("fetches") or 0),
                                  sum_value=float(fields.get("fetch_us") or 0) / 1_000_000)
        for source, n in sorted(totals["sources"].items()):
            invalidated_by.add_metric([alias, _label(source)], float(n))

    @staticmethod
    def _servers(cm: CacheManager, report: dict[str, Any], alias: str, up: Any, memory: Any, memory_limit: Any,
                 items: Any, ratio: Any, evictions: Any) -> None:
        """The servers of the health report, labelled by their position in LOCATION (0, 1, …):
        never by address, which the metrics must not reveal."""
        try:
            adapter = cm.adapter
        except Exception:
            return
        for position, row in enumerate(report.get("server") or []):
            summary = adapter.summarize_server(row)
            labels = [alias, str(position)]
            up.add_metric(labels, 1.0 if summary.get("ok") else 0.0)
            if not summary.get("ok"):
                continue
            for family, field in ((memory, "memory"), (memory_limit, "memory_limit"), (items, "items"),
                                  (ratio, "hit_ratio"), (evictions, "evictions")):
                value = summary.get(field)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    family.add_metric(labels, float(value))


# -- probe -----------------------------------------------------------------------------------------


def _allowed(address: str, networks: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(str(network).strip(), strict=False):
                return True
        except ValueError:  # a malformed entry allows nothing (the system check names it)
            continue
    return False


def invalid_networks(networks: Iterable[str]) -> list[str]:
    """The entries of ``PROBE_ALLOWED_IPS`` that are not addresses or networks."""
    bad = []
    for network in networks:
        try:
            ipaddress.ip_network(str(network).strip(), strict=False)
        except ValueError:
            bad.append(str(network))
    return bad


def overall(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (an unknown one counts as unhealthy); healthy when empty."""
    worst = 0
    for status in statuses:
        worst = max(worst, STATUSES.index(status) if status in STATUSES else 2)
    return STATUSES[worst]


def probe(request: HttpRequest) -> HttpResponse:
    """``{"status": …, "aliases": {alias: status}}``: 200, or 503 when an alias is unhealthy."""
    token = get_setting("PROBE_TOKEN")
    networks = list(get_setting("PROBE_ALLOWED_IPS") or [])
    if not (token or networks):
        return _text(404, "Not found\n")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    given = _bearer(request) or request.GET.get("token") or None
    by_token = bool(token and given is not None and _same(given, str(token)))
    by_address = bool(networks and _allowed(request.META.get("REMOTE_ADDR", ""), networks))
    if not (by_token or by_address):
        if token and given is None:
            return _text(401, "Unauthorized\n", **{"WWW-Authenticate": 'Bearer realm="cache_dashboard"'})
        return _text(403, "Forbidden\n")
    aliases = {alias: str(CacheManager(alias).get_health().get("status")) for alias in dashboard_aliases()}
    aliases = {alias: status if status in STATUSES else "unhealthy" for alias, status in aliases.items()}
    status = overall(aliases.values())
    body = json.dumps({"status": status, "aliases": aliases}, ensure_ascii=True)
    response = HttpResponse(body, status=503 if status == "unhealthy" else 200, content_type="application/json")
    add_never_cache_headers(response)
    return response
