"""Physical purges of invalidated namespaces (Redis), off the hit path.

``invalidate_namespace`` is O(1) on every backend: the generation moves on and old entries stop
matching at once. On Redis their memory can also come back at once, by a purge: SCAN the
namespace's keys (``COUNT 1000``), read each batch and UNLINK the entries of an old generation
(under WATCH, so an entry rewritten meanwhile is kept). This module makes that cheap to ask for:

* **one worker per process**, a daemon thread started on first use (and again after a fork);
* **de-duplicated and coalesced**: a namespace already waiting is not queued twice, and one
  invalidated again while it is being purged is purged once more afterwards (not once per save);
* **paced**: between batches the worker sleeps as long as the batch took (at most half a core),
  and while decoding a batch it yields the GIL every few values, so the process's own requests
  keep their latency;
* **skipped when not worth a full SCAN**: a SCAN walks the whole database, whatever the size of
  the namespace. A namespace that cannot hold ``PURGE_MIN_ENTRIES`` entries — fewer ``sets`` in
  its statistics within its TTL — is left to expire on its own (never-expiring namespaces, or
  ones without statistics, are always purged);
* **resumable**: a namespace to purge is recorded in the cache (``<P>:{m}:purges``) until its
  purge finishes, so one a process died in the middle of is finished by the next invalidation
  or by ``manage.py cache_purge``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.core.cache import caches

from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.redis import RedisAdapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import normalize_namespace, purges_key
from cache_dashboard.manager import epochs, stats, ttl
from cache_dashboard.manager.entry import load

logger = logging.getLogger("cache_dashboard")

#: Values decoded between two yields of the GIL.
YIELD_EVERY = 16


def purge(alias: str, namespace: str, *, paced: bool = False) -> int:
    """Delete the entries of ``namespace`` that an invalidation left behind; how many. ``paced``:
    sleep between batches as long as each took, and yield the GIL while decoding."""
    adapter = get_adapter(alias)
    cache = caches[alias]
    layout = epochs.layout(alias)
    nns = normalize_namespace(namespace)
    decoded = 0

    def old(value: Any) -> bool:
        nonlocal decoded
        decoded += 1
        if paced and decoded % YIELD_EVERY == 0:
            time.sleep(0)  # let the process's requests run between two slices of decoding
        return load(value, current) is None

    current = cache.get(layout.generation(nns))
    prefix, glob = layout.entry_match(nns, "*")
    return adapter.scan_delete(prefix, glob, old, pace=_pace if paced else None)


def _pace(seconds: float) -> None:
    time.sleep(min(seconds, 0.25))


def worth_purging(alias: str, namespace: str) -> bool:
    """Whether ``namespace`` may hold ``PURGE_MIN_ENTRIES`` entries (see the module docstring)."""
    minimum = int(get_setting("PURGE_MIN_ENTRIES") or 0)
    seconds = ttl.resolve(alias, namespace)
    if not minimum or seconds is None or not get_setting("STATS_ENABLED"):
        return True
    window = int(min(seconds + 60, int(get_setting("STATS_RETENTION"))))
    recorder = stats.get_recorder(alias)
    recorder.flush()
    written = stats.read_stats(recorder, normalize_namespace(namespace), window)["totals"]["sets"]
    return bool(written >= minimum)


def _pending(alias: str) -> tuple[Any, str]:
    adapter = get_adapter(alias)
    assert isinstance(adapter, RedisAdapter)
    return adapter.client(), adapter.raw_key(purges_key())


def record(alias: str, namespace: str) -> None:
    """Note in the cache that ``namespace`` needs a purge (until one finishes)."""
    client, key = _pending(alias)
    client.sadd(key, namespace)


def pending(alias: str) -> list[str]:
    """Namespaces of ``alias`` whose purge was asked for and has not finished."""
    client, key = _pending(alias)
    return sorted(m.decode("utf-8", "surrogatepass") if isinstance(m, bytes) else m for m in client.smembers(key))


def done(alias: str, namespace: str) -> None:
    client, key = _pending(alias)
    client.srem(key, namespace)


class Worker:
    """The process's purge worker (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._queue: dict[tuple[str, str], None] = {}  # an ordered set
        self._running: tuple[str, str] | None = None
        self._again: set[tuple[str, str]] = set()
        self._pid: int | None = None
        self._idle = threading.Event()
        self._idle.set()

    def request(self, alias: str, namespace: str) -> None:
        """Purge ``namespace`` soon (at once if nothing else is waiting)."""
        job = (alias, namespace)
        with self._lock:
            if job == self._running:
                self._again.add(job)  # invalidated again mid-purge: once more afterwards
            else:
                self._queue[job] = None
            self._idle.clear()
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="cache_dashboard-purge", daemon=True).start()
        self._wakeup.set()

    def wait(self, timeout: float) -> bool:
        """Block until nothing is waiting or running (or ``timeout``); whether it is idle."""
        return self._idle.wait(timeout)

    def _next(self) -> tuple[str, str] | None:
        with self._lock:
            if self._running is not None and self._running in self._again:
                self._again.discard(self._running)
                self._queue[self._running] = None
            self._running = next(iter(self._queue), None)
            if self._running is None:
                self._idle.set()
                self._wakeup.clear()
                return None
            del self._queue[self._running]
            return self._running

    def _loop(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            job = self._next()
            if job is None:
                self._wakeup.wait(1.0)
                continue
            self._run(*job)

    @staticmethod
    def _run(alias: str, namespace: str) -> None:
        try:
            if worth_purging(alias, namespace):
                purge(alias, namespace, paced=True)
            done(alias, namespace)
        except Exception:
            logger.warning("background purge of namespace %r failed", namespace, exc_info=True)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._queue.clear()
        self._again.clear()
        self._running = None
        self._pid = None
        self._idle = threading.Event()
        self._idle.set()
        self._wakeup = threading.Event()


WORKER = Worker()
os.register_at_fork(after_in_child=WORKER.after_fork)


def request(alias: str, namespace: str) -> None:
    """Record that ``namespace`` needs a purge and hand it to this process's worker."""
    record(alias, namespace)
    WORKER.request(alias, namespace)


def wait(timeout: float = 30.0) -> bool:
    """Block until this process's worker is idle; whether it is (tests, commands)."""
    return WORKER.wait(timeout)
