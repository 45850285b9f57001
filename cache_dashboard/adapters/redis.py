"""Django's built-in RedisCache: atomic pipelines, SCAN + UNLINK in batches, INFO per server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.base import Adapter, Capabilities, Readers, hit_ratio, key_maker
from cache_dashboard.exceptions import UnsupportedOperation
from cache_dashboard.manager.keys import escape_glob

SCAN_COUNT = 1000
INFO_FIELDS = {
    "redis_version": "version",
    "uptime_in_seconds": "uptime",
    "used_memory": "used_memory",
    "maxmemory": "maxmemory",
    "evicted_keys": "evicted_keys",
    "expired_keys": "expired_keys",
    "keyspace_hits": "keyspace_hits",
    "keyspace_misses": "keyspace_misses",
    "connected_clients": "connected_clients",
    "instantaneous_ops_per_sec": "instantaneous_ops_per_sec",
}


#: First bytes with which ``int(raw)`` can succeed: ASCII whitespace (which int() skips on bytes),
#: a sign or a digit. From any other first byte (a pickle starts with 0x80) int() raises ValueError.
INT_START = frozenset(b" \t\n\r\x0b\x0c+-0123456789")


def _fast_loads(serializer: Any) -> Callable[[Any], Any]:
    """Django's ``RedisSerializer.loads`` without its doomed ``int(raw)`` on a pickle.

    It stores integers as digits and everything else pickled, and loads() tries ``int(data)``
    first: on a pickle that raises a ValueError whose message is the repr of the whole value,
    which costs more CPU than the rest of a hit. When the first byte rules an integer out this
    unpickles directly, as loads() would next; otherwise (or for another serializer) loads().
    """
    import pickle

    from django.core.cache.backends.redis import RedisSerializer

    loads = serializer.loads
    if type(serializer).loads is not RedisSerializer.loads:
        return loads  # type: ignore[no-any-return]
    unpickle, int_start = pickle.loads, INT_START

    def fast(raw: Any) -> Any:
        if type(raw) is not bytes or not raw or raw[0] in int_start:
            return loads(raw)
        return unpickle(raw)

    return fast


class RedisAdapter(Adapter):
    name = "redis"
    capabilities = Capabilities(
        pattern_invalidation=True, key_count=True, server_stats=True, physical_purge=True
    )

    def client(self) -> Any:
        """A redis.Redis for the primary (writes go there; Django sends reads to replicas)."""
        return self.cache._cache.get_client(write=True)

    def build_readers(self, cache: BaseCache) -> Readers:
        """GET / MGET on a ``redis.Redis`` built once per connection pool.

        Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every call, which
        costs more CPU than the round trip itself; a client over the same pool is thread-safe and
        is what ``get_client`` would return. Only for the stock classes (a subclass may shard or
        route differently): otherwise Django's own ``get``/``get_many``.
        """
        from django.core.cache.backends.redis import RedisCache, RedisCacheClient

        backend = type(cache)
        client_obj = getattr(cache, "_cache", None)
        if not (
            isinstance(cache, RedisCache)
            and backend.get is RedisCache.get
            and backend.get_many is RedisCache.get_many
            and type(client_obj).get is RedisCacheClient.get
            and type(client_obj).get_many is RedisCacheClient.get_many
            and type(client_obj).get_client is RedisCacheClient.get_client
        ):
            return super().build_readers(cache)
        make = key_maker(cache)
        loads = _fast_loads(client_obj._serializer)
        clients: dict[int, Any] = {}

        def reader() -> Any:
            # RedisCacheClient.get_client(write=False), reusing one redis.Redis per pool: the
            # primary alone, or a random replica per call as Django does.
            pool = client_obj._get_connection_pool(False)
            found = clients.get(id(pool))
            if found is None:
                found = clients[id(pool)] = client_obj._client(connection_pool=pool)
            return found

        if len(client_obj._servers) == 1:
            fixed = reader()

            def reader() -> Any:
                return fixed

        def one(key: str) -> Any:
            raw = reader().get(make(key))
            return None if raw is None else loads(raw)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            raw1, raw2 = reader().mget([make(key1), make(key2)])
            return (None if raw1 is None else loads(raw1)), (None if raw2 is None else loads(raw2))

        return one, pair

    def raw_key(self, key: str) -> str:
        return str(self.cache.make_key(key))

    def raw_prefix(self, prefix: str) -> str:
        marker = "\x00end"
        raw = self.raw_key(prefix + marker)
        if not raw.endswith(marker):
            raise UnsupportedOperation.key_function_not_suffix(alias=self.alias)
        return raw[: -len(marker)]

    # -- counters: one round trip for the whole batch ------------------------------------------
    def incr(self, key: str, delta: int = 1, timeout: float | None = None) -> int:
        raw = self.raw_key(key)
        pipe = self.client().pipeline(transaction=False)
        pipe.incrby(raw, delta)
        if timeout is not None:
            pipe.expire(raw, max(1, int(timeout)), nx=True)
        return int(pipe.execute()[0])

    def incr_many(self, deltas: Mapping[str, int], timeout: float | None) -> None:
        if not deltas:
            return
        pipe = self.client().pipeline(transaction=False)
        for key, delta in deltas.items():
            raw = self.raw_key(key)
            pipe.incrby(raw, delta)
            if timeout is not None:
                pipe.expire(raw, max(1, int(timeout)), nx=True)
        pipe.execute()

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
    def _scan(self, prefix: str, pattern: str):  # type: ignore[no-untyped-def]
        client = self.client()
        match = escape_glob(self.raw_prefix(prefix)) + pattern
        batch: list[bytes] = []
        for raw in client.scan_iter(match=match, count=SCAN_COUNT):
            batch.append(raw)
            if len(batch) >= SCAN_COUNT:
                yield client, batch
                batch = []
        if batch:
            yield client, batch

    def get_primary(self, key: str) -> Any:
        raw = self.client().get(self.raw_key(key))
        return None if raw is None else self.decode(raw)

    def decode(self, raw: bytes) -> Any:
        return self.cache._cache._serializer.loads(raw)

    def scan_delete(self, prefix: str, pattern: str = "*", only: Callable[[Any], bool] | None = None) -> int:
        """UNLINK every key under ``prefix`` matching ``pattern``, in batches of ~1000.

        With ``only``, a batch's values are read first and only keys whose decoded value passes
        ``only(value)`` are unlinked (used to purge old generations and keep fresh entries).
        """
        deleted = 0
        for client, batch in self._scan(prefix, pattern):
            if only is not None:
                values = client.mget(batch)
                batch = [k for k, v in zip(batch, values, strict=True) if v is not None and only(self.decode(v))]
                if not batch:
                    continue
            deleted += int(client.unlink(*batch))
        return deleted

    def scan_count(self, prefix: str, pattern: str = "*") -> int:
        return sum(len(batch) for _client, batch in self._scan(prefix, pattern))

    # -- health --------------------------------------------------------------------------------
    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        import redis

        options = self.params.get("OPTIONS") or {}
        kwargs = {k: options[k] for k in ("username", "password") if options.get(k)}
        kwargs.update({k.lower(): options[k] for k in ("PASSWORD", "USERNAME") if options.get(k)})
        out = []
        for url in self.servers():
            row: dict[str, Any] = {"address": self.mask(_address(url)), "ok": False, "error": None}
            client = None
            try:
                client = redis.Redis.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout, **kwargs
                )
                info = client.info()
                row.update({ours: info.get(theirs) for theirs, ours in INFO_FIELDS.items()})
                row["hit_ratio"] = hit_ratio(info.get("keyspace_hits"), info.get("keyspace_misses"))
                row["role"] = info.get("role")
                row["ok"] = True
            except Exception as exc:  # one unreachable server must not hide the others
                row["error"] = self.mask(f"{type(exc).__name__}: {exc}")
            finally:
                if client is not None:
                    client.close()
            out.append(row)
        return out


def _address(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname}:{parts.port or 6379}/{db}"
