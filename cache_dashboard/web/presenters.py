"""Data as the dashboard's templates show it: times in the project's zone, details as JSON, TTL
rows, and the overview's table fragments — rendered by one template each, for the page and for
its live poll alike (the poll's JSON carries them as HTML, so the script renders no rows itself)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any, overload

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cache_dashboard import services
from cache_dashboard.conf import get_setting
from cache_dashboard.formatting import human_duration
from cache_dashboard.keys import normalize_key
from cache_dashboard.manager import CacheManager
from cache_dashboard.models import CacheAuditEntry, token_of
from cache_dashboard.overview import WINDOWS
from cache_dashboard.web.base import DashboardSite
from cache_dashboard.web.forms import TTLOverrideForm, validate_ttl_name

#: Entries read per call of the registry (a filtered listing reads thousands: in short calls).
READ_CHUNK = 500

#: The overview's live parts: name in the poll's ``html`` -> fragment template.
FRAGMENTS = {
    "cards": "cache_dashboard/fragments/cards.html",
    "chart_note": "cache_dashboard/fragments/chart_note.html",
    "server_note": "cache_dashboard/fragments/server_note.html",
    "checks": "cache_dashboard/fragments/checks.html",
    "warnings": "cache_dashboard/fragments/warnings.html",
    "servers": "cache_dashboard/fragments/servers.html",
    "namespaces": "cache_dashboard/fragments/namespaces.html",
    "rules": "cache_dashboard/fragments/rules.html",
    "sources": "cache_dashboard/fragments/sources.html",
}


def fromtimestamp(value: float | None) -> datetime.datetime | None:
    """An epoch timestamp as the project's templates expect it: aware (UTC) with USE_TZ, else naive local."""
    if value is None:
        return None
    try:
        if settings.USE_TZ:
            return datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
        # Without USE_TZ, Django renders datetimes as they are: give it TIME_ZONE's wall clock.
        return datetime.datetime.fromtimestamp(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def detail_display(detail: Any) -> str:
    """An invalid entry's detail as staff read it: JSON for dicts and lists, else the text itself."""
    if detail is None or detail == "":
        return ""
    if isinstance(detail, (dict, list, tuple)):
        try:
            return json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            pass
    return str(detail)


def invalid_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the invalid-entries table (``nkey``: the stored form of the key, which any str
    has in ASCII, so a key the page cannot show as it is can still be removed exactly)."""
    return [
        {
            **entry,
            "nkey": normalize_key(str(entry.get("key") or "")),
            "detail_display": detail_display(entry.get("detail")),
            "marked_at_dt": fromtimestamp(entry.get("marked_at")),
            "expires_at_dt": fromtimestamp(entry.get("expires_at")),
        }
        for entry in entries
    ]


class LiveEntries(Sequence[dict[str, Any]]):
    """The live entries of some namespaces (of one ``reason``, if given), newest first, as rows:
    sized by the kept counts, and read a slice at a time (what a page shows), so a page costs the
    page, not the namespaces. Reads go in chunks of :data:`READ_CHUNK` (short server calls)."""

    def __init__(self, cm: CacheManager, namespaces: list[str], total: int, reason: str | None = None) -> None:
        self.cm, self.namespaces, self.total, self.reason = cm, namespaces, total, reason

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, int):
            return self[index : index + 1][0]
        start, stop, _step = index.indices(self.total)
        if stop <= start:
            return []
        if len(self.namespaces) == 1:
            found = self._read(self.namespaces[0], start, stop - start)
        else:  # the newest ``stop`` of each namespace hold the newest ``stop`` of all of them
            merged = [e for ns in self.namespaces for e in self._read(ns, 0, stop)]
            merged.sort(key=lambda e: e.get("marked_at") or 0, reverse=True)
            found = merged[start:stop]
        return invalid_rows(found)

    def _read(self, namespace: str, offset: int, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            want = min(READ_CHUNK, limit - len(out))
            chunk = self.cm.invalid_entries(namespace, offset=offset + len(out), limit=want, reason=self.reason)
            out.extend(chunk)
            if len(chunk) < want:
                break
        return out


def entry_filter(reason: str, prefix: str, needle: str) -> Any:
    """The test a row of the invalid-entries table passes for the page's filters."""
    folded = needle.casefold()

    def keep(row: dict[str, Any]) -> bool:
        return ((not reason or row.get("reason") == reason)
                and (not prefix or str(row.get("key") or "").startswith(prefix))
                and (not folded or matches(row, folded)))

    return keep


def matches(entry: dict[str, Any], needle: str) -> bool:
    """Whether an invalid entry matches a search (case-insensitive, in key, reason, detail, namespace)."""
    return any(needle in str(entry.get(field) or "").casefold()
               for field in ("key", "reason", "detail_display", "namespace"))


def audit_rows(entries: Iterable[CacheAuditEntry]) -> list[dict[str, Any]]:
    """Rows of the audit log: what each change applied to, and its result in words (keys
    affected, or a TTL's old → new value)."""
    rows = []
    for entry in entries:
        scope = [(label, value) for label, value in ((_("namespace"), entry.namespace), (_("key"), entry.key),
                                                     (_("pattern"), entry.pattern)) if value]
        if entry.action == CacheAuditEntry.Action.INVALIDATE_PATTERN and entry.detail == "every namespace":
            scope.append((_("scope"), _("every namespace")))
        if entry.action == CacheAuditEntry.Action.REMOVE_INVALID and entry.detail.startswith("reason: "):
            scope.append((_("every entry of reason"), entry.detail[len("reason: "):]))
        rows.append({
            "created_at": entry.created_at,
            "username": entry.username,
            "alias": entry.alias,
            "action_display": entry.get_action_display(),
            "scope": scope,
            "result": _audit_result(entry),
        })
    return rows


def _audit_result(entry: CacheAuditEntry) -> str:
    if entry.is_ttl:
        return entry.change_display
    if entry.count is None:
        return "—"
    if entry.action == CacheAuditEntry.Action.REMOVE_INVALID:
        return ngettext("%(n)d entry", "%(n)d entries", entry.count) % {"n": entry.count}
    return ngettext("%(n)d key", "%(n)d keys", entry.count) % {"n": entry.count}


def ttl_names(cm: CacheManager) -> list[str]:
    """Names a TTL can be set for, on the TTL page and nowhere else: the settings ``TTLS`` names and
    the namespaces in use (an override alone does not make a name: a typo must not become one),
    each valid by the package's name rules (:func:`~cache_dashboard.web.forms.validate_ttl_name`)."""
    candidates = set(get_setting("TTLS")) | set(cm.active_namespaces())
    return sorted(name for name in candidates if isinstance(name, str) and _valid_ttl_name(name))


def _valid_ttl_name(name: str) -> bool:
    try:
        validate_ttl_name(name)
    except ValidationError:
        return False
    return True


def ttl_rows(cm: CacheManager, names: list[str], bound: TTLOverrideForm | None = None) -> list[dict[str, Any]]:
    """One row per TTL name, and per stored override whose name is not one of ``names`` (it can
    only be removed): the settings default, the override as the database has it now (with the
    token the row's forms carry for the optimistic check) and what applies."""
    overrides = services.ttl_overrides()
    rows = []
    for index, name in enumerate(sorted(set(names) | set(overrides))):
        policy = cm.explain_ttl(name)
        stored = overrides.get(name)
        override = stored.seconds if stored is not None else None
        effective = override if override is not None else policy.default
        if bound is not None and bound.data.get("name") == name:
            form = bound
        else:
            form = TTLOverrideForm(initial={"name": name, "seconds": override}, names=[name],
                                   auto_id=f"id_ttl_{index}_%s")
        rows.append({
            "name": name,
            "editable": name in names,
            "default": policy.configured,
            "in_settings": policy.in_settings,
            "default_display": human_duration(policy.default),
            "override": override,
            "override_display": human_duration(override) if override is not None else "",
            "version": token_of(stored),
            "effective": effective,
            "effective_display": human_duration(effective),
            "form": form,
        })
    return rows


def rule_rows(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the invalidation-rules table (``invalidation.rules_status``)."""
    return [{**rule, "last_fired_dt": fromtimestamp(rule.get("last_fired"))} for rule in rules]


def windows(site: DashboardSite, alias: str) -> list[dict[str, Any]]:
    return [{"seconds": w, "label": human_duration(w), "url": site.url("overview", alias=alias, window=w)}
            for w in WINDOWS]


def js_strings() -> dict[str, str]:
    """The script's texts, translated here (the script has no catalogue of its own)."""
    return {
        "hits": _("Hits"),
        "misses": _("Misses"),
        "hit_ratio": _("Hit ratio"),
        "hit_ratio_axis": _("Hit ratio (%)"),
        "per_minute": _("Requests per minute"),
        "per_hour": _("Requests per hour"),
        "memory": _("Memory"),
        "ops": _("Operations per second"),
        "time_in": _("Time (%(zone)s)"),
        "invalidated_per_minute": _("Keys invalidated per minute"),
        "invalidated_per_hour": _("Keys invalidated per hour"),
        "source_admin": _("The dashboard"),
        "source_command": _("Management commands"),
        "source_rule": _("Rule %(name)s"),
        "source_code": _("Code (no source given)"),
        "source_other": _("Other sources"),
        "stale": _("Stale since %(time)s: the last update failed."),
        "updated": _("Updated %(time)s"),
        "unknown": _("unknown"),
        "healthy": _("healthy"),
        "warning": _("warning"),
        "unhealthy": _("unhealthy"),
    }


def fragment_context(data: dict[str, Any]) -> dict[str, Any]:
    """What the overview's fragments read, from :func:`~cache_dashboard.overview.build_overview` data."""
    table = data.get("namespace_table") or {}
    page, pages = table.get("page", 1), table.get("pages", 1)

    def page_url(number: int) -> str:
        query = {"alias": data.get("alias"), "window": data.get("window"), "ns_q": table.get("query"),
                 "ns_page": number}
        return "?" + urlencode({k: v for k, v in query.items() if v not in (None, "")})

    return {
        "data": data,
        "rules": rule_rows(data.get("rules") or []),
        "span_label": human_duration(data.get("window")),
        "chart_note": chart_note(data),
        "ns_pager": {"previous": page_url(page - 1) if page > 1 else "",
                     "next": page_url(page + 1) if page < pages else ""},
    }


def chart_note(data: dict[str, Any]) -> dict[str, Any]:
    """What the chart's caption says: one point per what, that the last one is still counting,
    and the time zone every time on the page is shown in."""
    stats = data.get("stats") or {}
    resolution = stats.get("resolution") or 60
    history = stats.get("history") or ""
    beyond_cache = int(data.get("window") or 0) > int(get_setting("STATS_RETENTION"))
    return {
        "available": bool(stats.get("available")),
        "error": stats.get("error") or "",
        "per_minute": resolution <= 60,
        "time_zone": timezone.get_current_timezone_name(),
        # Where the hours the cache no longer keeps come from, when the span reaches them.
        "history": history if history == "unavailable" or beyond_cache else "",
    }


def render_fragments(request: HttpRequest, context: dict[str, Any]) -> dict[str, str]:
    """Every live part of the overview as HTML, exactly as the page renders it."""
    return {name: render_to_string(template, context, request=request) for name, template in FRAGMENTS.items()}
