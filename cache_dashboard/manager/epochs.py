"""The counters that version keys: the epoch (``clear_all``) and namespace generations
(``invalidate_namespace``). Moving a counter on makes every key it versions unreachable at once,
in every process, in O(1) on every backend."""

from __future__ import annotations

import time

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
    return get_adapter(alias).bump_version(key, fresh_counter())


def _created(alias: str, key: str) -> int:
    """Create a missing counter; the value we added, or another writer's if it was first."""
    return get_adapter(alias).create_version(key, fresh_counter())


def layout(alias: str) -> KeyLayout:
    """The key layout of the current epoch (re-read at most every :data:`EPOCH_REFRESH` seconds)."""
    found = trusted(alias)
    if found is not None:
        return found
    key = epoch_key()
    epoch = get_adapter(alias).version(key)
    return remember(alias, epoch if epoch is not None else _created(alias, key))


def trusted(alias: str) -> KeyLayout | None:
    """This process's copy of the layout while it is trusted (None: read the epoch again)."""
    cached = _layouts.get(alias)
    if cached is not None and time.monotonic() - cached[1] < EPOCH_REFRESH:
        return cached[0]
    return None


def remember(alias: str, epoch: int) -> KeyLayout:
    """The layout of ``epoch``, trusted for :data:`EPOCH_REFRESH` seconds from now (the async API
    reads the epoch itself, then remembers it here)."""
    cached = _layouts.get(alias)
    found = cached[0] if cached is not None and cached[0].epoch == epoch else None
    if found is None:
        found = KeyLayout(get_setting("KEY_PREFIX"), epoch)
    _layouts[alias] = (found, time.monotonic())
    return found


def advance(alias: str) -> KeyLayout:
    """Move ``alias`` to a new epoch; returns the old epoch's layout (whose keys are now unreachable)."""
    old = layout(alias)
    bump(alias, epoch_key())
    forget(alias)
    layout(alias)
    return old


def forget(alias: str | None = None) -> None:
    """Drop this process's copy of the epoch of ``alias`` (or of every alias)."""
    if alias is None:
        _layouts.clear()
    else:
        _layouts.pop(alias, None)


def generation(alias: str, keys: KeyLayout, nns: str) -> int:
    """The current generation of namespace ``nns``, created if missing."""
    key = keys.generation(nns)
    found = get_adapter(alias).version(key)
    return found if found is not None else _created(alias, key)


def ensure_generation(alias: str, keys: KeyLayout, nns: str, seen: int | None) -> int:
    """``seen`` (read on the hit path), or the generation created now when there was none."""
    return seen if seen is not None else _created(alias, keys.generation(nns))
