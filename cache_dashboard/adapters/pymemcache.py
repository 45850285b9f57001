"""PyMemcacheCache: atomic add/incr, ``stats`` per server of the pool, no pattern deletes, and a
key browser through ``lru_crawler metadump`` (see ``adapters.metadump``)."""

from __future__ import annotations

import math
import re
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, ClassVar, NamedTuple, TypeVar
from urllib.parse import unquote_to_bytes

from django.core.cache.backends.base import BaseCache
from django.core.checks import CheckMessage, Warning
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cache_dashboard.adapters import memcached_batch, metadump
from cache_dashboard.adapters.base import Adapter, Capabilities
from cache_dashboard.adapters.fastread import FastReader, Readers, key_maker
from cache_dashboard.adapters.fastread.pymemcache import PyMemcacheReader
from cache_dashboard.adapters.listing import DONE, KeyPage, ListedKey, RawValue
from cache_dashboard.exceptions import CacheDashboardError, UnsupportedOperation, gettext_noop
from cache_dashboard.formatting import hit_ratio
from cache_dashboard.keys import glob_matcher

STATS_FIELDS = (
    "version", "uptime", "curr_items", "bytes", "limit_maxbytes",
    "get_hits", "get_misses", "evictions", "curr_connections", "expired_unfetched",
)
#: The ``stats`` counters of commands served, added up as the report's ``commands``.
COMMAND_STATS = (
    "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "delete_hits", "delete_misses", "incr_hits",
    "incr_misses", "decr_hits", "decr_misses", "cas_hits", "cas_misses", "cas_badval",
)
#: ``stats`` names -> the common names of ``Adapter.summarize_server``.
_SUMMARY = {
    "bytes": "memory", "limit_maxbytes": "memory_limit", "curr_items": "items",
    "curr_connections": "connections", "get_hits": "hits", "get_misses": "misses",
    "expired_unfetched": "expired",
}
#: Attribute of a backend instance holding what the miss path's writes use (see ``_client``).
WRITER_ATTR = "_cache_dashboard_writer"
#: Largest pickled entry the miss path stores with ``noreply`` (see ``set_and_delete``): far below
#: memcached's item size limit (1 MiB by default, ``-I``), so the server has no reason to refuse it.
NOREPLY_STORE_BYTES = 64 * 1024
#: Longest KEY_PREFIX that leaves room for our keys within memcached's 250-byte limit.
MAX_KEY_PREFIX = 60
#: The first memcached with ``lru_crawler metadump``.
METADUMP_SINCE = (1, 4, 31)
#: Longest a key browser's socket or client waits on a server per call (a page's budget can be shorter).
LISTING_TIMEOUT = 2.0
#: The shortest such wait, whatever the budget (a budget of 0 still reads one line).
LISTING_MIN_TIMEOUT = 0.5
#: The longest ``dead_timeout`` the system check (W008) lets pass: a pool serves again within
#: about CIRCUIT_RESET_TIMEOUT + dead_timeout after a server is back.
MAX_DEAD_TIMEOUT = 10
#: The most ``retry_attempts`` it lets pass (pymemcache's default, 2: four socket timeouts per
#: thread on a hung server before it is out of rotation).
MAX_RETRY_ATTEMPTS = 2
RECOVERY_HINT = (
    'Set "dead_timeout": 5, "retry_attempts": 1 and "retry_timeout": 1 in OPTIONS, next to "timeout" and '
    '"connect_timeout": a failed server is out of rotation for 5 s (its keys fail open, then go to the '
    "other servers), each thread waits out three socket timeouts on a hung one, not four, and a single "
    "lost call does not take a healthy server out."
)
#: Memcached reads expiry times over 30 days as Unix times.
RELATIVE_EXPIRY_LIMIT = 30 * 24 * 3600

KEYS_TOO_OLD = gettext_noop(
    "memcached %(version)s at %(server)s cannot list its keys: the key browser needs lru_crawler "
    "metadump, in memcached 1.4.31 and later."
)
KEYS_CRAWLER_OFF = gettext_noop(
    "memcached at %(server)s cannot list its keys: its LRU crawler is off (started with -o no_lru_crawler). "
    "Turn it on with the command “lru_crawler enable”, or restart memcached without that option."
)
KEYS_REFUSED = gettext_noop("memcached at %(server)s refused to list its keys: “%(answer)s”.")
KEYS_BUSY = gettext_noop(
    "memcached at %(server)s is busy with another key listing or crawl; try again in a moment."
)


def _server_tuple(server: str) -> Any:
    if server.startswith("unix:"):
        return server[5:]
    host, _colon, port = server.rpartition(":")
    return (host or server, int(port) if port.isdigit() else 11211)


def _node_name(server: Any) -> str:
    """A server as HashClient names its node (``clients`` keys, ``hasher.nodes``): ``host:port``
    for a ``(host, port)``, the path of a UNIX socket."""
    if isinstance(server, (list, tuple)) and len(server) == 2:
        return f"{server[0]}:{server[1]}"
    return str(server)


def _hash_client(cache: Any) -> Any:
    """The backend instance's pymemcache ``HashClient`` when its private state (failed and dead
    servers, the nodes in rotation) reads as this module expects, else None."""
    try:
        hashed = cache._cache
        if (isinstance(hashed._failed_clients, dict) and isinstance(hashed._dead_clients, dict)
                and isinstance(hashed.hasher.nodes, list) and isinstance(hashed.clients, dict)):
            return hashed
    except Exception:  # a client of the user's own, or HashClient's internals changed
        pass
    return None


def _copy(mapping: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of a dict another thread may be changing (its serving thread's client)."""
    for _attempt in range(3):
        try:
            return dict(mapping)
        except RuntimeError:  # changed size during the copy
            continue
    return {}


@dataclass
class ServerState:
    """What one serving thread's ``HashClient`` knows of one server of the pool."""

    #: Unix time until which it is kept out of rotation (None: not marked dead).
    dead_until: float | None = None
    #: Failed calls since its last success, while pymemcache still retries it (None: not failing).
    failures: int | None = None


def server_states(hashed: Any) -> dict[str, ServerState]:
    """Per node name, the servers ``hashed`` (a ``HashClient``) marked dead or failing."""
    out: dict[str, ServerState] = {}
    dead_timeout = float(getattr(hashed, "dead_timeout", 0) or 0)
    for server, since in _copy(hashed._dead_clients).items():
        out.setdefault(_node_name(server), ServerState()).dead_until = float(since) + dead_timeout
    for server, failed in _copy(hashed._failed_clients).items():
        state = out.setdefault(_node_name(server), ServerState())
        if state.dead_until is None and isinstance(failed, dict):
            # pymemcache counts the retries after the first failure: +1 is the failed calls
            state.failures = int(failed.get("attempts", 0)) + 1
    return out


def _clock(when: float) -> str:
    """A Unix time as HH:MM:SS in the current time zone."""
    return timezone.localtime(datetime.fromtimestamp(when, tz=dt_timezone.utc)).strftime("%H:%M:%S")


_T = TypeVar("_T")


def _single(hashed: Any) -> Any:
    """The client of the one live server of ``hashed`` (a ``HashClient``), or None (several, or
    one marked dead: HashClient's own routing and retries apply)."""
    nodes = hashed.hasher.nodes
    if hashed._dead_clients or len(nodes) != 1:
        return None
    return hashed.clients[nodes[0]]


@dataclass(frozen=True)
class _Writer:
    """What the miss path's direct commands use, probed once per backend instance."""

    #: Django's ``HashClient`` (without a pool: one connection per server, commands in order).
    client: Any
    #: The backend instance's ``make_key`` (remembered; see ``fastread.key_maker``).
    make_key: Callable[[str], str]
    #: The client's ``serialize`` when it is pymemcache's pickling, else None.
    pickle: Callable[[Any, Any], tuple[bytes, int]] | None
    #: Whether the miss path's commands go out in batches of two (``adapters.memcached_batch``):
    #: pymemcache's pickling, and the private parts that module uses still there.
    batch: bool


    def pickled(self, key: str, value: Any) -> tuple[bytes, int]:
        """``value`` as the client would store it: (bytes, flags). Only when :attr:`pickle` is set."""
        assert self.pickle is not None
        return self.pickle(key, value)


class _Direct(NamedTuple):
    """What the miss path's one-round-trip methods use, for one call."""

    #: ``call(name, default, *args)``: a client command through HashClient, or — one server in
    #: rotation — through its own failure handling minus its pure-Python key hashing.
    call: Callable[..., Any]
    #: The keys as the backend instance makes them.
    keys: list[str]
    #: The expiry memcached is sent.
    expire: Any
    writer: _Writer
    #: The client of the one server in rotation when the commands go out in batches, else None.
    batch_server: Any


class PyMemcacheAdapter(Adapter):
    name = "memcached"
    capabilities = Capabilities(server_stats=True, key_browsing=True)
    timeout_options: ClassVar[tuple[str, ...]] = ("timeout", "connect_timeout")
    fast_reader: ClassVar[FastReader | None] = PyMemcacheReader()

    def __init__(self, alias: str, params: Mapping[str, Any]) -> None:
        super().__init__(alias, params)
        #: The ``HashClient`` of each thread that served CacheManager calls (one per backend
        #: instance, so per thread): where pymemcache keeps which servers failed or are dead.
        self._serving: weakref.WeakSet[Any] = weakref.WeakSet()
        self._serving_lock = threading.Lock()

    def _serve(self, hashed: Any) -> None:
        if hashed not in self._serving:
            with self._serving_lock:
                self._serving.add(hashed)

    def serving_clients(self) -> list[Any]:
        """The serving threads' ``HashClient`` objects still alive, of this alias's servers."""
        with self._serving_lock:
            found = list(self._serving)
        wanted = {_node_name(_server_tuple(server)) for server in self.servers()}
        return [hashed for hashed in found if set(_copy(hashed.clients)) == wanted]

    def readers(self, cache: BaseCache) -> Readers:
        hashed = _hash_client(cache)
        if hashed is not None:
            self._serve(hashed)
        return super().readers(cache)

    def contains(self, exc: BaseException) -> bool:
        """A connection error or timeout of one server of a pool, while this thread's
        ``HashClient`` still has a server in rotation that is not failing: pymemcache has marked
        the failed server (its keys fail open, then go to the other servers once it is marked
        dead), and the others serve. With one server, or none left, it counts as before."""
        from pymemcache.exceptions import MemcacheUnexpectedCloseError

        if not isinstance(exc, (OSError, MemcacheUnexpectedCloseError)) or len(self.servers()) < 2:
            return False
        hashed = _hash_client(self.cache)
        if hashed is None:
            return False
        self._serve(hashed)
        failing = server_states(hashed)
        return any(node not in failing for node in list(hashed.hasher.nodes))

    def server_state_notes(self) -> dict[str, tuple[str, str | None, bool]]:
        """Per node name, ``(note, warning or None, out now)`` from what the serving threads'
        clients know; ``out now``: marked dead until a time still to come (a server whose time is
        over goes back into rotation at its client's next call)."""
        clients = self.serving_clients()
        now = time.time()
        states: dict[str, list[ServerState]] = {}
        for hashed in clients:
            for node, state in server_states(hashed).items():
                states.setdefault(node, []).append(state)
        out: dict[str, tuple[str, str | None, bool]] = {}
        for node, found in states.items():
            where = _("as %(known)s of %(threads)s serving threads' clients know") % {
                "known": len(found), "threads": len(clients)}
            dead = [state.dead_until for state in found if state.dead_until is not None]
            if dead and max(dead) <= now:
                out[node] = (_("pymemcache marked it dead until %(time)s, %(where)s: back in rotation at "
                               "the next call") % {"time": _clock(max(dead)), "where": where}, None, False)
            elif dead:
                until = _clock(max(dead))
                out[node] = (_("pymemcache marked it dead until %(time)s, %(where)s: its keys go to the "
                               "other servers meanwhile") % {"time": until, "where": where},
                             _("pymemcache keeps %(server)s out of rotation until %(time)s: its keys "
                               "miss and are stored on the other servers meanwhile.")
                             % {"server": self.mask(node), "time": until}, True)
                continue
            failures = max(state.failures or 1 for state in found)
            out[node] = (ngettext("failed %(count)s time, retrying, %(where)s: its keys fail open",
                                  "failed %(count)s times, retrying, %(where)s: its keys fail open",
                                  failures) % {"count": failures, "where": where}, None, False)
        return out

    def server_info(self, timeout: float) -> list[dict[str, Any]]:
        """``stats`` of every server, by a client of our own, and what the serving threads'
        ``HashClient`` objects know of it: marked dead (until when), or failing and retried. A
        failing server that answers our ``stats`` is not noted: its next call retries it."""
        rows = self._stats_rows(timeout)
        try:
            notes = self.server_state_notes()
        except Exception:  # pymemcache's private state changed shape: the stats rows alone
            notes = {}
        for row, server in zip(rows, self.servers(), strict=False):
            found = notes.get(_node_name(_server_tuple(server)))
            if found is None or not (found[2] or not row["ok"]):
                continue
            row["note"] = found[0]
            if found[1] is not None:
                row["warning"] = found[1]
        return rows

    def _stats_rows(self, timeout: float) -> list[dict[str, Any]]:
        from pymemcache.client.base import Client

        out = []
        for server in self.servers():
            row: dict[str, Any] = {"address": server, "ok": False, "error": None}
            client = None
            try:
                # A client of our own with short timeouts: the user's may have none (pymemcache's default).
                client = Client(_server_tuple(server), connect_timeout=timeout, timeout=timeout)
                stats = {k.decode() if isinstance(k, bytes) else k: v for k, v in client.stats().items()}
                for field in STATS_FIELDS:
                    value = stats.get(field)
                    row[field] = value.decode() if isinstance(value, bytes) else value
                row["hit_ratio"] = hit_ratio(stats.get("get_hits"), stats.get("get_misses"))
                row["commands"] = sum(value for name in COMMAND_STATS
                                      if isinstance(value := stats.get(name), int) and not isinstance(value, bool))
                row["software"] = "memcached"
                row["ok"] = True
            except Exception as exc:
                row["error"] = self.describe(exc)
            finally:
                if client is not None:
                    client.close()
            out.append(row)
        return out

    # -- the miss path: one round trip per step ------------------------------------------------
    def _client(self) -> _Writer | None:
        """The backend's own ``HashClient`` for the miss path's ``noreply`` commands, the key
        maker (:func:`~cache_dashboard.adapters.fastread.key_maker`) and the client's pickling,
        probed once per backend instance; None for Django's public API: a tool wrapped this
        instance's methods (let it see the calls), a subclass changed them, a client of the user's
        own, a pool of connections (whose commands are not ordered with each other), or sockets
        without ``no_delay``."""
        cache: Any = self.cache
        attrs = cache.__dict__
        if "add" in attrs or "set" in attrs or "delete" in attrs or "get_many" in attrs:
            return None
        try:
            return attrs[WRITER_ATTR]  # type: ignore[no-any-return]
        except KeyError:
            pass
        found = self._probe(cache)
        attrs[WRITER_ATTR] = found
        return found

    @staticmethod
    def _probe(cache: Any) -> _Writer | None:
        from django.core.cache.backends.memcached import BaseMemcachedCache
        from pymemcache.client.hash import HashClient
        from pymemcache.serde import PickleSerde

        backend = type(cache)
        if any(getattr(backend, name) is not getattr(BaseMemcachedCache, name) for name in ("add", "set", "delete")):
            return None
        client: Any = getattr(cache, "_cache", None)
        if type(client) is not HashClient or getattr(client, "use_pooling", True):
            return None
        if not (isinstance(getattr(getattr(client, "hasher", None), "nodes", None), list)
                and isinstance(getattr(client, "_dead_clients", None), dict)
                and isinstance(getattr(client, "clients", None), dict)
                and callable(getattr(client, "_safely_run_func", None))):
            return None  # HashClient's internals changed (the fast reader warns about it): public API
        options = getattr(client, "default_kwargs", None) or {}
        if not options.get("no_delay"):
            # Without TCP_NODELAY a command sent after a noreply one waits for the server's
            # delayed ACK (Nagle): ~40 ms. OPTIONS {"no_delay": True} is the fast setup.
            return None
        serde: Any = options.get("serde")
        # Django's pickling (PickleSerde passes bytes through unchanged, so a value pickled here
        # is stored as pymemcache would have stored it); any other serde: the store waits for its reply.
        pickled = serde.serialize if type(serde) is PickleSerde else None
        batch = pickled is not None and not any(memcached_batch.problem(c) for c in client.clients.values())
        return _Writer(client, key_maker(cache), pickled, batch)

    def _direct(self, timeout: float | None, *keys: str) -> _Direct | None:
        """What the one-round-trip methods use, or None (Django's API then): see :class:`_Direct`."""
        writer = self._client()
        if writer is None:
            return None
        hashed, make = writer.client, writer.make_key
        expire = self.cache.get_backend_timeout(timeout)
        server = _single(hashed)
        if server is None:
            def call(name: str, default: Any, *args: Any, **kwargs: Any) -> Any:
                return getattr(hashed, name)(*args, **kwargs)
        else:
            run = hashed._safely_run_func

            def call(name: str, default: Any, *args: Any, **kwargs: Any) -> Any:
                return run(server, getattr(server, name), default, *args, **kwargs)
        return _Direct(call, [make(key) for key in keys], expire, writer,
                       server if writer.batch else None)

    def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        """The ``add`` sent without waiting (``noreply``), then one ``get_many`` of the lock and the
        entry on the same connection: memcached runs a connection's commands in order, so the lock
        read back holds our value exactly when our ``add`` took it. One round trip (one write,
        too, with one server in rotation: ``adapters.memcached_batch``)."""
        direct = self._direct(timeout, add_key, get_key)
        if direct is None:
            return super().add_and_get(add_key, value, timeout, get_key)
        call, (lock, entry), expire, writer, server = direct
        if server is not None:
            data, flags = writer.pickled(lock, value)
            raw_lock, raw_entry = memcached_batch.key_bytes(server, lock), memcached_batch.key_bytes(server, entry)
            found = writer.client._safely_run_func(server, memcached_batch.add_then_get, {}, server, raw_lock,
                                                   data, flags, expire, (raw_lock, raw_entry))
            held, stored = found.get(raw_lock), found.get(raw_entry)
        else:
            call("add", False, lock, value, expire, noreply=True)
            got = call("get_many", {}, [lock, entry])
            held, stored = got.get(lock), got.get(entry)
        if held is None:  # the server did not take the add (a failing server): ask, with a reply
            return bool(call("add", False, lock, value, expire, noreply=False)), stored
        return held == value, stored

    def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        """The entry stored, the lock released behind it, both sent without waiting (``noreply``):
        no round trip of its own. Memcached runs a connection's commands in order, so whoever sees
        the lock gone sees the entry, and this thread's next read sees it too.

        An entry pickled to more than ``NOREPLY_STORE_BYTES`` is stored as Django's ``set`` stores
        it, waiting for the reply: a value memcached refuses (over its item size) raises, and is
        not left behind (memcached unlinks the old item on a refused ``set``; Django deletes it
        too). What ``noreply`` leaves unseen is a refusal of a small entry, which only a server
        out of memory with eviction off (``-M``) gives: the old item is unlinked then as well, so
        the next read is a miss, never a stale value. A server that is down or hung fails the send
        or the next read, as before."""
        direct = self._direct(timeout, set_key, delete_key)
        if direct is None:
            super().set_and_delete(set_key, value, timeout, delete_key)
            return
        call, (entry, lock), expire, writer, server = direct
        data, flags = writer.pickled(entry, value) if writer.pickle is not None else (None, 0)
        if data is None or len(data) > NOREPLY_STORE_BYTES:  # wait for the reply, as Django's set does
            if not call("set", False, entry, value, expire, noreply=False):
                call("delete", False, entry, noreply=True)
            call("delete", False, lock, noreply=True)
        elif server is not None:  # one write, nothing to wait for
            writer.client._safely_run_func(server, memcached_batch.set_then_delete, None, server,
                                           memcached_batch.key_bytes(server, entry), data, flags, expire,
                                           memcached_batch.key_bytes(server, lock))
        else:
            call("set", False, entry, data, expire, noreply=True, flags=flags)
            call("delete", False, lock, noreply=True)

    # -- the key browser: lru_crawler metadump, a server at a time, on sockets of our own ----------
    def list_keys(self, match: str, cursor: str, count: int, budget: float) -> KeyPage:
        """About ``count`` keys matching ``match``, from ``cursor`` on, a server after another.

        The cursor is ``<server index>:<lines of its dump consumed>:<the last one's key>``. A dump
        cannot resume, so a page re-reads its server's dump from the start and skips what earlier
        pages consumed (``adapters.metadump``): a page costs up to one dump of its server, and a
        key that moves in the server's LRU between pages can show twice or be missed (so can one
        read in the last second, which memcached leaves out of a dump). Whatever ``budget``, the
        skip is done and one line more is read, so every page moves on."""
        servers = self.servers()
        index, position, anchor = _read_cursor(cursor)
        page = KeyPage()
        walk = _Walk(match, max(1, count), time.monotonic() + max(0.0, budget), page)
        timeout = max(LISTING_MIN_TIMEOUT, min(budget, LISTING_TIMEOUT))
        while index < len(servers):
            label = self.mask(servers[index]) if len(servers) > 1 else ""
            stopped = self._list_server(servers[index], label, walk, position, anchor, timeout)
            if stopped is not None:
                page.cursor = f"{index}:{stopped}"
                return page
            index, position, anchor = index + 1, 0, b""
            if walk.stopped and index < len(servers):
                page.cursor = f"{index}:0:"
                return page
        return page

    def _list_server(self, server: str, label: str, walk: _Walk, position: int, anchor: bytes,
                     timeout: float) -> str | None:
        """Walk one server's dump from where ``position`` and ``anchor`` say into the page; where
        it stopped (``<lines>:<anchor>``), or None when its dump was read to the end."""
        with self._dump(server, timeout) as (dump, lag):
            dump.resume(position, anchor)
            walk.page.scanned += dump.position
            while (line := dump.next_line()) is not None:
                walk.page.scanned += 1
                listed = _listed(line, walk, label, lag)
                if listed is not None:
                    walk.page.keys.append(listed)
                if walk.done():
                    if dump.finished():
                        return None
                    return f"{dump.position}:{metadump.key_field(dump.last).decode('ascii')}"
        return None

    @contextmanager
    def _dump(self, server: str, timeout: float) -> Iterator[tuple[metadump.Dump, float]]:
        """The server's dump, and how far its clock is behind ours (seconds: its epoch times + lag
        are ours). ``stats`` first: the version (an old server's ``ERROR`` explained) and the time."""
        with _socket(server, timeout) as sock:
            found = metadump.stats(sock)
            too_old = self._too_old(server, found.get("version", ""))
            if too_old is not None:
                raise too_old
            lag = time.time() - _number(found.get("time"), time.time())
            try:
                dump = metadump.start(sock)
            except metadump.Refused as exc:
                raise self._refusal(server, exc) from exc
            yield dump, lag

    def listing_problem(self) -> str | None:
        """Why the keys cannot be listed: a server older than 1.4.31, or with its LRU crawler
        off (asked with ``stats`` and ``stats settings``; nothing is crawled). A server that does
        not answer is the health report's matter (listing it raises the error)."""
        for server in self.servers():
            try:
                problem = self._server_problem(server)
            except (OSError, metadump.Refused):
                continue
            if problem is not None:
                return str(problem)
        return None

    def _server_problem(self, server: str) -> UnsupportedOperation | None:
        with _socket(server, LISTING_TIMEOUT) as sock:
            problem = self._too_old(server, metadump.stats(sock).get("version", ""))
            if problem is None and metadump.stats(sock, b"settings").get("lru_crawler") == "no":
                problem = UnsupportedOperation(KEYS_CRAWLER_OFF, {"server": self.mask(server)})
            return problem

    def _too_old(self, server: str, found: str) -> UnsupportedOperation | None:
        if metadump.version(found) >= METADUMP_SINCE:
            return None
        return UnsupportedOperation(KEYS_TOO_OLD, {"server": self.mask(server), "version": found or "?"})

    def _refusal(self, server: str, exc: metadump.Refused) -> CacheDashboardError:
        """The server's refusal of a dump, as staff should read it (translated when shown)."""
        params = {"server": self.mask(server), "answer": exc.answer}
        if isinstance(exc, metadump.Busy):
            return CacheDashboardError(KEYS_BUSY, params)
        if "disabled" in exc.answer:  # "CLIENT_ERROR lru crawler disabled"
            return UnsupportedOperation(KEYS_CRAWLER_OFF, params)
        return UnsupportedOperation(KEYS_REFUSED, params)

    def read_key(self, raw: bytes, limit: int, cursor: str = DONE) -> RawValue | None:
        """The value's first ``limit`` bytes as the server holds them, read by a client of our own
        without serde (nothing is unpickled), from the first server that has it (the one the
        backend's hashing picks, first); its TTL (``mg <key> t``) and size (``me <key>``, the
        listing's measure) where the server says (1.6 and later), else NaN and None."""
        found = self._each_server(raw, lambda client: _read(client, raw, limit), every=False)
        return found[0] if found else None

    def delete_raw(self, raw: bytes) -> bool:
        """Delete ``raw`` on every server that has it, with clients of our own: a key written by
        another client's hashing, or while a server was marked dead, can be on any of the pool."""
        return bool(self._each_server(raw, lambda client: client.delete(raw, noreply=False) or None, every=True))

    def expire_raw(self, raw: bytes, seconds: int | None) -> bool:
        """``touch`` on every server that has it: the value kept, ``seconds`` more to live (None:
        no expiry, memcached's 0)."""
        expire = _expiry(seconds)
        return bool(self._each_server(raw, lambda client: client.touch(raw, expire, noreply=False) or None,
                                      every=True))

    def _each_server(self, raw: bytes, act: Callable[[Any], _T | None], every: bool) -> list[_T]:
        """What ``act(client)`` found (not None) on the servers that may hold ``raw``, a client of
        our own each: all of them with ``every``, else up to the first that found it. A failing
        server is passed over; its error is raised when no server found anything."""
        from pymemcache.exceptions import MemcacheError

        found: list[_T] = []
        failure: Exception | None = None
        for server in self._servers_for(raw):
            try:
                with _own_client(server) as client:
                    result = act(client)
            except (OSError, MemcacheError) as exc:
                failure = failure or exc
                continue
            if result is not None:
                found.append(result)
                if not every:
                    break
        if not found and failure is not None:
            raise failure
        return found

    def _servers_for(self, raw: bytes) -> list[str]:
        """The alias's servers, the one the backend's hashing picks for ``raw`` first (where the
        site reads it). Any order for a key the backend could not have written (not UTF-8)."""
        servers = self.servers()
        if len(servers) < 2:
            return servers
        try:
            hashed: Any = self.cache._cache  # type: ignore[attr-defined]  # BaseCache has no _cache
            picked = hashed.clients[hashed.hasher.get_node(raw.decode("utf-8"))].server
        except (AttributeError, KeyError, TypeError, UnicodeDecodeError):  # a client of the user's own
            return servers
        return sorted(servers, key=lambda server: _server_tuple(server) != picked)

    def summarize_server(self, row: Mapping[str, Any]) -> dict[str, Any]:
        summary = super().summarize_server(row)
        summary.update({ours: row.get(theirs) for theirs, ours in _SUMMARY.items()})
        return summary

    def _checks(self) -> Iterator[CheckMessage]:
        yield from super()._checks()
        key_prefix = str(self.params.get("KEY_PREFIX", ""))
        if len(key_prefix) > MAX_KEY_PREFIX:
            yield Warning(
                f"KEY_PREFIX of cache alias {self.alias!r} is {len(key_prefix)} characters; memcached keys are "
                "limited to 250 bytes, which leaves too little room for cache_dashboard's keys.",
                id="cache_dashboard.W004",
            )
        yield from self._pool_checks(self.params.get("OPTIONS") or {})

    def _pool_checks(self, options: Mapping[str, Any]) -> Iterator[CheckMessage]:
        """W008: pymemcache's HashClient options that decide how long a failed server is out."""
        hint = RECOVERY_HINT
        if "dead_timeout" not in options:
            # Django's PyMemcacheCache always builds a pymemcache HashClient, for one server too:
            # after retry_attempts (2) failed calls it takes the server out for dead_timeout (60 s),
            # and every call meanwhile fails at once ("All servers seem to be down right now").
            yield Warning(
                f"Cache alias {self.alias!r} sets no dead_timeout in OPTIONS: once a call to a memcached "
                "server fails, pymemcache's HashClient keeps that server out for 60 s (its default), "
                "back or not: its keys miss on the other servers, or, with one server, every call fails.",
                hint=hint, id="cache_dashboard.W008",
            )
            return
        dead_timeout = _number(options.get("dead_timeout"), 0.0)
        if dead_timeout > MAX_DEAD_TIMEOUT:
            yield Warning(
                f"Cache alias {self.alias!r} sets dead_timeout to {dead_timeout:g} s: pymemcache's HashClient "
                "keeps a server that failed out that long, back or not (a 10 s hang costs up to "
                f"{dead_timeout:g} s more of misses, or, with one server, of failed calls).",
                hint=hint, id="cache_dashboard.W008",
            )
        attempts = options.get("retry_attempts")
        if isinstance(attempts, int) and attempts > MAX_RETRY_ATTEMPTS:
            yield Warning(
                f"Cache alias {self.alias!r} sets retry_attempts to {attempts}: every thread waits out "
                f"{attempts + 2} socket timeouts on a hung memcached server before pymemcache's HashClient "
                "takes it out of rotation.",
                hint=hint, id="cache_dashboard.W008",
            )


# -- the key browser's parts -----------------------------------------------------------------------


@dataclass
class _Walk:
    """One page of a listing under way: its filter, the page, and when it must stop."""

    match: str
    count: int
    deadline: float
    page: KeyPage
    stopped: bool = False

    def __post_init__(self) -> None:
        literal, rest = _split_glob(self.match)
        #: Every line of a matching key starts with it: ``key=`` and the literal, as the dump encodes keys.
        self.head = b"key=" + _encoded(literal)
        #: The whole test of a decoded key; None when the head says it all (an ASCII literal, then ``*``).
        self.matches: Callable[[str], bool] | None = glob_matcher(self.match)
        if rest == "*" and literal.isascii():
            self.matches = None

    def done(self) -> bool:
        """Whether the page is full or out of time (then marked so)."""
        if len(self.page.keys) >= self.count:
            self.stopped = True
        elif time.monotonic() >= self.deadline:
            self.stopped = self.page.out_of_time = True
        return self.stopped


def _read_cursor(cursor: str) -> tuple[int, int, bytes]:
    """``(server index, dump lines consumed, key of the last)`` of a listing cursor (DONE: the start)."""
    if not cursor:
        return 0, 0, b""
    parts = _CURSOR.fullmatch(cursor)
    if parts is None:
        raise ValueError(f"not a memcached listing cursor: {cursor!r}")
    return int(parts[1]), int(parts[2]), parts[3].encode("ascii")


#: What :meth:`PyMemcacheAdapter.list_keys` returns as a cursor (memcached URI-encodes the key).
_CURSOR = re.compile(r"(\d+):(\d+):([A-Za-z0-9%._~-]*)", re.ASCII)


def _listed(line: bytes, walk: _Walk, server: str, lag: float) -> ListedKey | None:
    """The dump line's key when it matches and has not expired, else None."""
    if not line.startswith(walk.head):  # cheap: most lines of a server shared with other sites
        return None
    raw = unquote_to_bytes(metadump.key_field(line))
    if walk.matches is not None and not walk.matches(raw.decode("utf-8", "surrogateescape")):
        return None
    expires, accessed, size = metadump.item_facts(line)
    if expires is None:
        ttl: float | None = math.nan
    else:
        ttl = None if expires == -1 else expires + lag - time.time()
        if ttl is not None and ttl <= 0:  # expired, not reclaimed yet: gone for every reader
            return None
    return ListedKey(raw=raw, ttl=ttl, size=size, server=server,
                     last_access=None if accessed is None else accessed + lag)


def _split_glob(match: str) -> tuple[str, str]:
    """``(literal, rest)``: what every match of the glob ``match`` starts with (up to its first
    wildcard, escapes undone), and the glob from that wildcard on."""
    literal, at = [], 0
    while at < len(match) and match[at] not in "*?[":
        if match[at] == "\\" and at + 1 < len(match):
            at += 1
        literal.append(match[at])
        at += 1
    return "".join(literal), match[at:]


def _encoded(literal: str) -> bytes:
    """A key's beginning as the dump writes it (b"" for a lone surrogate: no decoded key holds one)."""
    try:
        return metadump.encoded(literal.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return b""


def _number(text: bytes | str | None, default: float) -> float:
    """A number the server wrote, or ``default`` where it wrote none (or something else)."""
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


def _read(client: Any, raw: bytes, limit: int) -> RawValue | None:
    value = client.get(raw)
    if value is None:
        return None
    ttl, size = _item_facts(client, raw)
    return RawValue(raw=raw, ttl=ttl, size=size, length=len(value), payload=value[: max(0, limit)])


def _item_facts(client: Any, raw: bytes) -> tuple[float | None, int | None]:
    """``(ttl, size)`` of an item: ``mg <key> t`` (``HD t<seconds left or -1>``) and ``me <key>``
    (``ME <key> … size=<bytes>``; its ``exp`` is not used: 1.6.18 writes it negated); NaN and
    None where the server does not say (before 1.6: no meta commands)."""
    from pymemcache.exceptions import MemcacheError

    try:
        meta = client.raw_command(b"mg " + raw + b" t").split()
        debug = metadump.fields(client.raw_command(b"me " + raw))
    except MemcacheError:
        return math.nan, None
    left = next((_number(token[1:], math.nan) for token in meta[1:] if token.startswith(b"t")), math.nan)
    size = _number(debug.get(b"size"), math.nan)
    return (None if left == -1 else left), (None if math.isnan(size) else int(size))


def _expiry(seconds: int | None) -> int:
    """Seconds to live as memcached's exptime: 0 never expires; over 30 days, a Unix time."""
    if seconds is None:
        return 0
    seconds = max(1, int(seconds))
    return seconds + int(time.time()) if seconds > RELATIVE_EXPIRY_LIMIT else seconds


@contextmanager
def _socket(server: str, timeout: float) -> Iterator[socket.socket]:
    """A plain socket of our own to ``server``, closed after use."""
    sock = metadump.connect(_server_tuple(server), timeout)
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def _own_client(server: str) -> Iterator[Any]:
    """A pymemcache client of our own for ``server``, without serde (values stay bytes)."""
    from pymemcache.client.base import Client

    client = Client(_server_tuple(server), connect_timeout=LISTING_TIMEOUT, timeout=LISTING_TIMEOUT)
    try:
        yield client
    finally:
        client.close()
