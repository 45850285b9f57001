"""A thin Django cache backend for Redis Cluster: Django's RedisCache over redis-py's RedisCluster.

No maintained Django backend for Redis Cluster runs on every Python this package supports, so
this is the smallest one that is correct: Django's own ``RedisCache`` and ``RedisCacheClient``
(same serializer, same timeouts, same key making), with the client a single
``redis.cluster.RedisCluster`` per backend instance (it keeps a pool per node, follows
``MOVED``/``ASK`` and re-reads the slot map after a failover), and the calls that take several
keys split by slot, since a cluster refuses a multi-key command across slots (``CROSSSLOT``)::

    CACHES = {"default": {
        "BACKEND": "cache_dashboard.backends.redis_cluster.RedisClusterCache",
        # One or more nodes to start from; the rest are discovered.
        "LOCATION": ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    }}

``OPTIONS`` go to ``RedisCluster`` (``socket_timeout``, ``password``, ``read_from_replicas``,
``require_full_coverage``…), except ``serializer``, as with Django's RedisCache. A cluster has
one database: a LOCATION with a database other than 0 is refused. ``clear()`` flushes the
database of every primary, as Django's RedisCache flushes its server's.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured


def startup_nodes(servers: list[str]) -> list[tuple[str, int]]:
    """``(host, port)`` of each LOCATION URL (``redis://host:port`` or ``host:port``)."""
    out = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"redis://{server}")
        if parts.path.strip("/") not in ("", "0"):
            raise ImproperlyConfigured(f"Redis Cluster has only database 0; LOCATION {server!r} names another.")
        out.append((parts.hostname or "localhost", parts.port or 6379))
    return out


class RedisClusterCacheClient(RedisCacheClient):
    """``RedisCacheClient`` whose client is one ``RedisCluster``, with multi-key calls per slot."""

    def __init__(self, servers: list[str], serializer: Any = None, **options: Any) -> None:
        super().__init__(servers, serializer=serializer)
        self._nodes = startup_nodes(servers)
        self._cluster_options = options
        self._cluster: Any = None
        self._lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        cluster = self._cluster
        if cluster is None:
            from redis.cluster import ClusterNode, RedisCluster

            with self._lock:
                if self._cluster is None:
                    nodes = [ClusterNode(h, p) for h, p in self._nodes]  # type: ignore[no-untyped-call]
                    self._cluster = RedisCluster(startup_nodes=nodes, **self._cluster_options)
                cluster = self._cluster
        return cluster

    def get_many(self, keys: Any) -> dict[Any, Any]:
        keys = list(keys)
        found = self.get_client(None).mget_nonatomic(keys)  # one MGET per slot, in a pipeline
        loads = self._serializer.loads  # type: ignore[attr-defined]  # set by RedisCacheClient.__init__
        return {k: loads(v) for k, v in zip(keys, found, strict=True) if v is not None}

    def set_many(self, data: Any, timeout: Any) -> None:
        if timeout == 0:  # what Django's RedisCache does: expire them now
            self.delete_many(list(data))
            return
        pipeline = self.get_client(None, write=True).pipeline(transaction=False)  # split by node
        for key, value in data.items():
            pipeline.set(key, self._serializer.dumps(value), ex=timeout)  # type: ignore[attr-defined]
        pipeline.execute()


class RedisClusterCache(RedisCache):
    """Django's RedisCache on a Redis Cluster (see the module's documentation)."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisClusterCacheClient
