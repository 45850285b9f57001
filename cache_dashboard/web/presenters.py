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
from django.utils.translation import gettext as _

from cache_dashboard import services
from cache_dashboard.conf import get_setting
from cache_dashboard.formatting import human_duration
from cache_dashboard.manager import CacheManager, stats
from cache_dashboard.models import token_of
from cache_dashboard.overview import WINDOWS
from cache_dashboard.web.base import DashboardSite
from cache_dashboard.web.forms import TTLOverrideForm, validate_ttl_name

#: The overview's live parts: name in the poll's ``html`` -> fragment template.
FRAGMENTS = {
    "checks": "cache_dashboard/fragments/checks.html",
    "warnings": "cache_dashboard/fragments/warnings.html",
    "servers": "cache_dashboard/fragments/servers.html",
    "namespaces": "cache_dashboard/fragments/namespaces.html",
    "rules": "cache_dashboard/fragments/rules.html",
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
    """Rows of the invalid-entries table."""
    return [
        {
            **entry,
            "detail_display": detail_display(entry.get("detail")),
            "marked_at_dt": fromtimestamp(entry.get("marked_at")),
            "expires_at_dt": fromtimestamp(entry.get("expires_at")),
        }
        for entry in entries
    ]


class LiveEntries(Sequence[dict[str, Any]]):
    """The live entries of some namespaces, newest first, as rows: sized by the kept counts, and
    read a slice at a time (what a page shows), so a page costs the page, not the namespaces."""

    def __init__(self, cm: CacheManager, namespaces: list[str], total: int) -> None:
        self.cm, self.namespaces, self.total = cm, namespaces, total

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
            found = self.cm.invalid_entries(self.namespaces[0], offset=start, limit=stop - start)
        else:  # the newest ``stop`` of each namespace hold the newest ``stop`` of all of them
            merged = [e for ns in self.namespaces for e in self.cm.invalid_entries(ns, limit=stop)]
            merged.sort(key=lambda e: e.get("marked_at") or 0, reverse=True)
            found = merged[start:stop]
        return invalid_rows(found)


def matches(entry: dict[str, Any], needle: str) -> bool:
    """Whether an invalid entry matches a search (case-insensitive, in key, reason, detail, namespace)."""
    return any(needle in str(entry.get(field) or "").casefold()
               for field in ("key", "reason", "detail_display", "namespace"))


def ttl_names(cm: CacheManager) -> list[str]:
    """Names a TTL can be set for, on the TTL page and nowhere else: the settings ``TTLS`` names and
    the namespaces in use (an override alone does not make a name: a typo must not become one),
    each valid by the package's name rules (:func:`~cache_dashboard.web.forms.validate_ttl_name`)."""
    candidates = set(get_setting("TTLS")) | set(stats.known_namespaces(cm.alias))
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
        "stale": _("Stale since %(time)s: the last update failed."),
        "updated": _("Updated %(time)s"),
        "unknown": _("unknown"),
        "healthy": _("healthy"),
        "warning": _("warning"),
        "unhealthy": _("unhealthy"),
    }


def fragment_context(data: dict[str, Any]) -> dict[str, Any]:
    """What the overview's fragments read, from :func:`~cache_dashboard.overview.build_overview` data."""
    return {"data": data, "rules": rule_rows(data.get("rules") or [])}


def render_fragments(request: HttpRequest, context: dict[str, Any]) -> dict[str, str]:
    """Every live part of the overview as HTML, exactly as the page renders it."""
    return {name: render_to_string(template, context, request=request) for name, template in FRAGMENTS.items()}
