"""PyMemcacheCache: atomic add/incr, no key listing, ``stats`` per server of the pool."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.core.checks import CheckMessage, Warning

from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.fastread import FastReader
from cache_dashboard.adapters.fastread.pymemcache import PyMemcacheReader
from cache_dashboard.formatting import hit_ratio

STATS_FIELDS = (
    "version", "uptime", "curr_items", "bytes", "limit_maxbytes",
    "get_hits", "get_misses", "evictions", "curr_connections", "expired_unfetched",
)
#: ``stats`` names -> the common names of ``Adapter.summarize_server``.
_SUMMARY = {
    "bytes": "memory", "limit_maxbytes": "memory_limit", "curr_items": "items",
    "curr_connections": "connections", "get_hits": "hits", "get_misses": "misses",
    "expired_unfetched": "expired",
}
#: Longest KEY_PREFIX that leaves room for our keys within memcached's 250-byte limit.
MAX_KEY_PREFIX = 60


def _server_tuple(server: str) -> Any:
    if server.startswith("unix:"):
        return server[5:]
    host, _, port = server.rpartition(":")
    return (host or server, int(port) if port.isdigit() else 11211)


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
                row["ok"] = True
            except Exception as exc:
                row["error"] = self.describe(exc)
            finally:
                if client is not None:
                    client.close()
            out.append(row)
        return out

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
