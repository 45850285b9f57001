"""Optional hit-path readers: direct client calls behind a probe, Django's public API as the default.

The hit path's two reads (one key; a namespace generation and an entry together) cost the same
round trip however they are made, but Django's ``get``/``get_many`` add per-call Python that a
reader built once per backend instance can skip (see each strategy's docstring). Those readers
reach into a library's private attributes, which its next release may rename. So:

* a :class:`FastReader` builds its readers from what it finds, and raises :class:`NotApplicable`
  for a setup it was not written for (a subclass, another client class: the public path, quietly)
  or :class:`Incompatible` / ``AttributeError`` / ``TypeError`` when the stock setup's internals
  are not what it needs (an upstream change: the public path, one logged warning, and the system
  check ``cache_dashboard.W005`` naming the library version);
* readers that fail with ``AttributeError``/``TypeError`` once built (internals that changed under
  a running process) are replaced by the public ones for good when the same read through the
  public API succeeds (:func:`demote`, called by the hit path);
* when a tool has wrapped the backend instance's own ``get``/``get_many`` (django-debug-toolbar's
  cache panel, APM agents), the hit path reads through those wrappers, so the tool sees them.

A strategy never changes what a read returns: ``tests/manager/test_hit_path.py`` pins every
strategy against Django's own ``get``/``get_many``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar, TypeVar

from django.core.cache.backends.base import MEMCACHE_MAX_KEY_LENGTH, BaseCache

logger = logging.getLogger("cache_dashboard")

#: The hit path's two reads of one backend instance (see ``Adapter.readers``).
ReadOne = Callable[[str], Any]
ReadPair = Callable[[str, str], "tuple[Any, Any]"]
Readers = tuple[ReadOne, ReadPair]

#: Attribute of a backend instance (``caches[alias]``) holding its readers. Django keeps one backend
#: instance per thread (per async context), so readers — and any client object they hold — are
#: never shared more widely than Django shares the instance itself.
READERS_ATTR = "_cache_dashboard_readers"
B = TypeVar("B", bound=BaseCache)


class NotApplicable(Exception):
    """The backend instance is not the setup this reader was written for: use the public path."""


class Incompatible(Exception):
    """The stock setup, but its internals are not what the reader needs (an upstream change)."""


class FastReader:
    """A strategy for the hit path's reads of one kind of backend. Subclasses set :attr:`library`
    (the distribution whose internals they read) and implement :meth:`build`."""

    library: ClassVar[str] = ""

    def build(self, cache: BaseCache) -> Readers:
        """Readers for ``cache``; raises NotApplicable, Incompatible, AttributeError or TypeError."""
        raise NotApplicable

    def describe(self, exc: BaseException) -> str:
        """``exc`` (why the reader cannot be built) with the library's installed version."""
        try:
            found = version(self.library)
        except (PackageNotFoundError, ValueError):
            found = "(version unknown)"
        return f"{self.library} {found}: {type(exc).__name__}: {exc}"

    def problem(self, cache: BaseCache) -> str | None:
        """Why this reader cannot serve ``cache`` although it should (None: it can, or it does not
        apply). Builds the readers, which opens no connection."""
        try:
            self.build(cache)
        except NotApplicable:
            return None
        except (Incompatible, AttributeError, TypeError) as exc:
            return self.describe(exc)
        return None


def stock(cache: BaseCache, cls: type[B], owner: type[BaseCache] | None = None) -> B:
    """``cache`` if it is a ``cls`` that reads with ``owner``'s (default: ``cls``'s) own
    ``get``/``get_many``; else NotApplicable (a subclass overriding them may shard or route
    differently)."""
    reader = owner or cls
    backend = type(cache)
    if not (isinstance(cache, cls) and backend.get is reader.get and backend.get_many is reader.get_many):
        raise NotApplicable
    return cache


def public_readers(cache: BaseCache) -> Readers:
    """Django's own ``get`` and ``get_many``, looked up at each call (so later wrappers are seen)."""

    def one(key: str) -> Any:
        return cache.get(key)

    def pair(key1: str, key2: str) -> tuple[Any, Any]:
        got = cache.get_many([key1, key2])
        return got.get(key1), got.get(key2)

    return _tagged(one, pair, None)


def _tagged(one: ReadOne, pair: ReadPair, reader: FastReader | None) -> Readers:
    # Which strategy serves a backend instance, for tests and debugging (``one.reader``).
    one.reader = pair.reader = reader  # type: ignore[attr-defined]  # a function attribute
    return one, pair


_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(alias: str, reader: FastReader, exc: BaseException) -> None:
    text = reader.describe(exc)
    with _warned_lock:
        if (alias, text) in _warned:
            return
        _warned.add((alias, text))
    logger.warning(
        "cache alias %r: the fast hit path does not fit %s; using Django's public get/get_many "
        "(correct, slower). See system check cache_dashboard.W005.", alias, text,
    )


def readers_for(cache: BaseCache, reader: FastReader | None, alias: str) -> Readers:
    """The readers of ``cache``: ``reader``'s when it can build them, else the public ones."""
    if reader is None:
        return public_readers(cache)
    try:
        one, pair = reader.build(cache)
    except NotApplicable:
        return public_readers(cache)
    except (Incompatible, AttributeError, TypeError) as exc:
        _warn_once(alias, reader, exc)
        return public_readers(cache)
    return _tagged(one, pair, reader)


def is_fast(readers: Readers) -> bool:
    """Whether ``readers`` are a strategy's (not Django's public ``get``/``get_many``)."""
    return getattr(readers[0], "reader", None) is not None


def demote(cache: BaseCache, alias: str, exc: BaseException, public: Readers) -> None:
    """The fast readers of ``cache`` failed with ``exc`` where the public API did not (internals that
    changed under a running process): switch the instance to the public readers for good, and warn
    once."""
    readers: Readers | None = cache.__dict__.get(READERS_ATTR)
    if readers is not None and is_fast(readers):
        _warn_once(alias, readers[0].reader, exc)  # type: ignore[attr-defined]  # set by _tagged
        setattr(cache, READERS_ATTR, public)


def forget_warnings() -> None:
    """Warn again about readers that do not fit (tests)."""
    with _warned_lock:
        _warned.clear()


# Django's memcache_key_warnings() complains exactly when a key is longer than 250 characters or
# contains one of these (Django 5.x: memcached_error_chars_re; 4.2: ord(c) < 33 or == 127, the
# same set); validate_key() is only called then (see key_maker).
_KEY_PROBLEM = re.compile(r"[\x00-\x20\x7f]").search


#: Keys a :func:`key_maker` remembers (per backend instance, so per thread): emptied when full.
MADE_KEYS = 1024


def key_maker(cache: BaseCache) -> Callable[[str], str]:
    """``cache.make_and_validate_key`` for the hit path: the cache's own ``make_key`` (KEY_PREFIX,
    VERSION, KEY_FUNCTION, subclass overrides) and the same validation, but ``validate_key`` is
    only called for keys it would warn about or reject (Django's check is a generator and a
    regex search per key), and the last :data:`MADE_KEYS` keys made are remembered (the backend
    instance's prefix, version and key function do not change under it). A key Django would warn
    about warns when it is made, not on every read. A backend overriding ``validate_key`` gets it
    on every key."""
    from django.core.cache.backends.memcached import BaseMemcachedCache

    make_key, validate = cache.make_key, cache.validate_key
    if type(cache).validate_key not in (BaseCache.validate_key, BaseMemcachedCache.validate_key):
        def make_checked(key: str) -> str:
            raw = make_key(key)
            validate(raw)
            return raw
        return make_checked
    limit, problem = MEMCACHE_MAX_KEY_LENGTH, _KEY_PROBLEM
    made: dict[str, str] = {}  # the keys this instance made lately (a hot key is made once)

    def make(key: str) -> str:
        try:
            return made[key]
        except KeyError:
            pass
        raw = make_key(key)
        if len(raw) > limit or problem(raw):
            validate(raw)  # warns (CacheKeyWarning) or raises (memcached) exactly as Django would
        if len(made) >= MADE_KEYS:
            made.clear()
        if type(key) is str:  # (a str subclass could compare equal to a different key)
            made[key] = raw
        return raw
    return make
