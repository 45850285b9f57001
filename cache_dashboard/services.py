"""The audited mutations shared by the admin and the management commands.

Each function changes the cache (or a TTL) and records who did it. Pages, actions and commands
call these, never ``CacheManager`` mutations directly, so every change leaves a
:class:`~cache_dashboard.models.CacheAuditEntry` (and an admin ``LogEntry`` when a user is known,
so the admin's "Recent actions" shows it). Cache errors propagate
(``CacheUnavailable``/``UnsupportedOperation``); nothing is recorded for a change that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, SupportsInt, TypeVar, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from cache_dashboard.manager import CacheManager
from cache_dashboard.models import CacheAuditEntry, TTLOverride

logger = logging.getLogger(__name__)

Action = CacheAuditEntry.Action
User = AbstractBaseUser | AnonymousUser | None

T = TypeVar("T")

#: ``source`` passed to CacheManager so the stats can tell admin invalidations apart.
SOURCE = "admin"


def _saved_user(user: User) -> Any:
    """``user`` if it is a saved user (it can be a foreign key), else None. (Typed Any: the
    project's user model, which the foreign keys to AUTH_USER_MODEL take.)"""
    return user if isinstance(user, AbstractBaseUser) and user.pk is not None else None


def record(
    *,
    user: User,
    action: str,
    alias: str = "",
    namespace: str = "",
    key: str = "",
    pattern: str = "",
    count: int | None = None,
    seconds: int | None = None,
    previous_seconds: int | None = None,
    detail: str = "",
    actor: str = "",
) -> CacheAuditEntry:
    """Write one audit row (and a LogEntry when ``user`` is a saved user). ``actor`` names a non-user."""
    real_user = _saved_user(user)
    entry = CacheAuditEntry.objects.create(
        user=real_user,
        username=real_user.get_username() if real_user else actor,
        alias=alias,
        action=action,
        namespace=namespace or "",
        key=key or "",
        pattern=pattern or "",
        count=count,
        seconds=seconds,
        previous_seconds=previous_seconds,
        detail=detail,
    )
    if real_user is not None:
        _log_entry(real_user, entry)
    return entry


def _log_entry(user: AbstractBaseUser, entry: CacheAuditEntry) -> None:
    # LogEntry is a courtesy for the admin's history; the audit row above is the record.
    try:
        from django.contrib.admin.models import CHANGE, LogEntry
        from django.contrib.contenttypes.models import ContentType

        LogEntry.objects.create(
            user_id=user.pk,
            content_type_id=ContentType.objects.get_for_model(CacheAuditEntry).pk,
            object_id=str(entry.pk),
            object_repr=str(entry)[:200],
            action_flag=CHANGE,
            change_message=str(entry)[:1000],
        )
    except Exception as exc:  # e.g. django.contrib.admin not installed (commands only)
        logger.debug("cache_dashboard: LogEntry not written: %s", exc)


def _audited(
    action: str,
    alias: str,
    change: Callable[[CacheManager], T],
    *,
    user: User,
    actor: str,
    counted: bool = False,
    namespace: str = "",
    key: str = "",
    pattern: str = "",
) -> T:
    """Apply ``change`` to the alias's manager, then record it; with ``counted`` the result is the count.

    The shape every cache mutation shares: if ``change`` raises, nothing is recorded.
    """
    result = change(CacheManager(alias))
    count = int(cast(SupportsInt, result)) if counted else None
    record(user=user, actor=actor, action=action, alias=alias, count=count, namespace=namespace, key=key,
           pattern=pattern)
    return result


def invalidate_key(alias: str, key: str, *, namespace: str | None, user: User, actor: str = "") -> int:
    """Invalidate one key; returns how many keys the cache removed."""
    return _audited(
        Action.INVALIDATE_KEY,
        alias,
        lambda cm: cm.invalidate([key], namespace=namespace or None, source=SOURCE),
        user=user,
        actor=actor,
        counted=True,
        namespace=namespace or "",
        key=key,
    )


def invalidate_namespace(alias: str, namespace: str, *, user: User, actor: str = "") -> None:
    """Invalidate every key of a namespace (the count is not known: namespaces are versioned)."""
    _audited(
        Action.INVALIDATE_NAMESPACE,
        alias,
        lambda cm: cm.invalidate_namespace(namespace, source=SOURCE),
        user=user,
        actor=actor,
        namespace=namespace,
    )


def count_pattern(alias: str, pattern: str, *, namespace: str | None) -> int:
    """How many keys a pattern matches now (no change, so no audit row)."""
    return CacheManager(alias).count_pattern(pattern, namespace=namespace or None)


def invalidate_pattern(
    alias: str, pattern: str, *, namespace: str | None, user: User, actor: str = ""
) -> int:
    """Delete the keys matching a glob pattern (Redis only); returns how many were deleted."""
    return _audited(
        Action.INVALIDATE_PATTERN,
        alias,
        lambda cm: cm.invalidate_pattern(pattern, namespace=namespace or None, source=SOURCE),
        user=user,
        actor=actor,
        counted=True,
        namespace=namespace or "",
        pattern=pattern,
    )


def clear_all(alias: str, *, user: User, actor: str = "") -> None:
    """Remove everything this site cached in ``alias`` (see ``CacheManager.clear_all``)."""
    _audited(Action.CLEAR, alias, lambda cm: cm.clear_all(), user=user, actor=actor)


def remove_invalid(alias: str, key: str, *, namespace: str, user: User, actor: str = "") -> bool:
    """Remove one negative-cache entry; returns whether it existed."""
    return bool(
        _audited(
            Action.REMOVE_INVALID,
            alias,
            lambda cm: bool(cm.remove_invalid(key, namespace=namespace)),
            user=user,
            actor=actor,
            counted=True,
            namespace=namespace,
            key=key,
        )
    )


def record_ttl(name: str, previous: int | None, seconds: int | None, *, user: User, actor: str = "") -> None:
    """Audit a TTL override change (``seconds`` None: the override was removed)."""
    before = previous if previous is not None else "-"
    if seconds is None:
        record(user=user, actor=actor, action=Action.TTL_RESET, namespace=name, previous_seconds=previous,
               detail=f"{before} -> default")
    else:
        record(
            user=user,
            actor=actor,
            action=Action.TTL_CHANGE,
            namespace=name,
            seconds=seconds,
            previous_seconds=previous,
            detail=f"{before} -> {seconds}",
        )


def set_ttl(name: str, seconds: int, *, user: User, actor: str = "") -> TTLOverride:
    """Create or change the TTL override of ``name``; every worker applies it within a few seconds."""
    previous = TTLOverride.objects.filter(name=name).values_list("seconds", flat=True).first()
    override, _created = TTLOverride.objects.update_or_create(
        name=name, defaults={"seconds": seconds, "updated_by": _saved_user(user)}
    )
    record_ttl(name, previous, seconds, user=user, actor=actor)
    return override


def reset_ttl(name: str, *, user: User, actor: str = "") -> bool:
    """Remove the override of ``name``; returns whether there was one."""
    override = TTLOverride.objects.filter(name=name).first()
    if override is None:
        return False
    previous = override.seconds
    override.delete()
    record_ttl(name, previous, None, user=user, actor=actor)
    return True
