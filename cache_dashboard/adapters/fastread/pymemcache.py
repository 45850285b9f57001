"""PyMemcacheCache: ``get`` / ``get_many`` on the instance's own ``HashClient``, without hashing
when it has a single live server.

``HashClient`` picks a key's server with a pure-Python murmur3 rendezvous hash (about as much CPU
as a loopback round trip). With one server in rotation every key goes to it, so this does what
``HashClient.get``/``get_many`` do — key check, dead-server retry, the same ``_safely_run_func``
(retries, failure marking, ``ignore_exc``) — minus the hash. Pools of several servers, or servers
marked dead, take ``HashClient``'s own path. The client is the one of ``caches[alias]`` in this
thread: never shared between threads.

Private attributes used (probed when built): ``PyMemcacheCache._cache``, and on ``HashClient``:
``hasher`` (``RendezvousHash.nodes``), ``clients``, ``_safely_run_func``, ``_dead_clients``,
``allow_unicode_keys``, ``key_prefix``; ``pymemcache.client.base.check_key_helper``.
"""

from __future__ import annotations

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


class PyMemcacheReader(FastReader):
    library = "pymemcache"

    def build(self, cache: BaseCache) -> Readers:
        from django.core.cache.backends.memcached import BaseMemcachedCache, PyMemcacheCache
        from pymemcache.client import base
        from pymemcache.client.hash import HashClient
        from pymemcache.client.rendezvous import RendezvousHash

        backend: Any = stock(cache, PyMemcacheCache, BaseMemcachedCache)  # its _cache (private) is probed:
        hashed = backend._cache
        if type(hashed) is not HashClient or type(hashed.hasher) is not RendezvousHash:
            raise NotApplicable  # a client of the user's own (e.g. OPTIONS pointing elsewhere)
        nodes = hashed.hasher.nodes  # mutated in place when servers die / come back
        clients, run, dead = hashed.clients, hashed._safely_run_func, hashed._dead_clients
        unicode_ok, prefix = hashed.allow_unicode_keys, hashed.key_prefix
        check_key_helper = base.check_key_helper
        if not (isinstance(nodes, list) and isinstance(clients, dict) and isinstance(dead, dict)):
            raise Incompatible("HashClient's hasher.nodes / clients / _dead_clients changed type")
        if not callable(run) or not callable(check_key_helper):
            raise Incompatible("HashClient._safely_run_func or check_key_helper is not callable")
        make = key_maker(cache)

        def one(key: str) -> Any:
            raw = make(key)
            if hashed._dead_clients or len(nodes) != 1:
                return hashed.get(raw)
            check_key_helper(raw, unicode_ok, prefix)  # HashClient._get_client's check
            client = clients[nodes[0]]
            return run(client, client.get, None, raw, default=None)

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            raw1, raw2 = make(key1), make(key2)
            if hashed._dead_clients or len(nodes) != 1:
                got = hashed.get_many([raw1, raw2])
            else:
                check_key_helper(raw1, unicode_ok, prefix)
                check_key_helper(raw2, unicode_ok, prefix)
                client = clients[nodes[0]]
                got = run(client, client.get_many, {}, [raw1, raw2])
            return got.get(raw1), got.get(raw2)

        return one, pair
