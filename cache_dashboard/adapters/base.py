"""What a cache backend can do for CacheManager, declared per backend, with generic fallbacks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import MEMCACHE_MAX_KEY_LENGTH, BaseCache

from cache_dashboard.exceptions import UnsupportedOperation


@dataclass(frozen=True)
class Capabilities:
    """What the admin may offer for a backend; the UI hides what is False."""

    pattern_invalidation: bool = False  # SCAN-based glob deletes
    key_count: bool = False  # counting keys that match a pattern
    server_stats: bool = False  # INFO / memcached stats
    shared_stats: bool = True  # counters visible to every process
    exact_counters: bool = True  # atomic increments across processes
    physical_purge: bool = False  # memory returned at once after an invalidation

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)@", re.I)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<pw>[^&\s]+)", re.I)


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace passwords in URLs (``scheme://user:pw@``, ``?password=``) and known secrets by ``***``."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    text = _QUERY_PASSWORD.sub(r"\g<head>***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


#: The hit path's two reads of one backend instance (see ``Adapter.readers``).
ReadOne = Callable[[str], Any]
ReadPair = Callable[[str, str], "tuple[Any, Any]"]
Readers = tuple[ReadOne, ReadPair]

#: Attribute of a backend instance (``caches[alias]``) holding its readers. Django keeps one backend
#: instance per thread (per async context), so readers — and any client object they hold — are
#: never shared more widely than Django shares the instance itself.
READERS_ATTR = "_cache_dashboard_readers"

# Django's memcache_key_warnings() complains exactly when a key is longer than 250 characters or
# contains one of these (Django 5.x: memcached_error_chars_re; 4.2: ord(c) < 33 or == 127, the
# same set); validate_key() is only called then (see key_maker).
_KEY_PROBLEM = re.compile(r"[\x00-\x20\x7f]").search


def key_maker(cache: BaseCache) -> Callable[[str], str]:
    """``cache.make_and_validate_key`` for the hit path: the cache's own ``make_key`` (KEY_PREFIX,
    VERSION, KEY_FUNCTION, subclass overrides) and the same validation, but ``validate_key`` is
    only called for keys it would warn about or reject (Django's check is a generator and a
    regex search per key). A backend overriding ``validate_key`` gets it on every key."""
    make_key, validate = cache.make_key, cache.validate_key
    stock = {BaseCache.validate_key}
    try:
        from django.core.cache.backends.memcached import BaseMemcachedCache

        stock.add(BaseMemcachedCache.validate_key)
    except ImportError:  # pragma: no cover
        pass
    if type(cache).validate_key not in stock:
        def make_checked(key: str) -> str:
            raw = make_key(key)
            validate(raw)
            return raw
        return make_checked
    limit, problem = MEMCACHE_MAX_KEY_LENGTH, _KEY_PROBLEM

    def make(key: str) -> str:
        raw = make_key(key)
        if len(raw) > limit or problem(raw):
            validate(raw)  # warns (CacheKeyWarning) or raises (memcached) exactly as Django would
        return raw
    return make


class Adapter:
    """Generic adapter: everything through Django's cache API. Subclasses override what their
    backend does better (atomic pipelines, SCAN, server statistics)."""

    name = "unknown"
    capabilities = Capabilities()
    #: Health probes of network backends run in a thread so a hung server cannot block the caller.
    probe_in_thread = True

    def __init__(self, alias: str, params: Mapping[str, Any]) -> None:
        self.alias = alias
        self.params = params

    @property
    def cache(self) -> BaseCache:
        # Looked up per call: Django keeps one backend instance per thread (pymemcache clients
        # must never be shared between threads).
        return caches[self.alias]

    # -- location -----------------------------------------------------------------------------
    def servers(self) -> list[str]:
        location = self.params.get("LOCATION", "")
        if isinstance(location, str):
            return [s for s in re.split("[;,]", location) if s]
        return list(location or [])

    def secrets(self) -> list[str]:
        options = self.params.get("OPTIONS") or {}
        return [str(options[k]) for k in ("password", "PASSWORD") if options.get(k)]

    def location_display(self) -> str:
        return mask_secrets(", ".join(self.servers()), self.secrets())

    def mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets())

    def get_primary(self, key: str) -> Any:
        """Read ``key`` where writes go (matters with read replicas: read-your-own-writes)."""
        return self.cache.get(key)

    # -- hit path -----------------------------------------------------------------------------
    def readers(self, cache: BaseCache) -> Readers:
        """``(one, pair)`` for the backend instance ``cache`` (built once, kept on the instance):
        ``one(key)`` is ``cache.get(key)``; ``pair(k1, k2)`` is ``(cache.get(k1), cache.get(k2))``
        in one round trip. Missing keys read as None. Keys are CacheManager's (before the
        cache's ``make_key``). Errors propagate (the caller's circuit breaker counts them)."""
        built = self.build_readers(cache)
        try:
            setattr(cache, READERS_ATTR, built)
        except AttributeError:  # pragma: no cover - a backend with __slots__: rebuilt per call
            pass
        return built

    def build_readers(self, cache: BaseCache) -> Readers:
        """Generic: Django's own ``get`` and ``get_many``. Backends override with direct client
        calls when (and only when) the backend classes are the stock ones."""

        get_many = cache.get_many

        def pair(key1: str, key2: str) -> tuple[Any, Any]:
            got = get_many([key1, key2])
            return got.get(key1), got.get(key2)

        return cache.get, pair

    # -- counters -----------------------------------------------------------------------------
    def incr(self, key: str, delta: int = 1, timeout: float | None = None) -> int:
        """Atomically add ``delta`` to an integer key, creating it with ``timeout`` if missing."""
        cache = self.cache
        try:
            return cache.incr(key, delta)
        except ValueError:
            if cache.add(key, delta, timeout):
                return delta
            return cache.incr(key, delta)

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

    # -- key listing (Redis only) -------------------------------------------------------------
    def scan_delete(self, prefix: str, pattern: str = "*", only: Any = None) -> int:
        raise UnsupportedOperation.no_key_listing(backend=self.name, alias=self.alias)

    def scan_count(self, prefix: str, pattern: str = "*") -> int:
        return self.scan_delete(prefix, pattern)  # raises the same UnsupportedOperation

    # -- health -------------------------------------------------------------------------------
    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        """Statistics per server; [] when the backend has no server."""
        return []


def hit_ratio(hits: Any, misses: Any) -> float | None:
    try:
        hits, misses = int(hits), int(misses)
    except (TypeError, ValueError):
        return None
    total = hits + misses
    return round(hits / total, 4) if total else None
