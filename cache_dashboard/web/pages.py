"""The dashboard's pages (GET): thin views over ``overview``, the manager's reads and ``presenters``.

Each checks ``view_dashboard``; none changes anything. The ``render_*`` functions are also what
``actions`` shows when a posted form has errors (the same page, with the bound form).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from cache_dashboard import services
from cache_dashboard.conf import dashboard_aliases, get_setting
from cache_dashboard.formatting import describe_error, human_duration
from cache_dashboard.manager import CacheManager
from cache_dashboard.models import CacheAuditEntry
from cache_dashboard.overview import build_overview
from cache_dashboard.web import presenters
from cache_dashboard.web.base import DashboardResponse, DashboardSite
from cache_dashboard.web.forms import (
    ClearForm,
    InvalidateKeyForm,
    InvalidateNamespaceForm,
    InvalidatePatternForm,
    TTLOverrideForm,
)
from cache_dashboard.web.permissions import CLEAR, PERM_VIEW, require

#: Rows per page of the audit log.
AUDIT_PAGE_SIZE = 50
#: Rows per page of the invalid-entries table.
INVALID_PAGE_SIZE = 25
#: A search looks through at most this many of the newest entries (of each namespace).
SEARCH_LIMIT = 5000


def overview(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """Health, server stats, the hit/miss chart, the namespaces and the invalidation rules of one alias."""
    require(request, PERM_VIEW)
    alias = site.alias_from(request.GET.get("alias"))
    window = site.window(request)
    data = build_overview(alias, window=window, **_namespace_page(request))
    context = site.context(
        request,
        title=_("Cache dashboard"),
        tab="overview",
        alias=alias,
        window=window,
        windows=presenters.windows(site, alias),
        poll_ms=int(float(get_setting("POLL_INTERVAL")) * 1000),
        json_url=site.url("overview_json"),
        js_strings=presenters.js_strings(),
        **presenters.fragment_context(data),
    )
    return DashboardResponse(request, "cache_dashboard/overview.html", context)


def _namespace_page(request: HttpRequest) -> dict[str, Any]:
    """The namespaces table's search and page, as the overview and its poll ask for them."""
    try:
        page = int(request.GET.get("ns_page") or 1)
    except ValueError:
        page = 1
    return {"ns_query": (request.GET.get("ns_q") or "").strip()[:200], "ns_page": page}


def overview_json(site: DashboardSite, request: HttpRequest) -> JsonResponse:
    """What the overview's live poll reads: the data, and its tables as the page renders them.

    Same permission as the page; no key scans (per-namespace invalid counts stay as the page
    showed them: their cells are marked to keep).
    """
    require(request, PERM_VIEW)
    alias = site.alias_from(request.GET.get("alias"))
    data = build_overview(alias, window=site.window(request), invalid_counts=False, **_namespace_page(request))
    context = site.context(request, title="", tab="overview", alias=alias, **presenters.fragment_context(data))
    return JsonResponse({**data, "html": presenters.render_fragments(request, context)})


def invalid_entries(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """The negative cache: breakdown by reason, and the entries newest first, paged, filtered by
    reason, key prefix or a search."""
    require(request, PERM_VIEW)
    alias = site.alias_from(request.GET.get("alias"))
    cm = CacheManager(alias)
    namespaces = cm.known_namespaces()
    namespace = request.GET.get("namespace") or ""
    if namespace and namespace not in namespaces:
        raise Http404(_("Unknown namespace."))
    query = (request.GET.get("q") or "").strip()[:200]
    reason = (request.GET.get("reason") or "")[:200]
    prefix = (request.GET.get("prefix") or "")[:200]
    scope = [namespace] if namespace else namespaces
    error = None
    breakdown: dict[str, int] = {}
    dropped = 0
    try:
        breakdown = dict(cm.invalid_breakdown(namespace or None))
        dropped = sum(cm.invalid_dropped(ns) for ns in scope)
    except Exception as exc:  # server down: show the error, not a 500
        error = describe_error(exc)
    # Kept counts size the pages; a page reads its own entries only. A filtered listing reads
    # the newest SEARCH_LIMIT entries of each namespace (and says so).
    rows: presenters.LiveEntries | list[dict[str, Any]]
    rows = presenters.LiveEntries(cm, scope, sum(breakdown.values()))
    exact = False
    if reason and not (query or prefix) and not error and cm.lists_every_reason:
        # Every entry of the reason, paged like the rest (Redis: its own sorted set; LocMem: memory).
        rows, exact = presenters.LiveEntries(cm, scope, breakdown.get(reason, 0), reason=reason), True
    filtered = bool(query or reason or prefix) and not exact
    try:
        if filtered and not error:
            keep = presenters.entry_filter(reason, prefix, query)
            rows = [row for row in presenters.LiveEntries(cm, scope, SEARCH_LIMIT * len(scope))[:SEARCH_LIMIT]
                    if keep(row)]
        paginator = Paginator(rows, INVALID_PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        page_rows = list(page.object_list)
    except Exception as exc:  # the server went away between the counts and the page
        error = error or describe_error(exc)
        paginator = Paginator([], INVALID_PAGE_SIZE)
        page = paginator.get_page(1)
        page_rows = []
    page_query = {"alias": alias, "namespace": namespace, "reason": reason, "prefix": prefix, "q": query}
    context = site.context(
        request,
        title=_("Invalid entries"),
        tab="invalid",
        alias=alias,
        namespaces=namespaces,
        namespace=namespace,
        query=query,
        reason=reason,
        prefix=prefix,
        page=page,
        page_range=list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        rows=page_rows,
        dropped=dropped,
        cap=get_setting("REGISTRY_MAX_ENTRIES"),
        searched=SEARCH_LIMIT if filtered else None,
        # The manager orders reasons by count, largest first: keep that order for chart and table.
        breakdown=[{"reason": r, "count": n, "url": site.url("invalid", alias=alias, namespace=namespace, reason=r)}
                   for r, n in breakdown.items()],
        breakdown_total=sum(breakdown.values()),
        reason_count=breakdown.get(reason) if reason else None,
        chart={"labels": list(breakdown), "values": list(breakdown.values()),
               "urls": [site.url("invalid", alias=alias, namespace=namespace, reason=r) for r in breakdown]},
        error=error,
        page_query=page_query,
        clear_filters=site.url("invalid", alias=alias, namespace=namespace),
    )
    return DashboardResponse(request, "cache_dashboard/invalid.html", context)


def render_remove_reason_confirm(site: DashboardSite, request: HttpRequest, alias: str, *, reason: str,
                                 namespace: str | None) -> HttpResponse:
    """How many entries of a reason a bulk removal takes, and the button that removes them."""
    cm = CacheManager(alias)
    error, count = None, 0
    try:
        count = cm.invalid_breakdown(namespace).get(reason, 0)
    except Exception as exc:
        error = describe_error(exc)
    context = site.context(
        request,
        title=_("Confirm removal of invalid entries"),
        tab="invalid",
        alias=alias,
        reason=reason,
        namespace=namespace or "",
        count=count,
        error=error,
        back=site.url("invalid", alias=alias, namespace=namespace),
    )
    return DashboardResponse(request, "cache_dashboard/remove_reason_confirm.html", context)


def audit(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """The audit log inside the section: filtered and paged in the database, newest first."""
    require(request, PERM_VIEW)
    alias = site.alias_from(request.GET.get("alias"))
    entries = CacheAuditEntry.objects.all()
    action = request.GET.get("action") or ""
    if action in CacheAuditEntry.Action.values:
        entries = entries.filter(action=action)
    else:
        action = ""
    cache = request.GET.get("cache") or ""
    if cache:
        entries = entries.filter(alias=cache)
    query = (request.GET.get("q") or "").strip()[:200]
    if query:
        entries = entries.filter(Q(username__icontains=query) | Q(key__icontains=query)
                                 | Q(namespace__icontains=query) | Q(pattern__icontains=query)
                                 | Q(detail__icontains=query))
    paginator = Paginator(entries, AUDIT_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    context = site.context(
        request,
        title=_("Audit log"),
        tab="audit",
        alias=alias,
        rows=presenters.audit_rows(page.object_list),
        page=page,
        page_range=list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        page_query={"alias": alias, "action": action, "cache": cache, "q": query},
        actions=CacheAuditEntry.Action.choices,
        action=action,
        cache=cache,
        query=query,
        audit_aliases=dashboard_aliases(),
        time_zone=timezone.get_current_timezone_name(),
    )
    return DashboardResponse(request, "cache_dashboard/audit.html", context)


def ttl(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """Defaults, overrides and effective TTLs, each with its edit form."""
    require(request, PERM_VIEW)
    return render_ttl(site, request, site.alias_from(request.GET.get("alias")))


def render_ttl(site: DashboardSite, request: HttpRequest, alias: str,
               bound: TTLOverrideForm | None = None) -> HttpResponse:
    cm = CacheManager(alias)
    names = presenters.ttl_names(cm)
    error = None
    try:
        rows = presenters.ttl_rows(cm, names, bound)
    except services.TTLBusy as exc:  # other writers held the database all along: say so, no forms
        rows, error = [], describe_error(exc)
    context = site.context(
        request,
        title=_("TTL configuration"),
        tab="ttl",
        alias=alias,
        rows=rows,
        bound=bound,
        orphan_errors=bound is not None and bound.data.get("name") not in names,
        refresh=get_setting("TTL_OVERRIDE_REFRESH"),
        error=error,
    )
    return DashboardResponse(request, "cache_dashboard/ttl.html", context)


def invalidate(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """The invalidation forms (each posts to its own action)."""
    require(request, PERM_VIEW)
    return render_invalidate(site, request, site.alias_from(request.GET.get("alias")))


def render_invalidate(site: DashboardSite, request: HttpRequest, alias: str, **bound: Any) -> HttpResponse:
    cm = CacheManager(alias)
    namespaces = cm.known_namespaces()
    initial = {"alias": alias}
    preset = request.GET.get("namespace") if request.method == "GET" else None
    ns_initial = {**initial, "namespace": preset} if preset in namespaces else initial
    kwargs = {"aliases": dashboard_aliases(), "namespaces": namespaces}
    context = site.context(
        request,
        title=_("Invalidate"),
        tab="invalidate",
        alias=alias,
        key_form=bound.get("key_form") or InvalidateKeyForm(initial=ns_initial, **kwargs),
        namespace_form=bound.get("namespace_form") or InvalidateNamespaceForm(initial=ns_initial, **kwargs),
        pattern_form=bound.get("pattern_form") or InvalidatePatternForm(initial=initial, **kwargs),
        pattern_ok=cm.capabilities.pattern_invalidation,
    )
    return DashboardResponse(request, "cache_dashboard/invalidate.html", context)


def render_pattern_confirm(site: DashboardSite, request: HttpRequest, alias: str, *, pattern: str,
                           namespace: str | None, allow_match_all: bool, count: int,
                           every_namespace: bool = False) -> HttpResponse:
    """How many keys a pattern matches now, and the button that deletes them."""
    context = site.context(
        request,
        title=_("Confirm pattern invalidation"),
        tab="invalidate",
        alias=alias,
        pattern=pattern,
        namespace=namespace or "",
        allow_match_all=allow_match_all,
        every_namespace=every_namespace,
        count=count,
    )
    return DashboardResponse(request, "cache_dashboard/pattern_confirm.html", context)


def render_namespace_confirm(site: DashboardSite, request: HttpRequest, alias: str, *, namespace: str) -> HttpResponse:
    """What invalidating a namespace turns into misses, and the button that does it."""
    cm = CacheManager(alias)
    error = None
    in_use, totals, invalid = False, None, None
    try:
        in_use = cm.namespace_in_use(namespace)
        totals = cm.get_stats(namespace, window=3600)["totals"]
        invalid = sum(cm.invalid_breakdown(namespace).values())
    except Exception as exc:  # the server is down: say so; the confirmation fails loudly too
        error = describe_error(exc)
    context = site.context(
        request,
        title=_("Confirm namespace invalidation"),
        tab="invalidate",
        alias=alias,
        namespace=namespace,
        in_use=in_use,
        totals=totals,
        invalid=invalid,
        ttl_display=human_duration(cm.ttl_for(namespace)),
        error=error,
        next_url=site.safe_next(request),
    )
    return DashboardResponse(request, "cache_dashboard/namespace_confirm.html", context)


def clear(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """What "clear everything" will and will not remove (superusers only)."""
    require(request, CLEAR)
    alias = site.alias_from(request.GET.get("alias"))
    return render_clear(site, request, alias, ClearForm(initial={"alias": alias}, aliases=dashboard_aliases()))


def render_clear(site: DashboardSite, request: HttpRequest, alias: str, form: ClearForm) -> HttpResponse:
    cm = CacheManager(alias)
    context = site.context(
        request,
        title=_("Clear everything this site cached"),
        tab="invalidate",
        alias=alias,
        form=form,
        physical=cm.capabilities.physical_purge,
        backend=cm.backend,
        location=cm.location_display,
        key_prefix=get_setting("KEY_PREFIX"),
        namespaces=cm.known_namespaces(),
    )
    return DashboardResponse(request, "cache_dashboard/clear_confirm.html", context)
