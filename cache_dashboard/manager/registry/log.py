"""The negative cache on backends without sorted sets (memcached, LocMem, file, database).

Keys of one namespace (``KeyLayout.registry(nns, part)``; they share its hash tag):

=================  ================================================================================
``e:<K>``          the entry of a marked key (its own TTL), with the sequence number of its mark
``seq``            the log's head: ``incr`` gives each mark its number ``n``
``log:<n>``        log slot ``n``: names the key marked (same TTL as its entry)
``low``            how many of the oldest slots were claimed by the cap (``incr``: each claim once)
``m:<K>``          a short lock serialising the marks and removals of one key (``add``)
``rs`` ``rs:<n>``  the reasons seen, as an append-only list; ``rm:<R>`` the marker that admits one
``bh:<R>:<h>``     entries of reason ``R`` expiring in hour ``h``; ``bm:<R>:<m>`` in minute ``m``;
                   ``bf:<R>:<t>`` at tenth of a second ``t``; ``bn:<R>`` never expiring
``dropped``        how many live entries the cap dropped
=================  ================================================================================

Counting: a mark adds one to the hour, minute and tenth bucket of its expiry (the tenth of a
second it falls in, rounded up: counts drop an entry less than 0.1 s after reads do), a removal or
re-mark takes one off the old entry's.
The live count of a reason at ``now`` is the sum of the buckets still ahead: the tenths left in
this minute, the minutes left in this hour, the hours to the horizon (31 days: longer TTLs are
cut to it) and the never-expiring — about 1,400 keys per reason, whatever the number of entries.
Listing reads the log backwards from its head: a page costs its entries plus the expired marks
newer than them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cache_dashboard.keys import normalize_key
from cache_dashboard.manager.registry.base import PUBLIC_FIELDS, Registry, Scope, timeout

#: Keys read per get_many.
CHUNK = 1000
#: Longest negative-cache TTL on these backends (the counts read buckets this far ahead).
HORIZON = 31 * 86400
TENTHS_PER_MINUTE, TENTHS_PER_HOUR = 600, 36000
#: Seconds a per-key lock lives (a crashed holder frees it by expiry), and how long to wait for one.
LOCK_SECONDS, LOCK_WAIT = 5, 0.5


def _tenth(expires_at: float) -> int:
    """The tenth of a second at which an entry expires (its ``expires_at`` rounded up to it)."""
    return math.ceil(round(expires_at * 10, 6))


def _live(info: Any, now: float) -> bool:
    if not isinstance(info, dict):
        return False
    expires = info.get("expires_at")
    return expires is None or expires > now


def _public(info: dict[str, Any]) -> dict[str, Any]:
    return {field: info.get(field) for field in PUBLIC_FIELDS}


class LogRegistry(Registry):
    """See the module docstring."""

    # -- writes ------------------------------------------------------------------------------------
    def mark(self, scope: Scope, nkey: str, item: dict[str, Any], cap: int, now: float) -> dict[str, Any]:
        cache, keys, nns = scope.cache, scope.keys, scope.nns
        expires = item["expires_at"]
        if expires is not None:
            expires = min(expires, now + HORIZON)
        self._admit(scope, item["reason"])
        seq = scope.adapter.incr(keys.registry_seq(nns), 1, None)
        info = {**item, "expires_at": expires, "seq": seq}
        ttl = timeout(expires, now)
        ekey = keys.registry_entry(nns, nkey)
        with self._locked(scope, nkey):
            old = cache.get(ekey)
            cache.set_many({ekey: info, keys.registry_log(nns, seq): nkey}, ttl)
            if _live(old, now):
                self._count(scope, old, -1, now)
            self._count(scope, info, +1, now)
        if cap and seq > cap:
            self._drop(scope, scope.adapter.incr(keys.registry_low(nns), 1, None), now)
        return _public(info)

    def remove(self, scope: Scope, nkey: str, now: float) -> bool:
        ekey = scope.keys.registry_entry(scope.nns, nkey)
        with self._locked(scope, nkey):
            info = scope.cache.get(ekey)
            if not _live(info, now):
                return False
            scope.cache.delete(ekey)
            self._count(scope, info, -1, now)
        return True

    def _drop(self, scope: Scope, slot: int, now: float) -> None:
        """Drop the entry of log slot ``slot`` if it is still that mark's (the cap: oldest first)."""
        cache, keys, nns = scope.cache, scope.keys, scope.nns
        nkey = cache.get(keys.registry_log(nns, slot))
        if not isinstance(nkey, str):
            return  # expired or never written: nothing to drop
        ekey = keys.registry_entry(nns, nkey)
        with self._locked(scope, nkey):
            info = cache.get(ekey)
            if _live(info, now) and info.get("seq") == slot:
                cache.delete(ekey)
                self._count(scope, info, -1, now)
                scope.adapter.incr(keys.registry(nns, "dropped"), 1, None)

    @contextmanager
    def _locked(self, scope: Scope, nkey: str) -> Iterator[None]:
        lock = scope.keys.registry(scope.nns, f"m:{nkey}")
        deadline = time.monotonic() + LOCK_WAIT
        pause = 0.002
        while not scope.cache.add(lock, 1, LOCK_SECONDS):
            if time.monotonic() >= deadline:
                break  # a holder that is slow or gone: go on (its lock expires by itself)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            scope.cache.delete(lock)

    def _admit(self, scope: Scope, reason: str) -> None:
        """Add ``reason`` to the namespace's list of reasons, once in any process (the marker's
        ``add`` admits it). No per-process memo: the cache can be cleared or evict under us."""
        keys, nns = scope.keys, scope.nns
        if scope.cache.add(keys.registry(nns, f"rm:{normalize_key(reason)}"), 1, None):
            n = scope.adapter.incr(keys.registry(nns, "rs"), 1, None)
            # In a list: pymemcache writes a bare str as UTF-8, which refuses a lone surrogate.
            scope.cache.set(keys.registry(nns, f"rs:{n}"), [reason], None)

    def _buckets(self, scope: Scope, reason: str, expires: float | None,
                 now: float) -> list[tuple[str, int | None]]:
        """The counters an entry of ``reason`` expiring at ``expires`` adds to, with their TTLs."""
        keys, nns, r = scope.keys, scope.nns, normalize_key(reason)
        if expires is None:
            return [(keys.registry(nns, f"bn:{r}"), None)]
        t = _tenth(expires)
        m, h = t // TENTHS_PER_MINUTE, t // TENTHS_PER_HOUR
        return [
            (keys.registry(nns, f"bf:{r}:{t}"), timeout(t / 10 + 60, now)),
            (keys.registry(nns, f"bm:{r}:{m}"), timeout((m + 1) * 60 + 60, now)),
            (keys.registry(nns, f"bh:{r}:{h}"), timeout((h + 1) * 3600 + 60, now)),
        ]

    def _count(self, scope: Scope, info: dict[str, Any], delta: int, now: float) -> None:
        for key, ttl in self._buckets(scope, info["reason"], info.get("expires_at"), now):
            if delta > 0:
                scope.adapter.incr(key, delta, ttl)
            else:
                scope.adapter.decr(key, -delta)

    # -- reads -----------------------------------------------------------------------------------
    def read(self, scope: Scope, nkey: str, now: float) -> dict[str, Any] | None:
        info = scope.cache.get(scope.keys.registry_entry(scope.nns, nkey))
        return _public(info) if _live(info, now) else None

    def reasons(self, scope: Scope) -> list[str]:
        keys, nns = scope.keys, scope.nns
        n = int(scope.cache.get(keys.registry(nns, "rs")) or 0)
        found = scope.cache.get_many([keys.registry(nns, f"rs:{i}") for i in range(1, n + 1)])
        # A marker evicted and admitted again lists its reason twice: once is enough. (Earlier
        # versions wrote a bare str.)
        listed = (value[0] if isinstance(value, list) and value else value for value in found.values())
        return list(dict.fromkeys(reason for reason in listed if isinstance(reason, str)))

    def counts(self, scope: Scope, now: float) -> dict[str, int]:
        keys, nns = scope.keys, scope.nns
        t_now = math.floor(now * 10)  # an entry expiring at tenth t is live while t > t_now
        m_now, h_now = t_now // TENTHS_PER_MINUTE, t_now // TENTHS_PER_HOUR
        out: dict[str, int] = {}
        for reason in self.reasons(scope):
            r = normalize_key(reason)
            ahead = [keys.registry(nns, f"bf:{r}:{t}") for t in range(t_now + 1, (m_now + 1) * TENTHS_PER_MINUTE)]
            ahead += [keys.registry(nns, f"bm:{r}:{m}") for m in range(m_now + 1, (h_now + 1) * 60)]
            ahead += [keys.registry(nns, f"bh:{r}:{h}") for h in range(h_now + 1, h_now + 2 + HORIZON // 3600)]
            ahead.append(keys.registry(nns, f"bn:{r}"))
            live = sum(max(0, n) for n in scope.adapter.read_ints(ahead).values())
            if live:
                out[reason] = live
        return out

    def page(self, scope: Scope, now: float, offset: int, limit: int | None) -> list[dict[str, Any]]:
        cache, keys, nns = scope.cache, scope.keys, scope.nns
        got = cache.get_many([keys.registry_seq(nns), keys.registry_low(nns)])
        head = int(got.get(keys.registry_seq(nns)) or 0)
        low = int(got.get(keys.registry_low(nns)) or 0)
        out: list[dict[str, Any]] = []
        skip = offset
        chunk = CHUNK if limit is None else min(CHUNK, max(100, 2 * (offset + limit)))
        top = head
        while top > low and (limit is None or len(out) < limit):
            slots = range(top, max(low, top - chunk), -1)
            top = slots[-1] - 1
            names = cache.get_many([keys.registry_log(nns, s) for s in slots])
            by_entry = {keys.registry_entry(nns, nkey): s for s in slots
                        if isinstance(nkey := names.get(keys.registry_log(nns, s)), str)}
            infos = cache.get_many(list(by_entry))
            for s in slots:  # newest first
                nkey = names.get(keys.registry_log(nns, s))
                info = infos.get(keys.registry_entry(nns, nkey)) if isinstance(nkey, str) else None
                if not (isinstance(info, dict) and _live(info, now) and info.get("seq") == s):
                    continue  # expired, removed, or re-marked since (its newer slot counts)
                if skip:
                    skip -= 1
                    continue
                out.append(_public(info))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def dropped(self, scope: Scope) -> int:
        return int(scope.cache.get(scope.keys.registry(scope.nns, "dropped")) or 0)
