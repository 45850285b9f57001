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
``require_full_coverage``…), except ``serializer``, as with Django's RedisCache, and
``node_down_seconds``. A cluster has one database: a LOCATION with a database other than 0 is
refused. ``clear()`` flushes the database of every primary, as Django's RedisCache flushes its
server's.

**A node that fails is left alone for a while.** redis-py retries a command whose node refuses
or times out, re-reading the slot map each time; against a hung node that is several socket
timeouts per call. Here a connection error or timeout marks the node down for
``node_down_seconds`` (default 5): calls for its slots raise :class:`NodeDown` at once, without a
socket, until one call is let through to try it again (like pymemcache's ``dead_timeout``). The
other nodes are not affected, and CacheManager's circuit breaker counts a ``NodeDown`` against
the alias only when every primary is down.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ImproperlyConfigured
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError, RedisError, TimeoutError

#: Seconds a node that failed is left alone (OPTIONS ``node_down_seconds``).
NODE_DOWN_SECONDS = 5.0


class NodeDown(RedisError):
    """A call to a cluster node that failed less than ``node_down_seconds`` ago, refused without
    a socket. ``everything``: every primary is down (the whole cache is unreachable)."""

    def __init__(self, node: str, seconds_left: float, everything: bool) -> None:
        super().__init__(f"cluster node {node} failed; left alone for {max(0.0, seconds_left):.1f} s more")
        self.node, self.everything = node, everything


class GuardedCluster(RedisCluster):
    """``RedisCluster`` that leaves a failed node alone for ``down_seconds`` (see the module)."""

    def __init__(self, *args: Any, down_seconds: float = NODE_DOWN_SECONDS, **kwargs: Any) -> None:
        self.down_seconds = float(down_seconds)
        #: Node name -> monotonic time until which it is left alone.
        self.down: dict[str, float] = {}
        self._down_lock = threading.Lock()
        super().__init__(*args, **kwargs)  # already sends commands (COMMAND): set up first

    def check_node(self, node: Any) -> None:
        """Raise :class:`NodeDown` if ``node`` is left alone now; after the pause, let this one
        caller through to try it (the others keep failing fast until it answers or fails)."""
        until = self.down.get(node.name)
        if until is None:
            return
        now = time.monotonic()
        with self._down_lock:
            until = self.down.get(node.name)
            if until is None:
                return
            if now >= until:
                self.down[node.name] = now + self.down_seconds  # this caller probes it
                return
        raise NodeDown(node.name, until - now, self.everything_down())

    def mark_down(self, node: Any, exc: BaseException) -> NodeDown:
        self.down[node.name] = time.monotonic() + self.down_seconds
        return NodeDown(node.name, self.down_seconds, self.everything_down())

    def mark_up(self, node: Any) -> None:
        if self.down:
            self.down.pop(node.name, None)

    def everything_down(self) -> bool:
        now = time.monotonic()
        primaries = self.get_primaries()  # type: ignore[no-untyped-call]
        return bool(primaries) and all(self.down.get(node.name, 0.0) > now for node in primaries)

    def _execute_command(self, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        # Every command for one node passes here (redis-py's seam since 4.1); pipelines do not.
        self.check_node(target_node)
        try:
            result = super()._execute_command(target_node, *args, **kwargs)  # type: ignore[no-untyped-call]
        except (ConnectionError, TimeoutError) as exc:
            # Not one of redis-py's retryable types: no further attempt, no new slot-map read.
            raise self.mark_down(target_node, exc) from exc
        self.mark_up(target_node)
        return result


def startup_nodes(servers: list[str]) -> list[tuple[str, int]]:
    """``(host, port)`` of each LOCATION URL (``redis://host:port`` or ``host:port``)."""
    out = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"redis://{server}")
        if parts.path.strip("/") not in ("", "0"):
            raise ImproperlyConfigured(f"Redis Cluster has only database 0; LOCATION {server!r} names another.")
        out.append((parts.hostname or "localhost", parts.port or 6379))
    return out


_clusters: dict[tuple[Any, ...], GuardedCluster] = {}
_clusters_lock = threading.Lock()


def _shared(nodes: list[tuple[str, int]], options: dict[str, Any]) -> GuardedCluster:
    """One ``RedisCluster`` per process for each configuration (it is thread-safe, with a pool
    per node): Django builds a backend instance per thread, and each would otherwise read the slot
    map and learn on its own, by a timeout, that a node is down."""
    key = (tuple(nodes), tuple(sorted((name, repr(value)) for name, value in options.items())))
    with _clusters_lock:
        cluster = _clusters.get(key)
        if cluster is None:
            startup = [ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call]
            cluster = _clusters[key] = GuardedCluster(startup_nodes=startup, **options)
        return cluster


class RedisClusterCacheClient(RedisCacheClient):
    """``RedisCacheClient`` whose client is one ``RedisCluster``, with multi-key calls per slot."""

    def __init__(self, servers: list[str], serializer: Any = None, node_down_seconds: float = NODE_DOWN_SECONDS,
                 **options: Any) -> None:
        super().__init__(servers, serializer=serializer)
        self._nodes = startup_nodes(servers)
        self._cluster_options = {**options, "down_seconds": node_down_seconds}
        self._cluster: Any = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        cluster = self._cluster
        if cluster is None:
            cluster = self._cluster = _shared(self._nodes, self._cluster_options)
        return cluster

    def get_many(self, keys: Any) -> dict[Any, Any]:
        keys = list(keys)
        cluster = self.get_client(None)
        if len({cluster.keyslot(key) for key in keys}) == 1:
            found = cluster.mget(keys)  # one slot (CacheManager's reads): one MGET on its node
        else:
            found = cluster.mget_nonatomic(keys)  # one MGET per slot, in a pipeline
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
