"""The stored entry: what CacheManager writes under an entry key, and the one test of its validity.

On the server an entry is a plain 5-item sequence ``(TAG, value, generation, soft_expiry,
fetch_seconds)`` of builtins, so it round-trips through every serializer users run: Django's
pickle, and django-redis's JSON and msgpack serializers (which give it back as a list). Nothing
of this module is pickled by reference, so moving or renaming code never breaks stored entries.
:data:`TAG` changes whenever the format does: entries of another format read as misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TAG = "cd2"

#: A valid entry as read back: ``(TAG, value, generation, soft_expiry, fetch_seconds)``, a tuple
#: (a list from JSON and msgpack serializers). Read as is, never copied into another object: the
#: hit path allocates nothing for it. Its fields, by position:
Entry = Sequence[Any]
#: The cached value.
VALUE = 1
#: The namespace generation it was written under (None without a namespace).
GENERATION = 2
#: Epoch seconds after which the value is stale (None: never).
SOFT_EXPIRY = 3
#: How long the fetch that produced it took, in seconds (XFetch, and how long waiters wait).
FETCH_SECONDS = 4


def pack(value: Any, generation: int | None, soft_expiry: float | None, fetch_seconds: float) -> tuple[Any, ...]:
    """What is stored on the server for an entry."""
    return (TAG, value, generation, soft_expiry, round(fetch_seconds, 6))


def load(stored: Any, generation: int | None) -> Entry | None:
    """``stored`` if it is an entry of ours, of this format and of namespace generation
    ``generation`` (None for a key without namespace, whose entries carry None); None for anything
    else (a miss). The one test of an entry's validity."""
    if type(stored) in (tuple, list) and len(stored) == 5 and stored[0] == TAG and stored[2] == generation:
        entry: Entry = stored
        return entry
    return None


def fresh(entry: Entry, now: float) -> bool:
    """Whether a valid entry is still fresh at ``now`` (else it is stale: servable while refreshed)."""
    soft = entry[SOFT_EXPIRY]
    return soft is None or now < soft


def hard_timeout(ttl: float, grace: float) -> int:
    """Seconds the server keeps an entry: its TTL, then up to ``grace`` (at most the TTL) stale.

    Rounded up, plus one second: Django's Redis and memcached backends truncate timeouts to
    whole seconds, and memcached's clock ticks once a second, so an entry given ``n`` seconds
    may vanish after ``n - 1``. Without the margin a 1 s TTL with 1 s of grace could be gone
    before it is ever stale. Freshness never depends on this: the soft expiry stored in the
    entry decides hits, this only bounds how long a stale copy can be served.
    """
    return math.ceil(ttl + min(grace, ttl)) + 1
