"""Redis Cluster (``cache_dashboard.backends.redis_cluster.RedisClusterCache``): the Redis
strategies per node — SCAN, UNLINK and INFO on every primary, pipelines on the node of a hash tag.

Every key CacheManager reads or writes together shares a hash tag (``cache_dashboard.keys``), so
the hit path stays one round trip to one node; the statistics live on the node of ``{s}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from django.utils.translation import gettext as _

from cache_dashboard.adapters.listing import DONE, BadCursor, KeyPage
from cache_dashboard.adapters.redis import SCAN_COUNT, RedisAdapter, by_hash_tag
from cache_dashboard.backends.redis_cluster import NodeDown

#: Slots of a Redis Cluster.
SLOTS = 16384


class RedisClusterAdapter(RedisAdapter):
    name = "redis_cluster"
    #: Django's RedisCache reader builds clients of its own; reads go through the backend here.
    fast_reader = None

    def client(self) -> Any:
        """The backend's one ``RedisCluster`` (shared by the backend instance's threads)."""
        return self._client_obj().get_client(write=True)

    def client_for(self, raw_key: str) -> Any:
        cluster = self.client()
        node = cluster.get_node_from_key(raw_key)
        cluster.check_node(node)  # a node left alone after a failure: NodeDown at once
        return cluster.get_redis_connection(node)

    def walk_unlink_unmarked(self, prefix: str, skip: int, markers: Mapping[bytes, bytes],
                             pace: Callable[[float], None] | None = None, count: int = SCAN_COUNT) -> int | None:
        return None  # a script may only touch the keys it declares, of one slot: the client walks

    def _script_groups(self, keys: list[bytes]) -> list[list[bytes]]:
        return by_hash_tag(keys)  # one slot per script or multi-key call, as Redis Cluster requires

    def contains(self, exc: BaseException) -> bool:
        return isinstance(exc, NodeDown) and not exc.everything

    def sentinel(self) -> None:
        return None

    def primaries(self) -> list[Any]:
        """The primary nodes, in a stable order (by address)."""
        return sorted(self.client().get_primaries(), key=lambda node: (node.host, node.port))

    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        def queue(pipe: Any) -> None:
            pipe.set(self.raw_key(add_key), self.encode(value), nx=True, ex=_ex(timeout))
            pipe.get(self.raw_key(get_key))

        added, raw = self._on_node(add_key, queue)
        return bool(added), None if raw is None else self.decode(raw)

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        def queue(pipe: Any) -> None:
            pipe.set(self.raw_key(set_key), self.encode(value), ex=_ex(timeout))
            pipe.delete(self.raw_key(delete_key))

        self._on_node(set_key, queue)

    def _on_node(self, key: str, queue: Callable[[Any], None]) -> list[Any]:
        """One pipeline on the node of ``key``'s hash tag (the miss path's two keys share it): one
        round trip, where a cluster pipeline routes each command on its own. A node that fails
        is left alone, as for every other command (``GuardedCluster``)."""
        from redis.exceptions import ConnectionError, TimeoutError

        cluster = self.client()
        node = cluster.get_node_from_key(self.raw_key(key))
        cluster.check_node(node)
        pipe = cluster.get_redis_connection(node).pipeline(transaction=False)
        queue(pipe)
        try:
            answers = list(pipe.execute())
        except (ConnectionError, TimeoutError) as exc:
            raise cluster.mark_down(node, exc) from exc
        cluster.mark_up(node)
        return answers

    def read_ints(self, keys: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        client = self.client()
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            for key, value in zip(chunk, client.mget_nonatomic([self.raw_key(k) for k in chunk]), strict=True):
                try:
                    out[key] = int(value)
                except (TypeError, ValueError):
                    continue
        return out

    # -- the key browser: one primary after another, the cursor names the node ----------------
    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """SCAN the primaries in address order; the cursor is ``<node>:<position>``."""
        node_no, position = 0, 0
        if cursor:
            node, _colon, at = cursor.partition(":")
            if not (node.isdigit() and at.isdigit()):
                raise BadCursor(cursor)
            node_no, position = int(node), int(at)
        primaries, cluster = self.primaries(), self.client()
        if node_no >= len(primaries):
            raise BadCursor(cursor)
        deadline = time.monotonic() + budget
        out = KeyPage()
        while True:
            page = self._list_from(cluster.get_redis_connection(primaries[node_no]), position, match,
                                   count - len(out.keys), deadline)
            out.keys += page.keys
            out.scanned += page.scanned
            out.out_of_time = page.out_of_time
            if page.cursor != DONE:
                out.cursor = f"{node_no}:{page.cursor}"
                return out
            node_no, position = node_no + 1, 0
            if node_no >= len(primaries):
                out.cursor = DONE
                return out
            if len(out.keys) >= count or time.monotonic() >= deadline:
                out.cursor = f"{node_no}:0"
                out.out_of_time = len(out.keys) < count
                return out

    # -- health: every node, with the slots it serves -----------------------------------------
    def servers(self) -> list[str]:
        return self._locations()

    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        """One row per node the cluster knows (INFO), with its role and its share of the slots;
        a warning when some slots have no primary that answers."""
        try:
            cluster = self.client()
            nodes = sorted(cluster.get_nodes(), key=lambda node: (node.host, node.port))
            slots = _slots_by_node(cluster)
        except Exception as exc:  # no startup node answers
            return [{"address": self.location_display(), "ok": False, "error": self.describe(exc)}]
        rows = []
        for node in nodes:
            address = f"{node.host}:{node.port}"
            row: dict[str, Any] = {"address": self.mask(address), "db": "0", "ok": False, "error": None}
            self._info_row(row, timeout, host=node.host, port=node.port, **self.connection_kwargs())
            served = slots.get(address, 0)
            row["slots"] = served
            notes = [_("%(slots)s of %(all)s slots") % {"slots": served, "all": SLOTS}] if served else []
            left = cluster.down.get(node.name, 0.0) - time.monotonic()
            if left > 0:
                notes.append(_("left alone for %(seconds).1f s more after an error: its keys fail open")
                             % {"seconds": left})
            row["note"] = "; ".join(notes)
            rows.append(row)
        covered = sum(slots.get(row["address"], 0) for row in rows if row["ok"])
        if rows and covered < SLOTS:
            rows[0]["warning"] = _("%(missing)s of %(all)s slots have no primary that answers: keys in them "
                                   "fail open (their calls go to the fetch function).") % {
                "missing": SLOTS - covered, "all": SLOTS}
        return rows

    def summarize_server(self, row: Mapping[str, Any]) -> dict[str, Any]:
        summary = super().summarize_server(row)
        summary["role"] = row.get("role")
        return summary


def _slots_by_node(cluster: Any) -> dict[str, int]:
    """Slots per primary address, from the client's slot map."""
    out: dict[str, int] = {}
    for slot, nodes in cluster.nodes_manager.slots_cache.items():
        if nodes and 0 <= slot < SLOTS:
            primary = nodes[0]
            address = f"{primary.host}:{primary.port}"
            out[address] = out.get(address, 0) + 1
    return out


def _ex(timeout: float | None) -> int | None:
    return None if timeout is None else max(1, int(timeout))
