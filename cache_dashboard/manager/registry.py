"""Negative cache: entries marked invalid with a reason, exact under concurrency, on every backend.

There is no shared dict to read-modify-write. Each marked key is its own cache entry (with its own
TTL), and a per-namespace append-only log makes them listable on backends that cannot list keys
(memcached): ``seq = incr(r:{ns}:seq)`` is atomic, then ``log:{seq}`` names the entry. Listing
reads the log slots that are still alive and keeps an entry only if it still carries the sequence
number of the slot that names it (a re-marked key is counted once). Expired entries drop out by
themselves: their log slot expires with them.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import Adapter
from cache_dashboard.keys import KeyLayout

CHUNK = 1000
#: Slots this close to the head are never skipped by the low-water mark (writers may be between
#: ``incr`` and writing the slot).
IN_FLIGHT = 1000


#: The documented fields of an entry (``seq`` is internal).
PUBLIC_FIELDS = ("key", "namespace", "reason", "detail", "marked_at", "expires_at")


def mark(
    cache: BaseCache, adapter: Adapter, kb: KeyLayout, nns: str, nkey: str, info: dict[str, Any],
    ttl: float | None,
) -> dict[str, Any]:
    """Store ``info`` as the entry of ``nkey`` and append it to the namespace's log."""
    seq = adapter.incr(kb.registry_seq(nns), 1, None)
    info = {**info, "seq": seq}
    # Outlive the logical expiry (``expires_at``, checked on read): backends truncate to whole seconds.
    timeout = None if ttl is None else math.ceil(ttl) + 1
    cache.set_many(
        {kb.registry_log(nns, seq): nkey, kb.registry_entry(nns, nkey): info}, timeout
    )
    return info


def read(cache: BaseCache, kb: KeyLayout, nns: str, nkey: str) -> dict[str, Any] | None:
    """The live entry of ``nkey``, or None."""
    info = cache.get(kb.registry_entry(nns, nkey))
    if not isinstance(info, dict) or _expired(info, time.time()):
        return None
    return info


def entries(cache: BaseCache, kb: KeyLayout, nns: str) -> list[dict[str, Any]]:
    """Live entries of a namespace, newest first."""
    got = cache.get_many([kb.registry_seq(nns), kb.registry_low(nns)])
    head = int(got.get(kb.registry_seq(nns)) or 0)
    low = max(1, int(got.get(kb.registry_low(nns)) or 1))
    slots: dict[int, str] = {}
    first_live = None
    for start in range(low, head + 1, CHUNK):
        seqs = range(start, min(head, start + CHUNK - 1) + 1)
        found = cache.get_many([kb.registry_log(nns, s) for s in seqs])
        for s in seqs:
            nkey = found.get(kb.registry_log(nns, s))
            if nkey is not None:
                slots[s] = nkey
                if first_live is None:
                    first_live = s
    # Advance the low-water mark over the expired prefix so listing stays proportional to the
    # live entries, but never into the in-flight window next to the head.
    new_low = min(first_live if first_live is not None else head + 1, head - IN_FLIGHT)
    if new_low > low:
        cache.set(kb.registry_low(nns), new_low, None)

    by_key = {kb.registry_entry(nns, nkey): s for s, nkey in slots.items()}
    infos: dict[str, Any] = {}
    keys = list(by_key)
    for start in range(0, len(keys), CHUNK):
        infos.update(cache.get_many(keys[start : start + CHUNK]))
    now = time.time()
    live = [
        info for key, info in infos.items()
        if isinstance(info, dict) and info.get("seq") == by_key[key] and not _expired(info, now)
    ]
    live.sort(key=lambda info: (info["marked_at"], info["seq"]), reverse=True)
    return live


def _expired(info: dict[str, Any], now: float) -> bool:
    expires = info.get("expires_at")
    return expires is not None and expires <= now


def public(info: dict[str, Any]) -> dict[str, Any]:
    """The documented fields of an entry (drops the internal sequence number)."""
    return {k: info.get(k) for k in PUBLIC_FIELDS}
