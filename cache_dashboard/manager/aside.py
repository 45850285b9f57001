"""The cache-aside miss path: lock, re-check, wait, XFetch, compute, store, release.

* **Stampede protection** is a lock per entry taken with ``cache.add`` (atomic: Redis ``SET NX``,
  memcached ``add``, LocMem's lock), with a TTL so a crashed holder never blocks a key. The
  winner re-reads the entry (another caller may have stored it since our miss) and fetches; the
  others get the stale value when one exists, otherwise wait (polling, at most ``min(2 × last
  fetch time, STAMPEDE_MAX_WAIT)``) for the holder's result, and fetch themselves when the wait
  runs out (fail open).
* **Early refresh** is XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): a caller refreshes
  before expiry with probability growing as expiry nears, scaled by how long the fetch took
  (``now - delta·β·ln(rand) ≥ expiry``), so popular keys are refreshed before they expire at all.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import KeyLayout
from cache_dashboard.manager import epochs, ttl
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.entry import FETCH_SECONDS, SOFT_EXPIRY, VALUE, Entry, fresh, hard_timeout, load, pack
from cache_dashboard.manager.stats import StatsRecorder

#: Largest value XFetch's -ln(random() or 1e-12) can take: random() returns multiples of 2**-53,
#: so the smallest positive draw is 2**-53 (0 becomes 1e-12, which is larger). Plus a margin.
_XFETCH_MAX_DRAW = 53 * math.log(2) + 1e-6
_MISSING: Any = object()
#: Waiting for another caller's fetch: the first pause, and the longest between two polls.
FIRST_PAUSE, MAX_PAUSE = 0.005, 0.02
#: Stampede lock tokens: 12 random hex digits per process (drawn again in a forked child), then a
#: counter. Unique across processes and hosts like a uuid4, at a tenth of its cost on every miss.
_TOKEN_BASE = [os.urandom(6).hex()]
_TOKENS = itertools.count()


def _new_token() -> str:
    return f"{_TOKEN_BASE[0]}{next(_TOKENS):x}"


def _redraw_token_base() -> None:
    _TOKEN_BASE[0] = os.urandom(6).hex()


os.register_at_fork(after_in_child=_redraw_token_base)


def refresh_early(now: float, soft: float | None, delta: float, beta: float) -> bool:
    """XFetch: refresh before ``soft`` with a probability growing as it nears (``beta``: XFETCH_BETA)."""
    if not beta or soft is None or soft - now > delta * beta * _XFETCH_MAX_DRAW:
        return False  # -ln(random()) cannot reach that far: no need to draw
    return now - delta * beta * math.log(random.random() or 1e-12) >= soft


def bypass(fetch: Callable[[], Any] | None, nns: str | None, default: Any, recorder: StatsRecorder) -> Any:
    """The cache is unusable: fetch without storing (fail open)."""
    if fetch is None:
        return default
    start = time.perf_counter()
    value = fetch()
    recorder.fetched(nns, time.perf_counter() - start)
    return value


def store(cache: BaseCache, ekey: str, value: Any, generation: int | None, seconds: float | None,
          fetch_seconds: float) -> bool:
    """Write an entry that is fresh for ``seconds`` (None: forever; 0 or less: delete it, Django's
    "expire now") and kept a grace period longer to be served stale. False when nothing was stored."""
    if seconds is not None and seconds <= 0:
        cache.delete(ekey)
        return False
    soft, timeout = _expiry(seconds)
    cache.set(ekey, pack(value, generation, soft, fetch_seconds), timeout)
    return True


def _expiry(seconds: float | None) -> tuple[float | None, int | None]:
    """(soft expiry, server TTL) of an entry fresh for ``seconds`` (None: forever)."""
    if seconds is None:
        return None, None
    seconds = ttl.jittered(float(seconds))
    return time.time() + seconds, hard_timeout(seconds, float(get_setting("STALE_GRACE")))


def lock_value(token: str, hint: float | None, taken_at: float | None = None) -> str:
    """What a stampede lock holds: a plain string (it round-trips through every serializer) with the
    holder's token, how long the last fetch took and when the lock was taken (epoch seconds), so
    waiters can wake when the fetch should be done."""
    return f"{token} {hint or 0.0} {time.time() if taken_at is None else taken_at:.3f}"


def _lock_parts(held: Any) -> tuple[str, float | None, float | None]:
    """(token, last fetch seconds or None, taken-at epoch or None) of a lock value."""
    try:
        parts = held.split(" ")
        hint = float(parts[1]) if len(parts) > 1 else 0.0
        taken = float(parts[2]) if len(parts) > 2 else 0.0
        return parts[0], hint or None, taken or None
    except (AttributeError, IndexError, ValueError):
        return "", None, None


class Miss:
    """One miss (or early refresh) of one entry, from the lock to the stored value.

    Round trips when this caller fetches: the lock taken and the entry read again in one
    (``Adapter.add_and_get``: a pipeline on Redis), the value stored and the lock released in
    one (``Adapter.set_and_delete``) — three with the hit path's own read, against two for a
    naive get and set (on memcached the store waits for no reply: two).
    """

    __slots__ = ("alias", "cache", "keys", "key", "namespace", "nns", "ekey", "generation", "fetch",
                 "ttl", "stale", "early", "recorder", "lock_key", "token", "taken")

    def __init__(self, *, alias: str, cache: BaseCache, keys: KeyLayout, key: str, namespace: str | None,
                 nns: str | None, ekey: str, generation: int | None, fetch: Callable[[], Any],
                 ttl: float | None, stale: Entry | None, early: bool, recorder: StatsRecorder) -> None:
        self.alias, self.cache, self.keys = alias, cache, keys
        self.key, self.namespace, self.nns, self.ekey = key, namespace, nns, ekey
        #: The namespace generation read with the miss (None: none yet, or no namespace).
        self.generation = generation
        self.fetch, self.ttl = fetch, ttl
        #: The stale entry to serve while another caller refreshes it (None: nothing to serve).
        self.stale = stale
        #: An XFetch refresh of a still-fresh entry (not counted as a stale read).
        self.early = early
        self.recorder = recorder
        self.lock_key = keys.lock(ekey)
        self.token = _new_token()
        #: When this caller took the lock (monotonic), None while it holds none.
        self.taken: float | None = None

    def run(self) -> Any:
        """Refresh the entry under the stampede lock, or serve stale / wait for the holder."""
        adapter = get_adapter(self.alias)
        try:
            if self.nns is not None:
                self.generation = epochs.ensure_generation(self.alias, self.keys, self.nns,
                                                           self.generation)
            hint = self.stale[FETCH_SECONDS] if self.stale is not None else None
            taken = time.monotonic()
            acquired, stored = adapter.add_and_get(self.lock_key, lock_value(self.token, hint),
                                                   get_setting("STAMPEDE_LOCK_TIMEOUT"), self.ekey)
        except Exception as exc:
            get_breaker(self.alias).failure(exc)
            self.recorder.incr(self.nns, "errors")
            return bypass(self.fetch, self.nns, None, self.recorder)
        if acquired:
            self.taken = taken
            try:
                entry = self._stored_since(stored)
                return entry[VALUE] if entry is not None else self._compute()
            finally:
                self._release()
        if self.stale is not None:
            return self.serve_stale()
        value = self._wait()
        # The holder is slow or gone: fetch ourselves (fail open) rather than wait longer.
        return value if value is not _MISSING else self._compute()

    def _current(self, stored: Any) -> Entry | None:
        entry = load(stored, self.generation)
        return entry if entry is not None and fresh(entry, time.time()) else None

    def _stored_since(self, stored: Any) -> Entry | None:
        """Double-checked: the fresh entry another caller stored (and released the lock) between
        our read and our ``add`` (``stored``: read again in the same round trip), or None."""
        entry = self._current(stored)
        if entry is not None and (self.stale is None or entry[SOFT_EXPIRY] != self.stale[SOFT_EXPIRY]):
            return entry
        return None

    def serve_stale(self) -> Any:
        """The stale value, while another caller refreshes it (an XFetch refresh is not counted)."""
        assert self.stale is not None
        if not self.early:
            self.recorder.incr(self.nns, "stale")
        return self.stale[VALUE]

    def _wait_plan(self, lock: Any) -> tuple[float, float]:
        """(deadline on the monotonic clock, first pause) of a wait for the holder of ``lock``."""
        limit = float(get_setting("STAMPEDE_MAX_WAIT"))
        _token, hint, taken_at = _lock_parts(lock)
        if hint:
            limit = min(2 * hint, limit)
        pause = FIRST_PAUSE
        if hint and taken_at:
            pause = max(FIRST_PAUSE, taken_at + hint - time.time())
        return time.monotonic() + limit, pause

    @staticmethod
    def _pause(pause: float, deadline: float) -> tuple[float, float]:
        """(how long to sleep now, the pause after it): jittered, growing to ``MAX_PAUSE``."""
        now = min(pause * random.uniform(0.8, 1.2), max(0.0, deadline - time.monotonic()))
        return now, (min(pause * 1.5, MAX_PAUSE) if pause <= MAX_PAUSE else MAX_PAUSE)

    def _wait(self) -> Any:
        """Poll for the holder's value: first when its fetch should be done (the lock says when it
        started and how long the last fetch took), then with short jittered pauses; at most
        ``min(2 × last fetch, STAMPEDE_MAX_WAIT)``."""
        try:
            adapter = get_adapter(self.alias)
            deadline, pause = self._wait_plan(adapter.get_lock(self.lock_key))
            while time.monotonic() < deadline:
                sleep, pause = self._pause(pause, deadline)
                time.sleep(sleep)
                held, stored = adapter.lock_and_get(self.lock_key, self.ekey)
                entry = self._current(stored)
                if entry is not None:
                    return entry[VALUE]
                if held is None:  # the holder failed and released: no value is coming
                    break
        except Exception:
            pass
        return _MISSING

    def _compute(self) -> Any:
        start = time.perf_counter()
        value = self.fetch()
        seconds, delta = self.fetched(start)
        breaker = get_breaker(self.alias)
        try:
            self._store(value, seconds, delta)
        except Exception as exc:
            self.failed(breaker, exc, delta)
        else:
            self.stored(breaker, delta)
        return value

    def fetched(self, start: float) -> tuple[float | None, float]:
        """(the TTL to store the value fetched from ``start`` on (perf_counter) for, the fetch's
        duration); the fetch is counted with what became of the value (:meth:`stored`, :meth:`failed`)."""
        delta = time.perf_counter() - start  # before the TTL is resolved (it may read the database)
        return ttl.for_entry(self.alias, self.key, self.namespace, self.ttl), delta

    def stored(self, breaker: Any, delta: float) -> None:
        self.recorder.fetched(self.nns, delta, "sets")
        breaker.success()

    def failed(self, breaker: Any, exc: BaseException, delta: float) -> None:
        breaker.failure(exc)
        self.recorder.fetched(self.nns, delta, "errors")

    def packed(self, value: Any, seconds: float | None, delta: float) -> tuple[Any, int | None] | None:
        """(the entry, its server TTL) to store while releasing our lock in the same round trip,
        or None when the lock may not be ours any more or nothing is to be stored (then: ``store``)."""
        if self.taken is None or not self._still_ours() or (seconds is not None and seconds <= 0):
            return None
        soft, timeout = _expiry(seconds)
        return pack(value, self.generation, soft, delta), timeout

    def _store(self, value: Any, seconds: float | None, delta: float) -> None:
        """``store``, releasing our lock in the same round trip when it is certainly still ours."""
        found = self.packed(value, seconds, delta)
        if found is None:
            store(self.cache, self.ekey, value, self.generation, seconds, delta)
            return
        get_adapter(self.alias).set_and_delete(self.ekey, found[0], found[1], self.lock_key)
        self.taken = None  # released

    def _still_ours(self) -> bool:
        """Whether our lock cannot have expired yet (then nobody else can hold it: no need to read
        it before deleting it)."""
        lifetime = float(get_setting("STAMPEDE_LOCK_TIMEOUT"))
        return self.taken is not None and time.monotonic() - self.taken < lifetime - 1

    def _release(self) -> None:
        if self.taken is None:
            return
        try:
            adapter = get_adapter(self.alias)
            if self._still_ours():
                adapter.release_lock(self.lock_key)
            else:  # it may have expired and been taken by another caller: only if it is ours
                token, _hint, _taken = _lock_parts(adapter.get_lock(self.lock_key))
                if token == self.token:
                    adapter.release_lock(self.lock_key)
        except Exception:
            pass  # the lock's TTL frees it
        self.taken = None
