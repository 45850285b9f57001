"""A few Redis commands sent together on one pooled connection, without redis-py's ``Pipeline``.

The miss path sends two such batches (the lock taken with the entry read again; the entry stored
with the lock released). ``client.pipeline(transaction=False)`` builds a ``Pipeline`` object per
batch, resets it, wraps the call in its retry and observability layers and applies every reply's
callback: measured on this VM (redis-py 8.1, hiredis), 132-139 µs of client CPU for a batch of two
commands against 69-77 µs for a single GET. The batch packed and written here costs 71-73 µs, the
price of one command (``bench/run.py --only B2`` shows the miss path with it).

What is kept from redis-py: its connection pool (``get_connection`` connects and checks the
connection, ``release`` returns it), its command packing and its reply parser. Where the
connection packs with hiredis (redis-py's ``HiredisRespSerializer``, valkey-py's
``LibvalkeyRespSerializer``: what those do, minus the splitting of a first word with spaces in
it, which no command here has), ``pack_command`` is called here directly: 1 µs a command instead
of 4, and 3 µs for the miss path's batch of two instead of 12. What is not:
retries (the caller fails open and its circuit breaker counts the error, as it does for the hit
path's read) and reply callbacks (replies come back as the server sent them: ``GET`` bytes or
None, ``SET`` a true value or None, ``DEL`` an integer). A connection that fails mid-batch is
disconnected before it goes back to the pool, so no reply of this batch can be read by the next.
Clients this cannot serve the same way (no pool, a single-connection client, client-side
caching) get ``client.pipeline(transaction=False)``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

#: Pool classes -> whether ``get_connection`` needs a command name (redis-py < 5.3, valkey-py < 6).
_NEEDS_NAME: dict[type, bool] = {}


def _needs_name(pool: Any) -> bool:
    kind = type(pool)
    try:
        return _NEEDS_NAME[kind]
    except KeyError:
        try:
            param = inspect.signature(kind.get_connection).parameters.get("command_name")
        except (TypeError, ValueError):
            param = None
        found = _NEEDS_NAME[kind] = param is not None and param.default is inspect.Parameter.empty
        return found


def _checkout(pool: Any) -> Any:
    """A connected connection of ``pool`` (given back with ``pool.release``)."""
    return pool.get_connection("PIPELINE") if _needs_name(pool) else pool.get_connection()


def _pool(client: Any) -> Any:
    """``client``'s connection pool when a batch can be written on it directly, else None."""
    pool = getattr(client, "connection_pool", None)
    if (pool is None or getattr(client, "connection", None) is not None
            or getattr(pool, "cache", None) is not None or not hasattr(pool, "release")):
        return None
    return pool


#: Packer classes -> the C ``pack_command`` they call, or None (the connection packs itself).
_PACKERS: dict[type, Any] = {}


def _c_packer(kind: type) -> Any:
    found = None
    for module, name, library in (("redis.connection", "HiredisRespSerializer", "hiredis"),
                                  ("valkey.connection", "LibvalkeyRespSerializer", "libvalkey")):
        if kind.__module__ == module and kind.__name__ == name:
            try:
                found = importlib.import_module(library).pack_command
            except (ImportError, AttributeError):
                found = None
    _PACKERS[kind] = found
    return found


def _packed(conn: Any, commands: Sequence[tuple[Any, ...]]) -> list[bytes]:
    """``commands`` packed for ``conn`` (chunks to write): by the C packer its serializer would
    call, or by ``conn`` itself."""
    kind = type(getattr(conn, "_command_packer", None))
    try:
        pack = _PACKERS[kind]
    except KeyError:
        pack = _c_packer(kind)
    if pack is not None:
        try:
            return [b"".join([pack(words) for words in commands])]  # send_packed_command takes a list
        except TypeError:
            pass  # a word it cannot pack: the connection's own packing raises DataError for it
    return conn.pack_commands(commands)  # type: ignore[no-any-return]


def pipelined(client: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The replies to ``commands`` (each a command's words: ``("GET", key)``), sent in one write
    on one of ``client``'s connections. An error reply is raised once every reply is read."""
    pool = _pool(client)
    if pool is None:
        return _with_pipeline(client, commands)
    conn = _checkout(pool)
    replies: list[Any] = []
    error: Exception | None = None
    try:
        conn.send_packed_command(_packed(conn, commands))
        for _ in commands:
            try:
                replies.append(conn.read_response())
            except Exception as exc:
                if not isinstance(exc, _refusals()):
                    raise
                error = error or exc  # the server refused this one: read the rest
                replies.append(exc)
    except BaseException:
        conn.disconnect()  # replies may be left unread on it
        raise
    finally:
        pool.release(conn)
    if error is not None:
        raise error
    return replies


def command(client: Any, *words: Any) -> Any:
    """The reply to one command (``command(client, "GET", key)``), written and read as
    :func:`pipelined` does: the hit path's read, which costs about half the client CPU of
    ``client.get`` this way (redis-py 8.1: 23 against 58 µs per GET, ``bench/run.py --only B1``)."""
    pool = _pool(client)
    if pool is None:
        return client.execute_command(*words)
    conn = _checkout(pool)
    try:
        conn.send_packed_command(_packed(conn, (words,)))
        return conn.read_response()
    except BaseException as exc:
        if not isinstance(exc, _refusals()):  # an error reply leaves the connection in step
            conn.disconnect()
        raise
    finally:
        pool.release(conn)


_REFUSALS: tuple[type[Exception], ...] | None = None


def _refusals() -> tuple[type[Exception], ...]:
    """The ResponseError classes of redis-py and valkey-py (those installed): an error reply."""
    global _REFUSALS
    if _REFUSALS is None:
        found = []
        for library in ("redis", "valkey"):
            try:
                found.append(importlib.import_module(f"{library}.exceptions").ResponseError)
            except ImportError:
                pass
        _REFUSALS = tuple(found)
    return _REFUSALS


def _with_pipeline(client: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for words in commands:
        pipe.execute_command(*words)
    return list(pipe.execute())
