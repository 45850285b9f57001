"""The stored entry: what CacheManager writes under an entry key, and the one test of its validity.

On the server an entry is a plain 5-item sequence ``(TAG, value, generation, soft_expiry,
fetch_seconds)`` of builtins, so it round-trips through every serializer users run: Django's
pickle, and django-redis's JSON and msgpack serializers (which give it back as a list). Nothing
of this module is pickled by reference, so moving or renaming code never breaks stored entries.
:data:`TAG` changes whenever the format does: entries of another format read as misses.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

TAG = "cd2"
#: Matches any generation (entries of keys without a namespace are not versioned).
ANY_GENERATION: Any = object()


class Entry(NamedTuple):
    """A valid entry, as read back."""

    value: Any
    #: The namespace generation it was written under (None without a namespace).
    generation: int | None
    #: Epoch seconds after which the value is stale (None: never).
    soft_expiry: float | None
    #: How long the fetch that produced it took, in seconds (XFetch, and how long waiters wait).
    fetch_seconds: float

    def fresh(self, now: float) -> bool:
        return self.soft_expiry is None or now < self.soft_expiry


def pack(value: Any, generation: int | None, soft_expiry: float | None, fetch_seconds: float) -> tuple[Any, ...]:
    """What is stored on the server for an entry."""
    return (TAG, value, generation, soft_expiry, round(fetch_seconds, 6))


def load(stored: Any, generation: Any = ANY_GENERATION) -> Entry | None:
    """The entry in ``stored`` if it is one of ours, of this format and (unless ``generation`` is
    :data:`ANY_GENERATION`) of that generation; None for anything else (a miss)."""
    if (
        type(stored) in (tuple, list)
        and len(stored) == 5
        and stored[0] == TAG
        and (generation is ANY_GENERATION or stored[2] == generation)
    ):
        return Entry(stored[1], stored[2], stored[3], stored[4])
    return None


def hard_timeout(ttl: float, grace: float) -> int:
    """Seconds the server keeps an entry: its TTL, then up to ``grace`` (at most the TTL) stale.

    Rounded up, plus one second: Django's Redis and memcached backends truncate timeouts to
    whole seconds, and memcached's clock ticks once a second, so an entry given ``n`` seconds
    may vanish after ``n - 1``. Without the margin a 1 s TTL with 1 s of grace could be gone
    before it is ever stale. Freshness never depends on this: the soft expiry stored in the
    entry decides hits, this only bounds how long a stale copy can be served.
    """
    return math.ceil(ttl + min(grace, ttl)) + 1
