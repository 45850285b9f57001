"""The dashboard's mutations (POST): one skeleton, driven by the :data:`MUTATIONS` table.

:func:`mutate` is the shape of every action: permission, form, the audited change in
``services``, a message, a redirect. Nothing changes unless the form is valid, and a cache error
is reported as a message, never as a 500. A form with errors comes back on its own page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateformat import time_format
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from cache_dashboard import keyspace, services
from cache_dashboard.conf import dashboard_aliases, get_setting
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.formatting import describe_error, human_duration
from cache_dashboard.manager import CacheManager
from cache_dashboard.web import keys, pages, presenters
from cache_dashboard.web.base import DashboardSite
from cache_dashboard.web.forms import (
    ClearForm,
    DeleteKeysForm,
    InvalidateKeyForm,
    InvalidateNamespaceForm,
    InvalidatePatternForm,
    KeyActionForm,
    KeyTTLForm,
    RemoveInvalidForm,
    RemoveReasonForm,
    TTLOverrideForm,
    TTLResetForm,
)
from cache_dashboard.web.permissions import (
    CLEAR,
    PERM_CHANGE_KEY_TTL,
    PERM_CHANGE_TTL,
    PERM_DELETE_KEYS,
    PERM_INVALIDATE_KEY,
    PERM_INVALIDATE_NAMESPACE,
    PERM_VIEW_KEYS,
    require,
)

#: What a failed cache mutation raises (the manager translates client errors into these).
CACHE_ERRORS = (CacheUnavailable, UnsupportedOperation)

#: What a mutation's ``perform`` returns: a message (level, text), or a page to show instead.
Outcome = tuple[int, str] | HttpResponse


def _alias_forms(site: DashboardSite, alias: str) -> dict[str, Any]:
    return {"aliases": dashboard_aliases(), "namespaces": CacheManager(alias).known_namespaces()}


@dataclass(frozen=True)
class Mutation:
    """One POST action, run by :func:`mutate`.

    ``perform(site, request, alias, cleaned_data)`` does the audited change and says what to
    report; ``invalid(site, request, alias, form)`` answers a form with errors (nothing changed);
    afterwards the browser goes to a safe posted ``next`` or to the page ``then`` (with the cleaned
    fields named in ``then_query``).
    """

    perm: str
    form: type[forms.Form]
    perform: Callable[[DashboardSite, HttpRequest, str, dict[str, Any]], Outcome]
    invalid: Callable[[DashboardSite, HttpRequest, str, Any], HttpResponse]  # gets a bound ``form``
    then: str
    then_query: tuple[str, ...] = ()
    form_kwargs: Callable[[DashboardSite, str], dict[str, Any]] = field(default=_alias_forms)


def mutate(site: DashboardSite, request: HttpRequest, name: str) -> HttpResponse:
    """Run the mutation ``name`` of :data:`MUTATIONS` on a POST."""
    mutation = MUTATIONS[name]
    require(request, mutation.perm)
    alias = site.posted_alias(request)
    form = mutation.form(request.POST, **mutation.form_kwargs(site, alias))
    if not form.is_valid():
        return mutation.invalid(site, request, alias, form)
    alias = form.cleaned_data.get("alias") or alias
    try:
        outcome = mutation.perform(site, request, alias, form.cleaned_data)
    except CACHE_ERRORS as exc:
        messages.error(request, _("The cache did not accept the change: %(error)s") % {"error": describe_error(exc)})
    else:
        if isinstance(outcome, HttpResponse):
            return outcome
        messages.add_message(request, *outcome)
    query = {name: form.cleaned_data.get(name) for name in mutation.then_query}
    return site.redirect_back(request, site.url(mutation.then, alias=alias, **query))


# -- how each mutation answers a form with errors --------------------------------------------------


def _show_on_invalidate_page(slot: str) -> Callable[[DashboardSite, HttpRequest, str, forms.Form], HttpResponse]:
    """Re-render the invalidate page with the bound form (its errors) in ``slot``."""

    def invalid(site: DashboardSite, request: HttpRequest, alias: str, form: forms.Form) -> HttpResponse:
        return pages.render_invalidate(site, request, alias, **{slot: form})

    return invalid


def _report_errors(message: str, page: str) -> Callable[[DashboardSite, HttpRequest, str, forms.Form], HttpResponse]:
    """For buttons without a visible form (table rows): say why in a message and go back to ``page``."""

    def invalid(site: DashboardSite, request: HttpRequest, alias: str, form: forms.Form) -> HttpResponse:
        errors = "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(map(str, errs))}"
            for name, errs in form.errors.items()
        )
        messages.error(request, _(message) % {"errors": errors})
        return site.redirect_back(request, site.url(page, alias=alias))

    return invalid


# -- what each mutation does ---------------------------------------------------------------------


def _invalidate_key(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    key, namespace = data["key"], data["namespace"]
    count = services.invalidate_key(alias, key, namespace=namespace or None, user=request.user)
    if not count:
        return messages.WARNING, _key_not_found(alias, key, namespace)
    text = ngettext(
        "Key “%(key)s” (namespace: %(namespace)s) invalidated in cache “%(alias)s”: %(count)d key removed.",
        "Key “%(key)s” (namespace: %(namespace)s) invalidated in cache “%(alias)s”: %(count)d keys removed.",
        count,
    ) % {"key": key, "namespace": namespace or _("(no namespace)"), "alias": alias, "count": count}
    return messages.SUCCESS, text


def _key_not_found(alias: str, key: str, namespace: str) -> str:
    """Why nothing was removed, and where the key does exist (one read over the known namespaces)."""
    cm = CacheManager(alias)
    where = {"key": key, "namespace": namespace, "alias": alias}
    try:
        holding = [name for name in cm.namespaces_holding(key, cm.known_namespaces()) if name != (namespace or None)]
    except CACHE_ERRORS:
        holding = []
    if namespace:
        text = _("Key “%(key)s” was not found in namespace “%(namespace)s” of cache “%(alias)s”: nothing removed.")
    else:
        text = _("Key “%(key)s” without a namespace was not found in cache “%(alias)s”: nothing removed.")
    text %= where
    if holding:
        names = ", ".join(f"“{name}”" if name is not None else str(_("(no namespace)")) for name in holding)
        text += " " + ngettext("It exists in namespace %(names)s.", "It exists in namespaces %(names)s.",
                               len(holding)) % {"names": names}
    return text


def _invalidate_namespace(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    namespace = data["namespace"]
    if not data["confirm"]:
        # Step 1: what would become a miss. Nothing changes until the confirmation is posted.
        return pages.render_namespace_confirm(site, request, alias, namespace=namespace)
    if not CacheManager(alias).namespace_in_use(namespace):
        text = _("Namespace “%(namespace)s” holds nothing in cache “%(alias)s”: nothing changed.") % {
            "namespace": namespace,
            "alias": alias,
        }
        return messages.INFO, text
    services.invalidate_namespace(alias, namespace, user=request.user)
    text = _("Namespace “%(namespace)s” invalidated in cache “%(alias)s”: every key in it is now a miss.") % {
        "namespace": namespace,
        "alias": alias,
    }
    return messages.SUCCESS, text


def _invalidate_pattern(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    pattern, every = data["pattern"], data["every_namespace"]
    namespace = None if every else data["namespace"] or None
    if not data["confirm"]:
        # Step 1: count only. Nothing changes until the confirmation page is posted.
        count = services.count_pattern(alias, pattern, namespace=namespace, every_namespace=every)
        return pages.render_pattern_confirm(site, request, alias, pattern=pattern, namespace=namespace,
                                            allow_match_all=data["allow_match_all"], count=count,
                                            every_namespace=every)
    count = services.invalidate_pattern(alias, pattern, namespace=namespace, user=request.user, every_namespace=every)
    if not count:
        text = _("Pattern “%(pattern)s” in cache “%(alias)s”: no key matches any more, nothing was deleted.") % {
            "pattern": pattern, "alias": alias}
        return messages.INFO, text
    text = ngettext(
        "Pattern “%(pattern)s” in cache “%(alias)s”: %(count)d key deleted.",
        "Pattern “%(pattern)s” in cache “%(alias)s”: %(count)d keys deleted.",
        count,
    ) % {"pattern": pattern, "alias": alias, "count": count}
    return messages.SUCCESS, text


def _remove_invalid(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    key, namespace = data["key"], data["namespace"]
    if services.remove_invalid(alias, key, namespace=namespace, user=request.user):
        text = _("Invalid entry “%(key)s” removed from namespace “%(namespace)s”.") % {
            "key": key,
            "namespace": namespace,
        }
        return messages.SUCCESS, text
    text = _("Invalid entry “%(key)s” was not there any more (expired or already removed).") % {"key": key}
    return messages.WARNING, text


def _remove_reason(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    reason, namespace = data["reason"], data["namespace"] or None
    if not data["confirm"]:
        return pages.render_remove_reason_confirm(site, request, alias, reason=reason, namespace=namespace)
    count = services.remove_invalid_reason(alias, reason, namespace=namespace, user=request.user)
    where = {"reason": reason, "alias": alias, "namespace": namespace or _("all namespaces"), "count": count}
    if not count:
        return messages.INFO, _("No live “%(reason)s” entry was left in cache “%(alias)s”: nothing removed.") % where
    return messages.SUCCESS, ngettext(
        "%(count)d “%(reason)s” entry removed from cache “%(alias)s” (%(namespace)s): the next lookup asks the source.",
        "%(count)d “%(reason)s” entries removed from cache “%(alias)s” (%(namespace)s): "
        "the next lookups ask the source.",
        count,
    ) % where


def _clear(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    services.clear_all(alias, user=request.user)
    return messages.SUCCESS, _("Everything this site cached in “%(alias)s” was removed.") % {"alias": alias}


# -- the key browser ----------------------------------------------------------------------------
def _writable_key(request: HttpRequest, alias: str, raw: bytes) -> tuple[dict[str, Any] | None, Outcome | None]:
    """The key's row if the key browser may change it; else what to report (gone, read-only)."""
    require(request, PERM_VIEW_KEYS)
    row = keyspace.key_row(alias, raw)
    if row is None:
        return None, (messages.WARNING, _("Key “%(key)s” no longer exists in cache “%(alias)s”: nothing changed.")
                      % {"key": keyspace.raw_text(raw), "alias": alias})
    if not keyspace.writable(row):
        return None, (messages.ERROR, _("Key “%(key)s” is not this site's: it is read-only "
                                        "(KEY_BROWSER_FOREIGN_WRITES is off). Nothing changed.")
                      % {"key": row["raw"], "alias": alias})
    return row, None


def _delete_key(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    row, refusal = _writable_key(request, alias, data["key"])
    if row is None:
        return refusal or (messages.ERROR, "")
    services.delete_key(alias, data["key"], user=request.user)
    return messages.SUCCESS, _("Key “%(key)s” deleted from cache “%(alias)s”.") % {"key": row["key"], "alias": alias}


def _key_ttl(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    row, refusal = _writable_key(request, alias, data["key"])
    if row is None:
        return refusal or (messages.ERROR, "")
    seconds = data["seconds"]
    if not services.expire_key(alias, data["key"], seconds, user=request.user):
        return messages.WARNING, _("Key “%(key)s” no longer exists in cache “%(alias)s”: nothing changed.") % {
            "key": row["key"], "alias": alias}
    ttl = _("no expiry") if seconds is None else human_duration(seconds)
    return messages.SUCCESS, _("Key “%(key)s” of cache “%(alias)s” now expires in %(ttl)s; its value is kept.") % {
        "key": row["key"], "alias": alias, "ttl": ttl}


def _key_ttl_invalid(site: DashboardSite, request: HttpRequest, alias: str, form: forms.Form) -> HttpResponse:
    errors = "; ".join(" ".join(map(str, errs)) for errs in form.errors.values())
    messages.error(request, _("The TTL was not changed: %(errors)s") % {"errors": errors})
    return site.redirect_back(request, site.url("keys", alias=alias))


def _delete_keys(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    require(request, PERM_VIEW_KEYS)
    query, namespace, scope = data["q"], data["namespace"] or "", data["scope"]
    if not data["confirm"]:
        return keys.render_delete_keys_confirm(site, request, alias, query=query, namespace=namespace, scope=scope)
    count = services.delete_matching_keys(alias, query=query, namespace=namespace or None, scope=scope,
                                          user=request.user)
    where = {"count": count, "alias": alias, "query": query}
    if not count:
        return messages.INFO, _("No key matching “%(query)s” was left in cache “%(alias)s”: nothing deleted.") % where
    return messages.SUCCESS, ngettext("%(count)d key matching “%(query)s” deleted from cache “%(alias)s”.",
                                      "%(count)d keys matching “%(query)s” deleted from cache “%(alias)s”.",
                                      count) % where


def _ttl_conflict_text(conflict: services.TTLConflict) -> str:
    """"Changed by X at T since you loaded the page": what a stale TTL form is told."""
    at = conflict.at
    when = _("an unknown time")
    if at is not None:
        at = timezone.localtime(at) if timezone.is_aware(at) else at
        when = f"{date_format(at, 'SHORT_DATE_FORMAT')} {time_format(at, 'H:i:s T')}"
    values = {"name": conflict.name, "by": conflict.by or _("someone"), "at": when}
    if conflict.current is None:
        text = _("The TTL override of “%(name)s” was removed by %(by)s at %(at)s since you loaded the page.")
    else:
        values["now"] = human_duration(conflict.current.seconds)
        text = _("The TTL of “%(name)s” was changed by %(by)s at %(at)s since you loaded the page; it is "
                 "now %(now)s.")
    return (text % values) + " " + _("Nothing changed: check the value shown and try again.")


def _ttl_busy_text() -> str:
    return _("The database stayed locked by other changes for %(seconds)s seconds: nothing changed. "
             "Try again.") % {"seconds": f"{services.TTL_LOCK_WAIT:g}"}


def _set_ttl(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    name, seconds = data["name"], data["seconds"]
    try:
        change = services.set_ttl(name, seconds, user=request.user, expected=data["version"])
    except services.TTLConflict as conflict:
        # The row's form again, with the error: the page now shows the override as it is (and
        # carries its token), so saving once more is a decision taken with the new value in sight.
        form = TTLOverrideForm(request.POST, **_ttl_form_kwargs(site, alias))
        form.is_valid()
        form.add_error(None, ValidationError(_ttl_conflict_text(conflict), code="conflict"))
        return pages.render_ttl(site, request, alias, form)
    except services.TTLBusy:
        return messages.ERROR, _ttl_busy_text()
    values = {"name": name, "new": human_duration(seconds), "refresh": get_setting("TTL_OVERRIDE_REFRESH")}
    if not change.changed:
        return messages.INFO, _("The TTL override of “%(name)s” is already %(new)s: nothing changed.") % values
    if change.previous is None:
        values["old"] = human_duration(CacheManager(alias).explain_ttl(name).default)
        text = _("TTL of “%(name)s” set to %(new)s (the default is %(old)s); every worker applies it within "
                 "%(refresh)s seconds.")
    else:
        values["old"] = human_duration(change.previous)
        text = _("TTL of “%(name)s” changed from %(old)s to %(new)s; every worker applies it within "
                 "%(refresh)s seconds.")
    return messages.SUCCESS, text % values


def _reset_ttl(site: DashboardSite, request: HttpRequest, alias: str, data: dict[str, Any]) -> Outcome:
    try:
        removed = services.reset_ttl(data["name"], user=request.user, expected=data["version"])
    except services.TTLConflict as conflict:
        return messages.ERROR, _ttl_conflict_text(conflict)
    except services.TTLBusy:
        return messages.ERROR, _ttl_busy_text()
    if removed:
        return messages.SUCCESS, _("TTL override of “%(name)s” removed; the default applies again.") % data
    return messages.INFO, _("There is no TTL override with that name.")


def _ttl_form_kwargs(site: DashboardSite, alias: str) -> dict[str, Any]:
    return {"names": presenters.ttl_names(CacheManager(alias)), "auto_id": "id_ttl_edit_%s"}


#: Every POST action of the dashboard, by URL name.
MUTATIONS: dict[str, Mutation] = {
    "invalidate_key": Mutation(
        perm=PERM_INVALIDATE_KEY,
        form=InvalidateKeyForm,
        perform=_invalidate_key,
        invalid=_show_on_invalidate_page("key_form"),
        then="invalidate",
        then_query=("namespace",),  # the next key is most likely of the same namespace
    ),
    "invalidate_namespace": Mutation(
        perm=PERM_INVALIDATE_NAMESPACE,
        form=InvalidateNamespaceForm,
        perform=_invalidate_namespace,
        invalid=_show_on_invalidate_page("namespace_form"),
        then="overview",
    ),
    "invalidate_pattern": Mutation(
        perm=PERM_INVALIDATE_NAMESPACE,
        form=InvalidatePatternForm,
        perform=_invalidate_pattern,
        invalid=_show_on_invalidate_page("pattern_form"),
        then="invalidate",
    ),
    "remove_invalid": Mutation(
        perm=PERM_INVALIDATE_KEY,
        form=RemoveInvalidForm,
        perform=_remove_invalid,
        invalid=_report_errors(gettext_noop("Nothing removed: %(errors)s"), "invalid"),
        then="invalid",
        then_query=("namespace",),
    ),
    "remove_reason": Mutation(
        perm=PERM_INVALIDATE_NAMESPACE,  # many entries at once: the namespace-wide permission
        form=RemoveReasonForm,
        perform=_remove_reason,
        invalid=_report_errors(gettext_noop("Nothing removed: %(errors)s"), "invalid"),
        then="invalid",
        then_query=("namespace",),
    ),
    "clear": Mutation(
        perm=CLEAR,
        form=ClearForm,
        perform=_clear,
        invalid=lambda site, request, alias, form: pages.render_clear(site, request, alias, form),
        then="overview",
        form_kwargs=lambda site, alias: {"aliases": dashboard_aliases()},
    ),
    "ttl": Mutation(
        perm=PERM_CHANGE_TTL,
        form=TTLOverrideForm,
        perform=_set_ttl,
        invalid=lambda site, request, alias, form: pages.render_ttl(site, request, alias, form),
        then="ttl",
        form_kwargs=_ttl_form_kwargs,
    ),
    "key_delete": Mutation(
        perm=PERM_DELETE_KEYS,
        form=KeyActionForm,
        perform=_delete_key,
        invalid=_report_errors(gettext_noop("Nothing deleted: %(errors)s"), "keys"),
        then="keys",
    ),
    "key_ttl": Mutation(
        perm=PERM_CHANGE_KEY_TTL,
        form=KeyTTLForm,
        perform=_key_ttl,
        invalid=_key_ttl_invalid,
        then="keys",
    ),
    "keys_delete": Mutation(
        perm=PERM_DELETE_KEYS,
        form=DeleteKeysForm,
        perform=_delete_keys,
        invalid=_report_errors(gettext_noop("Nothing deleted: %(errors)s"), "keys"),
        then="keys",
    ),
    "ttl_reset": Mutation(
        perm=PERM_CHANGE_TTL,
        form=TTLResetForm,
        perform=_reset_ttl,
        invalid=_report_errors(gettext_noop("There is no TTL override with that name."), "ttl"),
        then="ttl",
        form_kwargs=lambda site, alias: {},
    ),
}
