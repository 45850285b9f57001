"""Physical purges of invalidated namespaces (Redis), off the hit path.

``invalidate_namespace`` is O(1) on every backend: the generation moves on and old entries stop
matching at once. On Redis their memory can also come back at once, by a purge: SCAN the
namespace's keys, read them in chunks and UNLINK the entries of an old generation
(only if unchanged since read, so an entry rewritten meanwhile is kept). This module makes that cheap to ask for:

* **one worker per process**, a daemon thread started on first use (and again after a fork);
* **de-duplicated and coalesced**: a namespace already waiting is not queued twice, one
  invalidated again while it is being purged is purged once more afterwards (not once per save),
  and every namespace waiting in one alias is purged by the same SCAN (a SCAN walks the whole
  database whatever it matches: ten namespaces at once cost one walk, not ten);
* **walked by the server** where the cache's serializer writes the generation findably (pickle,
  as Django's RedisCache and django-redis's default do): one script call per step SCANs and
  UNLINKs the keys of the namespaces being purged whose value does not hold their current
  generation's bytes; only a cursor and a count come back (``RedisAdapter.walk_unlink_unmarked``).
  On Redis Cluster (a script touches only the keys it declares, of one slot) this process walks
  and the server decides, per chunk of keys of one slot. Otherwise (JSON, msgpack, compression)
  the values are read (MGET), decoded, and those of an old generation UNLINKed if still
  unchanged (compare-and-UNLINK);
* **paced by what the process is doing**: small steps, after each of which the worker sleeps.
  While the process's other threads are idle it goes at full pace: it sleeps twice the server's
  work on what a step walked by the server found, four times the CPU time a step walked here cost
  this process (and while decoding it yields the GIL every few values), so everyone else's
  requests on the server keep their latency. While they serve requests (they used more than
  ``BUSY_CPU_SHARE`` of a core lately) it also keeps its steps to ``BUSY_DUTY`` of the wall
  clock: a hit that arrives during a step waits for the GIL behind it, so the fewer the steps
  per second, the fewer hits pay for one. Under steady load a purge therefore takes tens of
  times longer (``bench/scale.py --rows purge``: 165 s instead of 4 s); nothing depends on its
  speed (the entries it unlinks stopped matching when the generation moved on and expire on
  their own), only the memory comes back later (``Pacer``);
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
from collections.abc import Callable
from typing import Any

from cache_dashboard.adapters import get_adapter, instance
from cache_dashboard.adapters.redis import RedisAdapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import normalize_namespace, purges_key
from cache_dashboard.manager import epochs, stats, ttl
from cache_dashboard.manager.entry import load, pack

logger = logging.getLogger("cache_dashboard")

#: Values decoded between two yields of the GIL.
YIELD_EVERY = 16
#: Keys a purge asks of one SCAN call: a smaller step than a pattern invalidation's, since each
#: call blocks the server (1.4 ms for 1,000, 0.2–0.3 ms for 100 on a 500k-key database, measured).
PURGE_SCAN_COUNT = 100
#: A paced purge sleeps this many times the CPU time each step cost this thread (a fifth of one
#: core at most). Waiting on the server is not counted: an empty SCAN step costs almost nothing here.
PACE_FACTOR = 4.0
#: Keys a step of a purge walked by the server (``RedisAdapter.walk_unlink_unmarked``) SCANs at
#: first; the step then adapts (see ``WALK_UNLINKS``). The SCAN and the reads and UNLINKs of what it
#: found are one script call: ~0.3 ms of the server for the 200 keys a step aims to unlink
#: (measured: 200k entries among 400k keys).
PURGE_WALK_COUNT = 400
#: After each step of a walk by the server the worker sleeps this many times the server's work on
#: what the step found (its time beyond the quickest step's round trip): a step that found
#: nothing to do costs no sleep, one that unlinked keys leaves the server twice as long to others.
WALK_PACE_FACTOR = 2.0
#: While the process serves requests, a purge's steps take at most this share of the wall clock.
#: ``bench/scale.py --rows purge`` (10 x 50k entries in 1M keys, a thread of the purging process
#: reading one key in a loop): hit p99 1.0-1.2x quiet, against 4.3x at full pace.
BUSY_DUTY = 0.02
#: The process counts as serving requests when its other threads used more than this share of one
#: core lately (see ``Pacer``; a thread blocked on a socket or a lock uses none).
BUSY_CPU_SHARE = 0.05
#: The shortest window over which a purge measures its process's other threads' CPU.
SAMPLE_SECONDS = 0.01
#: The longest pause between two steps of a purge.
MAX_PAUSE = 0.25
#: The worker waits this long once woken, so a burst of invalidations is purged by one SCAN.
GATHER_SECONDS = 0.05


def purge(alias: str, namespace: str, *, paced: bool = False) -> int:
    """Delete the entries of ``namespace`` that an invalidation left behind; how many. ``paced``:
    sleep between chunks (see ``Pacer``), and yield the GIL while decoding."""
    return purge_many(alias, [namespace], paced=paced)


def purge_many(alias: str, namespaces: list[str], *, paced: bool = False) -> int:
    """``purge`` for several namespaces of ``alias`` in one SCAN of the database (a SCAN walks
    the whole keyspace whatever the namespace, so ten at once cost one walk, not ten)."""
    adapter = _redis(alias)
    layout = epochs.layout(alias)
    wanted = sorted({normalize_namespace(n) for n in namespaces})
    if not wanted:
        return 0
    stored = instance(alias).get_many([layout.generation(nns) for nns in wanted])
    current = {nns.encode(): stored.get(layout.generation(nns)) for nns in wanted}  # normalised: ASCII
    head = layout.namespaced_entries()
    prefix, glob = layout.entry_match(wanted[0], "*") if len(wanted) == 1 else (head, "*")
    skip = len(adapter.raw_prefix(head).encode())
    decoded = 0

    def namespace_of(raw: bytes) -> bytes:
        return raw[skip:raw.find(b"}", skip)]  # "...n:{<nns>}:<key>"; no "}" in a normalised namespace

    def old(raw: bytes, value: Any) -> bool:
        nonlocal decoded
        decoded += 1
        if paced and decoded % YIELD_EVERY == 0:
            time.sleep(0)  # let the process's requests run between two slices of decoding
        return load(value, current[namespace_of(raw)]) is None

    # The server decides where the cache's serializer writes the generation findably (pickle):
    # nothing is read back or decoded here, so the purge costs this process almost no CPU.
    found = {nns: _marker(adapter, gen) for nns, gen in current.items()}
    markers = {nns: m for nns, m in found.items() if m is not None}
    by_marker = (lambda raw: markers[namespace_of(raw)]) if len(markers) == len(found) else None
    if by_marker is not None:  # walked by the server, where it can: a step costs this process ~nothing
        walk_pace = Pacer(WALK_PACE_FACTOR) if paced else None
        walked = adapter.walk_unlink_unmarked(prefix, skip, markers, pace=walk_pace, count=PURGE_WALK_COUNT)
        if walked is not None:
            return walked
    pace = Pacer(PACE_FACTOR) if paced else None
    return int(adapter.scan_delete(prefix, glob, old, pace=pace, count=PURGE_SCAN_COUNT,
                                   select=None if len(wanted) == 1 else lambda raw: namespace_of(raw) in current,
                                   marker=by_marker))


def _marker(adapter: RedisAdapter, generation: Any) -> bytes | None:
    if type(generation) is not int:  # no generation (nothing current to keep) or not ours
        return None
    return adapter.generation_marker(generation, lambda g: pack(None, g, 1.0, 0.0))


def _others_cpu() -> float:
    """CPU seconds the process's threads other than this one have used (dead threads included)."""
    return time.process_time() - time.thread_time()


class Pacer:
    """The pause after each step of one paced purge; made and called on the thread that purges.

    Called with the step's work (``factor`` times it is the pause at full pace: the server's work
    for a walk by the server, this thread's CPU time for one walked here). When the process's
    other threads used more than ``BUSY_CPU_SHARE`` of a core over the last ``SAMPLE_SECONDS`` or
    more, the pause is also long enough that the step — its wall time since the previous pause
    ended, waits for the GIL included — is at most ``BUSY_DUTY`` of the time. The share is taken
    over a window that long, not one step, since during a short step the other threads may not
    get the GIL at all. Never longer than ``MAX_PAUSE``.
    """

    def __init__(self, factor: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.factor = factor
        self.steps = self.busy_steps = 0
        self._sleep = sleep
        self._busy: bool | None = None  # decided at the first step
        self._resumed = self._since = time.perf_counter()
        self._others = _others_cpu()

    def __call__(self, work: float) -> None:
        now = time.perf_counter()
        if self._busy is None or now - self._since >= SAMPLE_SECONDS:
            others = _others_cpu()
            self._busy = others - self._others > BUSY_CPU_SHARE * (now - self._since)
            self._since, self._others = now, others
        pause = self.factor * max(work, 0.0)
        if self._busy:
            pause = max(pause, (now - self._resumed) * (1 / BUSY_DUTY - 1))
        self.steps += 1
        self.busy_steps += self._busy
        self._sleep(min(pause, MAX_PAUSE))
        self._resumed = time.perf_counter()


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


def _redis(alias: str) -> RedisAdapter:
    adapter = get_adapter(alias)
    assert isinstance(adapter, RedisAdapter)  # only Redis purges (capabilities.physical_purge)
    return adapter


def _pending(alias: str) -> tuple[Any, str]:
    adapter = _redis(alias)
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
        self._running: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._pid: int | None = None
        self._idle = threading.Event()
        self._idle.set()

    def request(self, alias: str, namespace: str) -> None:
        """Purge ``namespace`` soon (at once if nothing else is waiting)."""
        job = (alias, namespace)
        with self._lock:
            if job in self._running:
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

    def _next(self) -> tuple[str, list[str]] | None:
        """Every waiting namespace of the alias that waited longest: one SCAN purges them all."""
        with self._lock:
            for job in self._running & self._again:
                self._queue[job] = None
            self._again.clear()
            first = next(iter(self._queue), None)
            if first is None:
                self._running = set()
                self._idle.set()
                self._wakeup.clear()
                return None
            self._running = {job for job in self._queue if job[0] == first[0]}
            for job in self._running:
                del self._queue[job]
            return first[0], sorted(namespace for _alias, namespace in self._running)

    def _loop(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(GATHER_SECONDS)
            jobs = self._next()
            if jobs is None:
                self._wakeup.wait(1.0)
                continue
            self._run(*jobs)

    @staticmethod
    def _run(alias: str, namespaces: list[str]) -> None:
        try:
            worth = [namespace for namespace in namespaces if worth_purging(alias, namespace)]
            if worth:
                purge_many(alias, worth, paced=True)
            for namespace in namespaces:
                done(alias, namespace)
        except Exception:
            logger.warning("background purge of namespaces %r failed", namespaces, exc_info=True)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._queue.clear()
        self._again.clear()
        self._running = set()
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


def hand_over(alias: str, namespace: str) -> None:
    """Hand a purge recorded by the caller (the async API: in its own round trip) to the worker."""
    WORKER.request(alias, namespace)


def wait(timeout: float = 30.0) -> bool:
    """Block until this process's worker is idle; whether it is (tests, commands)."""
    return WORKER.wait(timeout)
