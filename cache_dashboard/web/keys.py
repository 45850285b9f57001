"""The key browser's pages (GET): a cursor-paged listing of what a cache holds, and one key.

Both need ``view_keys`` (reading values is more than reading statistics). Nothing here changes
the cache; the buttons post to ``actions``. The bulk delete's confirmation is rendered here too.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from cache_dashboard import keyspace
from cache_dashboard.adapters.listing import DONE
from cache_dashboard.conf import get_setting
from cache_dashboard.formatting import describe_error, human_duration
from cache_dashboard.manager import CacheManager
from cache_dashboard.web.base import DashboardResponse, DashboardSite
from cache_dashboard.web.forms import KeyFilterForm, KeyTTLForm
from cache_dashboard.web.permissions import PERM_VIEW_KEYS, require


def _ttl_display(ttl: float | None, known: bool = True) -> str:
    if not known:
        return "—"
    if ttl is None:
        return str(_("no expiry"))
    return human_duration(max(1, math.ceil(ttl)))


def _rows(site: DashboardSite, alias: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["url"] = site.url("key", alias=alias, k=row["token"])
        row["ttl_display"] = _ttl_display(row["ttl"], row["ttl_known"])
        row["writable"] = keyspace.writable(row)
    return rows


def keys_query(alias: str, query: str, namespace: str, scope: str) -> dict[str, str]:
    """The Keys tab's URL parameters for a filter, the defaults left out (a short, shareable URL)."""
    return {"alias": alias, "q": query if query != "*" else "", "namespace": namespace,
            "scope": scope if scope != "site" else ""}


def keys(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """One page of the alias's keys: filter, rows, the cursor to the next page."""
    require(request, PERM_VIEW_KEYS)
    alias = site.alias_from(request.GET.get("alias"))
    cm = CacheManager(alias)
    namespaces = cm.known_namespaces()
    form = KeyFilterForm(request.GET or None, namespaces=namespaces)
    filters = {"q": "*", "namespace": "", "scope": "site", "cursor": ""}
    page: dict[str, Any] = {"rows": [], "cursor": DONE, "supported": cm.capabilities.key_browsing, "error": "",
                            "problem": "", "scanned": 0, "out_of_time": False, "hashed_names": False, "took_ms": 0}
    valid = not request.GET or form.is_valid()  # an invalid filter shows its errors; nothing is read
    if request.GET and valid:
        filters.update({k: v for k, v in form.cleaned_data.items() if v is not None})
    if valid:
        try:
            page = keyspace.list_page(alias, query=filters["q"], namespace=filters["namespace"] or None,
                                      scope=filters["scope"], cursor=filters["cursor"])
        except keyspace.BadCursor:
            form.add_error(None, _("This page of the listing is no longer valid: start again from the first page."))
    query = keys_query(alias, filters["q"], filters["namespace"], filters["scope"])
    context = site.context(
        request,
        title=_("Keys"),
        tab="keys",
        alias=alias,
        form=form,
        filters=filters,
        page=page,
        rows=_rows(site, alias, page["rows"]),
        next_url=site.url("keys", cursor=page["cursor"], **query) if page["cursor"] else "",
        first_url=site.url("keys", **query) if filters["cursor"] else "",
        foreign_writes=get_setting("KEY_BROWSER_FOREIGN_WRITES"),
    )
    return DashboardResponse(request, "cache_dashboard/keys.html", context)


def key(site: DashboardSite, request: HttpRequest) -> HttpResponse:
    """One key: facts, content (containers a page at a time), what CacheManager knows of it."""
    require(request, PERM_VIEW_KEYS)
    alias = site.alias_from(request.GET.get("alias"))
    token = request.GET.get("k") or ""
    cursor = (request.GET.get("c") or "")[:200]
    detail, error, status = None, "", 200
    try:
        raw = keyspace.decode_token(token)
        detail = keyspace.key_detail(alias, raw, cursor=cursor)
        if detail is None:
            status = 404
    except keyspace.BadCursor:
        raw, status = b"", 404
    except Exception as exc:  # the server is down or refused: say so, not a 500
        raw, error, status = b"", describe_error(exc), 503
    row = detail["row"] if detail else {}
    if detail:
        _rows(site, alias, [row])
    context = site.context(
        request,
        title=_("Key"),
        tab="keys",
        hide_aliases=True,  # a key belongs to its alias
        alias=alias,
        detail=detail,
        row=row,
        raw_display=keyspace.raw_text(raw),
        error=error,
        ttl_form=KeyTTLForm(initial={"alias": alias, "key": token}),
        token=token,
        more_url=site.url("key", alias=alias, k=token, c=detail["items_cursor"])
        if detail and detail["items_cursor"] else "",
        keys_url=site.url("keys", alias=alias),
    )
    return DashboardResponse(request, "cache_dashboard/key.html", context, status=status)


def render_delete_keys_confirm(site: DashboardSite, request: HttpRequest, alias: str, *, query: str,
                               namespace: str, scope: str) -> HttpResponse:
    """How many keys the filter matches now (counting for at most KEY_BROWSER_COUNT_BUDGET
    seconds), and the button that deletes them; none at 0."""
    error, count, complete = "", 0, True
    try:
        found, complete = keyspace.matches(alias, query=query, namespace=namespace or None, scope=scope,
                                           budget=float(get_setting("KEY_BROWSER_COUNT_BUDGET")))
        count = len(found)
    except Exception as exc:
        error = describe_error(exc)
    context = site.context(
        request,
        title=_("Confirm deleting keys"),
        tab="keys",
        hide_aliases=True,
        alias=alias,
        query=query,
        namespace=namespace,
        scope=scope,
        count=count,
        complete=complete,
        error=error,
        back_url=site.url("keys", **keys_query(alias, query, namespace, scope)),
    )
    return DashboardResponse(request, "cache_dashboard/keys_delete_confirm.html", context)
