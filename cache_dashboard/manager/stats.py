"""Hit/miss statistics: counted in process memory, flushed every second to shared time buckets.

The hit path only increments a dict under a lock (no round trip). A daemon thread per process
(and an ``atexit`` hook) adds the buffered deltas to buckets kept in the cache server itself
(``statstore``: a hash per bucket on Redis, a key per cell that moved elsewhere), so every worker
process sees the same numbers and they are exact after a flush. Buckets: one per minute (kept
``STATS_RETENTION`` seconds) and one per hour for long windows. The namespaces and sources seen
are recorded per hour: the dashboard knows a namespace while it was active within the retention.
On LocMem the "server" is the process itself, so statistics are per process.
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
from cache_dashboard.keys import normalize_key, normalize_namespace
from cache_dashboard.manager import statstore
from cache_dashboard.manager.breaker import get_breaker

logger = logging.getLogger("cache_dashboard")

#: Counters kept per namespace and bucket. ``fetch_us`` is total fetch time in microseconds.
FIELDS = statstore.FIELDS
SERIES_FIELDS = ("hits", "misses", "sets", "invalidations", "errors")
NO_NAMESPACE = ""
#: Seconds a process trusts its copy of the names seen by every process.
NAMES_REFRESH = 1.0
#: TTL names that belong to a namespace without being one: ``<ns>_invalid`` is the TTL of its
#: negative-cache entries, ``<ns>_error`` that of upstream-failure marks.
TTL_SUFFIXES = ("_invalid", "_error")


def _hour(now: float) -> int:
    return int(now // 3600 * 3600)


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
        #: {normalised: as given} of the namespaces and sources this process saw, and the hour
        #: each was last written to the shared names.
        self._names: dict[str, dict[str, str]] = {"namespaces": {}, "sources": {}}
        self._written: dict[str, int] = {}
        self._shared: tuple[float, dict[str, dict[str, str]]] = (0.0, {"namespaces": {}, "sources": {}})

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
        """Make ``namespace`` known to every process now, not at the next flush (once an hour)."""
        self.saw_namespace(nns, namespace)
        if self._written.get(f"n|{namespace}") != _hour(time.time()):
            self._write_names(time.time())

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
        if not counts and not sources:
            return
        if self.alias not in settings.CACHES:  # the alias went away (settings changed): drop
            return
        now = time.time()
        try:
            self._write(counts, fetch_max, sources, now)
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
            self._write_names(now)
        except Exception as exc:
            get_breaker(self.alias).log(exc)

    def _write(self, counts: dict[tuple[str, str], int], fetch_max: dict[str, int],
               sources: dict[str, int], now: float) -> None:
        deltas = {f"c|{ns}|{field}": n for (ns, field), n in counts.items() if n}
        deltas.update({f"s|{source}": n for source, n in sources.items() if n})
        maxima = {f"m|{ns}": n for ns, n in fetch_max.items()}
        adapter = get_adapter(self.alias)
        buckets = [(res, int(now // res * res), deltas, maxima) for res in (60, 3600)]
        statstore.store_for(adapter).write(adapter, buckets, _hour(now), set())

    def _write_names(self, now: float) -> None:
        """Add the names this process saw to the shared names of this hour (each once an hour)."""
        hour = _hour(now)
        fresh = {f"n|{original}" for original in self._names["namespaces"].values()}
        fresh |= {f"s|{original}" for original in self._names["sources"].values()}
        fresh = {name for name in fresh if self._written.get(name) != hour}
        if not fresh:
            return
        adapter = get_adapter(self.alias)
        statstore.store_for(adapter).write(adapter, [], hour, fresh)
        for name in fresh:
            self._written[name] = hour

    def known(self, kind: str) -> dict[str, str]:
        """{normalised: as given} of namespaces or sources active within the retention in any
        process (read at most every NAMES_REFRESH seconds), and those this process saw."""
        at, shared = self._shared
        if time.monotonic() - at >= NAMES_REFRESH:
            shared = self._read_names()
        merged = dict(shared[kind])
        merged.update(self._names[kind])
        return merged

    def _read_names(self) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {"namespaces": {}, "sources": {}}
        breaker = get_breaker(self.alias)
        if not breaker.allow():  # an open circuit: no socket timeout for a page or a poll
            return found
        try:
            adapter = get_adapter(self.alias)
            now = time.time()
            hours = [_hour(now) - 3600 * i for i in range(math.ceil(int(get_setting("STATS_RETENTION")) / 3600) + 1)]
            for name in statstore.store_for(adapter).names(adapter, hours):
                kind, original = name.split("|", 1)
                if kind == "n" and original:
                    found["namespaces"][normalize_namespace(original)] = original
                elif kind == "s":
                    found["sources"][normalize_key(original)] = original
        except Exception as exc:  # best effort: a dead server shows what this process knows
            breaker.failure(exc)
            return found
        breaker.success()
        self._shared = (time.monotonic(), found)
        return found


def namespace_names(names: Iterable[str]) -> set[str]:
    """The namespaces among TTL names: ``<ns>_invalid`` and ``<ns>_error`` are TTLs of ``<ns>``."""
    return {name for name in names if name and not name.endswith(TTL_SUFFIXES)}


def known_namespaces(alias: str, configured: Iterable[str] = ()) -> list[str]:
    """Every namespace worth showing: the ``configured`` TTL names that are namespaces, and those
    active within the retention in any process (stats, negative cache), sorted."""
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
    """Totals, per-namespace totals and a time series over ``window`` seconds, in one read (on
    Redis one pipelined round trip of O(buckets + namespaces) cells for the dashboard's windows)."""
    adapter = get_adapter(recorder.alias)
    window = max(60, int(window))
    res = 60 if window <= 7200 else 3600
    now = time.time()
    last = int(now // res * res)
    count = math.ceil(window / res)
    starts = [last - (count - 1 - i) * res for i in range(count)]
    names = recorder.known("namespaces")
    originals = {NO_NAMESPACE: "", **names} if nns is None else {nns: names.get(nns, nns)}
    sources = recorder.known("sources")

    found = statstore.store_for(adapter).window(adapter, res, starts, nns, SERIES_FIELDS)
    series: dict[str, list[int]] = {f: [row.get(f, 0) for row in found.series] for f in SERIES_FIELDS}
    raw: dict[str, dict[str, int]] = {ns: defaultdict(int) for ns in originals}
    max_us: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for cell, n in found.totals.items():
        kind, _, rest = cell.partition("|")
        if kind == "c":
            ns, _, name = rest.rpartition("|")
            raw.setdefault(ns, defaultdict(int))[name] += n
        elif kind == "m":
            max_us[rest] = max(max_us[rest], n)
        elif kind == "s":
            by_source[rest] += n

    per_ns: dict[str, dict[str, Any]] = {}
    grand = empty_totals()
    for ns, fields in raw.items():
        totals = empty_totals()
        for field in FIELDS:
            if field != "fetch_us":
                totals[field] = fields.get(field, 0)
        totals["fetch_time_total_ms"] = round(fields.get("fetch_us", 0) / 1000, 3)
        totals["fetch_time_max_ms"] = round(max_us.get(ns, 0) / 1000, 3)
        totals["hit_ratio"] = hit_ratio(totals["hits"], totals["misses"])
        per_ns[originals.get(ns, ns)] = totals
        for field in ("hits", "misses", "sets", "invalidations", "errors", "stale", "fetches"):
            grand[field] += totals[field]
        grand["fetch_time_total_ms"] = round(grand["fetch_time_total_ms"] + totals["fetch_time_total_ms"], 3)
        grand["fetch_time_max_ms"] = max(grand["fetch_time_max_ms"], totals["fetch_time_max_ms"])
    grand["hit_ratio"] = hit_ratio(grand["hits"], grand["misses"])
    shared = adapter.capabilities.shared_stats
    return {
        "alias": recorder.alias,
        "backend": adapter.name,
        "shared": shared,
        "scope": "shared" if shared else "per-process",
        "namespace": None if nns is None else originals[nns],
        "window": count * res,
        "resolution": res,
        "totals": grand,
        "namespaces": per_ns,
        "series": {"timestamps": starts, **series},
        "sources": {sources.get(norm, norm): n for norm, n in by_source.items() if n},
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
    """Drop this process's buffered counts, recorders and kept statistics (tests: a clean slate)."""
    statstore.forget()
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
