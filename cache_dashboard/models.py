"""Database models of the admin section: permissions carrier, TTL overrides, the audit log and the
statistics history."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cache_dashboard.formatting import human_duration

#: Bounds of a TTL override, in whole seconds (1 s to 30 days).
TTL_MIN_SECONDS = 1
TTL_MAX_SECONDS = 30 * 24 * 3600


class CacheDashboard(models.Model):
    """No table: exists only to carry the dashboard's permissions and its admin-index entry.

    An unmanaged model is the supported way to put a non-CRUD page in the admin (django-rq,
    django-constance do the same); a fake ``_meta`` would break on Django upgrades.
    """

    # Explicit primary keys keep the migration identical whatever DEFAULT_AUTO_FIELD the project uses.
    id = models.BigAutoField(primary_key=True)

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", _("Can view the cache dashboard")),
            ("invalidate_key", _("Can invalidate single cache keys")),
            ("invalidate_namespace", _("Can invalidate cache namespaces and patterns")),
            ("change_ttl", _("Can change cache TTLs")),
            ("view_keys", _("Can browse cache keys and read their values")),
            ("delete_keys", _("Can delete cache keys from the key browser")),
            ("change_key_ttl", _("Can change the TTL of a cache key")),
        ]
        verbose_name = _("cache dashboard")
        verbose_name_plural = _("cache dashboard")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class TTLOverride(models.Model):
    """A staff-edited TTL for one data type / namespace, taking precedence over settings ``TTLS``."""

    id = models.BigAutoField(primary_key=True)

    name = models.CharField(
        _("name"),
        max_length=200,
        unique=True,
        help_text=_("Data type / namespace, as in the CACHE_DASHBOARD['TTLS'] setting."),
    )
    seconds = models.PositiveIntegerField(
        _("seconds"),
        validators=[MinValueValidator(TTL_MIN_SECONDS), MaxValueValidator(TTL_MAX_SECONDS)],
        help_text=_("Whole seconds, from 1 second to 30 days (2592000)."),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    #: Counts the saves of this row; with the primary key it is the :attr:`token` a page carries,
    #: so a save from a page loaded before another change is refused (optimistic check).
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        # Edited on the dashboard's TTL page only (change_ttl permission); the model admin is read-only.
        default_permissions = ()
        ordering = ["name"]
        verbose_name = _("TTL override")
        verbose_name_plural = _("TTL overrides")

    def __str__(self) -> str:
        return f"{self.name} = {self.seconds} s"

    @property
    def token(self) -> str:
        """What the TTL page carries to detect a change since it was loaded (see :func:`token_of`)."""
        return token_of(self)


def token_of(override: TTLOverride | None) -> str:
    """The version a page shows: ``""`` for no override, else ``"<pk>:<version>"``. The primary
    key makes it unique across a removal and a new override of the same name (the version restarts)."""
    return "" if override is None else f"{override.pk}:{override.version}"


class CacheAuditEntry(models.Model):
    """One mutation done through the dashboard (or its management commands): who, when, what, how many."""

    class Action(models.TextChoices):
        INVALIDATE_KEY = "invalidate_key", _("Invalidate key")
        INVALIDATE_NAMESPACE = "invalidate_namespace", _("Invalidate namespace")
        INVALIDATE_PATTERN = "invalidate_pattern", _("Invalidate pattern")
        CLEAR = "clear", _("Clear everything")
        TTL_CHANGE = "ttl_change", _("Change TTL")
        TTL_RESET = "ttl_reset", _("Remove TTL override")
        REMOVE_INVALID = "remove_invalid", _("Remove invalid entry")
        DELETE_KEY = "delete_key", _("Delete key")
        DELETE_KEYS = "delete_keys", _("Delete matching keys")
        KEY_TTL = "key_ttl", _("Change a key's TTL")

    id = models.BigAutoField(primary_key=True)

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept apart from the FK so the log still says who it was after the user is deleted.
    username = models.CharField(_("username"), max_length=150, blank=True)
    alias = models.CharField(_("cache alias"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, db_index=True)
    namespace = models.CharField(_("namespace"), max_length=200, blank=True)
    key = models.TextField(_("key"), blank=True)
    pattern = models.TextField(_("pattern"), blank=True)
    count = models.IntegerField(_("count"), null=True, blank=True, help_text=_("Keys affected, if known."))
    seconds = models.IntegerField(_("TTL seconds"), null=True, blank=True,
                                  help_text=_("The TTL set by a TTL change."))
    previous_seconds = models.IntegerField(_("previous TTL seconds"), null=True, blank=True,
                                           help_text=_("The override a TTL change replaced or removed (empty: none)."))
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        # Read-only in the admin: viewing is governed by the dashboard's view_dashboard permission.
        default_permissions = ()
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.scope} ({self.alias})"

    @property
    def is_ttl(self) -> bool:
        """Whether the row is a TTL change or removal (its ``namespace`` is the TTL name)."""
        return self.action in (self.Action.TTL_CHANGE, self.Action.TTL_RESET)

    @property
    def change_display(self) -> str:
        """A TTL row's change as staff read it, old → new: "— → 10 min", "10 min → 5 min",
        "5 min → default"; ``""`` for other actions (their size is ``count``)."""
        if not self.is_ttl:
            return ""
        before = human_duration(self.previous_seconds) if self.previous_seconds is not None else "—"
        if self.action == self.Action.TTL_RESET or self.seconds is None:
            after = str(_("default"))
        else:
            after = human_duration(self.seconds)
        return f"{before} → {after}"

    @property
    def scope(self) -> str:
        """A one-line description of what the action applied to."""
        parts = []
        if self.namespace:
            parts.append(f"namespace={self.namespace}")
        if self.key:
            parts.append(f"key={self.key[:80]}")
        if self.pattern:
            parts.append(f"pattern={self.pattern[:80]}")
        return " ".join(parts) or "-"


class StatsHour(models.Model):
    """One closed hour of one namespace's statistics in one cache alias, rolled up from the cache
    server (``cache_dashboard.history``) so charts outlive a restart or an eviction of the cache.

    Written once: the row of namespace ``""`` (the keys without a namespace) is the hour's own
    and is inserted first, in the transaction that inserts the others; the unique constraint
    makes a second process's insert of it fail, and that process leaves the hour alone.
    """

    id = models.BigAutoField(primary_key=True)

    alias = models.CharField(_("cache alias"), max_length=100)
    #: The namespace as the cache stores it (``keys.normalize_namespace``); "" for none.
    namespace = models.CharField(_("namespace"), max_length=64, blank=True)
    #: The namespace as given (what the dashboard shows once the cache has forgotten it).
    name = models.TextField(_("name"), blank=True)
    hour = models.BigIntegerField(_("hour"), help_text=_("Start of the hour, in seconds since 1970 (UTC)."))
    hits = models.BigIntegerField(_("hits"), default=0)
    misses = models.BigIntegerField(_("misses"), default=0)
    sets = models.BigIntegerField(_("sets"), default=0)
    invalidations = models.BigIntegerField(_("invalidations"), default=0)
    errors = models.BigIntegerField(_("errors"), default=0)
    stale = models.BigIntegerField(_("stale values served"), default=0)
    fetches = models.BigIntegerField(_("fetches"), default=0)
    fetch_us = models.BigIntegerField(_("fetch time (µs)"), default=0)
    fetch_max_us = models.BigIntegerField(_("longest fetch (µs)"), default=0)
    #: Invalidations of the hour by source ({normalised source: count}); on the hour's own row.
    sources = models.JSONField(_("invalidations by source"), default=dict, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["alias", "namespace", "hour"], name="cd_statshour_once")]
        indexes = [models.Index(fields=["alias", "hour"], name="cd_statshour_span")]
        verbose_name = _("statistics hour")
        verbose_name_plural = _("statistics history")

    def __str__(self) -> str:
        return f"{self.alias} {self.namespace or '-'} @{self.hour}"
