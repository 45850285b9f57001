"""Django's RedisCache: GET / MGET on a ``redis.Redis`` built once per connection pool.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every call, which costs
more CPU than the loopback round trip itself; a client over the same pool is thread-safe and is
what ``get_client`` would return. Its serializer's ``loads`` tries ``int(raw)`` first, which on a
pickle raises a ValueError whose message is the repr of the whole value: when the first byte rules
an integer out, the pickle is loaded directly, as ``loads`` would next.

The command is written on a connection of the client's pool (``adapters.pipelined.command``),
without redis-py's per-command layers (retries, reply callbacks, observability): half the client
CPU of ``client.get``.

Private attributes used (probed when built): ``RedisCache._cache``, and on its
``RedisCacheClient``: ``_get_connection_pool``, ``_client``, ``_servers``, ``_serializer``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.fastread.base import (
    FastReader,
    Incompatible,
    NotApplicable,
    Readers,
    key_maker,
    stock,
)
from cache_dashboard.adapters.pipelined import command

#: First bytes with which ``int(raw)`` can succeed: ASCII whitespace (which int() skips on bytes),
#: a sign or a digit. From any other first byte (a pickle starts with 0x80) int() raises ValueError.
INT_START = frozenset(b" \t\n\r\x0b\x0c+-0123456789")


def fast_loads(serializer: Any) -> Callable[[Any], Any]:
    """Django's ``RedisSerializer.loads`` without its doomed ``int(raw)`` on a pickle (another
    serializer's ``loads`` is returned as is)."""
    from django.core.cache.backends.redis import RedisSerializer

    loads: Callable[[Any], Any] = serializer.loads
    if type(serializer).loads is not RedisSerializer.loads:
        return loads
    unpickle, int_start = pickle.loads, INT_START

    def fast(raw: Any) -> Any:
        if type(raw) is not bytes or not raw or raw[0] in int_start:
            return loads(raw)
        return unpickle(raw)

    return fast


class RedisCacheReader(FastReader):
    library = "Django"

    def build(self, cache: BaseCache) -> Readers:
        import redis
        from django.core.cache.backends.redis import RedisCache, RedisCacheClient

        client_obj: Any = stock(cache, RedisCache)._cache  # its private attributes are read below, each probed
        kind = type(client_obj)
        if not (kind.get is RedisCacheClient.get and kind.get_many is RedisCacheClient.get_many
                and kind.get_client is RedisCacheClient.get_client):
            raise NotApplicable
        get_pool = client_obj._get_connection_pool
        make_client = client_obj._client
        servers = client_obj._servers
        loads = fast_loads(client_obj._serializer)
        if not (isinstance(make_client, type) and issubclass(make_client, redis.Redis)):
            raise Incompatible(f"RedisCacheClient._client is {make_client!r}, not a redis.Redis class")
        if not isinstance(servers, list) or not servers:
            raise Incompatible(f"RedisCacheClient._servers is {type(servers).__name__}, not a list of URLs")
        if not isinstance(get_pool(False), redis.ConnectionPool):
            raise Incompatible("RedisCacheClient._get_connection_pool() returned no ConnectionPool")
        make = key_maker(cache)
        clients: dict[int, Any] = {}

        def reader() -> Any:
            # RedisCacheClient.get_client(write=False), reusing one redis.Redis per pool: the
            # primary alone, or a random replica per call as Django does.
            pool = get_pool(False)
            found = clients.get(id(pool))
            if found is None:
                found = clients[id(pool)] = make_client(connection_pool=pool)
            return found

        if len(servers) == 1:
            fixed = reader()

            def reader() -> Any:
                return fixed

        def one(key: str) -> Any:
            raw = command(reader(), "GET", make(key))
            return None if raw is None else loads(raw)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            raw1, raw2 = command(reader(), "MGET", make(key1), make(key2))
            return (None if raw1 is None else loads(raw1)), (None if raw2 is None else loads(raw2))

        return one, pair
