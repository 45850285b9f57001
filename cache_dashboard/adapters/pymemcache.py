"""PyMemcacheCache: atomic add/incr, no key listing, ``stats`` per server of the pool."""

from __future__ import annotations

from typing import Any

from cache_dashboard.adapters.base import Adapter, Capabilities, hit_ratio

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
