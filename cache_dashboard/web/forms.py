"""Forms of the dashboard's mutations: each validates user input before anything touches the cache."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import unquote

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cache_dashboard.keys import glob_matcher, normalize_key, normalize_namespace
from cache_dashboard.keyspace import BadCursor, decode_token
from cache_dashboard.models import TTL_MAX_SECONDS, TTL_MIN_SECONDS, TTLOverride

#: memcached's limit, and far more than any sane key; also bounds what we echo back in messages.
MAX_KEY_LENGTH = 250

# Glob syntax understood by Redis SCAN MATCH: *, ?, [...] (with \ escapes).
# Redis's glob (util.c ``stringmatchlen``): a ``[`` class runs to its ``]`` or, unclosed, to the
# end of the pattern, so ``*[^`` ("one character not in the empty set") matches every key.
_GLOB_TOKEN = re.compile(r"\\.|\[[^\]]*(?:\]|$)|[*?]")


def validate_cache_text(value: str) -> None:
    """Reject control and invisible formatting characters (they hide in logs and messages).

    Spaces are allowed: the manager percent-encodes any key, so ``"user 42"`` or an entry whose key
    is ``<img src=x onerror=alert(1)>`` must stay invalidatable and removable from the admin.
    """
    if not value.strip():
        raise ValidationError(_("This field cannot be blank."), code="blank")
    for char in value:
        if char != " " and (char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")):
            raise ValidationError(
                _("Control characters are not allowed (found %(char)s)."),
                code="invalid_char",
                params={"char": repr(char)},
            )


def validate_pattern(value: str) -> None:
    """A glob pattern matches keys as CacheManager stores them, where a space is ``%20`` (keys
    are percent-encoded): whitespace in a pattern could never match, and the manager refuses it."""
    validate_cache_text(value)
    if any(char.isspace() for char in value):
        raise ValidationError(
            _("A pattern cannot contain spaces: keys are stored with a space written as %(code)s. "
              "Use %(code)s or ? in its place."),
            code="space",
            params={"code": "%20"},
        )


#: Keys of every shape a site stores (normalised: printable ASCII, percent-escapes, hashed long keys).
_PROBE_KEYS = ("a", "Z", "0", "20100047218", "user%2042", "#" + "f" * 64, "-", "~_.", "ruc:1:x", "aa")


def is_match_all(pattern: str) -> bool:
    """True when a glob pattern has no literal character left (``*``, ``?*``, ``[a-z]*``, ``*[^``:
    it matches most or every key), unless Redis would match no key of any shape with it (``[``)."""
    literal = _GLOB_TOKEN.sub(lambda m: m.group(0)[1:] if m.group(0).startswith("\\") else "", pattern)
    if literal:
        return False
    matches = glob_matcher(pattern)
    return any(matches(key) for key in _PROBE_KEYS)


def _choices(names: Iterable[str], *, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [("", blank)] if blank is not None else []
    choices += [(name, name) for name in sorted(set(names)) if name]
    return choices


def _set_choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    cast(forms.ChoiceField, form.fields[name]).choices = choices


class KeyField(forms.CharField):
    """A cache key exactly as typed (not stripped): 1..250 characters, no control characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_KEY_LENGTH)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("label", _("Key"))
        super().__init__(**kwargs)
        self.validators.append(validate_cache_text)


class AliasFormMixin(forms.Form):
    """Every mutation names the cache alias it applies to; the view checks it is a dashboard alias.

    All of them take the same keyword arguments (``aliases``, ``namespaces``), so the views can bind
    any of them the same way; a form without a namespace field just ignores ``namespaces``.
    """

    alias = forms.CharField(widget=forms.HiddenInput, max_length=100)
    #: ``auto_id`` of the form's fields, distinct per form so several can share one page.
    auto_id_format = "id_%s"

    def __init__(
        self, *args: Any, aliases: Iterable[str] = (), namespaces: Iterable[str] = (), **kwargs: Any
    ) -> None:
        kwargs.setdefault("auto_id", self.auto_id_format)
        super().__init__(*args, **kwargs)
        self.aliases = list(aliases)
        self.namespaces = list(namespaces)

    def clean_alias(self) -> str:
        alias: str = self.cleaned_data["alias"]
        if alias not in self.aliases:
            raise ValidationError(_("Unknown cache alias."), code="unknown_alias")
        return alias


class InvalidateKeyForm(AliasFormMixin):
    """Invalidate one key, optionally inside a namespace."""

    key = KeyField(help_text=_("Exactly as the application passes it to the cache manager."))
    namespace = forms.ChoiceField(label=_("Namespace"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(self.namespaces, blank=str(_("(no namespace)"))))


class RemoveInvalidForm(InvalidateKeyForm):
    """Remove one negative-cache (invalid) entry so the next lookup asks the source again.

    The table's buttons also post ``nkey``, the key as stored (ASCII whatever the key): a key the
    page could only show escaped (a lone surrogate) is then removed as it really is.
    """

    nkey = forms.CharField(required=False, widget=forms.HiddenInput, max_length=4 * MAX_KEY_LENGTH)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["namespace"].required = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key, nkey = cleaned.get("key"), cleaned.get("nkey")
        if key and nkey and normalize_key(key) != nkey and not nkey.startswith("#"):
            stored = unquote(nkey, errors="surrogatepass")
            if normalize_key(stored) == nkey:
                cleaned["key"] = stored
        return cleaned


class RemoveReasonForm(AliasFormMixin):
    """Remove every invalid entry of one reason (after an upstream outage: every ERROR_API mark),
    in one namespace or in all of them; counted first, removed after confirmation."""

    namespace = forms.ChoiceField(label=_("Namespace"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=200, strip=False, validators=[validate_cache_text])
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(self.namespaces, blank=str(_("All namespaces"))))


class InvalidateNamespaceForm(AliasFormMixin):
    """Invalidate every key of one namespace."""

    auto_id_format = "id_ns_%s"

    namespace = forms.ChoiceField(label=_("Namespace"))
    # Set by the confirmation page: without it the view only shows what would become a miss.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(self.namespaces, blank="---------"))


class InvalidatePatternForm(AliasFormMixin):
    """Delete keys matching a glob pattern (Redis only): counted first, deleted after confirmation."""

    auto_id_format = "id_pat_%s"

    pattern = forms.CharField(
        label=_("Pattern"),
        max_length=MAX_KEY_LENGTH,
        strip=False,
        help_text=_("Glob syntax: * any characters, ? one character, [abc] one of a set. It matches keys "
                    "as stored: printable ASCII as typed, anything else percent-encoded (ñ is %C3%B1), "
                    "and keys over 100 characters by a hash (no pattern matches them)."),
        validators=[validate_pattern],
    )
    namespace = forms.ChoiceField(label=_("Namespace"), required=False)
    every_namespace = forms.BooleanField(
        label=_("Every key of this site, in every namespace and without one"),
        required=False,
        help_text=_("Otherwise only the keys of the namespace chosen above (or, with none, the keys without a "
                    "namespace)."),
    )
    allow_match_all = forms.BooleanField(
        label=_("I really mean a pattern that matches every key"),
        required=False,
    )
    # Set by the confirmation page: without it the view only counts matches.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(self.namespaces, blank=str(_("(no namespace)"))))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pattern = cleaned.get("pattern")
        if pattern and is_match_all(pattern) and not cleaned.get("allow_match_all"):
            self.add_error(
                "pattern",
                ValidationError(
                    _(
                        "This pattern matches every key. Tick the confirmation box, or invalidate "
                        "a namespace instead."
                    ),
                    code="match_all",
                ),
            )
        return cleaned


class ClearForm(AliasFormMixin):
    """Confirmation of "clear everything this site cached" (superusers only)."""

    confirm = forms.BooleanField(
        label=_("Yes, remove everything listed above"),
        required=True,
    )


def validate_ttl_name(value: str) -> None:
    """The package's rules for a TTL name (a namespace or a data type): what
    :func:`~cache_dashboard.keys.normalize_namespace` takes, no control or invisible characters
    (:func:`validate_cache_text`), no surrounding spaces, and no longer than the overrides' column."""
    validate_cache_text(value)
    if value != value.strip():
        raise ValidationError(_("A name cannot start or end with a space."), code="surrounding_space")
    max_length = TTLOverride._meta.get_field("name").max_length or 0
    if len(value) > max_length:
        raise ValidationError(
            _("A name has at most %(max)d characters."), code="max_length", params={"max": max_length}
        )
    try:
        normalize_namespace(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(str(exc), code="invalid_name") from exc


class TTLVersionMixin(forms.Form):
    """The override's token when the page was loaded (empty: none then); a save or removal against
    a row changed since is refused (``services.TTLConflict``)."""

    version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64, strip=False)


class TTLOverrideForm(TTLVersionMixin):
    """Set the TTL override of one name the TTL page offers (settings TTLS and the namespaces in
    use, each valid by :func:`validate_ttl_name`); overrides apply to every alias."""

    name = forms.ChoiceField(label=_("Name"), validators=[validate_ttl_name])
    seconds = forms.IntegerField(
        label=_("Seconds"),
        min_value=TTL_MIN_SECONDS,
        max_value=TTL_MAX_SECONDS,
        help_text=_("Whole seconds, from 1 second to 30 days (2592000)."),
    )

    def __init__(self, *args: Any, names: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "name", _choices(names))


class TTLResetForm(TTLVersionMixin):
    """Remove the TTL override of one name so the settings default applies again. Any stored name
    is accepted (an override saved before the names were checked must stay removable)."""

    name = forms.CharField(label=_("Name"), max_length=200, strip=False)


# -- the key browser -----------------------------------------------------------------------------
#: Longest glob the key browser takes.
MAX_QUERY_LENGTH = 500
#: Longest TTL the key browser sets: ten years, in seconds.
KEY_TTL_MAX = 10 * 365 * 86400


def validate_query(value: str) -> None:
    """A key-browser glob: any printable text (spaces too: raw keys of other clients may hold them)."""
    for char in value:
        if char != " " and (char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")):
            raise ValidationError(_("Control characters are not allowed (found %(char)s)."), code="invalid_char",
                                  params={"char": repr(char)})


class KeyFilterForm(forms.Form):
    """The key browser's filter (GET): a glob, a namespace, whose keys, and where the page starts."""

    q = forms.CharField(label=_("Keys matching"), required=False, strip=False, max_length=MAX_QUERY_LENGTH,
                        validators=[validate_query],
                        help_text=_("A glob on the key as the application wrote it: * any text, ? one character, "
                                    "[abc] one of them."))
    namespace = forms.ChoiceField(label=_("Namespace"), required=False)
    scope = forms.ChoiceField(label=_("Keys"), required=False,
                              choices=[("site", _("This site's keys")), ("all", _("Every key on the server"))])
    cursor = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, namespaces: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(namespaces, blank=str(_("Any (or none)"))))

    def clean_q(self) -> str:
        return self.cleaned_data["q"] or "*"

    def clean_scope(self) -> str:
        return self.cleaned_data["scope"] or "site"


class KeyTokenField(forms.CharField):
    """A raw key as the pages hand it out (URL-safe base64 of its bytes)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 4000)
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        try:
            return decode_token(text)
        except BadCursor as exc:
            raise ValidationError(_("Not a key of this page."), code="bad_token") from exc


class KeyActionForm(AliasFormMixin):
    """Delete one key of the key browser."""

    key = KeyTokenField()


class KeyTTLForm(KeyActionForm):
    """Give one key a new TTL (its value and type kept), or none."""

    seconds = forms.IntegerField(label=_("New TTL (seconds)"), required=False, min_value=1, max_value=KEY_TTL_MAX)
    persist = forms.BooleanField(label=_("No expiry"), required=False)

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        if data.get("persist"):
            data["seconds"] = None
        elif data.get("seconds") is None and "seconds" not in self.errors:
            self.add_error("seconds", ValidationError(_("Give the seconds, or tick “No expiry”."), code="required"))
        return data


class DeleteKeysForm(AliasFormMixin):
    """Delete every key the key browser's filter matches (shown first, with the count)."""

    q = forms.CharField(required=False, strip=False, max_length=MAX_QUERY_LENGTH, validators=[validate_query])
    namespace = forms.ChoiceField(required=False)
    scope = forms.ChoiceField(required=False, choices=[("site", "site"), ("all", "all")])
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self, "namespace", _choices(self.namespaces, blank=""))

    def clean_q(self) -> str:
        return self.cleaned_data["q"] or "*"

    def clean_scope(self) -> str:
        return self.cleaned_data["scope"] or "site"
