"""Where the shared statistics live: buckets of counters, and the names seen per hour.

A *bucket* is one minute (``res`` 60) or one hour (``res`` 3600) of one alias's counters. Its
*cells* are named ``c|<ns>|<field>`` (a counter of a namespace, ``""`` for none), ``s|<source>``
(invalidations by one source) and ``m|<ns>`` (the longest fetch, in µs). The *names* of an hour
are the namespaces and sources (as given, not normalised) that moved in it: the dashboard knows a
namespace while it moved within ``STATS_RETENTION``, so idle ones drop out by themselves.

Three stores, chosen by what the backend can do:

* :class:`HashStore` (Redis): one hash per bucket (``HINCRBY`` in one pipeline per flush) and one
  set of names per hour; a window of 60 buckets is read in one pipelined round trip.
* :class:`MemoryStore` (LocMem): the cache is this process's memory, so are its statistics —
  and LocMemCache's 300 entries are left to the application.
* :class:`CounterStore` (memcached and the rest): a key per cell that moved, and per bucket an
  append-only index of its cells, so a read asks only for cells that exist.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from cache_dashboard.adapters import Adapter
from cache_dashboard.adapters.redis import RedisAdapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import stats_bucket, stats_names

#: A bucket's cells as written: {cell: delta}, and its maxima {cell: value}.
Cells = dict[str, int]
NAMES_EXTRA = 7200  #: name sets outlive the retention by this (they cover whole hours)

_MAX = """
for i = 1, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if not current or tonumber(current) < tonumber(ARGV[i + 1]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""


def retention(res: int) -> int:
    """Seconds a bucket of resolution ``res`` is kept."""
    return int(get_setting("STATS_RETENTION")) + (res if res > 60 else 0)


class StatsStore:
    """Buckets and names of one backend kind. ``adapter`` names the alias."""

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        """Add each ``(res, t, deltas, maxima)`` bucket, and ``names`` to the names of ``hour``."""
        raise NotImplementedError

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        """The cells of each bucket of resolution ``res`` starting at ``starts`` (missing: empty)."""
        raise NotImplementedError

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        """Names seen in any of ``hours``."""
        raise NotImplementedError


class HashStore(StatsStore):
    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        from redis.commands.core import Script

        assert isinstance(adapter, RedisAdapter)
        client = adapter.client()
        pipe = client.pipeline(transaction=False)
        for res, start, deltas, maxima in buckets:
            key = adapter.raw_key(stats_bucket(res, start))
            for cell, n in deltas.items():
                pipe.hincrby(key, cell, n)
            if maxima:
                _max_script(client, Script)(keys=[key], args=[x for pair in maxima.items() for x in pair], client=pipe)
            pipe.expire(key, retention(res))
        if names:
            key = adapter.raw_key(stats_names(hour))
            pipe.sadd(key, *sorted(names))
            pipe.expire(key, retention(3600) + NAMES_EXTRA)
        pipe.execute()

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        assert isinstance(adapter, RedisAdapter)
        pipe = adapter.client().pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(adapter.raw_key(stats_bucket(res, start)))
        return [{_text(k): int(v) for k, v in found.items()} for found in pipe.execute()]

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        assert isinstance(adapter, RedisAdapter)
        found = adapter.client().sunion([adapter.raw_key(stats_names(h)) for h in hours])
        return {_text(name) for name in found}


_scripts: dict[str, Any] = {}


def _max_script(client: Any, script_class: Any) -> Any:
    script = _scripts.get("max")
    if script is None:
        script = _scripts["max"] = script_class(client, _MAX)
    return script


def _text(value: Any) -> str:
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else str(value)


class CounterStore(StatsStore):
    """A key per cell that moved; per bucket an append-only index (``add`` marker, ``incr``'d
    count, one slot per cell), so reads ask for the cells that exist and nothing else."""

    def __init__(self) -> None:
        self._indexed: dict[tuple[str, str], set[str]] = {}  # (alias, index key) -> cells it lists
        self._lock = threading.Lock()

    def _index(self, adapter: Adapter, index: str, entries: set[str] | dict[str, int], ttl: int) -> None:
        cache = adapter.cache
        seen = self._indexed.setdefault((adapter.alias, index), set())
        for name in entries:
            if name in seen:
                continue
            if cache.add(f"{index}:m:{name}", 1, ttl):
                n = adapter.incr(f"{index}:n", 1, ttl)
                cache.set(f"{index}:{n}", name, ttl)
            seen.add(name)

    def _listed(self, adapter: Adapter, indexes: list[str]) -> list[list[str]]:
        cache = adapter.cache
        counts = cache.get_many([f"{index}:n" for index in indexes])
        slots = [[f"{index}:{i}" for i in range(1, int(counts.get(f"{index}:n") or 0) + 1)] for index in indexes]
        found = {}
        flat = [slot for group in slots for slot in group]
        for start in range(0, len(flat), 1000):
            found.update(cache.get_many(flat[start:start + 1000]))
        return [list(dict.fromkeys(found[s] for s in group if isinstance(found.get(s), str))) for group in slots]

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        cache = adapter.cache
        with self._lock:
            self._forget_old()
        for res, start, deltas, maxima in buckets:
            bucket, ttl = stats_bucket(res, start), retention(res)
            self._index(adapter, bucket, {**deltas, **maxima}, ttl)
            adapter.incr_many({f"{bucket}:{cell}": n for cell, n in deltas.items()}, ttl)
            if maxima:  # best effort: read-compare-write, the last writer wins within a flush
                current = adapter.read_ints([f"{bucket}:{cell}" for cell in maxima])
                for cell, value in maxima.items():
                    if value > current.get(f"{bucket}:{cell}", -1):
                        cache.set(f"{bucket}:{cell}", value, ttl)
        if names:
            self._index(adapter, stats_names(hour), names, retention(3600) + NAMES_EXTRA)

    def _forget_old(self) -> None:
        # The memo of indexed cells only matters for the current buckets: keep it small.
        if len(self._indexed) > 512:
            self._indexed.clear()

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        buckets = [stats_bucket(res, start) for start in starts]
        listed = self._listed(adapter, buckets)
        values = adapter.read_ints([f"{bucket}:{cell}" for bucket, cells in zip(buckets, listed, strict=True)
                                    for cell in cells])
        return [{cell: values[f"{bucket}:{cell}"] for cell in cells if f"{bucket}:{cell}" in values}
                for bucket, cells in zip(buckets, listed, strict=True)]

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        return {name for group in self._listed(adapter, [stats_names(h) for h in hours]) for name in group}


class MemoryStore(StatsStore):
    """Buckets and names in this process's memory (for a process-local cache)."""

    def __init__(self) -> None:
        self._buckets: dict[str, dict[tuple[int, int], Counter[str]]] = defaultdict(dict)
        self._names: dict[str, dict[int, set[str]]] = defaultdict(dict)
        self._lock = threading.Lock()

    @staticmethod
    def _place(adapter: Adapter) -> str:
        # LocMemCache storage is named by LOCATION: aliases sharing it share statistics too.
        return f"{adapter.params.get('LOCATION', '')}\x00{adapter.cache.make_key(stats_bucket(0, 0))}"

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        place, now = self._place(adapter), time.time()
        with self._lock:
            mine = self._buckets[place]
            for res, start, deltas, maxima in buckets:
                cells = mine.setdefault((res, start), Counter())
                cells.update(deltas)
                for cell, value in maxima.items():
                    cells[cell] = max(cells[cell], value)
            for key in [k for k in mine if k[1] + retention(k[0]) + k[0] < now]:
                del mine[key]  # past the retention
            if names:
                self._names[place].setdefault(hour, set()).update(names)
            hours = self._names[place]
            for h in [h for h in hours if (h + 1) * 3600 + retention(3600) + NAMES_EXTRA < now]:
                del hours[h]

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        mine = self._buckets.get(self._place(adapter), {})
        with self._lock:
            return [dict(mine.get((res, start), {})) for start in starts]

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        mine = self._names.get(self._place(adapter), {})
        with self._lock:
            return {name for h in hours for name in mine.get(h, ())}

    def forget(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._names.clear()


HASHES, COUNTERS, MEMORY = HashStore(), CounterStore(), MemoryStore()


def store_for(adapter: Adapter) -> StatsStore:
    """The store of ``adapter``'s backend."""
    if adapter.capabilities.sorted_sets:
        return HASHES
    return MEMORY if adapter.capabilities.process_local else COUNTERS


def forget() -> None:
    """Forget statistics kept in this process and the index memo (tests)."""
    MEMORY.forget()
    COUNTERS._indexed.clear()
