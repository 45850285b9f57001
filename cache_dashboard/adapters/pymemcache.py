"""PyMemcacheCache: atomic add/incr, no key listing, ``stats`` per server of the pool."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters.base import Adapter, Capabilities, Readers, hit_ratio, key_maker

STATS_FIELDS = (
    "version", "uptime", "curr_items", "bytes", "limit_maxbytes",
    "get_hits", "get_misses", "evictions", "curr_connections",
)


def _server_tuple(server: str) -> Any:
    if server.startswith("unix:"):
        return server[5:]
    host, _, port = server.rpartition(":")
    return (host or server, int(port) if port.isdigit() else 11211)


class PyMemcacheAdapter(Adapter):
    name = "memcached"
    capabilities = Capabilities(server_stats=True)

    def build_readers(self, cache: BaseCache) -> Readers:
        """``get`` / ``get_many`` on the backend instance's own pymemcache ``HashClient``, without
        hashing when it has a single live server.

        ``HashClient`` picks a key's server with a pure-Python murmur3 rendezvous hash (about as
        much CPU as a loopback round trip). With one server in rotation every key goes to it, so
        this does what ``HashClient.get``/``get_many`` do — key check, dead-server retry, the
        same ``_safely_run_func`` (retries, failure marking, ``ignore_exc``) — minus the hash.
        Pools of several servers, or servers marked dead, take ``HashClient``'s own path. The
        client is the one of ``caches[alias]`` in this thread: never shared between threads.
        Only for the stock classes; otherwise Django's ``get``/``get_many``.
        """
        from django.core.cache.backends.memcached import BaseMemcachedCache, PyMemcacheCache
        from pymemcache.client.base import check_key_helper
        from pymemcache.client.hash import HashClient
        from pymemcache.client.rendezvous import RendezvousHash

        backend = type(cache)
        hashed = getattr(cache, "_cache", None)
        if not (
            isinstance(cache, PyMemcacheCache)
            and backend.get is BaseMemcachedCache.get
            and backend.get_many is BaseMemcachedCache.get_many
            and type(hashed) is HashClient
            and type(hashed.hasher) is RendezvousHash
        ):
            return super().build_readers(cache)
        try:
            nodes = hashed.hasher.nodes  # mutated in place when servers die / come back
            clients, run = hashed.clients, hashed._safely_run_func
            unicode_ok, prefix = hashed.allow_unicode_keys, hashed.key_prefix
            hashed._dead_clients  # noqa: B018 - present in every supported pymemcache
        except AttributeError:  # pragma: no cover - a pymemcache with other internals
            return super().build_readers(cache)
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

    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        from pymemcache.client.base import Client

        out = []
        for server in self.servers():
            row: dict[str, Any] = {"address": server, "ok": False, "error": None}
            client = None
            try:
                # A client of our own with short timeouts: the user's may have none (pymemcache's default).
                client = Client(_server_tuple(server), connect_timeout=timeout, timeout=timeout)
                stats = {k.decode() if isinstance(k, bytes) else k: v for k, v in client.stats().items()}
                for field in STATS_FIELDS:
                    value = stats.get(field)
                    row[field] = value.decode() if isinstance(value, bytes) else value
                row["hit_ratio"] = hit_ratio(stats.get("get_hits"), stats.get("get_misses"))
                row["ok"] = True
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                if client is not None:
                    client.close()
            out.append(row)
        return out
