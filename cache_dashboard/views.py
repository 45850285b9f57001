"""The dashboard's admin pages: thin views over :mod:`cache_dashboard.dashboard` and :mod:`~.audit`.

They are mounted by :class:`cache_dashboard.admin.CacheDashboardAdmin` through ``get_urls()``, so
every view is wrapped in ``admin_site.admin_view`` (staff login, CSRF, never_cache). That only
checks ``is_staff``: each view checks its own permission on top. Mutations are POST-only and share
one skeleton (:meth:`DashboardViews.mutate` driven by the :data:`MUTATIONS` table): permission,
form, audited call, message, redirect.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import django
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from cache_dashboard import audit
from cache_dashboard.dashboard import (
    WINDOWS,
    build_overview,
    dashboard_aliases,
    default_alias,
    get_manager,
    human_duration,
    safe_error,
    table_namespaces,
)
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.forms import (
    ClearForm,
    InvalidateKeyForm,
    InvalidateNamespaceForm,
    InvalidatePatternForm,
    RemoveInvalidForm,
    TTLOverrideForm,
    TTLResetForm,
)
from cache_dashboard.models import TTLOverride

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

PERM_VIEW = "cache_dashboard.view_dashboard"
PERM_INVALIDATE_KEY = "cache_dashboard.invalidate_key"
PERM_INVALIDATE_NAMESPACE = "cache_dashboard.invalidate_namespace"
PERM_CHANGE_TTL = "cache_dashboard.change_ttl"

#: Rows per page of the invalid-entries table.
INVALID_PAGE_SIZE = 25

View = Callable[..., HttpResponse]


def user_can(user: Any, perm: str) -> bool:
    """Whether ``user`` may use a dashboard feature. Actions need ``view_dashboard`` too."""
    if not (user.is_active and user.is_staff):
        return False
    if perm == "clear":
        return bool(user.is_superuser)
    if not user.has_perm(PERM_VIEW):
        return False
    return bool(user.has_perm(perm))


def dashboard_permissions(user: Any) -> dict[str, bool]:
    """What ``user`` may do, for templates (buttons are hidden, not just disabled)."""
    return {
        "view": user_can(user, PERM_VIEW),
        "invalidate_key": user_can(user, PERM_INVALIDATE_KEY),
        "invalidate_namespace": user_can(user, PERM_INVALIDATE_NAMESPACE),
        "change_ttl": user_can(user, PERM_CHANGE_TTL),
        "clear": user_can(user, "clear"),
    }


#: What a failed cache mutation raises (the manager translates client errors into these).
CACHE_ERRORS = (CacheUnavailable, UnsupportedOperation)


def _only(*methods: str) -> Callable[[View], View]:
    """Method-aware ``require_http_methods`` (Django's decorator would take ``self`` for the request)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(self: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            return view(self, request, *args, **kwargs)

        return wrapper

    return decorator


def _post_only(page: str) -> Callable[[View], View]:
    """POST-only action; a GET (a reload or a bookmarked URL after a form error) goes to ``page``.

    GET never mutates. Redirecting instead of a bare 405 keeps the browser on a working page.
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(self: DashboardViews, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                alias = request.GET.get("alias")
                return HttpResponseRedirect(self.url(page, alias=alias if alias in dashboard_aliases() else None))
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(self, request, *args, **kwargs)

        return wrapper

    return decorator


def _require(request: HttpRequest, perm: str) -> None:
    if not user_can(request.user, perm):
        raise PermissionDenied


def _fromtimestamp(value: float | None) -> datetime.datetime | None:
    """An epoch timestamp as the project's templates expect it: aware (UTC) with USE_TZ, else naive local."""
    from django.conf import settings

    if value is None:
        return None
    try:
        if settings.USE_TZ:
            return datetime.datetime.fromtimestamp(float(value), tz=datetime.timezone.utc)
        # Without USE_TZ, Django renders datetimes as they are: give it TIME_ZONE's wall clock.
        return datetime.datetime.fromtimestamp(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _detail_display(detail: Any) -> str:
    """An invalid entry's detail as staff read it: JSON for dicts and lists, else the text itself."""
    if detail is None or detail == "":
        return ""
    if isinstance(detail, (dict, list, tuple)):
        try:
            return json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        except (TypeError, ValueError):
            pass
    return str(detail)


#: What a mutation's ``perform`` returns: a message (level, text), or a page to show instead.
Outcome = tuple[int, str] | HttpResponse


@dataclass(frozen=True)
class Mutation:
    """One POST action of the dashboard, run by :meth:`DashboardViews.mutate`.

    ``perform(views, request, alias, cleaned_data)`` does the audited change and says what to report;
    ``invalid(views, request, alias, form)`` answers a form with errors (nothing changed);
    afterwards the browser goes to a safe posted ``next`` or to the page ``then`` (with the cleaned
    fields named in ``then_query``).
    """

    perm: str
    form: type[forms.Form]
    perform: Callable[..., Outcome]
    invalid: Callable[..., HttpResponse]
    then: str
    then_query: tuple[str, ...] = ()
    form_kwargs: Callable[[DashboardViews, str], dict[str, Any]] = field(
        default=lambda views, alias: {"aliases": dashboard_aliases(), "namespaces": views._namespaces(alias)}
    )


class DashboardViews:
    """The dashboard pages of one admin site (the site comes from the ModelAdmin, never global)."""

    def __init__(self, model_admin: ModelAdmin) -> None:
        self.model_admin = model_admin
        self.admin_site = model_admin.admin_site

    # -- plumbing ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        """URL patterns, named ``cache_dashboard_*`` inside the admin site's namespace."""

        def wrap(view: View) -> View:
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                # Like ModelAdmin views: {% url 'admin:…' %} then resolves to *this* admin site.
                request.current_app = self.admin_site.name
                return view(request, *args, **kwargs)

            wrapper.__name__ = view.__name__
            return self.admin_site.admin_view(wrapper)

        return [
            # The changelist name makes the admin index link to the overview.
            path("", wrap(self.overview), name="cache_dashboard_cachedashboard_changelist"),
            path("overview/", wrap(self.overview), name="cache_dashboard_overview"),
            path("overview.json", wrap(self.overview_json), name="cache_dashboard_overview_json"),
            path("invalid/", wrap(self.invalid_entries), name="cache_dashboard_invalid"),
            path("invalid/remove/", wrap(self.remove_invalid), name="cache_dashboard_remove_invalid"),
            path("ttl/", wrap(self.ttl), name="cache_dashboard_ttl"),
            path("ttl/reset/", wrap(self.ttl_reset), name="cache_dashboard_ttl_reset"),
            path("invalidate/", wrap(self.invalidate), name="cache_dashboard_invalidate"),
            path("invalidate/key/", wrap(self.invalidate_key), name="cache_dashboard_invalidate_key"),
            path(
                "invalidate/namespace/",
                wrap(self.invalidate_namespace),
                name="cache_dashboard_invalidate_namespace",
            ),
            path(
                "invalidate/pattern/",
                wrap(self.invalidate_pattern),
                name="cache_dashboard_invalidate_pattern",
            ),
            path("clear/", wrap(self.clear), name="cache_dashboard_clear"),
        ]

    def url(self, name: str, **query: Any) -> str:
        """Reverse a dashboard URL on this admin site, with an optional query string."""
        from django.utils.http import urlencode

        url = reverse(f"{self.admin_site.name}:cache_dashboard_{name}")
        query = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{url}?{urlencode(query)}" if query else url

    def _alias_from(self, value: str | None) -> str:
        aliases = dashboard_aliases()
        alias = value or default_alias()
        if alias not in aliases:
            raise Http404(_("Unknown cache alias."))
        return alias

    def _post_alias(self, request: HttpRequest) -> str:
        # Used only to build form choices; the form itself rejects an unknown alias.
        value = request.POST.get("alias")
        return value if value in dashboard_aliases() else default_alias()

    def _window(self, request: HttpRequest) -> int:
        try:
            window = int(request.GET.get("window", WINDOWS[0]))
        except ValueError:
            return WINDOWS[0]
        return window if window in WINDOWS else WINDOWS[0]

    def _context(
        self, request: HttpRequest, *, title: str, tab: str, alias: str, **extra: Any
    ) -> dict[str, Any]:
        from cache_dashboard.models import CacheDashboard

        aliases = dashboard_aliases()
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "tab": tab,
            "alias": alias,
            "aliases": aliases,
            "opts": CacheDashboard._meta,
            "app_label": CacheDashboard._meta.app_label,
            "can": dashboard_permissions(request.user),
            # The admin's breadcrumbs are an <ol> of <li> since Django 6.1, a <div> before: match them.
            "cd_breadcrumbs_list": django.VERSION >= (6, 1),
            "cd_urls": {
                name: self.url(name, alias=alias if len(aliases) > 1 else None)
                for name in ("overview", "invalid", "ttl", "invalidate", "clear")
            },
            "cd_post_urls": {
                name: self.url(name)
                for name in (
                    "invalidate_key",
                    "invalidate_namespace",
                    "invalidate_pattern",
                    "clear",
                    "remove_invalid",
                    "ttl",
                    "ttl_reset",
                )
            },
            **extra,
        }

    def _redirect_back(self, request: HttpRequest, default: str) -> HttpResponseRedirect:
        target = request.POST.get("next") or ""
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(target)
        return HttpResponseRedirect(default)

    def _namespaces(self, alias: str) -> list[str]:
        return table_namespaces(get_manager(alias))

    def _cache_error(self, request: HttpRequest, exc: Exception) -> None:
        messages.error(
            request, _("The cache did not accept the change: %(error)s") % {"error": safe_error(exc)}
        )

    # -- pages ------------------------------------------------------------------------------

    @_only("GET")
    def overview(self, request: HttpRequest) -> HttpResponse:
        """Health, server stats, the hit/miss chart and the namespaces of one alias."""
        _require(request, PERM_VIEW)
        alias = self._alias_from(request.GET.get("alias"))
        window = self._window(request)
        data = build_overview(alias, window=window)
        from cache_dashboard.conf import get_setting

        context = self._context(
            request,
            title=_("Cache dashboard"),
            tab="overview",
            alias=alias,
            data=data,
            window=window,
            windows=[
                {"seconds": w, "label": human_duration(w), "url": self.url("overview", alias=alias, window=w)}
                for w in WINDOWS
            ],
            poll_ms=int(float(get_setting("POLL_INTERVAL")) * 1000),
            json_url=self.url("overview_json"),
            js_strings={
                "hits": _("Hits"),
                "misses": _("Misses"),
                "stale": _("Stale since %(time)s: the last update failed."),
                "updated": _("Updated %(time)s"),
                "unknown": _("unknown"),
                "healthy": _("healthy"),
                "warning": _("warning"),
                "unhealthy": _("unhealthy"),
                "ok": _("OK"),
                "down": _("down"),
                "failed": _("failed"),
            },
        )
        return TemplateResponse(request, "cache_dashboard/overview.html", context)

    @_only("GET")
    def overview_json(self, request: HttpRequest) -> JsonResponse:
        """What the overview's live poll reads; same permission as the page, no key scans."""
        _require(request, PERM_VIEW)
        alias = self._alias_from(request.GET.get("alias"))
        return JsonResponse(build_overview(alias, window=self._window(request), invalid_counts=False))

    @_only("GET")
    def invalid_entries(self, request: HttpRequest) -> HttpResponse:
        """The negative cache: breakdown by reason and a searchable, paginated table of entries."""
        _require(request, PERM_VIEW)
        alias = self._alias_from(request.GET.get("alias"))
        cm = get_manager(alias)
        namespaces = self._namespaces(alias)
        namespace = request.GET.get("namespace") or ""
        if namespace and namespace not in namespaces:
            raise Http404(_("Unknown namespace."))
        query = (request.GET.get("q") or "").strip()
        error = None
        entries: list[dict[str, Any]] = []
        breakdown: dict[str, int] = {}
        try:
            for ns in [namespace] if namespace else namespaces:
                entries.extend(cm.invalid_entries(ns))
            breakdown = dict(cm.invalid_breakdown(namespace or None))
        except Exception as exc:  # server down: show the error, not a 500
            error = safe_error(exc)
        entries.sort(key=lambda e: e.get("marked_at") or 0, reverse=True)
        for entry in entries:
            entry["detail_display"] = _detail_display(entry.get("detail"))
        if query:
            needle = query.casefold()
            entries = [
                e
                for e in entries
                if any(
                    needle in str(e.get(f) or "").casefold()
                    for f in ("key", "reason", "detail_display", "namespace")
                )
            ]
        page = Paginator(entries, INVALID_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [
            {
                **entry,
                "marked_at_dt": _fromtimestamp(entry.get("marked_at")),
                "expires_at_dt": _fromtimestamp(entry.get("expires_at")),
            }
            for entry in page.object_list
        ]
        # The manager orders reasons by count, largest first: keep that order for chart and table.
        chart = {"labels": list(breakdown), "values": list(breakdown.values())}
        context = self._context(
            request,
            title=_("Invalid entries"),
            tab="invalid",
            alias=alias,
            namespaces=namespaces,
            namespace=namespace,
            query=query,
            page=page,
            rows=rows,
            breakdown=list(breakdown.items()),
            breakdown_total=sum(breakdown.values()),
            chart=chart,
            error=error,
            page_query={"alias": alias, "namespace": namespace, "q": query},
        )
        return TemplateResponse(request, "cache_dashboard/invalid.html", context)

    def _ttl_rows(
        self, alias: str, bound: TTLOverrideForm | None = None
    ) -> tuple[list[dict[str, Any]], list[str]]:
        from django.conf import settings

        from cache_dashboard.conf import get_setting

        cm = get_manager(alias)
        ttls: dict[str, Any] = dict(get_setting("TTLS") or {})
        overrides = dict(TTLOverride.objects.values_list("name", "seconds"))
        names: set[str] = set(ttls) | set(overrides)
        try:
            names.update(cm.known_namespaces())
        except Exception:  # the TTL page must work while the cache server is down
            pass
        names.discard("")
        alias_timeout = settings.CACHES.get(alias, {}).get("TIMEOUT", 300)
        rows = []
        for index, name in enumerate(sorted(names)):
            try:
                effective = cm.ttl_for(name)
            except Exception:
                effective = overrides.get(name, ttls.get(name, alias_timeout))
            if bound is not None and bound.data.get("name") == name:
                form = bound
            else:
                form = TTLOverrideForm(
                    initial={"name": name, "seconds": overrides.get(name)},
                    names=[name],
                    auto_id=f"id_ttl_{index}_%s",
                )
            rows.append(
                {
                    "name": name,
                    "default": ttls.get(name),
                    "in_settings": name in ttls,
                    "default_display": human_duration(ttls[name] if name in ttls else alias_timeout),
                    "override": overrides.get(name),
                    "override_display": human_duration(overrides[name]) if name in overrides else "",
                    "effective": effective,
                    "effective_display": human_duration(effective),
                    "form": form,
                }
            )
        return rows, sorted(names)

    def _ttl_page(self, request: HttpRequest, alias: str, bound: TTLOverrideForm | None = None) -> HttpResponse:
        from cache_dashboard.conf import get_setting

        rows, names = self._ttl_rows(alias, bound)
        context = self._context(
            request,
            title=_("TTL configuration"),
            tab="ttl",
            alias=alias,
            rows=rows,
            bound=bound,
            orphan_errors=bound is not None and bound.data.get("name") not in names,
            refresh=get_setting("TTL_OVERRIDE_REFRESH"),
        )
        return TemplateResponse(request, "cache_dashboard/ttl.html", context)

    def ttl(self, request: HttpRequest) -> HttpResponse:
        """GET: defaults, overrides and effective TTLs. POST (change_ttl): set one override."""
        _require(request, PERM_VIEW)
        if request.method == "POST":
            return self.mutate(request, MUTATIONS["ttl"])
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET", "POST"])
        return self._ttl_page(request, self._alias_from(request.GET.get("alias")))

    def _invalidate_page(self, request: HttpRequest, alias: str, **forms: Any) -> HttpResponse:
        aliases = dashboard_aliases()
        namespaces = self._namespaces(alias)
        initial = {"alias": alias}
        preset_ns = request.GET.get("namespace") if request.method == "GET" else None
        ns_initial = {**initial, "namespace": preset_ns} if preset_ns in namespaces else initial
        try:
            caps = get_manager(alias).capabilities
            pattern_ok = bool(getattr(caps, "pattern_invalidation", False))
        except Exception:
            pattern_ok = False
        kwargs = {"aliases": aliases, "namespaces": namespaces}
        context = self._context(
            request,
            title=_("Invalidate"),
            tab="invalidate",
            alias=alias,
            key_form=forms.get("key_form") or InvalidateKeyForm(initial=ns_initial, **kwargs),
            namespace_form=forms.get("namespace_form") or InvalidateNamespaceForm(initial=ns_initial, **kwargs),
            pattern_form=forms.get("pattern_form") or InvalidatePatternForm(initial=initial, **kwargs),
            pattern_ok=pattern_ok,
        )
        return TemplateResponse(request, "cache_dashboard/invalidate.html", context)

    @_only("GET")
    def invalidate(self, request: HttpRequest) -> HttpResponse:
        """The invalidation forms (each posts to its own action view)."""
        _require(request, PERM_VIEW)
        return self._invalidate_page(request, self._alias_from(request.GET.get("alias")))

    def _clear_page(self, request: HttpRequest, alias: str, form: ClearForm) -> HttpResponse:
        from cache_dashboard.conf import get_setting

        cm = get_manager(alias)
        try:
            caps = cm.capabilities
            physical = bool(getattr(caps, "physical_purge", False))
            backend, location = cm.backend, cm.location_display
        except Exception as exc:
            physical, backend, location = False, "?", safe_error(exc)
        context = self._context(
            request,
            title=_("Clear everything this site cached"),
            tab="invalidate",
            alias=alias,
            form=form,
            physical=physical,
            backend=backend,
            location=location,
            key_prefix=get_setting("KEY_PREFIX"),
            namespaces=self._namespaces(alias),
        )
        return TemplateResponse(request, "cache_dashboard/clear_confirm.html", context)

    def clear(self, request: HttpRequest) -> HttpResponse:
        """GET: what "clear everything" will and will not remove. POST: do it (superusers only)."""
        _require(request, "clear")
        if request.method == "POST":
            return self.mutate(request, MUTATIONS["clear"])
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET", "POST"])
        alias = self._alias_from(request.GET.get("alias"))
        return self._clear_page(request, alias, ClearForm(initial={"alias": alias}, aliases=dashboard_aliases()))

    # -- actions ----------------------------------------------------------------------------

    def mutate(self, request: HttpRequest, mutation: Mutation) -> HttpResponse:
        """The skeleton of every POST action: permission, form, audited change, message, redirect.

        Nothing changes unless the form is valid; a cache error is reported, never a 500.
        """
        _require(request, mutation.perm)
        alias = self._post_alias(request)
        form = mutation.form(request.POST, **mutation.form_kwargs(self, alias))
        if not form.is_valid():
            return mutation.invalid(self, request, alias, form)
        alias = form.cleaned_data.get("alias") or alias
        try:
            outcome = mutation.perform(self, request, alias, form.cleaned_data)
        except CACHE_ERRORS as exc:
            self._cache_error(request, exc)
        else:
            if isinstance(outcome, HttpResponse):
                return outcome
            messages.add_message(request, *outcome)
        query = {name: form.cleaned_data.get(name) for name in mutation.then_query}
        return self._redirect_back(request, self.url(mutation.then, alias=alias, **query))

    @_post_only("invalidate")
    def invalidate_key(self, request: HttpRequest) -> HttpResponse:
        """Invalidate one key (invalidate_key)."""
        return self.mutate(request, MUTATIONS["invalidate_key"])

    @_post_only("invalidate")
    def invalidate_namespace(self, request: HttpRequest) -> HttpResponse:
        """Invalidate a whole namespace (invalidate_namespace)."""
        return self.mutate(request, MUTATIONS["invalidate_namespace"])

    @_post_only("invalidate")
    def invalidate_pattern(self, request: HttpRequest) -> HttpResponse:
        """Count, confirm, then delete keys matching a glob (invalidate_namespace; Redis only)."""
        return self.mutate(request, MUTATIONS["invalidate_pattern"])

    @_post_only("invalid")
    def remove_invalid(self, request: HttpRequest) -> HttpResponse:
        """Remove one negative-cache entry (invalidate_key)."""
        return self.mutate(request, MUTATIONS["remove_invalid"])

    @_post_only("ttl")
    def ttl_reset(self, request: HttpRequest) -> HttpResponse:
        """Remove one TTL override (change_ttl)."""
        return self.mutate(request, MUTATIONS["ttl_reset"])


# -- what each mutation does, and how it answers a form with errors -------------------------------


def _show_on_invalidate_page(slot: str) -> Callable[..., HttpResponse]:
    """Re-render the invalidate page with the bound form (its errors) in ``slot``."""

    def invalid(views: DashboardViews, request: HttpRequest, alias: str, form: forms.Form) -> HttpResponse:
        return views._invalidate_page(request, alias, **{slot: form})

    return invalid


def _report_errors(message: str, page: str) -> Callable[..., HttpResponse]:
    """For buttons without a visible form (table rows): say why in a message and go back to ``page``."""

    def invalid(views: DashboardViews, request: HttpRequest, alias: str, form: forms.Form) -> HttpResponse:
        errors = "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(errs)}"
            for name, errs in form.errors.items()
        )
        messages.error(request, _(message) % {"errors": errors})
        return views._redirect_back(request, views.url(page, alias=alias))

    return invalid


def _do_invalidate_key(views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    key, namespace = data["key"], data["namespace"]
    count = audit.invalidate_key(alias, key, namespace=namespace or None, user=request.user)
    text = ngettext(
        "Key “%(key)s” (namespace: %(namespace)s) invalidated in cache “%(alias)s”: %(count)d key removed.",
        "Key “%(key)s” (namespace: %(namespace)s) invalidated in cache “%(alias)s”: %(count)d keys removed.",
        count,
    ) % {"key": key, "namespace": namespace or _("none"), "alias": alias, "count": count}
    return messages.SUCCESS, text


def _do_invalidate_namespace(
    views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]
) -> Outcome:
    namespace = data["namespace"]
    audit.invalidate_namespace(alias, namespace, user=request.user)
    text = _("Namespace “%(namespace)s” invalidated in cache “%(alias)s”: every key in it is now a miss.") % {
        "namespace": namespace,
        "alias": alias,
    }
    return messages.SUCCESS, text


def _do_invalidate_pattern(
    views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]
) -> Outcome:
    pattern, namespace = data["pattern"], data["namespace"] or None
    if not data["confirm"]:
        # Step 1: count only. Nothing changes until the confirmation page is posted.
        count = audit.count_pattern(alias, pattern, namespace=namespace)
        context = views._context(
            request,
            title=_("Confirm pattern invalidation"),
            tab="invalidate",
            alias=alias,
            pattern=pattern,
            namespace=namespace or "",
            allow_match_all=data["allow_match_all"],
            count=count,
        )
        return TemplateResponse(request, "cache_dashboard/pattern_confirm.html", context)
    count = audit.invalidate_pattern(alias, pattern, namespace=namespace, user=request.user)
    text = ngettext(
        "Pattern “%(pattern)s” in cache “%(alias)s”: %(count)d key deleted.",
        "Pattern “%(pattern)s” in cache “%(alias)s”: %(count)d keys deleted.",
        count,
    ) % {"pattern": pattern, "alias": alias, "count": count}
    return messages.SUCCESS, text


def _do_remove_invalid(views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    key, namespace = data["key"], data["namespace"]
    if audit.remove_invalid(alias, key, namespace=namespace, user=request.user):
        text = _("Invalid entry “%(key)s” removed from namespace “%(namespace)s”.") % {
            "key": key,
            "namespace": namespace,
        }
        return messages.SUCCESS, text
    text = _("Invalid entry “%(key)s” was not there any more (expired or already removed).") % {"key": key}
    return messages.WARNING, text


def _do_clear(views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    audit.clear_all(alias, user=request.user)
    return messages.SUCCESS, _("Everything this site cached in “%(alias)s” was removed.") % {"alias": alias}


def _do_set_ttl(views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    name, seconds = data["name"], data["seconds"]
    audit.set_ttl(name, seconds, user=request.user)
    text = _(
        "TTL of “%(name)s” set to %(human)s (%(seconds)d s); every worker applies it within a few seconds."
    ) % {"name": name, "human": human_duration(seconds), "seconds": seconds}
    return messages.SUCCESS, text


def _do_reset_ttl(views: DashboardViews, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    if audit.reset_ttl(data["name"], user=request.user):
        return messages.SUCCESS, _("TTL override of “%(name)s” removed; the default applies again.") % data
    return messages.ERROR, _("There is no TTL override with that name.")


def _ttl_form_kwargs(views: DashboardViews, alias: str) -> dict[str, Any]:
    return {"names": views._ttl_rows(alias)[1], "auto_id": "id_ttl_edit_%s"}


#: Every POST action of the dashboard, by view name.
MUTATIONS: dict[str, Mutation] = {
    "invalidate_key": Mutation(
        perm=PERM_INVALIDATE_KEY,
        form=InvalidateKeyForm,
        perform=_do_invalidate_key,
        invalid=_show_on_invalidate_page("key_form"),
        then="invalidate",
    ),
    "invalidate_namespace": Mutation(
        perm=PERM_INVALIDATE_NAMESPACE,
        form=InvalidateNamespaceForm,
        perform=_do_invalidate_namespace,
        invalid=_show_on_invalidate_page("namespace_form"),
        then="overview",
    ),
    "invalidate_pattern": Mutation(
        perm=PERM_INVALIDATE_NAMESPACE,
        form=InvalidatePatternForm,
        perform=_do_invalidate_pattern,
        invalid=_show_on_invalidate_page("pattern_form"),
        then="invalidate",
    ),
    "remove_invalid": Mutation(
        perm=PERM_INVALIDATE_KEY,
        form=RemoveInvalidForm,
        perform=_do_remove_invalid,
        invalid=_report_errors(gettext_noop("Nothing removed: %(errors)s"), "invalid"),
        then="invalid",
        then_query=("namespace",),
    ),
    "clear": Mutation(
        perm="clear",
        form=ClearForm,
        perform=_do_clear,
        invalid=lambda views, request, alias, form: views._clear_page(request, alias, form),
        then="overview",
        form_kwargs=lambda views, alias: {"aliases": dashboard_aliases()},
    ),
    "ttl": Mutation(
        perm=PERM_CHANGE_TTL,
        form=TTLOverrideForm,
        perform=_do_set_ttl,
        invalid=lambda views, request, alias, form: views._ttl_page(request, alias, form),
        then="ttl",
        form_kwargs=_ttl_form_kwargs,
    ),
    "ttl_reset": Mutation(
        perm=PERM_CHANGE_TTL,
        form=TTLResetForm,
        perform=_do_reset_ttl,
        invalid=_report_errors(gettext_noop("There is no TTL override with that name."), "ttl"),
        then="ttl",
        form_kwargs=lambda views, alias: {},
    ),
}
