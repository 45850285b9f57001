"""The audited mutations shared by the admin and the management commands.

Each function changes the cache (or a TTL) and records who did it. Pages, actions and commands
call these, never ``CacheManager`` mutations directly, so every change leaves a
:class:`~cache_dashboard.models.CacheAuditEntry` (and an admin ``LogEntry`` when a user is known,
so the admin's "Recent actions" shows it). Cache errors propagate
(``CacheUnavailable``/``UnsupportedOperation``); nothing is recorded for a change that did not happen.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, SupportsInt, TypeVar, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, IntegrityError, OperationalError, connections, router, transaction

from cache_dashboard import keyspace
from cache_dashboard.manager import CacheManager
from cache_dashboard.models import CacheAuditEntry, TTLOverride, token_of

logger = logging.getLogger(__name__)

Action = CacheAuditEntry.Action
User = AbstractBaseUser | AnonymousUser | None

T = TypeVar("T")

#: ``source`` passed to CacheManager so the stats can tell admin invalidations apart.
SOURCE = "admin"
#: ... and those of the management commands (``actor`` names them, there is no user).
COMMAND_SOURCE = "command"


def _source(user: User, actor: str) -> str:
    return COMMAND_SOURCE if actor and _saved_user(user) is None else SOURCE


def _saved_user(user: User) -> Any:
    """``user`` if it is a saved user (it can be a foreign key), else None. (Typed Any: the
    project's user model, which the foreign keys to AUTH_USER_MODEL take.)"""
    return user if isinstance(user, AbstractBaseUser) and user.pk is not None else None


def _storable(text: str) -> str:
    """``text`` as the database can store it: a lone surrogate (a key or namespace from a JSON
    API) becomes its ``\\udXXX`` escape instead of failing the audit write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if text else ""


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
        namespace=_storable(namespace),
        key=_storable(key),
        pattern=_storable(pattern),
        count=count,
        seconds=seconds,
        previous_seconds=previous_seconds,
        detail=_storable(detail),
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
    detail: str = "",
    live: bool = True,
) -> T:
    """Apply ``change`` to the alias's manager, then record it; with ``counted`` the result is the
    count (recorded as 0 when not ``live``: what was removed had been a miss already).

    The shape every cache mutation shares: if ``change`` raises, nothing is recorded.
    """
    result = change(CacheManager(alias))
    count = (int(cast(SupportsInt, result)) if live else 0) if counted else None
    record(user=user, actor=actor, action=action, alias=alias, count=count, namespace=namespace, key=key,
           pattern=pattern, detail=detail)
    return result


def invalidate_key(alias: str, key: str, *, namespace: str | None, user: User, actor: str = "") -> int:
    """Invalidate one key; returns how many live entries it removed (0 when the key was a miss
    already, e.g. a copy left behind by a namespace invalidation, which is deleted all the same)."""
    cm = CacheManager(alias)
    try:
        live = (namespace or None) in cm.namespaces_holding(key, [namespace] if namespace else [])
    except Exception:  # the server is down: the invalidation below says so, loudly
        live = True
    removed = _audited(
        Action.INVALIDATE_KEY,
        alias,
        lambda cm: cm.invalidate([key], namespace=namespace or None, source=_source(user, actor)),
        user=user,
        actor=actor,
        counted=True,
        namespace=namespace or "",
        key=key,
        live=live,
    )
    return removed if live else 0


def invalidate_namespace(alias: str, namespace: str, *, user: User, actor: str = "") -> None:
    """Invalidate every key of a namespace (the count is not known: namespaces are versioned)."""
    _audited(
        Action.INVALIDATE_NAMESPACE,
        alias,
        lambda cm: cm.invalidate_namespace(namespace, source=_source(user, actor)),
        user=user,
        actor=actor,
        namespace=namespace,
    )


def count_pattern(alias: str, pattern: str, *, namespace: str | None, every_namespace: bool = False) -> int:
    """How many keys a pattern matches now (no change, so no audit row)."""
    return CacheManager(alias).count_pattern(pattern, namespace=namespace or None, every_namespace=every_namespace)


def invalidate_pattern(
    alias: str, pattern: str, *, namespace: str | None, user: User, actor: str = "", every_namespace: bool = False
) -> int:
    """Delete the keys matching a glob pattern (Redis only); returns how many were deleted.
    ``every_namespace``: in every namespace of this site and without one (``namespace`` ignored)."""
    return _audited(
        Action.INVALIDATE_PATTERN,
        alias,
        lambda cm: cm.invalidate_pattern(pattern, namespace=None if every_namespace else namespace or None,
                                         source=_source(user, actor), every_namespace=every_namespace),
        user=user,
        actor=actor,
        counted=True,
        namespace="" if every_namespace else namespace or "",
        pattern=pattern,
        detail="every namespace" if every_namespace else "",
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


def remove_invalid_reason(alias: str, reason: str, *, namespace: str | None, user: User, actor: str = "") -> int:
    """Remove every live negative-cache entry of ``reason`` (one namespace, or all); how many."""
    return int(
        _audited(
            Action.REMOVE_INVALID,
            alias,
            lambda cm: cm.remove_invalid_reason(reason, namespace=namespace),
            user=user,
            actor=actor,
            counted=True,
            namespace=namespace or "",
            detail=f"reason: {reason}",
        )
    )


# -- the key browser: raw keys as the server holds them ---------------------------------------------
def delete_key(alias: str, raw: bytes, *, user: User, actor: str = "") -> bool:
    """Delete one raw key (the key browser); whether it existed. Recorded when it did."""
    removed = keyspace.delete_key(alias, raw)
    if removed:
        record(user=user, actor=actor, action=Action.DELETE_KEY, alias=alias, key=keyspace.raw_text(raw), count=1)
    return removed


def expire_key(alias: str, raw: bytes, seconds: int | None, *, user: User, actor: str = "") -> bool:
    """Give one raw key ``seconds`` to live (None: no expiry), its value and type kept."""
    changed = keyspace.expire_key(alias, raw, seconds)
    if changed:
        record(user=user, actor=actor, action=Action.KEY_TTL, alias=alias, key=keyspace.raw_text(raw),
               seconds=seconds, detail="" if seconds is not None else "no expiry")
    return changed


def delete_matching_keys(alias: str, *, query: str, namespace: str | None, scope: str, user: User,
                         actor: str = "") -> int:
    """Delete every writable key a key-browser filter matches now; how many were deleted."""
    raws, _complete = keyspace.matches(alias, query=query, namespace=namespace, scope=scope)
    deleted = keyspace.delete_keys(alias, raws)
    record(user=user, actor=actor, action=Action.DELETE_KEYS, alias=alias, namespace=namespace or "",
           pattern=query, count=deleted, detail=f"scope: {scope}")
    return deleted


#: How long a TTL write keeps trying while other writers hold the database's lock (SQLite).
TTL_LOCK_WAIT = 3.0
# Databases without row locks (SQLite has one write lock for the whole file): this process's TTL
# writers take turns, so its own threads never fight over that lock; other processes are retried.
_ttl_writers = threading.Lock()


class TTLConflict(Exception):
    """The override changed since the page was loaded (``expected``): nothing was written.

    ``current`` is the override now (None: it was removed), ``by`` and ``at`` who changed it last
    and when (from the audit log, else the row; ``""``/None when unknown).
    """

    def __init__(self, name: str, current: TTLOverride | None, by: str, at: datetime.datetime | None) -> None:
        super().__init__(f"the TTL override of {name!r} changed since it was read")
        self.name, self.current, self.by, self.at = name, current, by, at


class TTLBusy(Exception):
    """The database stayed locked by other writers for :data:`TTL_LOCK_WAIT` s: nothing was written."""


@dataclass(frozen=True)
class TTLChange:
    """What :func:`set_ttl` did: the override before and after (None: none); ``changed`` False when
    the value was already the one asked for (nothing written, nothing audited)."""

    name: str
    previous: int | None
    seconds: int | None
    changed: bool


def _is_locked(exc: DatabaseError) -> bool:
    # SQLite: "database is locked" (another connection writes), "database table is locked" (shared cache).
    return "locked" in str(exc).lower()


def _retrying_locks(db: str, work: Callable[[], T], *, write: bool) -> T:
    """``work()``, again after a short pause while the database reports a lock, for up to
    :data:`TTL_LOCK_WAIT` s (then :class:`TTLBusy`); writes take turns in this process where the
    database has no row locks. Inside the caller's transaction a lock is not waited out: that
    transaction may hold what the other writer waits for."""
    connection = connections[db]
    once = connection.in_atomic_block
    serialise = write and not connection.features.has_select_for_update
    deadline = time.monotonic() + TTL_LOCK_WAIT
    pause = 0.005
    raced = False
    while True:
        if serialise and not _ttl_writers.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise TTLBusy("other TTL writers of this process held the database")
        try:
            return work()
        except IntegrityError:
            # Two first overrides of one name at once, and the other committed first: once more
            # (``work`` has its own savepoint), to see it: a conflict, or without a check a change of it.
            if raced:
                raise
            raced = True
            continue
        except OperationalError as exc:
            if not _is_locked(exc):
                raise
            if once or time.monotonic() >= deadline:
                raise TTLBusy(str(exc)) from exc
        finally:
            if serialise:
                _ttl_writers.release()
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.1)


def ttl_overrides() -> dict[str, TTLOverride]:
    """Every TTL override by name, straight from the database (with who saved it), as the TTL page
    shows them with their :attr:`~cache_dashboard.models.TTLOverride.token`."""
    db = router.db_for_read(TTLOverride)
    query = TTLOverride.objects.using(db).select_related("updated_by")
    return _retrying_locks(db, lambda: {override.name: override for override in query.all()}, write=False)


def _last_change(db: str, name: str, current: TTLOverride | None) -> tuple[str, datetime.datetime | None]:
    """Who changed the override of ``name`` last, and when: its newest audit row (written in the
    same transaction as each change), else what the row itself says."""
    entry = (CacheAuditEntry.objects.using(db)
             .filter(namespace=name, action__in=(Action.TTL_CHANGE, Action.TTL_RESET))
             .order_by("-pk").only("username", "created_at").first())
    if entry is not None and (current is None or entry.created_at >= current.updated_at):
        return entry.username, entry.created_at
    if current is None:
        return "", None
    by = current.updated_by.get_username() if current.updated_by is not None else ""
    return by, current.updated_at


def _current(db: str, name: str, expected: str | None) -> TTLOverride | None:
    """The override of ``name``, locked until the end of the transaction where the database can
    lock rows; :class:`TTLConflict` unless its token is ``expected`` (None: no check)."""
    try:  # get(), not first(): some databases refuse FOR UPDATE with a LIMIT
        current: TTLOverride | None = TTLOverride.objects.using(db).select_for_update().get(name=name)
    except TTLOverride.DoesNotExist:
        current = None
    if expected is not None and token_of(current) != expected:
        by, at = _last_change(db, name, current)
        raise TTLConflict(name, current, by, at)
    return current


def record_ttl(name: str, previous: int | None, seconds: int | None, *, user: User, actor: str = "") -> None:
    """Audit a TTL override change (``seconds`` None: the override was removed). Call it in the
    transaction of the change, so the audit's old → new chain is the history of the row."""
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


def set_ttl(name: str, seconds: int, *, user: User, actor: str = "", expected: str | None = None) -> TTLChange:
    """Create or change the TTL override of ``name``; every worker applies it within a few seconds.

    ``expected`` is the override's token when the caller read it (``""``: there was none); a
    different one now raises :class:`TTLConflict`. The change and its audit row are one
    transaction; a database locked longer than :data:`TTL_LOCK_WAIT` raises :class:`TTLBusy`.
    """
    db = router.db_for_write(TTLOverride)

    def work() -> TTLChange:
        with transaction.atomic(using=db):
            current = _current(db, name, expected)
            previous = current.seconds if current is not None else None
            if previous == seconds:
                return TTLChange(name, previous, seconds, changed=False)
            if current is None:
                TTLOverride.objects.using(db).create(name=name, seconds=seconds, updated_by=_saved_user(user))
            else:
                current.seconds, current.updated_by = seconds, _saved_user(user)
                current.version += 1
                current.save(using=db, update_fields=["seconds", "updated_by", "updated_at", "version"])
            record_ttl(name, previous, seconds, user=user, actor=actor)
            return TTLChange(name, previous, seconds, changed=True)

    return _retrying_locks(db, work, write=True)


def reset_ttl(name: str, *, user: User, actor: str = "", expected: str | None = None) -> bool:
    """Remove the override of ``name``; returns whether there was one. ``expected``, the
    transaction and the errors are those of :func:`set_ttl`."""
    db = router.db_for_write(TTLOverride)

    def work() -> bool:
        with transaction.atomic(using=db):
            current = _current(db, name, expected)
            if current is None:
                return False
            previous = current.seconds
            current.delete(using=db)
            record_ttl(name, previous, None, user=user, actor=actor)
            return True

    return _retrying_locks(db, work, write=True)
