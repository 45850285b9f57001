"""Hit/miss statistics: counted in process memory, flushed every second to shared time buckets.

The hit path only increments a dict under a lock (no round trip). A daemon thread per process
(and an ``atexit`` hook) adds the buffered deltas to buckets kept in the cache server itself
(``statstore``: a hash per bucket on Redis, a key per cell that moved elsewhere), so every worker
process sees the same numbers and they are exact after a flush. Buckets: one per minute (kept
``STATS_RETENTION`` seconds) and one per hour for long windows. The namespaces and sources seen
are recorded per hour: the dashboard knows a namespace while it was active within the retention.
On LocMem the "server" is the process itself, so statistics are per process.

History: the cache keeps ``STATS_RETENTION`` seconds, and a restart or an eviction loses them.
Every few minutes the flusher of any process rolls the hours that closed into the
``STATS_HISTORY`` store (the database by default; each hour written once, by whichever process
claims it first), and the hourly windows read those hours from there: "Last 7 days" works, and
a flushed cache still shows the hours rolled up. The flusher also runs the other background
jobs (``add_job``: the server sampler), never on the hit path.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import dashboard_aliases, get_setting, get_settings
from cache_dashboard.formatting import hit_ratio
from cache_dashboard.keys import normalize_key, normalize_namespace
from cache_dashboard.manager import statstore
from cache_dashboard.manager.breaker import get_breaker

logger = logging.getLogger("cache_dashboard")

#: Counters kept per namespace and bucket. ``fetch_us`` is total fetch time in microseconds.
FIELDS = statstore.FIELDS
SERIES_FIELDS = ("hits", "misses", "sets", "invalidations", "errors")
NO_NAMESPACE = ""
#: Sources whose invalidations are read bucket by bucket (the busiest come first in the chart);
#: a site with more has the rest counted in the remainder ("source_rest").
SOURCE_SERIES_MAX = 64
#: Seconds a process trusts its copy of the names seen by every process.
NAMES_REFRESH = 1.0
#: TTL names that belong to a namespace without being one: ``<ns>_invalid`` is the TTL of its
#: negative-cache entries, ``<ns>_error`` that of upstream-failure marks.
TTL_SUFFIXES = ("_invalid", "_error")
#: Seconds between two rollups of the closed hours by one process's flusher.
ROLLUP_INTERVAL = 300.0
#: Seconds after its end an hour counts as closed: a flush that read the clock inside the hour
#: may still be on its way.
ROLLUP_GRACE = 60


def _hour(now: float) -> int:
    return int(now // 3600 * 3600)


class History(Protocol):
    """Where closed hours go when they leave the cache (``STATS_HISTORY``; the default is
    ``cache_dashboard.history.database``). Cells are a bucket's, as ``statstore`` names them."""

    def rolled(self, alias: str, hours: list[int]) -> set[int]:
        """Those of ``hours`` already stored."""

    def save(self, alias: str, hour: int, cells: statstore.Cells, names: dict[str, str]) -> bool:
        """Store one closed hour, unless it is stored already; whether this call stored it.
        ``names``: {normalised namespace: as given}."""

    def read(self, alias: str, first: int, last: int,
             nns: str | None) -> tuple[dict[int, statstore.Cells], dict[str, str]]:
        """The stored hours from ``first`` to ``last`` (every stored one present, even with no
        cell of ``nns``) and {normalised namespace: as given} of the namespaces among them."""

    def prune(self, alias: str, before: int) -> int:
        """Forget the hours before ``before``; how many rows went."""

    def close(self) -> None:
        """Let go of what the rollup held (the flusher thread's connection)."""


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

    def fetched(self, nns: str | None, seconds: float, outcome: str | None = None) -> None:
        """Count a fetch that took ``seconds``, and ``outcome`` (a field: ``sets``, ``errors``)
        with it under the same lock (the miss path counts both at once)."""
        if not get_setting("STATS_ENABLED"):
            return
        ns = nns or NO_NAMESPACE
        micros = int(seconds * 1_000_000)
        with self._lock:
            counts = self._counts
            counts[(ns, "fetches")] += 1
            counts[(ns, "fetch_us")] += micros
            if outcome is not None:
                counts[(ns, outcome)] += 1
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
        if self.unpublished(namespace):
            self._write_names(time.time())

    def unpublished(self, namespace: str) -> bool:
        """Whether :meth:`publish_namespace` would write (at most once an hour per namespace)."""
        return self._written.get(f"n|{namespace}") != _hour(time.time())

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
        buckets.append((statstore.LIFETIME, 0, deltas, {}))  # the running totals (monotonic)
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


def read_stats(recorder: StatsRecorder, nns: str | None, window: int, now: float | None = None) -> dict[str, Any]:
    """Totals, per-namespace totals and a time series over ``window`` seconds, in one read (on
    Redis one pipelined round trip of O(buckets + namespaces) cells for the dashboard's windows).

    Hourly windows take the hours rolled up into the history store from there (one query of
    O(hours × namespaces) rows), and the other hours from the cache."""
    adapter = get_adapter(recorder.alias)
    window = max(60, int(window))
    res = 60 if window <= 7200 else 3600
    now = time.time() if now is None else now
    last = int(now // res * res)
    count = math.ceil(window / res)
    starts = [last - (count - 1 - i) * res for i in range(count)]
    names = recorder.known("namespaces")
    rolled, labels, history = _rolled_hours(recorder.alias, res, starts, nns)
    names = {**labels, **names}
    originals = {NO_NAMESPACE: "", **names} if nns is None else {nns: names.get(nns, nns)}
    sources = recorder.known("sources")

    kept_from = now - statstore.retention(res) - res  # older buckets have left the cache
    live = [start for start in starts if start not in rolled and start > kept_from]
    store = statstore.store_for(adapter)
    per_bucket = tuple(sorted(sources)[:SOURCE_SERIES_MAX]) if nns is None else ()
    found = store.window(adapter, res, live, nns, SERIES_FIELDS, per_bucket) if live else statstore.Window()
    if rolled or len(live) != len(starts):
        found = _combine(starts, live, found, rolled, nns, per_bucket)
    series: dict[str, list[int]] = {f: [row.get(f, 0) for row in found.series] for f in SERIES_FIELDS}
    raw: dict[str, dict[str, int]] = {ns: defaultdict(int) for ns in originals}
    max_us: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    for cell, n in found.totals.items():
        kind, ns, name = statstore.parse_cell(cell)
        if kind == "c":
            raw.setdefault(ns, defaultdict(int))[name] += n
        elif kind == "m":
            max_us[ns] = max(max_us[ns], n)
        elif kind == "s":
            by_source[name] += n

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
        #: Per bucket, each source's invalidations (sources with any in the span) and, in
        #: "source_rest", the invalidations made without a source or by sources not read per bucket.
        **_source_series(found.series, by_source, sources, series["invalidations"]),
        #: Where hours the cache no longer has come from: "database" (the history store was
        #: read), "unavailable" (it failed, e.g. not migrated), "off" (``STATS_HISTORY`` None);
        #: "" for minute windows, which the cache always has.
        "history": history,
    }


def read_totals(recorder: StatsRecorder) -> dict[str, Any]:
    """Every counter since the cache began keeping them (the lifetime bucket): monotonic, except
    when the server lost them (a restart, an eviction). ``{"namespaces": {ns: {field: n}},
    "sources": {source: n}}`` with ``fetch_us`` as the fetch time in microseconds."""
    adapter = get_adapter(recorder.alias)
    [cells] = statstore.store_for(adapter).read(adapter, statstore.LIFETIME, [0])
    names = {NO_NAMESPACE: "", **recorder.known("namespaces")}
    sources = recorder.known("sources")
    per_ns: dict[str, dict[str, int]] = {}
    by_source: dict[str, int] = {}
    for cell, n in cells.items():
        kind, ns, name = statstore.parse_cell(cell)
        if kind == "c" and name in FIELDS:
            counters = per_ns.setdefault(names.get(ns, ns), dict.fromkeys(FIELDS, 0))
            counters[name] += n
        elif kind == "s":
            label = sources.get(name, name)
            by_source[label] = by_source.get(label, 0) + n
    return {"alias": recorder.alias, "shared": adapter.capabilities.shared_stats, "namespaces": per_ns,
            "sources": by_source}


def _rolled_hours(alias: str, res: int, starts: list[int],
                  nns: str | None) -> tuple[dict[int, statstore.Cells], dict[str, str], str]:
    """The hours of ``starts`` the history store holds, the names it knows, and its state."""
    if res != 3600:
        return {}, {}, ""
    history = get_history()
    if history is None:
        return {}, {}, "off"
    try:
        rolled, labels = history.read(alias, starts[0], starts[-1], nns)
    except Exception as exc:  # not migrated, database down: the cache's hours only
        _history_unavailable(exc)
        return {}, {}, "unavailable"
    return rolled, labels, "database"


def _source_series(rows: list[statstore.Cells], by_source: dict[str, int], names: dict[str, str],
                   invalidations: list[int]) -> dict[str, Any]:
    series = {norm: [row.get(f"s|{norm}", 0) for row in rows] for norm, n in by_source.items() if n}
    series = {norm: counts for norm, counts in series.items() if any(counts)}
    rest = [max(0, total - sum(counts[i] for counts in series.values())) for i, total in enumerate(invalidations)]
    return {"source_series": {names.get(norm, norm): counts for norm, counts in series.items()},
            "source_rest": rest}


def _combine(starts: list[int], live: list[int], found: statstore.Window, rolled: dict[int, statstore.Cells],
             nns: str | None, sources: tuple[str, ...] = ()) -> statstore.Window:
    """The window of ``starts``: the ``live`` buckets as the cache had them (``found``), the
    rolled-up hours as the history store has them, nothing for the rest."""
    hours = [start for start in starts if start in rolled]
    if nns is None:  # the history store's hours per source, the sources of older hours too
        sources = (*sources, *sorted({cell[2:] for start in hours for cell in rolled[start] if cell[:2] == "s|"}
                                    - set(sources)))
    old = statstore.fold([rolled[start] for start in hours], nns, SERIES_FIELDS, sources)
    rows = dict(zip(live, found.series, strict=True))
    rows.update(zip(hours, old.series, strict=True))
    totals = dict(found.totals)
    for cell, n in old.totals.items():
        if cell.startswith("m|"):
            totals[cell] = max(totals.get(cell, 0), n)
        else:
            totals[cell] = totals.get(cell, 0) + n
    return statstore.Window(totals=totals, series=[rows.get(start, {}) for start in starts])


# -- history: closed hours rolled up from the cache into the history store ------------------------
_next_rollup = 0.0
_warned: set[str] = set()


def get_history() -> History | None:
    """The history store named by ``STATS_HISTORY`` (None: off, or it cannot be imported)."""
    path = get_setting("STATS_HISTORY")
    if not path:
        return None
    try:
        found: History = import_string(path) if isinstance(path, str) else path
    except Exception as exc:
        _history_unavailable(exc)
        return None
    return found


def _history_unavailable(exc: BaseException) -> None:
    """Say once per process why the history store cannot be used (each poll would say it again)."""
    text = f"{type(exc).__name__}: {exc}"
    if text not in _warned and len(_warned) < 100:
        _warned.add(text)
        logger.warning("cache_dashboard: statistics history unavailable (%s); charts show what the cache "
                       "keeps. Has `manage.py migrate` run?", text)


def closed_hours(now: float) -> list[int]:
    """The hours, oldest first, that ended (``ROLLUP_GRACE`` ago) and whose bucket the cache still keeps."""
    newest = _hour(now - 3600 - ROLLUP_GRACE)
    oldest = now - statstore.retention(3600)
    return [hour for hour in range(int(oldest // 3600 * 3600) + 3600, newest + 1, 3600)]


def roll_up(alias: str, now: float | None = None) -> list[int]:
    """Store the closed hours of ``alias`` the history store does not hold yet; the hours this
    call stored (another process may store some first: each is stored once). An hour the cache
    has nothing for is left alone: a server answering every read with nothing (pymemcache just
    after its server died) must not store empty hours in place of real ones. Raises only what
    the history store raises (its database); a cache that fails is told to the breaker."""
    history = get_history()
    if history is None:
        return []
    adapter = get_adapter(alias)
    if not adapter.capabilities.stores_values:
        return []
    now = time.time() if now is None else now
    candidates = closed_hours(now)
    done = history.rolled(alias, candidates)
    pending = [hour for hour in candidates if hour not in done]
    if not pending:
        return []
    breaker = get_breaker(alias)
    if not breaker.allow():
        return []
    try:
        found = statstore.store_for(adapter).read(adapter, 3600, pending)
    except Exception as exc:
        breaker.failure(exc)
        return []
    breaker.success()
    names = get_recorder(alias).known("namespaces")
    stored = []
    for hour, cells in zip(pending, found, strict=True):
        cells = {cell: n for cell, n in cells.items() if cell[0] in "cms" and n}
        if cells and history.save(alias, hour, cells, names):
            stored.append(hour)
    keep = get_setting("STATS_HISTORY_RETENTION")
    if stored and keep:
        history.prune(alias, int(now - float(keep)))
    return stored


def _roll_up_due(now: float) -> None:
    """The flusher's job: every ``ROLLUP_INTERVAL`` seconds, roll up every dashboard alias."""
    global _next_rollup
    if time.monotonic() < _next_rollup:  # not the wall clock: a clock set back must not stop it
        return
    _next_rollup = time.monotonic() + ROLLUP_INTERVAL
    history = get_history()
    if history is None:
        return
    try:
        for alias in dashboard_aliases():
            try:
                roll_up(alias, now)
            except Exception as exc:  # the database (said once): try again at the next interval
                _history_unavailable(exc)
    finally:
        history.close()


# -- the per-process flusher ---------------------------------------------------------------------
_recorders: dict[str, StatsRecorder] = {}
_recorders_lock = threading.Lock()
_flusher_pid: int | None = None
#: This process's id, kept current by ``_after_fork`` (os.getpid() is a syscall on the hit path).
_pid = os.getpid()
_wakeup = threading.Event()
#: What the flusher does after each flush, by name: ``job(now)`` decides itself whether it is due
#: (and returns at once when not). Run one at a time, under ``_jobs_lock``.
_jobs: dict[str, Callable[[float], None]] = {"history": _roll_up_due}
_jobs_lock = threading.Lock()


def add_job(name: str, job: Callable[[float], None]) -> None:
    """Have the flusher call ``job(now)`` after each flush (a background job; replaces one of the same name)."""
    _jobs[name] = job


def run_jobs(now: float | None = None) -> None:
    """Run every background job once (the flusher does after each flush); never raises."""
    with _jobs_lock:
        for name, job in list(_jobs.items()):
            try:
                job(time.time() if now is None else now)
            except Exception:  # never let the thread die
                logger.exception("cache_dashboard background job %r failed", name)


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
    global _next_rollup
    # The next rollup after the interval, as in a new process: not in the background of whatever
    # runs next (a test holding a database transaction).
    _next_rollup = time.monotonic() + ROLLUP_INTERVAL
    _warned.clear()
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
    """No flush and no background job reaches a server meanwhile: each recorder's flush waits on
    its lock, the jobs on theirs (not reentrant: do not flush inside)."""
    with ExitStack() as stack:
        for recorder in list(_recorders.values()):
            stack.enter_context(recorder._flush_lock)
        stack.enter_context(_jobs_lock)
        yield


@contextmanager
def jobs_paused() -> Iterator[None]:
    """No background job (history rollup, server samples) runs meanwhile; flushes do."""
    with _jobs_lock:
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
        run_jobs()


def _after_fork() -> None:
    # The flusher thread does not survive fork(); the child restarts it on its first record and
    # must not flush the parent's buffered counts a second time.
    global _flusher_pid, _pid, _jobs_lock
    _flusher_pid = None
    _pid = os.getpid()
    _jobs_lock = threading.Lock()
    for recorder in _recorders.values():
        recorder._lock = threading.Lock()
        recorder._flush_lock = threading.Lock()
        recorder._counts.clear()
        recorder._sources.clear()
        recorder._fetch_max.clear()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(flush_buffers)
