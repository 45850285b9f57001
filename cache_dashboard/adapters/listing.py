"""What a backend says about the keys it holds: a page of a listing, and one key read raw.

The key browser (``cache_dashboard.keyspace``) asks an adapter for these; each backend module
fills them its own way (Redis: SCAN and a pipeline per page; memcached: ``lru_crawler
metadump``; LocMem, database and file caches: what their storage shows). Keys are *raw*: as the
server holds them, the cache's ``make_key`` applied. Nothing here decodes a value.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Cursor of a listing that is complete.
DONE = ""


class BadCursor(ValueError):
    """A cursor (or key token) that no page of this listing handed out."""


@dataclass
class ListedKey:
    """One key of a listing page."""

    #: The key as the server holds it.
    raw: bytes
    #: Redis's TYPE (string, hash, list, set, zset, stream); "string" where the backend has no types.
    kind: str = "string"
    #: Seconds left before it expires; None: it never does; ``math.nan``: unknown.
    ttl: float | None = None
    #: Bytes it takes on the server (Redis MEMORY USAGE, a memcached item's size, a row's value), or None.
    size: int | None = None
    #: The server of a pool that holds it ("" for one server).
    server: str = ""
    #: Epoch seconds of its last access, where the backend says (memcached).
    last_access: float | None = None


@dataclass
class KeyPage:
    """One page of a listing: at most about ``count`` keys, and the cursor to the next page."""

    keys: list[ListedKey] = field(default_factory=list)
    #: Where the next page starts (:data:`DONE`: the listing is complete).
    cursor: str = DONE
    #: Keys the server walked for this page (a filter can match few of them).
    scanned: int = 0
    #: The page stopped at its time budget before it was full.
    out_of_time: bool = False


@dataclass
class RawValue:
    """One key read raw: its facts and a bounded part of its content."""

    raw: bytes
    kind: str = "string"
    ttl: float | None = None
    size: int | None = None
    #: Length of the value: bytes of a string, fields/items/members/entries of a container.
    length: int | None = None
    #: A string's first bytes (up to the limit asked for).
    payload: bytes | None = None
    #: A container's page of items: (member,) or (field, value) or (member, score) or (id, fields).
    items: list[tuple[Any, ...]] = field(default_factory=list)
    #: Where the container's next page starts (:data:`DONE`: the last page).
    cursor: str = DONE

    @property
    def truncated(self) -> bool:
        return self.payload is not None and self.length is not None and len(self.payload) < self.length


def page_sorted(names: Iterable[str], match: Callable[[str], bool], cursor: str, count: int) -> tuple[list[str], str]:
    """A keyset page of ``names`` in sorted order: the first ``count`` after ``cursor`` that pass
    ``match``, and the cursor of the next page (for the backends whose whole key set is at hand)."""
    after = [name for name in names if name > cursor and match(name)] if cursor else [n for n in names if match(n)]
    after.sort()
    shown = after[:count]
    return shown, (shown[-1] if len(after) > count else DONE)


def seconds_left(expiry: float | None, now: float) -> float | None:
    """Seconds from ``now`` to an expiry in epoch seconds (None: never expires)."""
    return None if expiry is None else max(0.0, float(expiry) - now)


class _NoGlobals(pickle.Unpickler):
    """Reads plain data only (numbers, strings, tuples…): any class or function named by the
    pickle stops it, so nothing is imported or called."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: {module}.{name}")


def plain_unpickle(stream: Any) -> Any:
    """One pickled object of builtins only, from a binary stream (a file cache's expiry time)."""
    return _NoGlobals(stream).load()
