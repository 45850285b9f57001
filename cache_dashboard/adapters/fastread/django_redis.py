"""django-redis: GET / MGET through its own client object, its ``make_key`` and ``decode``.

What ``DefaultClient.get``/``get_many`` do, minus the per-call wrappers and key maps, and without
``decode``'s doomed ``int(raw)`` on values that cannot be integers (a ValueError whose message is
the repr of the whole value). The command is written on a connection of the client's pool
(``adapters.pipelined.command``), as for Django's RedisCache. Only with the stock ``RedisCache``
+ ``DefaultClient`` (HerdClient, ShardClient... read differently). An error propagates as
redis-py's own exception, even with ``IGNORE_EXCEPTIONS`` (which would swallow it into a miss):
CacheManager fails open on it all the same, but its circuit breaker sees it — else a hung server
cost a socket timeout on every call.

Private attributes used (probed when built), on ``DefaultClient``: ``_clients``, ``_compressor``,
``_serializer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.fastread.base import FastReader, Incompatible, NotApplicable, Readers, stock
from cache_dashboard.adapters.fastread.redis import INT_START
from cache_dashboard.adapters.pipelined import command


def fast_decode(client_obj: Any) -> Callable[[bytes], Any]:
    """``DefaultClient.decode`` without its ``int(raw)`` attempt where the first byte rules an
    integer out (see :func:`skipping_numbers`)."""
    from django_redis.client import DefaultClient
    from django_redis.exceptions import CompressorError

    return skipping_numbers(client_obj, DefaultClient, CompressorError, INT_START)


def skipping_numbers(client_obj: Any, stock: Any, compressor_error: type[Exception],
                     number_start: frozenset[int]) -> Callable[[bytes], Any]:
    """The ``decode`` of a django-redis-style client (``stock`` its ``DefaultClient``) without its
    attempts to read a number where the first byte rules one out (``number_start``: the bytes a
    number can start with): then it does what decode() does next (decompress, or keep the bytes
    when the compressor refuses them with ``compressor_error``, then deserialise). A client with
    its own decode() gets that one. django-valkey's fork shares it."""
    decode: Callable[[bytes], Any] = client_obj.decode
    if type(client_obj).decode is not stock.decode:
        return decode
    compressor, serializer = client_obj._compressor, client_obj._serializer
    decompress, loads = compressor.decompress, serializer.loads

    def fast(raw: bytes) -> Any:
        if type(raw) is not bytes or not raw or raw[0] in number_start:
            return decode(raw)
        try:
            raw = decompress(raw)
        except compressor_error:
            pass  # stored uncompressed (small values)
        return loads(raw)

    return fast


class DjangoRedisReader(FastReader):
    library = "django-redis"

    def build(self, cache: BaseCache) -> Readers:
        from django_redis.cache import RedisCache
        from django_redis.client import DefaultClient

        client_obj = stock(cache, RedisCache).client
        kind = type(client_obj)
        if not (kind.get is DefaultClient.get and kind.get_many is DefaultClient.get_many):
            raise NotApplicable
        make_key, get_client = client_obj.make_key, client_obj.get_client
        decode = fast_decode(client_obj)
        clients = client_obj._clients
        if not isinstance(clients, list):
            raise Incompatible(f"DefaultClient._clients is {type(clients).__name__}, not a list")
        if (kind.get_client is DefaultClient.get_client
                and kind.get_next_client_index is DefaultClient.get_next_client_index
                and len(clients) == 1):
            def reader() -> Any:
                # get_client(write=False) with one server: index 0, connected on first use. Read
                # through the attribute: close() with CLOSE_CONNECTION replaces the list.
                found = client_obj._clients[0]
                return found if found is not None else get_client(write=False)
        else:
            def reader() -> Any:
                return get_client(write=False)

        def one(key: str) -> Any:
            raw = command(reader(), "GET", make_key(key))
            return None if raw is None else decode(raw)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            raw1, raw2 = command(reader(), "MGET", make_key(key1), make_key(key2))
            return (None if raw1 is None else decode(raw1)), (None if raw2 is None else decode(raw2))

        return one, pair
