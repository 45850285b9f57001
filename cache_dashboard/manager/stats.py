"""Hit/miss statistics: counted in-process, flushed every second to per-minute buckets in the cache.

The hit path only increments a dict under a lock (no round trip). A daemon thread per process
(and an ``atexit`` hook) adds the buffered deltas to counters kept in the cache server itself with
atomic increments, so every worker process sees the same numbers and they are exact after a flush.
Buckets: one per minute (kept ``STATS_RETENTION`` seconds) and one per hour for long windows.
On LocMem/Dummy the "server" is the process itself, so statistics are per process.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from django.conf import settings

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import get_setting, get_settings
from cache_dashboard.formatting import hit_ratio
from cache_dashboard.keys import names_key, normalize_key, stats_key, stats_source_key
from cache_dashboard.manager.breaker import get_breaker

logger = logging.getLogger("cache_dashboard")

#: Counters kept per namespace and bucket. ``fetch_us`` is total fetch time in microseconds.
FIELDS = ("hits", "misses", "sets", "invalidations", "errors", "fetches", "fetch_us", "stale")
SERIES_FIELDS = ("hits", "misses", "sets", "invalidations", "errors")
NO_NAMESPACE = ""
INDEX_RECHECK = 60.0
#: TTL names that belong to a namespace without being one: ``<ns>_invalid`` is the TTL of its
#: negative-cache entries, ``<ns>_error`` that of upstream-failure marks.
TTL_SUFFIXES = ("_invalid", "_error")


class StatsRecorder:
    """Per-process buffer of one alias's counters."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._lock = threading.Lock()
        #: Serialises flushes, so ``flush()`` returns only when no other flush is still writing
        #: (the background flusher may hold counts it swapped out of the buffer).
        self._flush_lock = threading.Lock()
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._fetch_max: dict[str, int] = {}
        self._sources: defaultdict[str, int] = defaultdict(int)
        self._names: dict[str, dict[str, str]] = {"namespaces": {}, "sources": {}}
        self._published: dict[str, set[str]] = {"namespaces": set(), "sources": set()}
        self._published_at = 0.0

    # -- recording (hot path) --------------------------------------------------------------------
    def incr(self, nns: str | None, field: str, n: int = 1) -> None:
        if get_settings()["STATS_ENABLED"]:
            self.count(nns, field, n)

    def count(self, nns: str | None, field: str, n: int = 1) -> None:
        """``incr`` for a caller that has checked ``STATS_ENABLED`` itself (the hit path)."""
        key = (nns or NO_NAMESPACE, field)
        lock = self._lock
        lock.acquire()  # cheaper than ``with`` on the hit path
        try:
            self._counts[key] += n
        finally:
            lock.release()
        if _flusher_pid != _pid:  # no syscall on the hit path: _pid follows forks (_after_fork)
            _ensure_flusher()

    def fetched(self, nns: str | None, seconds: float) -> None:
        if not get_setting("STATS_ENABLED"):
            return
        ns = nns or NO_NAMESPACE
        micros = int(seconds * 1_000_000)
        with self._lock:
            self._counts[(ns, "fetches")] += 1
            self._counts[(ns, "fetch_us")] += micros
            if micros > self._fetch_max.get(ns, -1):
                self._fetch_max[ns] = micros
        _ensure_flusher()

    def invalidated(self, nns: str | None, count: int, source: str | None) -> None:
        if not get_setting("STATS_ENABLED"):
            return
        with self._lock:
            self._counts[(nns or NO_NAMESPACE, "invalidations")] += count
            if source:
                self._names["sources"].setdefault(normalize_key(source), source)
                self._sources[normalize_key(source)] += count
        _ensure_flusher()

    def saw_namespace(self, nns: str, namespace: str) -> None:
        if nns not in self._names["namespaces"]:
            with self._lock:
                self._names["namespaces"].setdefault(nns, namespace)

    def publish_namespace(self, nns: str, namespace: str) -> None:
        """Make ``namespace`` known to every process now, not at the next flush (once per process)."""
        if nns not in self._published["namespaces"]:
            self.saw_namespace(nns, namespace)
            self._publish_names()

    # -- flushing --------------------------------------------------------------------------------
    def flush(self) -> None:
        """Add the buffered deltas to the shared counters; on failure keep them for the next try.

        When it returns, every count recorded before the call is in the server or, if the server
        failed, back in the buffer: a concurrent background flush is waited for, not skipped.
        """
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(int)
            fetch_max, self._fetch_max = self._fetch_max, {}
            sources, self._sources = self._sources, defaultdict(int)
        if not counts and not sources and time.monotonic() - self._published_at < INDEX_RECHECK:
            return
        if self.alias not in settings.CACHES:  # the alias went away (settings changed): drop
            return
        try:
            self._write(counts, fetch_max, sources)
        except Exception as exc:
            with self._lock:
                for counter, n in counts.items():
                    self._counts[counter] += n
                for source, n in sources.items():
                    self._sources[source] += n
                for ns, n in fetch_max.items():
                    self._fetch_max[ns] = max(n, self._fetch_max.get(ns, 0))
            get_breaker(self.alias).log(exc)
            return
        try:  # the counts are written: a failure here must not put them back (double count)
            self._publish_names()
        except Exception as exc:
            get_breaker(self.alias).log(exc)

    def _write(self, counts: dict[tuple[str, str], int], fetch_max: dict[str, int],
               sources: dict[str, int]) -> None:
        adapter = get_adapter(self.alias)
        retention = int(get_setting("STATS_RETENTION"))
        now = time.time()
        deltas: dict[str, int] = {}
        hour_deltas: dict[str, int] = {}
        for res, target in ((60, deltas), (3600, hour_deltas)):
            bucket = int(now // res * res)
            for (ns, field), n in counts.items():
                if n:
                    target[stats_key(res, bucket, ns, field)] = n
            for source, n in sources.items():
                if n:
                    target[stats_source_key(res, bucket, source)] = n
        adapter.incr_many(deltas, retention)
        adapter.incr_many(hour_deltas, retention + 3600)
        if fetch_max:
            # Max is best effort: read-compare-write, last writer wins within one second.
            cache = adapter.cache
            for res in (60, 3600):
                bucket = int(now // res * res)
                keys = {stats_key(res, bucket, ns, "fetch_max_us"): v for ns, v in fetch_max.items()}
                current = adapter.read_ints(list(keys))
                for key, value in keys.items():
                    if value > current.get(key, -1):
                        cache.set(key, value, retention + res)

    def _publish_names(self) -> None:
        """Merge the namespaces/sources this process knows into the shared index (rarely written)."""
        now = time.monotonic()
        names = self._names
        fresh = any(set(names[k]) - self._published[k] for k in names)
        if not fresh and now - self._published_at < INDEX_RECHECK:
            return
        cache = get_adapter(self.alias).cache
        index = cache.get(names_key()) or {}
        changed = False
        for kind, local in names.items():
            shared = index.setdefault(kind, {})
            for norm, original in list(local.items()):
                if norm not in shared:
                    shared[norm] = original
                    changed = True
        if changed:
            cache.set(names_key(), index, None)
        for kind in names:
            self._published[kind] = set(names[kind])
            for norm, original in index.get(kind, {}).items():
                names[kind].setdefault(norm, original)
        self._published_at = now

    def known(self, kind: str) -> dict[str, str]:
        """{normalised: original} of namespaces or sources seen by any process (best effort)."""
        try:
            shared = get_adapter(self.alias).cache.get(names_key()) or {}
        except Exception:
            shared = {}
        merged = dict(shared.get(kind, {}))
        merged.update(self._names[kind])
        return merged


def namespace_names(names: Iterable[str]) -> set[str]:
    """The namespaces among TTL names: ``<ns>_invalid`` and ``<ns>_error`` are TTLs of ``<ns>``."""
    return {name for name in names if name and not name.endswith(TTL_SUFFIXES)}


def known_namespaces(alias: str, configured: Iterable[str] = ()) -> list[str]:
    """Every namespace worth showing: the ``configured`` TTL names that are namespaces, and those
    seen in use by any process (stats, negative cache), sorted."""
    names = namespace_names(configured)
    names.update(get_recorder(alias).known("namespaces").values())
    names.discard(NO_NAMESPACE)
    return sorted(names)


def empty_totals() -> dict[str, Any]:
    return {
        "hits": 0, "misses": 0, "sets": 0, "invalidations": 0, "errors": 0, "stale": 0,
        "fetches": 0, "fetch_time_total_ms": 0.0, "fetch_time_max_ms": 0.0, "hit_ratio": None,
    }


def read_stats(recorder: StatsRecorder, nns: str | None, window: int) -> dict[str, Any]:
    """Totals, per-namespace totals and a time series over ``window`` seconds."""
    adapter = get_adapter(recorder.alias)
    window = max(60, int(window))
    res = 60 if window <= 7200 else 3600
    now = time.time()
    last = int(now // res * res)
    count = math.ceil(window / res)
    buckets = [last - (count - 1 - i) * res for i in range(count)]
    names = recorder.known("namespaces")
    if nns is None:
        namespaces = {NO_NAMESPACE: "", **names}
    else:
        namespaces = {nns: names.get(nns, nns)}
    sources = recorder.known("sources")

    keys = [stats_key(res, b, ns, f) for b in buckets for ns in namespaces for f in (*FIELDS, "fetch_max_us")]
    keys += [stats_source_key(res, b, s) for b in buckets for s in sources]
    values = adapter.read_ints(keys)

    series: dict[str, list[int]] = {f: [0] * count for f in SERIES_FIELDS}
    per_ns: dict[str, dict[str, Any]] = {}
    for ns, original in namespaces.items():
        totals = empty_totals()
        fetch_us = 0
        max_us = 0
        for i, bucket in enumerate(buckets):
            for field in FIELDS:
                n = values.get(stats_key(res, bucket, ns, field), 0)
                if field == "fetch_us":
                    fetch_us += n
                else:
                    totals[field] += n
                if field in series:
                    series[field][i] += n
            max_us = max(max_us, values.get(stats_key(res, bucket, ns, "fetch_max_us"), 0))
        totals["fetch_time_total_ms"] = round(fetch_us / 1000, 3)
        totals["fetch_time_max_ms"] = round(max_us / 1000, 3)
        totals["hit_ratio"] = hit_ratio(totals["hits"], totals["misses"])
        per_ns[original] = totals

    grand = empty_totals()
    for totals in per_ns.values():
        for field in ("hits", "misses", "sets", "invalidations", "errors", "stale", "fetches"):
            grand[field] += totals[field]
        grand["fetch_time_total_ms"] = round(grand["fetch_time_total_ms"] + totals["fetch_time_total_ms"], 3)
        grand["fetch_time_max_ms"] = max(grand["fetch_time_max_ms"], totals["fetch_time_max_ms"])
    grand["hit_ratio"] = hit_ratio(grand["hits"], grand["misses"])

    by_source = {}
    for norm, original in sources.items():
        n = sum(values.get(stats_source_key(res, b, norm), 0) for b in buckets)
        if n:
            by_source[original] = n
    shared = adapter.capabilities.shared_stats
    return {
        "alias": recorder.alias,
        "backend": adapter.name,
        "shared": shared,
        "scope": "shared" if shared else "per-process",
        "namespace": None if nns is None else namespaces[nns],
        "window": count * res,
        "resolution": res,
        "totals": grand,
        "namespaces": per_ns,
        "series": {"timestamps": buckets, **series},
        "sources": by_source,
    }


# -- the per-process flusher ---------------------------------------------------------------------
_recorders: dict[str, StatsRecorder] = {}
_recorders_lock = threading.Lock()
_flusher_pid: int | None = None
#: This process's id, kept current by ``_after_fork`` (os.getpid() is a syscall on the hit path).
_pid = os.getpid()
_wakeup = threading.Event()


def get_recorder(alias: str) -> StatsRecorder:
    try:
        return _recorders[alias]
    except KeyError:
        with _recorders_lock:
            return _recorders.setdefault(alias, StatsRecorder(alias))


def flush_buffers() -> None:
    """Flush every recorder of this process now (the background thread does it every second)."""
    for recorder in list(_recorders.values()):
        recorder.flush()


def forget() -> None:
    """Drop this process's buffered counts and recorders (tests: a clean slate)."""
    with _recorders_lock:
        for recorder in _recorders.values():
            with recorder._lock:
                recorder._counts.clear()
                recorder._sources.clear()
                recorder._fetch_max.clear()
        _recorders.clear()


@contextmanager
def flusher_paused() -> Iterator[None]:
    """No flush reaches a server meanwhile: each recorder's flush waits on its lock (not reentrant:
    do not flush inside)."""
    with ExitStack() as stack:
        for recorder in list(_recorders.values()):
            stack.enter_context(recorder._flush_lock)
        yield


def _ensure_flusher() -> None:
    global _flusher_pid, _pid
    _pid = os.getpid()
    if _flusher_pid == _pid:
        return
    with _recorders_lock:
        if _flusher_pid == _pid:
            return
        _flusher_pid = _pid
        threading.Thread(target=_flush_loop, name="cache_dashboard-stats", daemon=True).start()


def _flush_loop() -> None:
    pid = os.getpid()
    while _flusher_pid == pid:
        try:
            interval = float(get_setting("STATS_FLUSH_INTERVAL"))
        except Exception:
            interval = 1.0
        _wakeup.wait(interval)
        try:
            flush_buffers()
        except Exception:  # never let the thread die
            logger.exception("cache_dashboard stats flush failed")


def _after_fork() -> None:
    # The flusher thread does not survive fork(); the child restarts it on its first record and
    # must not flush the parent's buffered counts a second time.
    global _flusher_pid, _pid
    _flusher_pid = None
    _pid = os.getpid()
    for recorder in _recorders.values():
        recorder._lock = threading.Lock()
        recorder._flush_lock = threading.Lock()
        recorder._counts.clear()
        recorder._sources.clear()
        recorder._fetch_max.clear()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(flush_buffers)
