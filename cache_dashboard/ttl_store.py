"""TTL overrides stored in the database, cached in-process and refreshed every few seconds.

The default ``TTL_OVERRIDES`` provider. The TTL resolver calls :func:`overrides` on the cache-miss
path, so it must be cheap (one dict lookup almost always) and must never raise: a missing table,
a broken connection or an async context all degrade to "no overrides" rather than breaking the
caller's request. A save or delete of a :class:`~cache_dashboard.models.TTLOverride` (instance or
queryset) resets this process's copy at once; other workers follow within ``TTL_OVERRIDE_REFRESH``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cache_dashboard.conf import get_setting
from cache_dashboard.models import TTLOverride

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# (values, monotonic time of the next refresh). Replaced as a whole so readers need no lock.
_state: tuple[dict[str, int], float] = ({}, 0.0)


def _refresh_interval() -> float:
    try:
        return float(get_setting("TTL_OVERRIDE_REFRESH"))
    except Exception:  # a bad setting must not break cache reads
        return 5.0


def _load() -> dict[str, int]:
    db = router.db_for_read(TTLOverride)
    connection = connections[db]
    query = TTLOverride.objects.using(db).values_list("name", "seconds")
    if connection.in_atomic_block:
        # A savepoint, so a failing query (e.g. table not migrated yet on PostgreSQL) does not
        # poison the caller's transaction.
        with transaction.atomic(using=db):
            return dict(query)
    return dict(query)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _load_in_thread() -> dict[str, int]:
    # The ORM refuses to run inside an event loop (async views, aget()): read from a short-lived
    # thread instead, and close that thread's connection so none leaks.
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["values"] = _load()
        except Exception as exc:
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="cache_dashboard-ttl-overrides", daemon=True)
    thread.start()
    thread.join(timeout=2.0)
    if "values" not in result:
        raise result.get("error") or TimeoutError("TTL overrides query took longer than 2 s")
    values: dict[str, int] = result["values"]
    return values


def overrides() -> dict[str, int]:
    """Return ``{name: seconds}`` of the TTL overrides staff set in the admin.

    The result is cached in-process and re-read from the database at most every
    ``TTL_OVERRIDE_REFRESH`` seconds, so an edit reaches every worker within that time without a
    restart. Never raises: on a database error it returns ``{}`` and retries after the interval.
    """
    global _state
    values, next_refresh = _state
    now = time.monotonic()
    if now < next_refresh:
        return values
    # One thread refreshes; the others keep serving the previous values meanwhile.
    if not _lock.acquire(blocking=False):
        return values
    try:
        try:
            values = _load_in_thread() if _in_event_loop() else _load()
        except Exception as exc:  # documented: DB errors mean "no overrides"
            logger.debug("cache_dashboard: TTL overrides unavailable: %s", exc)
            values = {}
        _state = (values, time.monotonic() + _refresh_interval())
        return values
    finally:
        _lock.release()


def reset() -> None:
    """Make the next :func:`overrides` call re-read the database (this process sees an edit at once)."""
    global _state
    # Keep the old values: a concurrent reader that loses the refresh race serves them meanwhile.
    _state = (_state[0], 0.0)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # override_settings(CACHE_DASHBOARD=...) in tests may change the refresh interval.
    if setting in ("CACHE_DASHBOARD", "DATABASES"):
        reset()


@receiver(post_save, sender=TTLOverride, dispatch_uid="cache_dashboard.ttl_store.saved")
@receiver(post_delete, sender=TTLOverride, dispatch_uid="cache_dashboard.ttl_store.deleted")
def _on_override_written(*, instance: TTLOverride, using: str, **kwargs: Any) -> None:
    # This process sees the change at once; again after commit, since a read between the write
    # and COMMIT would have copied the old values.
    reset()
    transaction.on_commit(reset, using=using)
