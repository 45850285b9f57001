"""Native async clients: the alias's own server through ``redis.asyncio`` (or ``valkey.asyncio``),
one connection pool per event loop, closed when the loop shuts down.

A pool is built from the alias's sync pool — the one Django or django-redis built from LOCATION
and OPTIONS — by carrying over its connection options (host, port, db, credentials, TLS, socket
timeouts, retries) into the async library's classes of the same names, and its connection limit:
past it, coroutines wait for a free connection (at most the socket timeout) rather than fail. A pool of another kind
(Sentinel, a custom ``pool_class``) or a connection option the async class does not take gives no
native client (:class:`NotNative`, with the reason): CacheManager's async API then runs the sync
call in a worker thread instead.

Pools are never shared across event loops (an asyncio connection belongs to the loop that opened
it) and so never across threads. Each loop's clients are closed when the loop runs
``shutdown_asyncgens()`` (``asyncio.run`` and asgiref do, at the end), through an async generator
parked in the loop for that purpose; ``close_loop_clients()`` closes them earlier.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

#: Connection options carried from the sync pool to the async one (when the async class takes them).
CARRIED = (
    "host", "port", "db", "path", "username", "password", "credential_provider", "socket_timeout",
    "socket_connect_timeout", "socket_keepalive", "socket_keepalive_options", "retry_on_timeout",
    "retry_on_error", "encoding", "encoding_errors", "decode_responses", "socket_read_size",
    "health_check_interval", "client_name", "lib_name", "lib_version", "protocol",
    "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_ca_path",
    "ssl_check_hostname", "ssl_min_version", "ssl_ciphers", "ssl_password",
)
#: The sync library's own machinery in a pool's ``connection_kwargs``: rebuilt by the async one.
REBUILT = frozenset({
    "parser_class", "retry", "redis_connect_func", "event_dispatcher", "driver_info", "command_packer",
    "legacy_responses", "himport_registry", "maint_notifications_config", "maint_notifications_pool_handler",
    "maintenance_state", "maintenance_notification_hash", "orig_host_address", "orig_socket_timeout",
    "orig_socket_connect_timeout", "oss_cluster_maint_notifications_handler", "connection_class",
    "max_connections", "cache_enabled", "cache", "cache_config", "ssl_validate_ocsp",
    "ssl_validate_ocsp_stapled", "ssl_ocsp_context", "ssl_ocsp_expected_cert", "ssl_include_verify_flags",
    "ssl_exclude_verify_flags",
})
#: Sync pool classes -> their async twins, by name within the library.
POOLS = ("ConnectionPool", "BlockingConnectionPool")
#: Keys per MGET of a batch of coalesced reads.
MGET_KEYS = 1000
#: A pool limit this large (redis-py 5's default: 2**31) is no limit.
UNBOUNDED = 2**31 - 1
CONNECTIONS = ("Connection", "SSLConnection", "UnixDomainSocketConnection")


def ex_seconds(timeout: float | None) -> int | None:
    """A cache timeout as Redis's EX (None: no expiry); callers pass only positive timeouts."""
    return None if timeout is None else max(1, int(timeout))


class NotNative(Exception):
    """The alias's connection cannot be rebuilt for asyncio; the message says why."""


def _accepted(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(p for p in inspect.signature(init).parameters if p != "self")
    return names


def clone_pool(pool: Any, lib: Any) -> tuple[Any, int | None]:
    """An async connection pool of ``lib`` (redis or valkey) reaching what the sync ``pool`` does,
    with its options, and how many connections :class:`AsyncOps` may use at once (None: no limit).
    Raises :class:`NotNative` when that cannot be done faithfully."""
    kind = type(pool).__name__
    if kind not in POOLS or type(pool) is not getattr(lib.connection, kind, None):
        raise NotNative(f"connection pool {type(pool).__module__}.{type(pool).__qualname__} has no asyncio twin")
    conn_class = pool.connection_class
    if conn_class.__name__ not in CONNECTIONS or conn_class is not getattr(lib.connection, conn_class.__name__):
        raise NotNative(f"connection class {conn_class.__qualname__} has no asyncio twin")
    async_connection = importlib.import_module(f"{lib.__name__}.asyncio.connection")
    target = getattr(async_connection, conn_class.__name__)
    accepted = _accepted(target)
    kwargs: dict[str, Any] = {}
    for name, value in pool.connection_kwargs.items():
        if name in REBUILT or type(value) is object:  # object(): the library's "not given" sentinel
            continue
        if name not in CARRIED or name not in accepted:
            raise NotNative(f"connection option {name!r} is not carried to the asyncio client")
        kwargs[name] = value
    retry = pool.connection_kwargs.get("retry")
    if retry is not None:
        try:
            retry_class = importlib.import_module(f"{lib.__name__}.asyncio.retry").Retry
            kwargs["retry"] = retry_class(retry._backoff, retry._retries, retry._supported_errors)
        except (AttributeError, TypeError) as exc:
            raise NotNative(f"the connection's retry policy {retry!r} cannot be carried over") from exc
    if kind == "BlockingConnectionPool":  # asked for: wait for a free connection, as the sync pool does
        return async_connection.BlockingConnectionPool(connection_class=target, max_connections=pool.max_connections,
                                                       timeout=pool.timeout, **kwargs), None
    # A plain pool fails a caller past its limit (redis-py's sync pool holds 100 by default), and a
    # loop runs far more callers at once than a process runs threads: the async pool is unbounded
    # and AsyncOps keeps to the limit by making callers wait their turn instead.
    limit = pool.max_connections
    unbounded = limit is None or limit >= UNBOUNDED
    return async_connection.ConnectionPool(connection_class=target, **kwargs), None if unbounded else limit


class AsyncOps:
    """The miss path's and the hit path's commands for one alias on one event loop: what
    ``RedisAdapter``'s sync methods send, with the cache's own key function and serializer.

    Reads (:meth:`get`, :meth:`pair`) are coalesced: one is sent at once; those that arrive while
    it is in flight go together in the next MGET, so 1,000 concurrent hits cost a few round
    trips on one connection, and a lone read costs exactly its GET. Other commands take their own
    connection, at most ``limit`` at a time (the sync pool's limit; callers past it wait).
    """

    __slots__ = ("client", "pool", "make_key", "encode", "decode", "scripts", "busy", "queued", "tasks", "slots")

    def __init__(self, client: Any, pool: Any, make_key: Callable[[str], str], encode: Callable[[Any], Any],
                 decode: Callable[[bytes], Any], limit: int | None = None) -> None:
        self.client, self.pool = client, pool
        self.make_key, self.encode, self.decode = make_key, encode, decode
        self.scripts: dict[str, Any] = {}
        #: A read is in flight; reads arriving meanwhile wait in ``queued`` for the next MGET.
        self.busy = False
        self.queued: list[tuple[list[str], asyncio.Future[list[Any]]]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = None if limit is None else asyncio.Semaphore(max(1, limit - 1))

    def _value(self, raw: Any) -> Any:
        return None if raw is None else self.decode(raw)

    # -- coalesced reads ------------------------------------------------------------------------
    async def read(self, raws: list[str]) -> list[Any]:
        """The raw values of raw keys ``raws`` (see the class documentation)."""
        if self.busy:
            future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self.queued.append((raws, future))
            return await future
        self.busy = True
        try:
            if len(raws) == 1:
                return [await self.client.get(raws[0])]
            return list(await self.client.mget(raws))
        finally:
            self.busy = False
            if self.queued:
                self._send_queued()

    def _send_queued(self) -> None:
        batch, self.queued = self.queued, []
        self.busy = True
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self.tasks.add(task)  # (the loop keeps only a weak reference)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, batch: list[tuple[list[str], asyncio.Future[list[Any]]]]) -> None:
        try:
            flat = [raw for raws, _future in batch for raw in raws]
            pipe = self.client.pipeline(transaction=False)
            for start in range(0, len(flat), MGET_KEYS):
                pipe.mget(flat[start : start + MGET_KEYS])
            values = [value for chunk in await pipe.execute() for value in chunk]
        except BaseException as exc:  # every caller of the batch sees the server's error
            for _raws, future in batch:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):  # the loop is shutting down
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            position = 0
            for raws, future in batch:
                if not future.done():  # (a cancelled caller)
                    future.set_result(values[position : position + len(raws)])
                position += len(raws)
        finally:
            self.busy = False
            if self.queued:
                self._send_queued()

    async def get(self, key: str) -> Any:
        return self._value((await self.read([self.make_key(key)]))[0])

    async def pair(self, key1: str, key2: str) -> tuple[Any, Any]:
        raw1, raw2 = await self.read([self.make_key(key1), self.make_key(key2)])
        return self._value(raw1), self._value(raw2)

    # -- commands on a connection of their own ---------------------------------------------------
    async def _execute(self, pipe: Any) -> Any:
        if self.slots is None:
            return await pipe.execute()
        async with self.slots:
            return await pipe.execute()

    def _pipeline(self) -> Any:
        return self.client.pipeline(transaction=False)

    async def set(self, key: str, value: Any, timeout: float | None) -> None:
        pipe = self._pipeline()
        pipe.set(self.make_key(key), self.encode(value), ex=ex_seconds(timeout))
        await self._execute(pipe)

    async def add_and_get(self, add_key: str, value: Any, timeout: float | None, get_key: str) -> tuple[bool, Any]:
        pipe = self._pipeline()
        pipe.set(self.make_key(add_key), self.encode(value), nx=True, ex=ex_seconds(timeout))
        pipe.get(self.make_key(get_key))
        added, raw = await self._execute(pipe)
        return bool(added), self._value(raw)

    async def set_and_delete(self, set_key: str, value: Any, timeout: float | None, delete_key: str) -> None:
        pipe = self._pipeline()
        pipe.set(self.make_key(set_key), self.encode(value), ex=ex_seconds(timeout))
        pipe.delete(self.make_key(delete_key))
        await self._execute(pipe)

    async def lock_and_get(self, lock_key: str, get_key: str) -> tuple[Any, Any]:
        return await self.pair(lock_key, get_key)

    async def delete(self, keys: list[str]) -> int:
        if not keys:
            return 0
        pipe = self._pipeline()
        pipe.unlink(*[self.make_key(k) for k in keys])
        return int((await self._execute(pipe))[0])

    async def version(self, key: str) -> int | None:
        found = await self.get(key)
        return None if found is None else int(found)

    async def create_version(self, key: str, value: int) -> int:
        """``Adapter.create_version``: SET NX, else the value another writer was first with."""
        pipe = self._pipeline()
        raw = self.make_key(key)
        pipe.set(raw, value, nx=True)
        pipe.get(raw)
        added, found = await self._execute(pipe)
        return value if added else int(found)

    async def bump_version(self, key: str, initial: int, note: tuple[str, str] | None = None) -> int:
        """``Adapter.bump_version``: SET NX the start value, then INCR, in one round trip; with
        ``note`` (set key, member), SADD it in the same round trip (a purge asked for)."""
        pipe = self._pipeline()
        raw = self.make_key(key)
        pipe.set(raw, initial, nx=True)
        pipe.incrby(raw, 1)
        if note is not None:
            pipe.sadd(self.make_key(note[0]), note[1])
        return int((await self._execute(pipe))[1])

    async def script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA ``source`` (loaded when the server does not know it) on CacheManager's ``keys``."""
        scripts = self.scripts
        found = scripts.get(source)
        if found is None:
            found = scripts[source] = self.client.register_script(source)
        raws = [self.make_key(k) for k in keys]
        if self.slots is None:
            return await found(keys=raws, args=args)
        async with self.slots:
            return await found(keys=raws, args=args)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.pool.disconnect()


class _Loop:
    """What one event loop holds: its clients (None: this alias has no native client), the entries
    being fetched by one of its coroutines, and the generator that closes the clients."""

    __slots__ = ("clients", "flights", "closer", "__weakref__")

    def __init__(self) -> None:
        self.clients: dict[str, AsyncOps | None] = {}
        self.flights: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self.closer: AsyncIterator[None] | None = None


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop] = weakref.WeakKeyDictionary()
_loops_lock = threading.Lock()


async def _closing(state: _Loop) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await close_clients(state)


async def close_clients(state: _Loop) -> None:
    clients = [c for c in state.clients.values() if c is not None]
    state.clients.clear()
    for client in clients:
        try:
            await client.aclose()
        except Exception:
            pass  # the loop is going away: a dead server cannot stop it


async def loop_state() -> _Loop:
    """The running loop's state, made (with its closer parked in the loop) on first use."""
    loop = asyncio.get_running_loop()
    state = _loops.get(loop)
    if state is None:
        with _loops_lock:  # (loops of other threads may be adding theirs)
            state = _loops[loop] = _Loop()
        closer = _closing(state)
        await closer.__anext__()  # the loop's asyncgen hooks now know it: closed at shutdown_asyncgens()
        state.closer = closer
    return state


def running_state() -> _Loop | None:
    """The running loop's state if it has one (no await: the hit path's lookup)."""
    return _loops.get(asyncio.get_running_loop())


async def close_loop_clients() -> None:
    """Close the running loop's clients now (they are built again on next use)."""
    state = _loops.get(asyncio.get_running_loop())
    if state is not None:
        await close_clients(state)
