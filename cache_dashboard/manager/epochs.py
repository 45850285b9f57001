"""The counters that version keys: the epoch (``clear_all``) and namespace generations
(``invalidate_namespace``). Moving a counter on makes every key it versions unreachable at once,
in every process, in O(1) on every backend."""

from __future__ import annotations

import time

from django.core.cache.backends.base import BaseCache

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import KeyLayout, epoch_key

#: Seconds a process trusts its copy of the epoch: after ``clear_all`` every process writes to the
#: new epoch within this time.
EPOCH_REFRESH = 1.0

_layouts: dict[str, tuple[KeyLayout, float]] = {}


def fresh_counter() -> int:
    """A starting value for an epoch or generation: time-based, so a counter that was evicted and
    created again never comes back to a value that old keys carry."""
    return int(time.time() * 1000)


def bump(alias: str, key: str) -> int:
    """Move the counter ``key`` on (atomically); a missing one starts from :func:`fresh_counter`."""
    return get_adapter(alias).incr(key, 1, None, initial=fresh_counter())


def _created(alias: str, cache: BaseCache, key: str) -> int:
    """Create a missing counter; the value we added, or the primary's if another writer was first
    (a read replica may not have it yet)."""
    fresh = fresh_counter()
    return fresh if cache.add(key, fresh, None) else int(get_adapter(alias).get_primary(key))


def layout(alias: str, cache: BaseCache) -> KeyLayout:
    """The key layout of the current epoch (re-read at most every :data:`EPOCH_REFRESH` seconds)."""
    now = time.monotonic()
    cached = _layouts.get(alias)
    if cached is not None and now - cached[1] < EPOCH_REFRESH:
        return cached[0]
    key = epoch_key()
    epoch = cache.get(key)
    epoch = int(epoch) if epoch is not None else _created(alias, cache, key)
    found = cached[0] if cached is not None and cached[0].epoch == epoch else None
    if found is None:
        found = KeyLayout(get_setting("KEY_PREFIX"), epoch)
    _layouts[alias] = (found, now)
    return found


def advance(alias: str, cache: BaseCache) -> KeyLayout:
    """Move ``alias`` to a new epoch; returns the old epoch's layout (whose keys are now unreachable)."""
    old = layout(alias, cache)
    bump(alias, epoch_key())
    forget(alias)
    layout(alias, cache)
    return old


def forget(alias: str | None = None) -> None:
    """Drop this process's copy of the epoch of ``alias`` (or of every alias)."""
    if alias is None:
        _layouts.clear()
    else:
        _layouts.pop(alias, None)


def generation(alias: str, cache: BaseCache, keys: KeyLayout, nns: str) -> int:
    """The current generation of namespace ``nns``, created if missing."""
    key = keys.generation(nns)
    found = cache.get(key)
    return int(found) if found is not None else _created(alias, cache, key)


def ensure_generation(alias: str, cache: BaseCache, keys: KeyLayout, nns: str, seen: int | None) -> int:
    """``seen`` (read on the hit path), or the generation created now when there was none."""
    return seen if seen is not None else _created(alias, cache, keys.generation(nns))
