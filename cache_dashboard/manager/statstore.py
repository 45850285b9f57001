"""Where the shared statistics live: buckets of counters, and the names seen per hour.

A *bucket* is one minute (``res`` 60) or one hour (``res`` 3600) of one alias's counters. Its
*cells* are named ``c|<ns>|<field>`` (a counter of a namespace, ``""`` for none), ``s|<source>``
(invalidations by one source) and ``m|<ns>`` (the longest fetch, in µs). The *names* of an hour
are the namespaces and sources (as given, not normalised) that moved in it: the dashboard knows a
namespace while it moved within ``STATS_RETENTION``, so idle ones drop out by themselves.

Three stores, chosen by what the backend can do:

* :class:`HashStore` (Redis): one hash per bucket and one set of names per hour, written in one
  pipeline per flush; the dashboard's two windows are also kept as running sums (a hash each,
  moved along by a script as buckets enter and leave), so a poll reads each namespace once, not
  once per bucket, in one pipelined round trip.
* :class:`MemoryStore` (LocMem): the cache is this process's memory, so are its statistics —
  and LocMemCache's 300 entries are left to the application.
* :class:`CounterStore` (memcached and the rest): a key per cell that moved, and per bucket an
  append-only index of its cells, so a read asks only for cells that exist.

*Server samples* (``v|<address>|<field>``: what the background sampler reads of each server once
a minute) live in buckets of their own (``keys.server_samples``), one per minute and per hour,
each cell holding the largest value written to it: a server's running counters (evictions,
hits, commands) only grow, so that is the latest sample; memory is the peak.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from cache_dashboard.adapters import Adapter
from cache_dashboard.adapters.redis import RedisAdapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import server_samples, stats_bucket, stats_names, stats_window

#: A bucket's cells as written: {cell: delta}, and its maxima {cell: value}.
Cells = dict[str, int]


def parse_cell(cell: str) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of a cell: ``c|<ns>|<field>`` a namespace's counter, ``m|<ns>``
    its slowest fetch (name ""), ``s|<source>`` invalidations by a source and ``t|<field>`` a
    field summed over the namespaces (namespace ""). A namespace may hold ``|``; a field never."""
    kind, _, rest = cell.partition("|")
    if kind == "c":
        namespace, _, name = rest.rpartition("|")
        return kind, namespace, name
    if kind == "m":
        return kind, rest, ""
    return kind, "", rest

NAMES_EXTRA = 7200  #: name sets outlive the retention by this (they cover whole hours)

#: Windows kept as running sums on Redis: (resolution, buckets) — the dashboard's hour and day.
WINDOWS = ((60, 60), (3600, 24))

# Adds one flush to a bucket and, when the window already holds that bucket, to the window too:
# the window stays the exact sum of its buckets whatever order flushes and advances run in.
# KEYS: bucket, window (or none). ARGV: bucket ttl, bucket start, window span, number of delta
# pairs, the delta pairs (cell, n), then the maxima pairs (cell, value).
_WRITE = """
local b, w = KEYS[1], KEYS[2]
local start, span, nd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local folded = false
if w then
  local at = tonumber(redis.call('HGET', w, '_at'))
  folded = at ~= nil and start <= at and start > at - span
end
for i = 5, 4 + 2 * nd, 2 do
  redis.call('HINCRBY', b, ARGV[i], ARGV[i + 1])
  if folded and redis.call('HINCRBY', w, ARGV[i], ARGV[i + 1]) == 0 then redis.call('HDEL', w, ARGV[i]) end
end
for i = 5 + 2 * nd, #ARGV, 2 do
  local v = tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', b, ARGV[i]))
  if not current or current < v then redis.call('HSET', b, ARGV[i], v) end
  if folded then
    local held = tonumber(redis.call('HGET', w, ARGV[i]))
    if not held or held <= v then redis.call('HSET', w, ARGV[i], v, '@' .. ARGV[i], start) end
  end
end
redis.call('EXPIRE', b, ARGV[1])
return 1
"""

# Moves a window to end at the bucket ``last``: each step adds the bucket entering and subtracts
# the one leaving (a cell back at 0 is dropped); a window too far behind, or whose leaving
# buckets may have expired, is rebuilt from its buckets. A maximum (``m|`` cells, with the bucket
# it came from in ``@m|…``) leaving the window is looked for again in the buckets that remain.
# KEYS: window, then the 2 * count buckets ending at ``last``. ARGV: last, res, count, retention,
# now, window ttl.
_ADVANCE = """
local w = KEYS[1]
local last, res, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local retention, now = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = 2 * count
local function bucket(start) return KEYS[1 + n - (last - start) / res] end
local at = tonumber(redis.call('HGET', w, '_at'))
if at and at >= last then return 0 end
local function enter(s)
  local cells = redis.call('HGETALL', bucket(s))
  for i = 1, #cells, 2 do
    local f, v = cells[i], tonumber(cells[i + 1])
    if string.sub(f, 1, 2) == 'm|' then
      local held = tonumber(redis.call('HGET', w, f))
      if not held or held <= v then redis.call('HSET', w, f, v, '@' .. f, s) end
    elseif redis.call('HINCRBY', w, f, v) == 0 then redis.call('HDEL', w, f) end
  end
end
local function leave(s, newest)
  local cells = redis.call('HGETALL', bucket(s))
  for i = 1, #cells, 2 do
    local f, v = cells[i], tonumber(cells[i + 1])
    if string.sub(f, 1, 2) == 'm|' then
      if tonumber(redis.call('HGET', w, '@' .. f)) == s then
        local best, from = nil, nil
        for t = newest - (count - 1) * res, newest, res do
          local x = tonumber(redis.call('HGET', bucket(t), f))
          if x and (not best or x >= best) then best, from = x, t end
        end
        if best then redis.call('HSET', w, f, best, '@' .. f, from) else redis.call('HDEL', w, f, '@' .. f) end
      end
    elseif redis.call('HINCRBY', w, f, -v) == 0 then redis.call('HDEL', w, f) end
  end
end
if not at or last - at >= count * res or at + res - count * res + retention <= now + 60 then
  redis.call('DEL', w)
  for s = last - (count - 1) * res, last, res do enter(s) end
else
  for s = at + res, last, res do
    leave(s - count * res, s)
    enter(s)
  end
end
redis.call('HSET', w, '_at', last)
redis.call('EXPIRE', w, ARGV[6])
return 1
"""

_SHAS = {source: hashlib.sha1(source.encode()).hexdigest() for source in (_WRITE, _ADVANCE)}


#: The resolution of the *lifetime* bucket (start 0): every flush's counters added up since the
#: cache began keeping them — monotonic, as Prometheus counters must be, until the server loses
#: them (a restart, an eviction: a counter reset, which Prometheus expects).
LIFETIME = 0
#: Seconds the lifetime bucket is kept after its last write (ten years: as long as the server will).
LIFETIME_TTL = 10 * 365 * 86400


def retention(res: int) -> int:
    """Seconds a bucket of resolution ``res`` is kept."""
    if res == LIFETIME:
        return LIFETIME_TTL
    return int(get_setting("STATS_RETENTION")) + (res if res > 60 else 0)


@dataclass
class Window:
    """What a window of buckets adds up to."""

    #: Summed ``c|`` and ``s|`` cells (those of one namespace when asked for one); ``m|`` cells
    #: hold the window's maximum.
    totals: Cells = field(default_factory=dict)
    #: Per bucket, oldest first: {field: n} of the series fields (of the namespace, or of all),
    #: and for every namespace the ``s|<source>`` cells of the sources asked for.
    series: list[Cells] = field(default_factory=list)


class StatsStore:
    """Buckets and names of one backend kind. ``adapter`` names the alias."""

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        """Add each ``(res, t, deltas, maxima)`` bucket, and ``names`` to the names of ``hour``."""
        raise NotImplementedError

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        """The cells of each bucket of resolution ``res`` starting at ``starts`` (missing: empty)."""
        raise NotImplementedError

    def window(self, adapter: Adapter, res: int, starts: list[int], nns: str | None,
               series: tuple[str, ...], sources: tuple[str, ...] = ()) -> Window:
        """The buckets ``starts`` added up: every namespace's (``nns`` None) or one's; for every
        namespace, each bucket also says how many invalidations each of ``sources`` made."""
        return fold(self.read(adapter, res, starts), nns, series, sources)

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        """Names seen in any of ``hours``."""
        raise NotImplementedError

    def write_samples(self, adapter: Adapter, buckets: list[tuple[int, int, Cells]]) -> None:
        """Each ``(res, t, cells)``: every cell of the server-sample bucket raised to its value."""
        raise NotImplementedError

    def read_samples(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        """The server-sample buckets of resolution ``res`` starting at ``starts`` (missing: empty)."""
        raise NotImplementedError


def fold(buckets: list[Cells], nns: str | None, series: tuple[str, ...], sources: tuple[str, ...] = ()) -> Window:
    """Add up buckets as read: the default :meth:`StatsStore.window`."""
    out = Window(series=[{} for _ in buckets])
    per_bucket = set(sources)
    totals = out.totals
    for i, cells in enumerate(buckets):
        row = out.series[i]
        for cell, n in cells.items():
            kind, ns, name = parse_cell(cell)
            if kind == "c":
                if nns is not None and ns != nns:
                    continue
                totals[cell] = totals.get(cell, 0) + n
                if name in series:
                    row[name] = row.get(name, 0) + n
            elif kind == "m":
                if (nns is None or ns == nns) and n > totals.get(cell, -1):
                    totals[cell] = n
            elif kind == "s" and nns is None:
                totals[cell] = totals.get(cell, 0) + n
                if name in per_bucket:
                    row[cell] = row.get(cell, 0) + n
    return out


class HashStore(StatsStore):
    """One hash per bucket; the dashboard's windows (:data:`WINDOWS`) also kept as running sums,
    one hash each, so a poll reads each namespace's cells once instead of once per bucket.

    Every bucket also carries ``t|<field>``, the sum of ``c|*|<field>`` over its namespaces: what
    the chart reads. Scripts are called by SHA inside the pipelines (no SCRIPT EXISTS round trip).
    """

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        assert isinstance(adapter, RedisAdapter)
        client = _client(adapter)
        pipe = client.pipeline(transaction=False)
        now = time.time()
        for res, start, deltas, maxima in buckets:
            cells = dict(deltas)
            for cell, n in deltas.items():
                if cell.startswith("c|"):
                    name = "t|" + cell.rpartition("|")[2]
                    cells[name] = cells.get(name, 0) + n
            keys = [adapter.raw_key(stats_bucket(res, start))]
            count = _kept(res)
            if count:
                # Move the window onto this bucket first: the window then holds it, and this
                # flush (and every later one) adds to both.
                keys.append(adapter.raw_key(stats_window(res, count)))
                self._advance(adapter, pipe, res, count, start, now)
            args: list[Any] = [retention(res), start, res * (count or 1), len(cells)]
            args += [x for pair in cells.items() for x in pair]
            args += [x for pair in maxima.items() for x in pair]
            pipe.evalsha(_SHAS[_WRITE], len(keys), *keys, *args)
        if names:
            key = adapter.raw_key(stats_names(hour))
            pipe.sadd(key, *sorted(_bytes(name) for name in names))
            pipe.expire(key, retention(3600) + NAMES_EXTRA)
        _execute(adapter, client, pipe)

    @staticmethod
    def _advance(adapter: RedisAdapter, pipe: Any, res: int, count: int, last: int, now: float) -> None:
        keys = [adapter.raw_key(stats_window(res, count))]
        keys += [adapter.raw_key(stats_bucket(res, last - (2 * count - 1 - i) * res)) for i in range(2 * count)]
        pipe.evalsha(_SHAS[_ADVANCE], len(keys), *keys, last, res, count, retention(res), int(now), retention(res))

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        assert isinstance(adapter, RedisAdapter)
        pipe = _client(adapter).pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(adapter.raw_key(stats_bucket(res, start)))
        return [{_text(k): int(v) for k, v in found.items()} for found in pipe.execute()]

    def window(self, adapter: Adapter, res: int, starts: list[int], nns: str | None,
               series: tuple[str, ...], sources: tuple[str, ...] = ()) -> Window:
        """One pipelined round trip: for one namespace, its cells of each bucket; for all, the
        running sums (moved onto the newest bucket first) and each bucket's ``t|`` cells and the
        ``s|`` cells of ``sources``. A window not kept as running sums reads its buckets whole."""
        assert isinstance(adapter, RedisAdapter)
        count = _kept(res)
        if nns is None and count != len(starts):
            return super().window(adapter, res, starts, nns, series, sources)
        client = _client(adapter)
        pipe = client.pipeline(transaction=False)
        if nns is None:
            self._advance(adapter, pipe, res, count, starts[-1], time.time())
            pipe.hgetall(adapter.raw_key(stats_window(res, count)))
            wanted = [f"t|{name}" for name in series] + [f"s|{source}" for source in sources]
        else:
            wanted = [f"c|{nns}|{name}" for name in FIELDS] + [f"m|{nns}"]
        for start in starts:
            pipe.hmget(adapter.raw_key(stats_bucket(res, start)), wanted)
        found = _execute(adapter, client, pipe)
        out = Window()
        if nns is None:
            held = ((_text(k), int(v)) for k, v in found[1].items())
            out.totals = {cell: n for cell, n in held if cell[0] not in "_@"}
            found = found[2:]
        for row in found:
            cells = {cell: int(v) for cell, v in zip(wanted, row, strict=True) if v is not None}
            point: Cells = {}
            for cell, n in cells.items():
                if cell[0] == "s":
                    point[cell] = n  # a source's invalidations in this bucket
                elif cell[0] != "m" and (name := cell.rpartition("|")[2]) in series:  # not a namespace "hits"
                    point[name] = n
            out.series.append(point)
            if nns is not None:
                for cell, n in cells.items():
                    if cell[0] == "m":
                        out.totals[cell] = max(out.totals.get(cell, -1), n)
                    else:
                        out.totals[cell] = out.totals.get(cell, 0) + n
        return out

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        assert isinstance(adapter, RedisAdapter)
        found = _client(adapter).sunion([adapter.raw_key(stats_names(h)) for h in hours])
        return {_text(name) for name in found}

    def write_samples(self, adapter: Adapter, buckets: list[tuple[int, int, Cells]]) -> None:
        # The write script without a window and without deltas: only its "raise to" part runs.
        assert isinstance(adapter, RedisAdapter)
        client = _client(adapter)
        pipe = client.pipeline(transaction=False)
        for res, start, cells in buckets:
            args = [x for pair in cells.items() for x in pair]
            pipe.evalsha(_SHAS[_WRITE], 1, adapter.raw_key(server_samples(res, start)), retention(res), start, res, 0,
                         *args)
        _execute(adapter, client, pipe)

    def read_samples(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        assert isinstance(adapter, RedisAdapter)
        pipe = _client(adapter).pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(adapter.raw_key(server_samples(res, start)))
        return [{_text(k): int(v) for k, v in found.items()} for found in pipe.execute()]


#: The counters kept per namespace and bucket (``stats.FIELDS``). ``fetch_us``: total fetch time, µs.
FIELDS = ("hits", "misses", "sets", "invalidations", "errors", "fetches", "fetch_us", "stale")


def _kept(res: int) -> int:
    """How many buckets of ``res`` are kept as running sums (0: none). Only while the retention
    covers two windows: a window that has not moved for up to one must find the buckets it
    moves past (an older one is rebuilt)."""
    for kept_res, count in WINDOWS:
        if kept_res == res and retention(res) >= 2 * count * res:
            return count
    return 0


def _client(adapter: RedisAdapter) -> Any:
    """The client for the statistics' keys: they share one hash tag, so on Redis Cluster they
    live on one node, and a pipeline of scripts goes to it (a cluster pipeline refuses them)."""
    return adapter.client_for(adapter.raw_key(stats_names(0)))


def _execute(adapter: RedisAdapter, client: Any, pipe: Any) -> list[Any]:
    """Run ``pipe``. A server without the scripts (restarted, SCRIPT FLUSH, failover) answers
    NOSCRIPT for each and runs none of them: they are loaded and the pipeline is sent once more,
    which is safe since the rest of it is idempotent (reads, SADD, EXPIRE, an advance to where
    the window already is)."""
    commands = list(pipe.command_stack)
    try:
        return list(pipe.execute())
    except adapter.lib("exceptions").NoScriptError:
        for source in (_WRITE, _ADVANCE):
            client.script_load(source)
        pipe.command_stack.extend(commands)
        return list(pipe.execute())


def _bytes(text: str) -> bytes:
    """``text`` as stored: any ``str``, lone surrogates too (read back by :func:`_text`)."""
    return text.encode("utf-8", "surrogatepass")


def _digest(text: str) -> str:
    return hashlib.sha1(_bytes(text)).hexdigest()[:24]


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
            if cache.add(f"{index}:m:{_digest(name)}", 1, ttl):  # names are any str: not a key
                n = adapter.incr(f"{index}:n", 1, ttl)
                cache.set(f"{index}:{n}", _bytes(name), ttl)  # pymemcache stores a str as UTF-8
            seen.add(name)

    def _listed(self, adapter: Adapter, indexes: list[str]) -> list[list[str]]:
        cache = adapter.cache
        counts = cache.get_many([f"{index}:n" for index in indexes])
        slots = [[f"{index}:{i}" for i in range(1, int(counts.get(f"{index}:n") or 0) + 1)] for index in indexes]
        found = {}
        flat = [slot for group in slots for slot in group]
        for start in range(0, len(flat), 1000):
            found.update(cache.get_many(flat[start:start + 1000]))
        return [list(dict.fromkeys(_text(found[s]) for s in group if isinstance(found.get(s), (bytes, str))))
                for group in slots]

    def write(self, adapter: Adapter, buckets: list[tuple[int, int, Cells, Cells]], hour: int,
              names: set[str]) -> None:
        with self._lock:
            self._forget_old()
        for res, start, deltas, maxima in buckets:
            bucket, ttl = stats_bucket(res, start), retention(res)
            self._index(adapter, bucket, {**deltas, **maxima}, ttl)
            adapter.incr_many({f"{bucket}:{cell}": n for cell, n in deltas.items()}, ttl)
            self._raise(adapter, bucket, maxima, ttl)
        if names:
            self._index(adapter, stats_names(hour), names, retention(3600) + NAMES_EXTRA)

    @staticmethod
    def _raise(adapter: Adapter, bucket: str, maxima: Cells, ttl: int) -> None:
        # Best effort: read-compare-write, the last writer wins within a flush.
        if not maxima:
            return
        current = adapter.read_ints([f"{bucket}:{cell}" for cell in maxima])
        for cell, value in maxima.items():
            if value > current.get(f"{bucket}:{cell}", -1):
                adapter.cache.set(f"{bucket}:{cell}", value, ttl)

    def write_samples(self, adapter: Adapter, buckets: list[tuple[int, int, Cells]]) -> None:
        with self._lock:
            self._forget_old()
        for res, start, cells in buckets:
            bucket, ttl = server_samples(res, start), retention(res)
            self._index(adapter, bucket, cells, ttl)
            self._raise(adapter, bucket, cells, ttl)

    def read_samples(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        return self._read(adapter, [server_samples(res, start) for start in starts])

    def _forget_old(self) -> None:
        # The memo of indexed cells only matters for the current buckets: keep it small.
        if len(self._indexed) > 512:
            self._indexed.clear()

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        return self._read(adapter, [stats_bucket(res, start) for start in starts])

    def _read(self, adapter: Adapter, buckets: list[str]) -> list[Cells]:
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
        self._samples: dict[str, dict[tuple[int, int], Counter[str]]] = defaultdict(dict)
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
            for key in [k for k in mine if k[0] != LIFETIME and k[1] + retention(k[0]) + k[0] < now]:
                del mine[key]  # past the retention
            if names:
                self._names[place].setdefault(hour, set()).update(names)
            hours = self._names[place]
            for h in [h for h in hours if h + 3600 + retention(3600) + NAMES_EXTRA < now]:
                del hours[h]

    def read(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        mine = self._buckets.get(self._place(adapter), {})
        with self._lock:
            return [dict(mine.get((res, start), {})) for start in starts]

    def names(self, adapter: Adapter, hours: list[int]) -> set[str]:
        mine = self._names.get(self._place(adapter), {})
        with self._lock:
            return {name for h in hours for name in mine.get(h, ())}

    def write_samples(self, adapter: Adapter, buckets: list[tuple[int, int, Cells]]) -> None:
        place, now = self._place(adapter), time.time()
        with self._lock:
            mine = self._samples[place]
            for res, start, cells in buckets:
                held = mine.setdefault((res, start), Counter())
                for cell, value in cells.items():
                    held[cell] = max(held.get(cell, value), value)
            for key in [k for k in mine if k[1] + retention(k[0]) + k[0] < now]:
                del mine[key]

    def read_samples(self, adapter: Adapter, res: int, starts: list[int]) -> list[Cells]:
        mine = self._samples.get(self._place(adapter), {})
        with self._lock:
            return [dict(mine.get((res, start), {})) for start in starts]

    def forget(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._samples.clear()
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
