"""PyMemcacheCache: atomic add/incr, no key listing, ``stats`` per server of the pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from django.core.checks import CheckMessage, Warning

from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.fastread import FastReader, key_maker
from cache_dashboard.adapters.fastread.pymemcache import PyMemcacheReader
from cache_dashboard.formatting import hit_ratio

STATS_FIELDS = (
    "version", "uptime", "curr_items", "bytes", "limit_maxbytes",
    "get_hits", "get_misses", "evictions", "curr_connections", "expired_unfetched",
)
#: The ``stats`` counters of commands served, added up as the report's ``commands``.
COMMAND_STATS = (
    "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "delete_hits", "delete_misses", "incr_hits",
    "incr_misses", "decr_hits", "decr_misses", "cas_hits", "cas_misses", "cas_badval",
)
#: ``stats`` names -> the common names of ``Adapter.summarize_server``.
_SUMMARY = {
    "bytes": "memory", "limit_maxbytes": "memory_limit", "curr_items": "items",
    "curr_connections": "connections", "get_hits": "hits", "get_misses": "misses",
    "expired_unfetched": "expired",
}
#: Attribute of a backend instance holding what the miss path's writes use (see ``_client``).
WRITER_ATTR = "_cache_dashboard_writer"
#: Longest KEY_PREFIX that leaves room for our keys within memcached's 250-byte limit.
MAX_KEY_PREFIX = 60


def _server_tuple(server: str) -> Any:
    if server.startswith("unix:"):
        return server[5:]
    host, _, port = server.rpartition(":")
    return (host or server, int(port) if port.isdigit() else 11211)


def _single(hashed: Any) -> Any:
    """The client of the one live server of ``hashed`` (a ``HashClient``), or None (several, or
    one marked dead: HashClient's own routing and retries apply)."""
    nodes = hashed.hasher.nodes
    if hashed._dead_clients or len(nodes) != 1:
        return None
    return hashed.clients[nodes[0]]


class PyMemcacheAdapter(Adapter):
    name = "memcached"
    capabilities = Capabilities(server_stats=True)
    timeout_options: ClassVar[tuple[str, ...]] = ("timeout", "connect_timeout")
    fast_reader: ClassVar[FastReader | None] = PyMemcacheReader()

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
                row["commands"] = sum(value for name in COMMAND_STATS
                                      if isinstance(value := stats.get(name), int) and not isinstance(value, bool))
                row["ok"] = True
            except Exception as exc:
                row["error"] = self.describe(exc)
            finally:
                if client is not None:
                    client.close()
            out.append(row)
        return out

    # -- the miss path: one round trip per step ------------------------------------------------
    def _client(self) -> tuple[Any, Callable[[str], str]] | None:
        """The backend's own ``HashClient`` for the miss path's ``noreply`` commands and the key
        maker (:func:`~cache_dashboard.adapters.fastread.key_maker`), probed once per backend
        instance; None for Django's public API: a tool wrapped this instance's methods (let it see
        the calls), a subclass changed them, a client of the user's own, a pool of connections
        (whose commands are not ordered with each other), or sockets without ``no_delay``."""
        cache: Any = self.cache
        attrs = cache.__dict__
        if "add" in attrs or "set" in attrs or "delete" in attrs or "get_many" in attrs:
            return None
        try:
            return attrs[WRITER_ATTR]  # type: ignore[no-any-return]
        except KeyError:
            pass
        found = self._probe(cache)
        attrs[WRITER_ATTR] = found
        return found

    @staticmethod
    def _probe(cache: Any) -> tuple[Any, Callable[[str], str]] | None:
        from django.core.cache.backends.memcached import BaseMemcachedCache
        from pymemcache.client.hash import HashClient

        backend = type(cache)
        if any(getattr(backend, name) is not getattr(BaseMemcachedCache, name) for name in ("add", "set", "delete")):
            return None
        client = getattr(cache, "_cache", None)
        if type(client) is not HashClient or getattr(client, "use_pooling", True):
            return None
        if not (isinstance(getattr(getattr(client, "hasher", None), "nodes", None), list)
                and isinstance(getattr(client, "_dead_clients", None), dict)
                and isinstance(getattr(client, "clients", None), dict)
                and callable(getattr(client, "_safely_run_func", None))):
            return None  # HashClient's internals changed (the fast reader warns about it): public API
        if not (getattr(client, "default_kwargs", None) or {}).get("no_delay"):
            # Without TCP_NODELAY a command sent after a noreply one waits for the server's
            # delayed ACK (Nagle): ~40 ms. OPTIONS {"no_delay": True} is the fast setup.
            return None
        return client, key_maker(cache)

    def _direct(self, timeout: float | None, *keys: str) -> tuple[Callable[..., Any], list[str], Any] | None:
        """``(call, raw keys, expire)`` for the one-round-trip methods, or None (Django's API then):
        ``call(name, default, *args)`` runs a client command through HashClient, or — one server
        in rotation — through its own failure handling minus its pure-Python key hashing."""
        found = self._client()
        if found is None:
            return None
        hashed, make = found
        expire = self.cache.get_backend_timeout(timeout)
        server = _single(hashed)
        if server is None:
            def call(name: str, default: Any, *args: Any, **kwargs: Any) -> Any:
                return getattr(hashed, name)(*args, **kwargs)
        else:
            run = hashed._safely_run_func

            def call(name: str, default: Any, *args: Any, **kwargs: Any) -> Any:
                return run(server, getattr(server, name), default, *args, **kwargs)
        return call, [make(key) for key in keys], expire

    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        """The ``add`` sent without waiting (``noreply``), then one ``get_many`` of the lock and the
        entry on the same connection: memcached runs a connection's commands in order, so the lock
        read back holds our value exactly when our ``add`` took it. One round trip."""
        direct = self._direct(timeout, add_key, get_key)
        if direct is None:
            return super().add_and_get(add_key, value, timeout, get_key)
        call, (lock, entry), expire = direct
        call("add", False, lock, value, expire, noreply=True)
        got = call("get_many", {}, [lock, entry])
        held = got.get(lock)
        if held is None:  # the server did not take the add (a failing server): ask, with a reply
            return bool(call("add", False, lock, value, expire, noreply=False)), got.get(entry)
        return held == value, got.get(entry)

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        """The entry stored as Django's ``set`` does (a value memcached refuses is deleted), the
        lock released with ``noreply`` behind it: one round trip."""
        direct = self._direct(timeout, set_key, delete_key)
        if direct is None:
            super().set_and_delete(set_key, value, timeout, delete_key)
            return
        call, (entry, lock), expire = direct
        if not call("set", False, entry, value, expire, noreply=False):
            call("delete", False, entry, noreply=True)
        call("delete", False, lock, noreply=True)

    def summarize_server(self, row: Mapping[str, Any]) -> dict[str, Any]:
        summary = super().summarize_server(row)
        summary.update({ours: row.get(theirs) for theirs, ours in _SUMMARY.items()})
        return summary

    def _checks(self) -> Iterator[CheckMessage]:
        yield from super()._checks()
        key_prefix = str(self.params.get("KEY_PREFIX", ""))
        if len(key_prefix) > MAX_KEY_PREFIX:
            yield Warning(
                f"KEY_PREFIX of cache alias {self.alias!r} is {len(key_prefix)} characters; memcached keys are "
                "limited to 250 bytes, which leaves too little room for cache_dashboard's keys.",
                id="cache_dashboard.W004",
            )
