"""django-valkey: GET / MGET through its own client object, its ``make_key`` and ``decode``.

django-valkey's ``ValkeyCache.get`` / ``get_many`` wrap every call (``omit_exception``), map keys
and, in ``get_many``, send one GET per key in a pipeline; its ``decode`` tries ``int()`` or else
``float()`` on every value first, which on a pickle raises a ValueError whose message is the repr
of the whole value. These readers send one GET, or one MGET for both keys, and load a pickle
directly when its first byte rules a number out. An error propagates as valkey-py's own
exception, even with ``IGNORE_EXCEPTIONS`` (which would swallow it into a miss): CacheManager
fails open on it all the same, but its circuit breaker sees it — else a hung server cost a socket
timeout on every call. Only with the stock ``ValkeyCache`` + ``DefaultClient`` (the herd and
shard clients read differently).

Private attributes used (probed when built), on ``DefaultClient``: ``_clients``, ``_compressor``,
``_serializer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.fastread.base import FastReader, Incompatible, NotApplicable, Readers, stock
from cache_dashboard.adapters.fastread.django_redis import skipping_numbers
from cache_dashboard.adapters.fastread.redis import INT_START
from cache_dashboard.adapters.pipelined import command

#: First bytes with which django-valkey's ``int(raw)`` / ``float(raw)`` can succeed: those of an
#: integer, a decimal point, and the ``inf`` / ``infinity`` / ``nan`` that float() reads.
NUMBER_START = INT_START | frozenset(b".iInN")


def fast_decode(client_obj: Any) -> Callable[[bytes], Any]:
    """``DefaultClient.decode`` without its ``int()`` / ``float()`` attempts where the first byte
    rules a number out (django-redis's :func:`skipping_numbers`, with django-valkey's classes)."""
    from django_valkey.client import DefaultClient
    from django_valkey.exceptions import CompressorError

    return skipping_numbers(client_obj, DefaultClient, CompressorError, NUMBER_START)


class DjangoValkeyReader(FastReader):
    library = "django-valkey"

    def build(self, cache: BaseCache) -> Readers:
        from django_valkey.cache import ValkeyCache
        from django_valkey.client import DefaultClient

        client_obj = stock(cache, ValkeyCache).client
        kind = type(client_obj)
        if not (kind.get is DefaultClient.get and kind.get_many is DefaultClient.get_many
                and kind._get_client is DefaultClient._get_client):
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
                # through the attribute: close() replaces the list.
                found = client_obj._clients[0]
                return found if found is not None else get_client(write=False)
        else:
            def reader() -> Any:
                return get_client(write=False)

        def one(key: str) -> Any:
            raw = command(reader(), "GET", make_key(key))
            return None if raw is None else decode(raw)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            # get_many() skips every falsy reply (an empty string too), not only a missing key.
            raw1, raw2 = command(reader(), "MGET", make_key(key1), make_key(key2))
            return (decode(raw1) if raw1 else None), (decode(raw2) if raw2 else None)

        return one, pair
