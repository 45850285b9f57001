"""What a cache backend can do for CacheManager: the generic adapter, over Django's cache API alone.

Each backend's module subclasses :class:`Adapter` and owns every quirk of that backend: what it
can do (:class:`Capabilities`), its timeout options, how its server statistics read, what its
health report must say, its system checks and, optionally, a faster reader for the hit path
(``adapters.fastread``). Nothing outside ``adapters/`` asks which backend it is talking to.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from cache_dashboard.adapters.aio import AsyncOps, NotNative
from cache_dashboard.adapters.fastread import READERS_ATTR, FastReader, Readers, public_readers, readers_for
from cache_dashboard.adapters.listing import DONE, KeyPage, RawValue
from cache_dashboard.exceptions import UnsupportedOperation
from cache_dashboard.formatting import describe_error, mask_secrets, option_secrets

#: alias -> this thread's backend instance (in the ``__dict__`` of a ``threading.local``).
_instances = threading.local()


def instance(alias: str) -> BaseCache:
    """``caches[alias]``, remembered for this thread. ``caches[alias]`` goes through asgiref's
    context-local storage (a lock and several calls: 1.1 µs, an eighth of a LocMem hit, and ten
    of them on a miss). In a sync thread (WSGI, commands, workers) the remembered instance is
    exactly the one Django keeps for the thread; in an event loop's thread Django would make one
    per request context, and one per thread serves them as well, since sync calls in one thread
    never overlap. Forgotten when ``CACHES`` changes (:func:`forget_instances`), as Django's are."""
    known = _instances.__dict__
    try:
        return known[alias]  # type: ignore[no-any-return]
    except KeyError:
        found = known[alias] = caches[alias]
        return found


def forget_instances() -> None:
    """Drop every thread's remembered instances (they are looked up again on next use)."""
    global _instances
    _instances = threading.local()


@dataclass(frozen=True)
class Capabilities:
    """What a backend can back; the manager refuses and the admin hides what is False."""

    #: Keys can be listed by pattern (SCAN): pattern invalidation and counts, physical purges.
    pattern_invalidation: bool = False
    #: The health report carries statistics per server (Redis INFO, memcached ``stats``).
    server_stats: bool = False
    #: Counters live in a store every worker process shares (False: per process).
    shared_stats: bool = True
    #: Invalidated entries are deleted at once (SCAN + UNLINK), not left to expire.
    physical_purge: bool = False
    #: The backend keeps what it is given (False for DummyCache).
    stores_values: bool = True
    #: Sorted sets and server-side scripts (the negative cache keeps its counts in them).
    sorted_sets: bool = False
    #: The cache is this process's memory (state that goes with it can live in the process too).
    process_local: bool = False
    #: Its keys can be listed page by page and read raw (the key browser).
    key_browsing: bool = False

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


#: One server's statistics under the same names on every backend (``Adapter.summarize_server``).
SUMMARY_FIELDS = (
    "address", "ok", "error", "role", "software", "version", "uptime", "memory", "memory_limit", "items",
    "connections", "hits", "misses", "hit_ratio", "evictions", "expired", "db", "db_keys", "ops_per_sec",
    "commands", "note",
)


class Adapter:
    """Generic adapter: everything through Django's cache API. Subclasses override what their
    backend does better (atomic pipelines, SCAN, server statistics) and declare its quirks."""

    name = "unknown"
    capabilities = Capabilities()
    #: Health probes of network backends run in a thread so a hung server cannot block the caller.
    probe_in_thread = True
    #: OPTIONS that bound how long a call to a hung server can block (system check W003).
    timeout_options: ClassVar[tuple[str, ...]] = ()
    #: The optional faster hit-path reader (None: Django's public ``get``/``get_many``).
    fast_reader: ClassVar[FastReader | None] = None
    #: The key browser lists hashes of keys, not keys (FileBasedCache names its files so).
    names_are_hashes: ClassVar[bool] = False

    def __init__(self, alias: str, params: Mapping[str, Any]) -> None:
        self.alias = alias
        self.params = params

    def __repr__(self) -> str:
        return f"<{type(self).__name__} alias={self.alias!r}>"

    @property
    def cache(self) -> BaseCache:
        # This thread's instance: Django keeps one backend instance per thread (pymemcache clients
        # must never be shared between threads).
        return instance(self.alias)

    # -- location and secrets -----------------------------------------------------------------
    def servers(self) -> list[str]:
        location = self.params.get("LOCATION", "")
        if isinstance(location, str):
            return [s for s in re.split("[;,]", location) if s]
        return list(location or [])

    def secrets(self) -> list[str]:
        """Secret values of this alias's configuration (masked wherever text is shown)."""
        return option_secrets(self.params.get("OPTIONS"))

    def location_display(self) -> str:
        return self.mask(", ".join(self.servers()))

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets())

    def describe(self, exc: BaseException) -> str:
        """An exception of this backend as staff may read it (secrets masked)."""
        return describe_error(exc, self.secrets())

    def get_primary(self, key: str) -> Any:
        """Read ``key`` where writes go (matters with read replicas: read-your-own-writes)."""
        return self.cache.get(key)

    # -- the miss path: two steps, each one round trip where the backend can -----------------------
    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        """``cache.add(add_key, value, timeout)`` (taking a stampede lock), then ``cache.get(get_key)``.

        The miss path's locks go through :meth:`add_and_get`, :meth:`get_lock`,
        :meth:`lock_and_get`, :meth:`set_and_delete` and :meth:`release_lock` only, so a backend
        may keep them elsewhere than in the cache (LocMem: in process memory)."""
        cache = self.cache
        return bool(cache.add(add_key, value, timeout)), cache.get(get_key)

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        """``cache.set(set_key, value, timeout)`` (storing an entry), then ``cache.delete(delete_key)``."""
        cache = self.cache
        cache.set(set_key, value, timeout)
        cache.delete(delete_key)

    def get_lock(self, key: str) -> Any:
        """The value of the stampede lock ``key`` (taken by :meth:`add_and_get`), None when free."""
        return self.cache.get(key)

    def lock_and_get(self, lock_key: str, get_key: str) -> tuple[Any, Any]:
        """The lock's value and ``cache.get(get_key)``, in one round trip (a waiter's poll)."""
        got = self.cache.get_many([get_key, lock_key])
        return got.get(lock_key), got.get(get_key)

    def release_lock(self, key: str) -> None:
        """Free the stampede lock ``key``."""
        self.cache.delete(key)

    # -- hit path -----------------------------------------------------------------------------
    def readers(self, cache: BaseCache) -> Readers:
        """``(one, pair)`` for the backend instance ``cache``, built once and kept on it.

        ``one(key)`` is ``cache.get(key)``; ``pair(k1, k2)`` is a namespace generation (as
        :meth:`version` reads it: ``cache.get(k1)`` unless the adapter keeps versions elsewhere)
        and ``cache.get(k2)``, in one round trip. Missing keys read as None; keys are
        CacheManager's (before the cache's ``make_key``); errors propagate (the caller's circuit
        breaker counts them). Built by :attr:`fast_reader` when it fits this backend instance,
        else Django's public API.
        """
        built = readers_for(cache, self.fast_reader, self.alias)
        try:
            setattr(cache, READERS_ATTR, built)
        except AttributeError:  # pragma: no cover - a backend with __slots__: rebuilt per call
            pass
        return built

    def fast_read_problem(self) -> str | None:
        """Why the fast reader cannot be used with this alias's stock backend (an upstream change),
        or None when it can or does not apply. Builds nothing on the server."""
        if self.fast_reader is None:
            return None
        return self.fast_reader.problem(self.cache)

    def public_readers(self, cache: BaseCache) -> Readers:
        """The readers through Django's own ``get``/``get_many`` (what a tool that wrapped them
        sees), for when the fast readers must not be used."""
        return public_readers(cache)

    # -- native async (``CacheManager.aget`` & co.) ---------------------------------------------------
    def async_ops(self) -> AsyncOps:
        """A client of this alias's server for the running event loop (``adapters.aio``), built
        from the alias's own connection settings. Raises :class:`~cache_dashboard.adapters.aio.NotNative`
        (with the reason) where there is none: the async API then runs the sync call in a thread."""
        raise NotNative(self.async_problem() or f"the {self.name} backend has no native async client")

    def async_problem(self) -> str | None:
        """Why the async API runs this alias's calls in a thread (None: it is native). Builds no
        connection."""
        return f"the {self.name} backend has no native async client"

    # -- version counters: the epoch and namespace generations (``manager.epochs``) ----------------
    def version(self, key: str) -> int | None:
        """The value of a version counter, or None when it does not exist."""
        found = self.cache.get(key)
        return None if found is None else int(found)

    def versions_and_values(self, version_keys: list[str], keys: list[str]) -> tuple[dict[str, int], dict[str, Any]]:
        """Version counters (those that exist) and values, in one multi-key read."""
        found = self.cache.get_many([*version_keys, *keys])
        return {k: int(found[k]) for k in version_keys if found.get(k) is not None}, found

    def create_version(self, key: str, value: int) -> int:
        """Create a missing version counter with ``value``; the value it holds (another writer's, if
        it was first; read where writes go, since a replica may not have it yet)."""
        if self.cache.add(key, value, None):
            return value
        return int(self._answered(key, self.get_primary(key)))

    def bump_version(self, key: str, initial: int) -> int:
        """Move a version counter on, atomically; a missing one starts from ``initial``."""
        return self.incr(key, 1, None, initial=initial)

    # -- counters -----------------------------------------------------------------------------
    def incr(self, key: str, delta: int = 1, timeout: float | None = None, initial: int = 0) -> int:
        """Add ``delta`` to an integer key, atomically where the backend can; a missing key starts
        at ``initial`` (and gets ``timeout``). Returns the new value."""
        cache = self.cache
        try:
            return int(cache.incr(key, delta))
        except ValueError:
            if cache.add(key, initial + delta, timeout):
                return initial + delta
            try:
                return int(cache.incr(key, delta))
            except ValueError:
                return int(self._answered(key, None))

    def _answered(self, key: str, found: Any) -> Any:
        """``found``, unless the key is neither addable nor there: a client answering every call
        with its defaults (pymemcache, for a second after a server failed) — a failure the
        breaker must hear of, not an ``int(None)``."""
        if found is None:
            raise ConnectionError(f"cache alias {self.alias!r} neither stored nor returned {key!r}: "
                                  "is its server down?")
        return found

    def decr(self, key: str, delta: int = 1) -> None:
        """Take ``delta`` off an integer key if it exists (a missing one stays missing: memcached
        cannot hold negative numbers)."""
        try:
            self.cache.decr(key, delta)
        except ValueError:
            pass

    def incr_many(self, deltas: Mapping[str, int], timeout: float | None) -> None:
        for key, delta in deltas.items():
            self.incr(key, delta, timeout)

    def read_ints(self, keys: list[str]) -> dict[str, int]:
        """Read integer keys (missing ones are absent from the result)."""
        out: dict[str, int] = {}
        cache = self.cache
        for start in range(0, len(keys), 1000):
            for key, value in cache.get_many(keys[start : start + 1000]).items():
                try:
                    out[key] = int(value)
                except (TypeError, ValueError):
                    continue
        return out

    def delete_count(self, keys: list[str]) -> int:
        """Delete keys; return how many existed."""
        cache = self.cache
        return sum(1 for key in keys if cache.delete(key))

    # -- key listing (capabilities.pattern_invalidation) --------------------------------------
    def scan_delete(self, prefix: str, glob: str = "*", only: Callable[[bytes, Any], bool] | None = None,
                    pace: Callable[[float], None] | None = None, *,
                    select: Callable[[bytes], bool] | None = None, count: int = 1000) -> int:
        """Delete the keys that start with ``prefix`` and go on as ``glob`` (and that ``select``,
        given the raw key, lets through); with ``only``, just those whose value passes ``only(raw_key, value)``;
        ``pace(seconds)`` is called after each batch with the time it took; ``count`` keys are
        listed per call. Returns how many were deleted."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def raw_prefix(self, prefix: str) -> str:
        """What the keys listed by :meth:`scan_delete` start with for keys starting with ``prefix``
        (the cache's KEY_PREFIX and VERSION added)."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def scan_count(self, prefix: str, glob: str = "*", *, select: Callable[[bytes], bool] | None = None) -> int:
        """How many keys :meth:`scan_delete` would delete now."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    # -- the key browser (capabilities.key_browsing) ------------------------------------------
    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """About ``count`` raw keys matching the glob ``match`` (Redis MATCH syntax, on raw keys),
        from ``cursor`` on, stopping after ``budget`` seconds; never the whole key set in memory."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def listing_problem(self) -> str | None:
        """Why this alias's keys cannot be listed although the backend can (a server too old, a
        setting), translated; None when they can."""
        return None

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        """The raw key's facts and its content: a string's first ``limit`` bytes, a container's
        page of items from ``cursor``; None when the key does not exist. Decodes nothing."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def load_value(self, raw: bytes, key: str, version: int | None) -> Any:
        """The value of a key of this site's own (raw ``raw``, written as ``key`` with ``version``),
        decoded as the cache decodes it. Only ever called for keys under the site's KEY_PREFIX."""
        return self.cache.get(key, version=version)

    def delete_raw(self, raw: bytes) -> bool:
        """Delete the raw key; whether it existed."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def delete_raw_many(self, raws: list[bytes]) -> int:
        """Delete raw keys; how many existed (one round trip per batch where the backend can)."""
        return sum(1 for raw in raws if self.delete_raw(raw))

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        """Give the raw key ``seconds`` more to live (None: no expiry), its value and type kept;
        whether it existed."""
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def contains(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the failure of one part of this cache that the rest serves without
        (a Redis Cluster node left alone after an error): the circuit breaker does not count it
        against the whole alias, and the calls for that part fail open on their own."""
        return False

    # -- health -------------------------------------------------------------------------------
    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        """Statistics per server in the backend's own names; [] when the backend has no server."""
        return []

    def summarize_server(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One row of :meth:`server_info` under :data:`SUMMARY_FIELDS` (the overview's table)."""
        return {name: row.get(name) for name in SUMMARY_FIELDS}

    def health_notes(self) -> list[str]:
        """What the health report must always say about this backend (translated)."""
        return []

    def read_back_error(self) -> str:
        """Why a health probe's value did not come back, as staff should read it (translated)."""
        return _("the value written was not read back")

    # -- configuration ------------------------------------------------------------------------
    def run_checks(self) -> list[CheckMessage]:
        """System checks of this alias's configuration (see ``cache_dashboard.checks``)."""
        return list(self._checks())

    def _checks(self) -> Iterator[CheckMessage]:
        if type(self) is Adapter:
            yield Warning(
                f"Cache alias {self.alias!r} uses {self.params.get('BACKEND')!r}, unknown to cache_dashboard: "
                "only the generic features are available.", id="cache_dashboard.W002",
            )
        if _is_async_only(self.params.get("BACKEND", "")):
            yield Error(
                f"Cache alias {self.alias!r} uses {self.params.get('BACKEND')!r}, whose get() is a coroutine "
                "function: CacheManager calls the cache synchronously and would get coroutines, not values.",
                hint="Give the dashboard and CacheManager an alias on a synchronous backend (django-valkey's "
                     "'django_valkey.cache.ValkeyCache' for its AsyncValkeyCache).",
                id="cache_dashboard.E007",
            )
        options = self.params.get("OPTIONS") or {}
        wanted = self.timeout_options
        if wanted and not all(options.get(name) for name in wanted):
            yield Warning(
                f"Cache alias {self.alias!r} sets no {' / '.join(wanted)} in OPTIONS: a hung cache server "
                "can block a request for a long time before the circuit breaker opens.",
                hint=f"Set {', '.join(f'{name!r}: 0.5' for name in wanted)} in OPTIONS.",
                id="cache_dashboard.W003",
            )
        problem = self.fast_read_problem()
        if problem:
            yield Warning(
                f"Cache alias {self.alias!r}: CacheManager's fast hit path does not fit this version "
                f"({problem}). Reads use Django's public get/get_many instead: correct, but slower.",
                hint="Upgrade django-cache-dashboard, or report this version to its maintainers.",
                id="cache_dashboard.W005",
            )



def _is_async_only(backend: str) -> bool:
    """Whether the BACKEND class's ``get`` is a coroutine function (django-valkey's
    AsyncValkeyCache): Django's own backends keep ``get`` synchronous beside ``aget``."""
    try:
        cls = import_string(backend)
    except ImportError:
        return False
    return inspect.iscoroutinefunction(getattr(cls, "get", None))
