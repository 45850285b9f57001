"""django-redis: the same Redis strategies, through django-redis's own client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.base import Readers
from cache_dashboard.adapters.redis import INT_START, RedisAdapter


class DjangoRedisAdapter(RedisAdapter):
    name = "django_redis"

    def build_readers(self, cache: BaseCache) -> Readers:
        """GET / MGET through django-redis's own client object, its ``make_key`` and ``decode``
        (what ``DefaultClient.get``/``get_many`` do, minus the per-call wrappers and key maps).

        Only with the stock classes (HerdClient, ShardClient... read differently) and without
        ``DJANGO_REDIS_IGNORE_EXCEPTIONS`` (which turns errors into misses): otherwise Django's
        ``get``/``get_many``. An error propagates as redis-py's own exception, which is what
        django-redis re-raises too.
        """
        from django_redis.cache import RedisCache
        from django_redis.client import DefaultClient

        backend = type(cache)
        if not (
            isinstance(cache, RedisCache)
            and backend.get is RedisCache.get
            and backend.get_many is RedisCache.get_many
            and not getattr(cache, "_ignore_exceptions", True)
        ):
            return super(RedisAdapter, self).build_readers(cache)
        client_obj = cache.client
        kind = type(client_obj)
        if not (kind.get is DefaultClient.get and kind.get_many is DefaultClient.get_many):
            return super(RedisAdapter, self).build_readers(cache)
        make_key, get_client = client_obj.make_key, client_obj.get_client
        decode = _fast_decode(client_obj)
        clients = getattr(client_obj, "_clients", None)
        if (
            kind.get_client is DefaultClient.get_client
            and kind.get_next_client_index is DefaultClient.get_next_client_index
            and isinstance(clients, list)
            and len(clients) == 1
        ):
            def reader() -> Any:
                # get_client(write=False) with one server: index 0, connected on first use. Read
                # through the attribute: close() with CLOSE_CONNECTION replaces the list.
                found = client_obj._clients[0]
                return found if found is not None else get_client(write=False)
        else:
            def reader() -> Any:
                return get_client(write=False)

        def one(key: str) -> Any:
            raw = reader().get(make_key(key))
            return None if raw is None else decode(raw)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            raw1, raw2 = reader().mget(make_key(key1), make_key(key2))
            return (None if raw1 is None else decode(raw1)), (None if raw2 is None else decode(raw2))

        return one, pair

    def client(self) -> Any:
        return self.cache.client.get_client(write=True)

    def decode(self, raw: bytes) -> Any:
        return self.cache.client.decode(raw)

    def servers(self) -> list[str]:
        location = self.params.get("LOCATION", "")
        if isinstance(location, str):
            return [s for s in location.split(",") if s]
        return list(location or [])


def _fast_decode(client_obj: Any) -> Callable[[bytes], Any]:
    """``DefaultClient.decode`` without its doomed ``int(raw)`` on values that cannot be integers.

    django-redis stores integers as digits and everything else serialised, and decode() tries
    ``int(raw)`` first; on a pickle that raises a ValueError whose message is the repr of the
    whole value, which costs more CPU than the rest of a hit. When the first byte rules an
    integer out, this does what decode() does next (decompress, or keep the bytes when the
    compressor refuses them, then deserialise); otherwise it calls decode() itself. A client
    with its own decode() gets that one.
    """
    from django_redis.client import DefaultClient
    from django_redis.exceptions import CompressorError

    decode = client_obj.decode
    compressor = getattr(client_obj, "_compressor", None)
    serializer = getattr(client_obj, "_serializer", None)
    if type(client_obj).decode is not DefaultClient.decode or compressor is None or serializer is None:
        return decode  # type: ignore[no-any-return]
    decompress, loads, int_start = compressor.decompress, serializer.loads, INT_START

    def fast(raw: bytes) -> Any:
        if type(raw) is not bytes or not raw or raw[0] in int_start:
            return decode(raw)
        try:
            raw = decompress(raw)
        except CompressorError:
            pass  # stored uncompressed (small values)
        return loads(raw)

    return fast
