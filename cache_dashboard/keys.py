"""The whole key layout: how any ``str`` key becomes a backend-safe name, and every key the app writes.

Every key below goes through the cache's own ``make_key`` (its KEY_PREFIX, VERSION and
KEY_FUNCTION) like any other key of that cache. ``<P>`` is ``CACHE_DASHBOARD["KEY_PREFIX"]``
(default ``cd``), ``<E>`` the current epoch (see ``manager.epochs``), ``<K>`` a normalised key
(:func:`normalize_key`), ``<NS>`` a normalised namespace (:func:`normalize_namespace`). Braces are
literal: they are Redis Cluster *hash tags*, so keys read together in one call (``MGET``, a
multi-get) hash to the same slot and never fail with CROSSSLOT.

============================  ===========================================  ==========  ===============
key                           what                                          hash tag    read together
============================  ===========================================  ==========  ===============
``<P>:<E>:k:{<K>}``           entry of a key without namespace              ``<K>``     its lock
``<P>:<E>:l:k:{<K>}``         stampede lock of that entry                   ``<K>``     its entry
``<P>:<E>:n:{<NS>}:<K>``      entry of a key in a namespace                 ``<NS>``    generation, lock
``<P>:<E>:l:n:{<NS>}:<K>``    stampede lock of that entry                   ``<NS>``    its entry
``<P>:<E>:g:{<NS>}``          namespace generation (an integer)             ``<NS>``    every entry get
``<P>:<E>:r:{<NS>}:e:<K>``    negative-cache entry of a key                 ``<NS>``    registry listing
``<P>:<E>:r:{<NS>}:seq``      negative-cache log head (an integer)          ``<NS>``    low-water mark
``<P>:<E>:r:{<NS>}:low``      negative-cache low-water mark                 ``<NS>``    log head
``<P>:<E>:r:{<NS>}:log:<n>``  negative-cache log slot ``n`` (names a key)   ``<NS>``    other slots
``<P>:{m}:epoch``             epoch counter (outside every epoch)           ``m``       –
``<P>:{m}:rule:<K>``          last firing of an invalidation rule           ``m``       other rules
``<P>:{m}:probe:<token>``     health probes (10 s TTL, never counted)       ``m``       –
``<P>:{m}:purges``            namespaces waiting for a purge (Redis set)    ``m``       –
``<P>:{m}:sample:<t>``        the process that samples the servers in the   ``m``       –
                              minute starting at ``t`` (an ``add`` lock)
``<P>:{s}:<res>:<t>``         statistics of the minute (res 60) or hour     ``s``       a stats window
                              (3600) starting at ``t``: a hash on Redis;
                              elsewhere ``…:<cell>`` keys and an index
``<P>:{s}:names:<hour>``      namespaces and sources that moved that hour   ``s``       the retention
``<P>:{s}:v:<res>:<t>``       server samples of the minute or hour          ``s``       a server chart
                              starting at ``t`` (each cell's largest value)
============================  ===========================================  ==========  ===============

Everything under ``<P>:<E>:`` is what ``clear_all`` removes (it moves to a new epoch); statistics
and rule records survive it. The registry's own parts are listed in ``manager.registry``. Entries
carry a tag (``manager.entry.TAG``) that changes with the entry's format, so entries of an older
release read as misses, never as errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from cache_dashboard.conf import get_setting

# Characters kept as they are. Excluded on purpose: whitespace and control characters (memcached),
# glob metacharacters ``* ? [ ] \`` (so SCAN patterns stay meaningful), ``%`` (the escape of
# ``quote``), ``#`` (the marker of hashed keys, so a hashed key can never equal a quoted one) and
# ``{ }`` (hash tags: a key's own braces must never move it to another Redis Cluster slot).
_SAFE_KEY = ":@/+=,!$()"  # plus quote()'s always-safe "_.-~" and ASCII letters/digits
_SAFE_NAMESPACE = "@+=,!$()"  # no ":" — the namespace is one field of a ":"-joined key
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-~:@/+=,!$()]{0,100}")
_PLAIN_NAMESPACE = re.compile(r"[A-Za-z0-9_.\-~@+=,!$()]{1,48}")

#: Longest normalised key kept readable; longer ones are replaced by ``#`` + sha256.
MAX_KEY_LENGTH = 100
MAX_NAMESPACE_LENGTH = 48
#: Hash tag of the empty key: Redis hashes a key with an empty ``{}`` whole, which would part the
#: entry from its lock. ``%`` alone can never be a normalised key (``quote`` always writes ``%XX``).
_EMPTY_TAG = "%"
#: What a valid ``KEY_PREFIX`` setting looks like (checked by ``cache_dashboard.E003``).
VALID_PREFIX = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


def _hashed(value: str) -> str:
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def normalize_key(key: str) -> str:
    """Return the backend-safe form of ``key``.

    Printable ASCII keys up to 100 characters come back unchanged; anything else is
    percent-encoded, and what is still longer than 100 characters becomes ``#`` + sha256 hex.
    The mapping is injective: percent-encoding is, and ``#`` never survives it.
    """
    if type(key) is not str:
        if not isinstance(key, str):
            raise TypeError(f"cache keys must be str, not {type(key).__name__}")
        key = str(key)
    if _PLAIN_KEY.fullmatch(key):
        return key
    quoted = quote(key, safe=_SAFE_KEY, errors="surrogatepass")
    if len(quoted) <= MAX_KEY_LENGTH:
        return quoted
    return _hashed(key)


#: Namespaces normalised so far: every namespaced call normalises its namespace, and an
#: application has few (a regex match saved per call). Cleared when it grows past
#: ``_NAMESPACES_KEPT``; names longer than ``_NAMESPACE_KEPT_LENGTH`` are not kept, so hostile
#: names cost at most a few hundred KB.
_NAMESPACES: dict[str, str] = {}
_NAMESPACES_KEPT = 1024
_NAMESPACE_KEPT_LENGTH = 200


def normalize_namespace(namespace: str) -> str:
    """Return the backend-safe form of a namespace name (no ``:``, at most 48 characters)."""
    if type(namespace) is str and len(namespace) <= _NAMESPACE_KEPT_LENGTH:  # (a subclass could hash its own way)
        try:
            return _NAMESPACES[namespace]
        except KeyError:
            pass
        normal = _normalize_namespace(namespace)
        if len(_NAMESPACES) >= _NAMESPACES_KEPT:
            _NAMESPACES.clear()
        _NAMESPACES[namespace] = normal
        return normal
    return _normalize_namespace(namespace)


def _normalize_namespace(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise TypeError(f"namespaces must be str, not {type(namespace).__name__}")
    if not namespace:
        raise ValueError("a namespace cannot be empty; pass namespace=None for none")
    if _PLAIN_NAMESPACE.fullmatch(namespace):
        return namespace
    quoted = quote(namespace, safe=_SAFE_NAMESPACE, errors="surrogatepass")
    if len(quoted) <= MAX_NAMESPACE_LENGTH:
        return quoted
    return _hashed(namespace)[:41]  # "#" + 40 hex digits: 160 bits, still collision-free in practice


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """Redis's glob (``stringmatchlen``) as a Python test of a whole string: ``*``, ``?``,
    ``[...]`` with ``^`` negation, ranges and ``\\`` escapes; an unclosed ``[`` runs to the end."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            i += negate
            items = []
            while i < n and pattern[i] != "]":
                if pattern[i] == "\\" and i + 1 < n:
                    i += 1
                    items.append(re.escape(pattern[i]))
                elif i + 2 < n and pattern[i + 1] == "-":  # Redis reads "a-]" as a range up to "]" too
                    low, high = sorted((pattern[i], pattern[i + 2]))
                    items.append(f"{re.escape(low)}-{re.escape(high)}")
                    i += 2
                else:
                    items.append(re.escape(pattern[i]))
                i += 1
            if items:
                out.append(f"[{'^' if negate else ''}{''.join(items)}]")
            else:  # "[]" matches nothing; "[^]" any one character
                out.append("." if negate else "(?!)")
        else:
            out.append(re.escape(char))
        i += 1
    compiled = re.compile("".join(out), re.S)
    return lambda text: compiled.fullmatch(text) is not None


def escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` matches only itself in a SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class KeyLayout:
    """The keys of one epoch (see the table in this module's docstring)."""

    __slots__ = ("prefix", "epoch", "base")

    def __init__(self, prefix: str, epoch: int) -> None:
        self.prefix = prefix
        self.epoch = epoch
        #: Every key of this epoch starts with it (``clear_all`` removes them by this prefix).
        self.base = f"{prefix}:{epoch}:"

    def __repr__(self) -> str:
        return f"<KeyLayout {self.base!r}>"

    def entry(self, nkey: str, nns: str | None) -> str:
        if nns is None:
            return f"{self.base}k:{{{nkey or _EMPTY_TAG}}}"
        return f"{self.base}n:{{{nns}}}:{nkey}"

    def entry_match(self, nns: str | None, pattern: str) -> tuple[str, str]:
        """``(prefix, glob)``: the entries whose normalised key matches the glob ``pattern`` are the
        keys that start with ``prefix`` (matched literally) and go on as ``glob`` (see ``Adapter.scan``)."""
        if nns is None:
            return f"{self.base}k:{{", f"{pattern}}}"
        return f"{self.namespaced_entries()}{nns}}}:", pattern

    def namespaced_entries(self) -> str:
        """The prefix of every namespaced entry (``<NS>}:<K>`` follows it)."""
        return f"{self.base}n:{{"

    def lock(self, entry_key: str) -> str:
        """The stampede lock of an entry key (same hash tag: the entry and its lock are read together)."""
        return f"{self.base}l:{entry_key[len(self.base):]}"

    def generation(self, nns: str) -> str:
        return f"{self.base}g:{{{nns}}}"

    # -- negative-cache registry: everything of one namespace shares its hash tag ------------------
    def registry(self, nns: str, part: str) -> str:
        """A key of the namespace's registry (see ``manager.registry`` for the parts)."""
        return f"{self.base}r:{{{nns}}}:{part}"

    def registry_entry(self, nns: str, nkey: str) -> str:
        return self.registry(nns, f"e:{nkey}")

    def registry_seq(self, nns: str) -> str:
        return self.registry(nns, "seq")

    def registry_low(self, nns: str) -> str:
        return self.registry(nns, "low")

    def registry_log(self, nns: str, seq: int) -> str:
        return self.registry(nns, f"log:{seq}")


@dataclass(frozen=True)
class KeyRole:
    """What one of CacheManager's keys is, read back from the key (see :func:`key_role`)."""

    #: "entry", "lock", "generation", "negative" (the registry), "meta" (epoch, rules, probes,
    #: purges, sampler locks) or "stats".
    part: str
    #: The epoch it belongs to (None outside every epoch: meta and stats).
    epoch: int | None = None
    #: Its normalised namespace, if any.
    nns: str | None = None
    #: The normalised key of an entry or lock.
    nkey: str | None = None


def key_role(key: str, prefix: str) -> KeyRole | None:
    """What ``key`` (as given to the cache, before ``make_key``) is in the layout of
    ``CACHE_DASHBOARD["KEY_PREFIX"]`` ``prefix``; None for a key that is not CacheManager's."""
    if not key.startswith(prefix + ":"):
        return None
    rest = key[len(prefix) + 1:]
    if rest.startswith("{m}:"):
        return KeyRole("meta")
    if rest.startswith("{s}:"):
        return KeyRole("stats")
    epoch, _, tail = rest.partition(":")
    if not epoch.isdigit():
        return None
    number, lock = int(epoch), tail.startswith("l:")
    if lock:
        tail = tail[2:]
    part = "lock" if lock else "entry"
    if tail.startswith("k:{") and tail.endswith("}"):
        nkey = tail[3:-1]
        return KeyRole(part, number, None, "" if nkey == _EMPTY_TAG else nkey)
    if tail.startswith(("n:{", "g:{", "r:{")):
        close = tail.find("}", 3)  # a normalised namespace holds no brace
        if close > 3:
            nns = tail[3:close]
            if tail[0] == "n" and tail[close:close + 2] == "}:":
                return KeyRole(part, number, nns, tail[close + 2:])
            if not lock:
                return KeyRole("generation" if tail[0] == "g" else "negative", number, nns)
    return None


def readable(normalised: str) -> str:
    """A normalised key or namespace as it was given (a hashed one stays its hash)."""
    return normalised if normalised.startswith("#") else unquote(normalised, errors="surrogatepass")


def describe_role(role: KeyRole) -> dict[str, Any]:
    """A :func:`key_role` as shown: ``part``, ``namespace`` and ``key`` readable (None where the
    part has none) and ``epoch``."""
    return {"part": role.part, "namespace": None if role.nns is None else readable(role.nns),
            "key": None if role.nkey is None else readable(role.nkey), "epoch": role.epoch}


# -- keys outside every epoch (they survive clear_all) ----------------------------------------------


def _meta(suffix: str) -> str:
    return f"{get_setting('KEY_PREFIX')}:{{m}}:{suffix}"


def epoch_key() -> str:
    return _meta("epoch")


def rule_key(name: str) -> str:
    """The last firing of the invalidation rule ``name``."""
    return _meta(f"rule:{normalize_key(name)}")


def purges_key() -> str:
    """The namespaces whose purge was asked for and has not finished (Redis)."""
    return _meta("purges")


def sample_lock(minute: int) -> str:
    """Taken (``add``) by the one process that samples the servers in the minute starting at ``minute``."""
    return _meta(f"sample:{minute}")


def probe_key(token: str) -> str:
    """A health probe's own key (unique per probe, short TTL)."""
    return _meta(f"probe:{token}")


def stats_bucket(resolution: int, start: int) -> str:
    """The statistics of one minute (``resolution`` 60) or hour (3600) starting at ``start``."""
    return f"{get_setting('KEY_PREFIX')}:{{s}}:{resolution}:{start}"


def stats_window(resolution: int, count: int) -> str:
    """The running sums of the newest ``count`` buckets of ``resolution`` (Redis: one hash)."""
    return f"{get_setting('KEY_PREFIX')}:{{s}}:w:{resolution}:{count}"


def stats_names(hour: int) -> str:
    """The namespaces and sources that moved in the hour starting at ``hour``."""
    return f"{get_setting('KEY_PREFIX')}:{{s}}:names:{hour}"


def server_samples(resolution: int, start: int) -> str:
    """The server samples of one minute (``resolution`` 60) or hour (3600) starting at ``start``."""
    return f"{get_setting('KEY_PREFIX')}:{{s}}:v:{resolution}:{start}"
