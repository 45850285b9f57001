"""Django's built-in RedisCache: atomic pipelines, SCAN + UNLINK in batches, INFO per server."""

from __future__ import annotations

import hashlib
import importlib
import math
import pickle
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error
from django.utils.translation import gettext as _

from cache_dashboard.adapters.aio import AsyncOps, NotNative, clone_pool, ex_seconds
from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.fastread import FastReader
from cache_dashboard.adapters.fastread.redis import RedisCacheReader, fast_loads
from cache_dashboard.adapters.listing import DONE, BadCursor, KeyPage, ListedKey, RawValue
from cache_dashboard.adapters.pipelined import command, pipelined
from cache_dashboard.exceptions import UnsupportedOperation
from cache_dashboard.formatting import hit_ratio
from cache_dashboard.keys import escape_glob

#: Keys asked of one SCAN call, and per UNLINK.
SCAN_COUNT = 1000
#: Items of a hash, list, set, sorted set or stream shown per page of the key browser.
CONTAINER_PAGE = 50
#: Keys per conditional delete of a purge (MGET, then a compare-and-UNLINK script). Each command
#: blocks the server for every client, so steps stay small.
PURGE_CHUNK = 100
#: Bytes of values sent back to the server in one compare-and-UNLINK call.
COMPARE_BYTES = 256 * 1024
#: UNLINK each key whose value is still the one given (a key rewritten since it was read is kept).
#: Linear, unlike WATCH of n keys, which costs O(n²) in one call on Redis 7.0 and a slow EXEC
#: after it (13.6 ms + 4.8 ms for 1,000 keys, 0.45 + 0.54 ms for 100, measured).
_COMPARE_AND_UNLINK = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.pcall('GET', key) == ARGV[i] then n = n + redis.call('UNLINK', key) end
end
return n
"""
_COMPARE_AND_UNLINK_SHA = hashlib.sha1(_COMPARE_AND_UNLINK.encode()).hexdigest()
#: UNLINK each key KEYS[i] holding a string that does not contain ARGV[i] (the current generation's
#: marker of its namespace, see ``RedisAdapter.generation_marker``): a purge decided by the server,
#: no value sent back. Other types are left alone, as the client-side purge leaves them.
_UNLINK_UNMARKED = """
local n = 0
for i, key in ipairs(KEYS) do
  local v = redis.pcall('GET', key)
  if type(v) == 'string' and not string.find(v, ARGV[i], 1, true) then n = n + redis.call('UNLINK', key) end
end
return n
"""
_UNLINK_UNMARKED_SHA = hashlib.sha1(_UNLINK_UNMARKED.encode()).hexdigest()
#: One step of a purge walked by the server: SCAN from ARGV[1] (MATCH ARGV[2], COUNT ARGV[3]) and
#: UNLINK each string key whose namespace — the text from ARGV[4] + 1 to the next "}" — is one of
#: ARGV[5], ARGV[7]… and whose value lacks that namespace's marker (ARGV[6], ARGV[8]…). Returns
#: {the next cursor, keys unlinked}. Keys are not declared (a SCAN finds them), which a single
#: server allows and Redis Cluster does not (it keeps the client-side walk).
_WALK_UNLINK_UNMARKED = """
local markers = {}
for i = 5, #ARGV, 2 do markers[ARGV[i]] = ARGV[i + 1] end
local step = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local skip = tonumber(ARGV[4])
local n = 0
for _, key in ipairs(step[2]) do
  local close = string.find(key, '}', skip + 1, true)
  local marker = close and markers[string.sub(key, skip + 1, close - 1)]
  if marker then
    local v = redis.pcall('GET', key)
    if type(v) == 'string' and not string.find(v, marker, 1, true) then n = n + redis.call('UNLINK', key) end
  end
end
return {step[1], n}
"""
_WALK_UNLINK_UNMARKED_SHA = hashlib.sha1(_WALK_UNLINK_UNMARKED.encode()).hexdigest()
#: Keys one step of a purge walked by the server aims to unlink: its SCAN COUNT doubles when a
#: step unlinked fewer than half as many and halves when one unlinked more than 1.5 times as many
#: (between a quarter and four times the COUNT asked). Each key costs the server a GET and an
#: UNLINK: a step of 200 blocks it ~0.3 ms (297 µs per call measured, 200k entries among 400k
#: keys); fewer per step cost a paced purge more steps, each of which its process's hits pay for.
WALK_UNLINKS = 200
#: Attribute of a backend instance holding its reused write client.
WRITE_CLIENT_ATTR = "_cache_dashboard_write_client"
#: INFO fields kept in the health report, under the names INFO gives them.
INFO_FIELDS = (
    "redis_version", "uptime_in_seconds", "used_memory", "maxmemory", "evicted_keys", "expired_keys",
    "keyspace_hits", "keyspace_misses", "connected_clients", "instantaneous_ops_per_sec",
    "total_commands_processed",
)
#: INFO names that differ from the report's (kept as they were: the report's shape is public).
_REPORT_NAMES = {"redis_version": "version", "uptime_in_seconds": "uptime", "total_commands_processed": "commands"}
#: Report names -> the common names of ``Adapter.summarize_server``.
_SUMMARY = {
    "used_memory": "memory", "maxmemory": "memory_limit", "connected_clients": "connections",
    "instantaneous_ops_per_sec": "ops_per_sec",
    "keyspace_hits": "hits", "keyspace_misses": "misses", "evicted_keys": "evictions",
    "expired_keys": "expired",
}


class RedisAdapter(Adapter):
    name = "redis"
    capabilities = Capabilities(pattern_invalidation=True, server_stats=True, physical_purge=True, sorted_sets=True,
                                key_browsing=True)
    timeout_options: ClassVar[tuple[str, ...]] = ("socket_timeout", "socket_connect_timeout")
    fast_reader: ClassVar[FastReader | None] = RedisCacheReader()
    #: The backend reads django-redis's OPTIONS (``CLIENT_CLASS``…); Django's own RedisCache passes
    #: every option on to redis-py's connection pool instead (system check E004).
    django_redis_options: ClassVar[bool] = False
    #: The client library the backend talks through: ``redis`` (redis-py) or its fork ``valkey``
    #: (valkey-py: the same API, its own exception classes).
    client_library: ClassVar[str] = "redis"

    def lib(self, module: str = "") -> Any:
        """The client library, or one of its modules (``lib("exceptions")``)."""
        return importlib.import_module(f"{self.client_library}.{module}" if module else self.client_library)

    def _checks(self) -> Iterator[CheckMessage]:
        yield from super()._checks()
        options = self.params.get("OPTIONS") or {}
        if not self.django_redis_options and "CLIENT_CLASS" in options:
            yield Error(
                f"Cache alias {self.alias!r} uses Django's RedisCache with OPTIONS['CLIENT_CLASS'], an option "
                "of django-redis: Django's RedisCache passes its OPTIONS to redis-py's connection pool, so "
                "every connection fails (\"unexpected keyword argument 'CLIENT_CLASS'\").",
                hint="Use BACKEND 'django_redis.cache.RedisCache' to keep the django-redis OPTIONS, or drop "
                     "CLIENT_CLASS (Django's RedisCache takes redis-py's options: socket_timeout, …).",
                id="cache_dashboard.E004",
            )

    def _client_obj(self) -> Any:
        # RedisCache keeps its RedisCacheClient in the private ``_cache`` (there is no public
        # accessor); ``get_client(write=True)`` on it is the documented seam.
        return self.cache._cache  # type: ignore[attr-defined]  # BaseCache has no _cache

    def client(self) -> Any:
        """A redis.Redis for the primary (writes go there; Django sends reads to replicas): what
        ``get_client(write=True)`` returns, kept on the backend instance (so per thread), since
        Django's RedisCache builds a new one on every call."""
        cache = self.cache
        found = cache.__dict__.get(WRITE_CLIENT_ATTR)
        if found is None:
            found = self._client_obj().get_client(write=True)
            setattr(cache, WRITE_CLIENT_ATTR, found)
        return found

    def decode(self, raw: bytes) -> Any:
        return self.decoder()(raw)

    def decoder(self) -> Callable[[bytes], Any]:
        """The backend's own deserialiser, looked up once for a batch of values."""
        return self._client_obj()._serializer.loads  # type: ignore[no-any-return]

    def encode(self, value: Any) -> Any:
        """``value`` as this cache stores it (bytes, or an int stored as digits)."""
        return self._client_obj()._serializer.dumps(value)

    def _async_pool(self) -> tuple[Any, int | None]:
        client = self.client()
        sync_pool = getattr(client, "connection_pool", None)
        if sync_pool is None:  # a client without one pool (Redis Cluster)
            raise NotNative(f"{type(client).__name__} has no single connection pool")
        return clone_pool(sync_pool, self.lib())

    def async_problem(self) -> str | None:
        try:
            self._async_pool()  # (a pool builds no connection until used)
        except NotNative as exc:
            return str(exc)
        except Exception as exc:  # a misconfigured alias
            return self.describe(exc)
        return None

    def hit_decoder(self) -> Callable[[bytes], Any]:
        """:meth:`decoder` without its doomed attempt to read a pickle as a number (the hit path's)."""
        return fast_loads(self._client_obj()._serializer)

    def async_ops(self) -> AsyncOps:
        """An async client over a pool cloned from the primary's (``adapters.aio.clone_pool``):
        reads and writes go to the primary, where Django sends reads to a replica."""
        pool, limit = self._async_pool()
        asyncio = self.lib("asyncio")
        client_class = getattr(asyncio, "Redis", None) or asyncio.Valkey
        return AsyncOps(client_class(connection_pool=pool), pool, self.raw_key, self.encode, self.hit_decoder(), limit)

    def raw_key(self, key: str) -> str:
        return str(self.cache.make_key(key))

    def raw_prefix(self, prefix: str) -> str:
        marker = "\x00end"
        raw = self.raw_key(prefix + marker)
        if not raw.endswith(marker):
            raise UnsupportedOperation.key_function_not_suffix(alias=self.alias)
        return raw[: -len(marker)]

    def client_for(self, raw_key: str) -> Any:
        """The client to pipeline commands on the keys of ``raw_key``'s hash tag (scripts too):
        the primary here; on Redis Cluster the node holding the tag's slot."""
        return self.client()

    def get_primary(self, key: str) -> Any:
        raw = self.client().get(self.raw_key(key))
        return None if raw is None else self.decode(raw)

    # -- the miss path in one round trip per step (what cache.add/get/set/delete would send) ---------
    def _direct_client(self) -> Any:
        """The primary's client to write the miss path's batches on (``adapters.pipelined``), or
        None for Django's public API instead: when a tool wrapped this instance's own methods
        (debug toolbar, APM: let it see the calls), or when the raw client cannot be reached (a
        renamed private attribute: degrade, do not fail)."""
        attrs = self.cache.__dict__
        if "add" in attrs or "set" in attrs:
            return None
        try:
            return self.client()
        except (AttributeError, TypeError):
            return None

    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        client = self._direct_client()
        if client is None:
            return super().add_and_get(add_key, value, timeout, get_key)
        try:
            add = ("SET", self.raw_key(add_key), self.encode(value), "NX", *_ex_words(timeout))
        except (AttributeError, TypeError):  # (see _direct_client) nothing was sent yet
            return super().add_and_get(add_key, value, timeout, get_key)
        added, raw = pipelined(client, (add, ("GET", self.raw_key(get_key))))
        return bool(added), None if raw is None else self.decode(raw)

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        client = self._direct_client()
        if client is None:
            super().set_and_delete(set_key, value, timeout, delete_key)
            return
        try:
            put = ("SET", self.raw_key(set_key), self.encode(value), *_ex_words(timeout))
        except (AttributeError, TypeError):
            super().set_and_delete(set_key, value, timeout, delete_key)
            return
        pipelined(client, (put, ("DEL", self.raw_key(delete_key))))

    # -- counters: one round trip per call or batch --------------------------------------------
    def incr(self, key: str, delta: int = 1, timeout: float | None = None, initial: int = 0) -> int:
        pipe = self.client().pipeline(transaction=False)
        self._queue_incr(pipe, key, delta, timeout, initial)
        return int(pipe.execute()[1])

    def incr_many(self, deltas: Mapping[str, int], timeout: float | None) -> None:
        if not deltas:
            return
        pipe = self.client().pipeline(transaction=False)
        for key, delta in deltas.items():
            self._queue_incr(pipe, key, delta, timeout, 0)
        pipe.execute()

    def _queue_incr(self, pipe: Any, key: str, delta: int, timeout: float | None, initial: int) -> None:
        # SET NX gives a missing key its start value and TTL (integers are stored as digits by
        # both Redis serializers, as cache.add would); INCRBY is atomic.
        raw = self.raw_key(key)
        pipe.set(raw, initial, nx=True, ex=None if timeout is None else max(1, int(timeout)))
        pipe.incrby(raw, delta)

    def read_ints(self, keys: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        client = self.client()
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            for key, value in zip(chunk, client.mget([self.raw_key(k) for k in chunk]), strict=True):
                if value is not None:
                    try:
                        out[key] = int(value)
                    except (TypeError, ValueError):
                        continue
        return out

    def delete_count(self, keys: list[str]) -> int:
        if not keys:
            return 0
        return int(self.client().unlink(*[self.raw_key(k) for k in keys]))

    # -- SCAN, never KEYS ------------------------------------------------------------------------
    def _scan(self, prefix: str, glob: str, count: int = SCAN_COUNT) -> Iterator[tuple[Any, list[bytes]]]:
        client = self.client()
        match = escape_glob(self.raw_prefix(prefix)) + glob
        batch: list[bytes] = []
        for raw in client.scan_iter(match=match, count=count):
            batch.append(raw)
            if len(batch) >= count:
                yield client, batch
                batch = []
        if batch:
            yield client, batch

    def scan_delete(self, prefix: str, glob: str = "*", only: Callable[[bytes, Any], bool] | None = None,
                    pace: Callable[[float], None] | None = None, *,
                    select: Callable[[bytes], bool] | None = None, count: int = SCAN_COUNT,
                    marker: Callable[[bytes], bytes] | None = None) -> int:
        """UNLINK every key under ``prefix`` matching ``glob``, SCANning ``count`` keys at a time.

        With ``only``, values are read first (``PURGE_CHUNK`` keys at a time, of the raw keys that
        pass ``select``) and only keys whose decoded value passes ``only(raw_key, value)`` are
        unlinked (purges: old generations go, fresh entries stay). With ``marker`` (raw key -> the
        bytes its value must contain to stay) instead, the server decides: no value is read back.
        ``pace`` is called after each
        chunk (and each SCAN that found nothing) with the CPU seconds this thread spent since the
        last call: what competes with the process's own requests for the GIL. Waiting on the
        server is not counted (an empty SCAN step of a big database costs the client almost nothing).
        """
        deleted = 0
        clock = time.thread_time
        started = clock()
        for client, batch in self._scan(prefix, glob, count):
            if select is not None:
                batch = [key for key in batch if select(key)]
            if only is None and marker is None:
                deleted += int(client.unlink(*batch)) if batch else 0
                continue
            for group in self._script_groups(batch):
                for start in range(0, len(group), PURGE_CHUNK):
                    chunk = group[start:start + PURGE_CHUNK]
                    if marker is not None:
                        deleted += self._script(client, _UNLINK_UNMARKED, _UNLINK_UNMARKED_SHA, chunk,
                                                [marker(key) for key in chunk])
                    else:
                        assert only is not None
                        deleted += self._unlink_if(client, chunk, only)
                    if pace is not None:  # the CPU time since the last pause, SCAN included
                        pace(clock() - started)
                        started = clock()
            if pace is not None and not batch:
                pace(clock() - started)
                started = clock()
        return deleted

    def walk_unlink_unmarked(self, prefix: str, skip: int, markers: Mapping[bytes, bytes],
                             pace: Callable[[float], None] | None = None, count: int = SCAN_COUNT) -> int | None:
        """A purge walked by the server: UNLINK the keys under ``prefix`` of the namespaces in
        ``markers`` whose value lacks their namespace's marker, one script call per SCAN step (the
        namespace of a raw key starts at byte ``skip`` and ends before the next ``}``). Nothing
        comes back to this process but a cursor and a count, so a step costs it a few tens of
        microseconds of CPU, where reading the keys back cost it hundreds, GIL held: what the
        process's own requests queued behind. The step grows through keys it has nothing to do
        with and shrinks where it unlinks (see ``WALK_UNLINKS``). ``pace`` is called after each step with how much
        longer than the quickest step so far it took: the server's work on what it found (which
        every client of the server waits behind), not the round trip. None when the server
        refuses such a script (then the caller walks the keys itself)."""
        client = self.client()
        match = escape_glob(self.raw_prefix(prefix)) + "*"
        pairs = [word for nns, mark in markers.items() for word in (nns, mark)]
        cursor: Any = b"0"
        deleted, first = 0, True
        step = count
        quickest = math.inf  # the round trip of a step that found nothing to do, about
        while True:
            started = time.perf_counter()
            try:
                cursor, found = self._script(client, _WALK_UNLINK_UNMARKED, _WALK_UNLINK_UNMARKED_SHA, [],
                                             [cursor, match, step, skip, *pairs], convert=False)
            except self.lib("exceptions").ResponseError:
                if first:
                    return None  # refused at the first step (an ACL, a proxy): nothing done yet
                raise
            first = False
            deleted += int(found)
            took = time.perf_counter() - started
            quickest = min(quickest, took)
            # Keys of other namespaces cost the server little (SCAN's pattern test): walk through
            # them in longer steps. Where the step unlinks, it keeps to about WALK_UNLINKS keys,
            # so no client waits long behind one.
            if int(found) < WALK_UNLINKS // 2:
                step = min(step * 2, count * 4)
            elif int(found) > WALK_UNLINKS * 3 // 2:
                step = max(step // 2, count // 4, 1)
            if pace is not None:
                pace(took - quickest)  # the server's work on what the step found, about
            if int(cursor) == 0:
                return deleted

    def _script_groups(self, keys: list[bytes]) -> list[list[bytes]]:
        """``keys`` in the groups one script or multi-key command may take: all of them on one
        server (keys of several namespaces in one call: a purge of ten namespaces sends one script
        per chunk, not ten); one hash tag each on Redis Cluster."""
        return [keys] if keys else []

    def _unlink_if(self, client: Any, keys: list[bytes], only: Callable[[bytes, Any], bool]) -> int:
        """UNLINK those of ``keys`` whose value passes ``only``, atomically with the read: the
        server deletes a key only if it still holds the value read (a fresh entry written since
        is kept), by a script, in calls of at most ``COMPARE_BYTES`` of values."""
        decode = self.hit_decoder()
        values = client.mget(keys)
        doomed = [(k, v) for k, v in zip(keys, values, strict=True) if v is not None and only(k, decode(v))]
        deleted = 0
        while doomed:
            size, cut = 0, 0
            while cut < len(doomed) and (cut == 0 or size + len(doomed[cut][1]) <= COMPARE_BYTES):
                size += len(doomed[cut][1])
                cut += 1
            part, doomed = doomed[:cut], doomed[cut:]
            deleted += self._compare_and_unlink(client, [k for k, _ in part], [v for _, v in part])
        return deleted

    def _compare_and_unlink(self, client: Any, keys: list[bytes], values: list[bytes]) -> int:
        return int(self._script(client, _COMPARE_AND_UNLINK, _COMPARE_AND_UNLINK_SHA, keys, values))

    def _script(self, client: Any, source: str, sha: str, keys: list[bytes], args: list[Any], *,
                convert: bool = True) -> Any:
        """The script's reply (an int unless ``convert`` is False), loading it if the server lacks it."""
        try:
            reply = command(client, "EVALSHA", sha, len(keys), *keys, *args)
        except self.lib("exceptions").NoScriptError:  # a server that restarted or flushed its scripts
            client.script_load(source)
            reply = command(client, "EVALSHA", sha, len(keys), *keys, *args)
        return int(reply) if convert else reply

    def generation_marker(self, generation: int, entry: Callable[[int], Any]) -> bytes | None:
        """Bytes that this cache's stored form of every entry of ``generation`` contains and that
        of the next generation does not (``entry(g)``: an entry of generation ``g``), or None when
        there are none (a serializer that does not write the integer as pickle does, a compressor).
        A purge then lets the server keep the keys holding them and UNLINK the rest, without
        reading values back; a user value that happens to contain them is only kept, never
        wrongly deleted."""
        marker = pickle.dumps(generation, protocol=2)[2:-1]  # the int's opcode, as every protocol >= 2 writes it
        try:
            mine, next_one = self.encode(entry(generation)), self.encode(entry(generation + 1))
        except Exception:
            return None
        if not isinstance(mine, bytes) or marker not in mine or marker in next_one:
            return None
        return marker

    def scan_count(self, prefix: str, glob: str = "*", *, select: Callable[[bytes], bool] | None = None) -> int:
        if select is None:
            return sum(len(batch) for _client, batch in self._scan(prefix, glob))
        return sum(sum(1 for key in batch if select(key)) for _client, batch in self._scan(prefix, glob))

    # -- the key browser: SCAN with a growing COUNT, one pipeline of facts per page --------------
    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """SCAN from ``cursor`` until about ``count`` keys matched, the keyspace ended or ``budget``
        seconds passed. COUNT starts at the page size and grows (to ``SCAN_COUNT``) while a filter
        matches little, so each call stays short for the server; every key a call returns is on
        the page (a SCAN cursor cannot stop inside a call's answer)."""
        if cursor and not cursor.isdigit():
            raise BadCursor(cursor)
        return self._list_from(self.client(), int(cursor) if cursor else 0, match, count, time.monotonic() + budget)

    def _list_from(self, client: Any, position: int, match: str, count: int, deadline: float) -> KeyPage:
        """One page of ``client``'s SCAN from ``position`` (``page.cursor``: where the next starts,
        ``DONE`` at the end of this server's keyspace)."""
        step = max(10, min(count, SCAN_COUNT))
        pattern = match.encode("utf-8", "surrogatepass")
        found: dict[bytes, None] = {}  # SCAN may return a key twice
        page = KeyPage()
        while True:
            position, batch = client.scan(position, match=pattern, count=step)
            page.scanned += step
            found.update(dict.fromkeys(batch))
            if position == 0 or len(found) >= count:
                break
            if time.monotonic() >= deadline:
                page.out_of_time = True
                break
            if len(batch) < step // 2:
                step = min(SCAN_COUNT, step * 4)
        page.cursor = str(position) if position else DONE
        page.keys = self._facts(client, list(found))
        return page

    @staticmethod
    def _facts(client: Any, raws: list[bytes]) -> list[ListedKey]:
        if not raws:
            return []
        pipe = client.pipeline(transaction=False)
        for raw in raws:
            pipe.type(raw)
            pipe.pttl(raw)
            pipe.memory_usage(raw)
        answers = pipe.execute(raise_on_error=False)
        out = []
        for i, raw in enumerate(raws):
            kind, pttl, size = answers[3 * i: 3 * i + 3]
            kind = _text(kind)
            if kind == "none":  # expired or deleted since the SCAN
                continue
            out.append(ListedKey(raw=raw, kind=kind, ttl=_ttl(pttl),
                                 size=size if isinstance(size, int) else None))
        return out

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        client = self.client()
        listed = self._facts(client, [raw])
        if not listed:
            return None
        facts = listed[0]
        out = RawValue(raw=raw, kind=facts.kind, ttl=facts.ttl, size=facts.size)
        offset = int(cursor) if cursor.isdigit() else 0
        rows = CONTAINER_PAGE
        if out.kind == "string":
            pipe = client.pipeline(transaction=False)
            pipe.strlen(raw)
            pipe.getrange(raw, 0, max(0, limit - 1))
            out.length, out.payload = pipe.execute()
        elif out.kind == "hash":
            out.length = client.hlen(raw)
            next_at, found = client.hscan(raw, offset, count=rows)
            out.items, out.cursor = list(found.items()), str(next_at) if next_at else DONE
        elif out.kind == "set":
            out.length = client.scard(raw)
            next_at, members = client.sscan(raw, offset, count=rows)
            out.items, out.cursor = [(m,) for m in members], str(next_at) if next_at else DONE
        elif out.kind == "list":
            out.length = client.llen(raw)
            out.items = [(item,) for item in client.lrange(raw, offset, offset + rows - 1)]
            out.cursor = str(offset + rows) if offset + rows < out.length else DONE
        elif out.kind == "zset":
            out.length = client.zcard(raw)
            out.items = list(client.zrange(raw, offset, offset + rows - 1, withscores=True))
            out.cursor = str(offset + rows) if offset + rows < out.length else DONE
        elif out.kind == "stream":
            out.length = client.xlen(raw)
            start = cursor if cursor and not cursor.isdigit() else "-"
            entries = client.xrange(raw, min=start, max="+", count=rows + 1)
            out.items = [(_text(entry_id), fields) for entry_id, fields in entries[:rows]]
            out.cursor = _text(entries[rows][0]) if len(entries) > rows else DONE
        return out

    def load_value(self, raw: bytes, key: str, version: int | None) -> Any:
        found = self.client().get(raw)
        return None if found is None else self.decode(found)

    def delete_raw(self, raw: bytes) -> bool:
        return bool(self.client().unlink(raw))

    def delete_raw_many(self, raws: list[bytes]) -> int:
        """UNLINK in calls of ``PURGE_CHUNK`` keys (of one hash tag each on Redis Cluster; each
        call short for the server)."""
        client, deleted = self.client(), 0
        for group in self._script_groups(raws):
            for start in range(0, len(group), PURGE_CHUNK):
                deleted += int(client.unlink(*group[start:start + PURGE_CHUNK]))
        return deleted

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        client = self.client()
        if seconds is None:  # PERSIST answers 0 for a key without expiry too: ask whether it exists
            pipe = client.pipeline(transaction=False)
            pipe.persist(raw)
            pipe.exists(raw)
            return bool(pipe.execute()[1])
        return bool(client.expire(raw, max(1, int(seconds))))

    # -- health --------------------------------------------------------------------------------
    def connection_kwargs(self) -> dict[str, Any]:
        """Credentials from OPTIONS for a probe client of our own."""
        options = self.params.get("OPTIONS") or {}
        return {k: options[k] for k in ("username", "password") if options.get(k)}

    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        sentinel = self.sentinel()
        if sentinel is not None:
            return self._sentinel_info(timeout, *sentinel)
        out = []
        for url in self._locations():
            # INFO is server-wide: the row names the server; "keys in this DB" is the alias's own DB.
            address, _slash, db = _address(url).rpartition("/")
            row: dict[str, Any] = {"address": self.mask(address or db), "db": db if address else None,
                                   "ok": False, "error": None}
            self._info_row(row, timeout, url=url)
            out.append(row)
        return out

    def _probe_client(self, timeout: float, url: str | None = None, **kwargs: Any) -> Any:
        """A client of our own with short timeouts and no retries: the user's may wait long."""
        lib = self.lib()
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                   "retry": self.lib("retry").Retry(self.lib("backoff").NoBackoff(), 0)}
        client_class = getattr(lib, "Redis", None) or lib.Valkey
        if url is not None:
            return client_class.from_url(url, **options, **self.connection_kwargs())
        return client_class(**options, **kwargs)

    def _info_row(self, row: dict[str, Any], timeout: float, url: str | None = None, **kwargs: Any) -> None:
        """Fill ``row`` from the server's INFO (or its error: one unreachable server must not hide
        the others)."""
        client = None
        try:
            client = self._probe_client(timeout, url, **kwargs)
            info = client.info()
            row.update({_REPORT_NAMES.get(name, name): info.get(name) for name in INFO_FIELDS})
            row["software"], row["version"] = server_identity(info)
            row["hit_ratio"] = hit_ratio(info.get("keyspace_hits"), info.get("keyspace_misses"))
            row["role"] = info.get("role")
            row["items"] = sum(found.get("keys", 0) for name, found in info.items()
                               if name.startswith("db") and isinstance(found, dict))
            this_db = info.get(f"db{row['db']}") if row.get("db") is not None else None
            row["db_keys"] = this_db.get("keys", 0) if isinstance(this_db, dict) else 0
            row["ok"] = True
        except Exception as exc:
            row["error"] = self.describe(exc)
        finally:
            if client is not None:
                client.close()

    # -- Sentinel ------------------------------------------------------------------------------
    def sentinel(self) -> tuple[str, Any] | None:
        """(service name, redis-py ``Sentinel``) when this alias finds its master through Redis
        Sentinel (django-redis's ``SentinelConnectionFactory``, or a ``SentinelConnectionPool``
        given to Django's RedisCache as ``pool_class``); None otherwise. Builds no connection."""
        try:
            pool = self.client().connection_pool
        except Exception:  # a misconfigured alias: its health check says why
            return None
        service, manager = getattr(pool, "service_name", None), getattr(pool, "sentinel_manager", None)
        if not isinstance(service, str) or manager is None:
            return None
        return service, manager

    def servers(self) -> list[str]:
        sentinel = self.sentinel()
        if sentinel is None:
            return self._locations()
        service, manager = sentinel
        return [f"sentinel://{_node(s)}" for s in manager.sentinels] + [f"service {service}"]

    def _locations(self) -> list[str]:
        return super().servers()

    def _sentinel_info(self, timeout: float, service: str, manager: Any) -> list[dict[str, Any]]:
        """One row per sentinel (its view of ``service``: master, quorum, config epoch), then the
        master the sentinels name and each replica they know of, each from its own INFO."""
        rows: list[dict[str, Any]] = []
        views: list[dict[str, Any]] = []
        replicas: dict[str, None] = {}
        for sentinel in manager.sentinels:
            kwargs = _node_kwargs(sentinel)
            row: dict[str, Any] = {"address": self.mask(_node(sentinel)), "ok": False, "error": None}
            client = None
            try:
                client = self._probe_client(timeout, **kwargs)
                info = client.info("server")
                master = client.sentinel_master(service)
                row.update(ok=True, role="sentinel", uptime=info.get("uptime_in_seconds"),
                           sees=f"{master['ip']}:{master['port']}", quorum=master.get("quorum"),
                           epoch=master.get("config-epoch"), master_for=_seconds_ago(master.get("role-reported-time")),
                           master_down=bool(master.get("is_sdown") or master.get("is_odown")))
                row["software"], row["version"] = server_identity(info)
                views.append(row)
                for found in client.sentinel_slaves(service):  # a down one shows as unreachable
                    replicas[f"{found['ip']}:{found['port']}"] = None
            except Exception as exc:
                row["error"] = self.describe(exc)
            finally:
                if client is not None:
                    client.close()
            row["note"] = _sentinel_note(row, service)
            rows.append(row)
        named = [view["sees"] for view in views]
        master = max(set(named), key=named.count) if named else None
        quorum = max((view["quorum"] or 0 for view in views), default=0)
        if master is None:
            unknown = _("no sentinel answered: the master of %(service)s is unknown") % {"service": service}
            rows.append({"address": service, "ok": False, "role": "master", "error": unknown})
            return rows
        warnings = []
        if len(set(named)) > 1:
            warnings.append(_("The sentinels disagree on the master of %(service)s: %(seen)s.")
                            % {"service": service, "seen": ", ".join(sorted(set(named)))})
        if len(views) < quorum:
            warnings.append(_("Only %(up)s of %(all)s sentinels answer, fewer than the quorum of %(quorum)s: "
                              "no failover can be agreed.") % {"up": len(views), "all": len(rows), "quorum": quorum})
        data_kwargs = _data_kwargs(self.client().connection_pool)
        for address, role in [(master, "master"), *((r, "replica") for r in replicas if r != master)]:
            host, _colon, port = address.rpartition(":")
            row = {"address": self.mask(address), "db": str(data_kwargs.get("db", 0)), "ok": False, "error": None}
            self._info_row(row, timeout, host=host, port=int(port), **data_kwargs)
            if role == "replica" and row.get("role") == "master":
                row["note"] = _("the sentinels list it as a replica: an old master not yet turned into one after "
                                "a failover")
            row.setdefault("role", role)
            rows.append(row)
        if warnings:
            rows[len(manager.sentinels)]["warning"] = " ".join(warnings)
        return rows

    def summarize_server(self, row: Mapping[str, Any]) -> dict[str, Any]:
        summary = super().summarize_server(row)
        summary.update({ours: row.get(theirs) for theirs, ours in _SUMMARY.items()})
        return summary


def server_identity(info: Mapping[str, Any]) -> tuple[str, Any]:
    """("redis" or "valkey", its own version) from INFO: Valkey reports ``redis_version:7.2.4`` for
    clients that test it, and its real name and version in ``server_name`` / ``valkey_version``."""
    if info.get("valkey_version") or str(info.get("server_name") or "").lower() == "valkey":
        return "valkey", info.get("valkey_version") or info.get("redis_version")
    return "redis", info.get("redis_version")


def by_hash_tag(keys: list[bytes]) -> list[list[bytes]]:
    """``keys`` grouped by their Redis Cluster hash tag (the text between the first ``{`` and the
    next ``}``, when not empty; else the whole key), in first-seen order."""
    groups: dict[bytes, list[bytes]] = {}
    for key in keys:
        start = key.find(b"{")
        end = key.find(b"}", start + 1) if start >= 0 else -1
        tag = key[start + 1:end] if end > start + 1 else key
        groups.setdefault(tag, []).append(key)
    return list(groups.values())


def _text(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


def _ttl(pttl: Any) -> float | None:
    """PTTL's answer in seconds: None for no expiry (-1), NaN when unknown (an error, -2)."""
    if not isinstance(pttl, int) or pttl == -2:
        return math.nan
    return None if pttl < 0 else pttl / 1000


def _address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname}:{parts.port or 6379}/{db}"


def _node(client: Any) -> str:
    """``host:port`` of a redis-py client."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _node_kwargs(client: Any) -> dict[str, Any]:
    """What a probe client of ours needs to reach the same server as ``client``."""
    kwargs = client.connection_pool.connection_kwargs
    return {k: kwargs[k] for k in ("host", "port", "username", "password") if kwargs.get(k) is not None}


def _data_kwargs(pool: Any) -> dict[str, Any]:
    """Credentials and database of the servers a ``SentinelConnectionPool`` connects to."""
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    return {k: kwargs[k] for k in ("username", "password", "db") if kwargs.get(k) is not None}


def _seconds_ago(milliseconds: Any) -> float | None:
    return milliseconds / 1000 if isinstance(milliseconds, int) else None


def _sentinel_note(row: Mapping[str, Any], service: str) -> str:
    """What one sentinel says of ``service``, as staff read it."""
    if not row.get("ok"):
        return ""
    parts = [_("sees master %(master)s of %(service)s") % {"master": row["sees"], "service": service}]
    if row.get("master_down"):
        parts.append(_("thinks it is down"))
    parts.append(_("quorum %(quorum)s") % {"quorum": row.get("quorum")})
    parts.append(_("config epoch %(epoch)s (a failover raises it)") % {"epoch": row.get("epoch")})
    if row.get("master_for") is not None:
        parts.append(_("master role seen for %(seconds)d s") % {"seconds": row["master_for"]})
    return "; ".join(parts)


def _ex_words(timeout: float | None) -> tuple[Any, ...]:
    """``SET``'s expiry words for a cache timeout (none: no expiry)."""
    seconds = ex_seconds(timeout)
    return () if seconds is None else ("EX", seconds)
