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

import math
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

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
    if seconds is None:
        soft, timeout = None, None
    else:
        seconds = ttl.jittered(float(seconds))
        soft = time.time() + seconds
        timeout = hard_timeout(seconds, float(get_setting("STALE_GRACE")))
    cache.set(ekey, pack(value, generation, soft, fetch_seconds), timeout)
    return True


def lock_value(token: str, hint: float | None) -> str:
    """What a stampede lock holds: a plain string (it round-trips through every serializer) with the
    holder's token and how long the last fetch took, which bounds how long others wait."""
    return f"{token} {hint or 0.0}"


def _lock_hint(held: Any) -> float | None:
    try:
        return float(held.split(" ", 1)[1]) or None
    except (AttributeError, IndexError, ValueError):
        return None


class Miss:
    """One miss (or early refresh) of one entry, from the lock to the stored value."""

    __slots__ = ("alias", "cache", "keys", "key", "namespace", "nns", "ekey", "generation", "fetch",
                 "ttl", "stale", "early", "recorder")

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

    def run(self) -> Any:
        """Refresh the entry under the stampede lock, or serve stale / wait for the holder."""
        lock_key = self.keys.lock(self.ekey)
        token = uuid.uuid4().hex
        try:
            if self.nns is not None:
                self.generation = epochs.ensure_generation(self.alias, self.cache, self.keys, self.nns,
                                                           self.generation)
            hint = self.stale[FETCH_SECONDS] if self.stale is not None else None
            acquired = self.cache.add(lock_key, lock_value(token, hint), get_setting("STAMPEDE_LOCK_TIMEOUT"))
        except Exception as exc:
            get_breaker(self.alias).failure(exc)
            self.recorder.incr(self.nns, "errors")
            return bypass(self.fetch, self.nns, None, self.recorder)
        if acquired:
            try:
                # Double-checked: another caller may have stored a fresh value and released the
                # lock between our read and our ``add``. Only the miss path pays this round trip.
                fresh = self._fresh_since()
                return fresh if fresh is not _MISSING else self._compute()
            finally:
                self._release(lock_key, token)
        if self.stale is not None:
            if not self.early:
                self.recorder.incr(self.nns, "stale")
            return self.stale[VALUE]
        value = self._wait(lock_key)
        # The holder is slow or gone: fetch ourselves (fail open) rather than wait longer.
        return value if value is not _MISSING else self._compute()

    def _current(self, stored: Any) -> Entry | None:
        entry = load(stored, self.generation)
        return entry if entry is not None and fresh(entry, time.time()) else None

    def _fresh_since(self) -> Any:
        """The value of a fresh entry written since our read (which saw ``stale``), else _MISSING."""
        try:
            entry = self._current(self.cache.get(self.ekey))
        except Exception:
            return _MISSING  # we hold the lock: fetching is the fail-open answer
        if entry is None or (self.stale is not None and entry[SOFT_EXPIRY] == self.stale[SOFT_EXPIRY]):
            return _MISSING
        return entry[VALUE]

    def _wait(self, lock_key: str) -> Any:
        try:
            limit = float(get_setting("STAMPEDE_MAX_WAIT"))
            hint = _lock_hint(self.cache.get(lock_key))
            if hint:
                limit = min(2 * hint, limit)
            deadline = time.monotonic() + limit
            pause = 0.005
            while time.monotonic() < deadline:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.05)
                got = self.cache.get_many([self.ekey, lock_key])
                entry = self._current(got.get(self.ekey))
                if entry is not None:
                    return entry[VALUE]
                if lock_key not in got:  # the holder failed and released: no value is coming
                    break
        except Exception:
            pass
        return _MISSING

    def _compute(self) -> Any:
        start = time.perf_counter()
        value = self.fetch()
        delta = time.perf_counter() - start
        self.recorder.fetched(self.nns, delta)
        seconds = ttl.for_entry(self.alias, self.key, self.namespace, self.ttl)
        breaker = get_breaker(self.alias)
        try:
            store(self.cache, self.ekey, value, self.generation, seconds, delta)
            self.recorder.incr(self.nns, "sets")
            breaker.success()
        except Exception as exc:
            breaker.failure(exc)
            self.recorder.incr(self.nns, "errors")
        return value

    def _release(self, lock_key: str, token: str) -> None:
        try:
            held = self.cache.get(lock_key)
            if isinstance(held, str) and held.split(" ", 1)[0] == token:
                self.cache.delete(lock_key)
        except Exception:
            pass  # the lock's TTL frees it
