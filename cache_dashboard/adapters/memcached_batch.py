"""Two memcached commands written together on one pymemcache client's socket.

The miss path sends two such batches: the lock's ``add`` (``noreply``) with the ``get`` of the lock
and the entry, then the entry's ``set`` with the lock's ``delete`` (both ``noreply``). Through
pymemcache's API each command is a ``sendall`` of its own, and each key goes through
``check_key_helper`` again: measured on this VM (pymemcache 4.0, loopback), a send costs ~12 µs
of CPU, so the miss path's five sends were a third of its time (``bench/run.py --only B2``).

What is kept from pymemcache: the client's socket and its ``_connect`` (timeouts, TCP_NODELAY,
TLS), its serde, its line and value readers and its error classes; a failure closes the socket, as
pymemcache's own commands do, so no reply of this batch is read by the next command, and the
caller runs these functions through ``HashClient._safely_run_func`` (retries, dead servers).
Keys are checked here, not by ``check_key_helper``: UTF-8, the client's ``key_prefix`` first, at
most 250 bytes, no byte below 0x21 or 0x7f (Django's ``validate_key`` refuses those too).

Private names used, probed by :func:`problem`: ``pymemcache.client.base._readline`` and
``_readvalue``, and on ``Client``: ``sock``, ``_connect``, ``_raise_errors``, ``key_prefix``,
``serde``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: memcached's longest key, in bytes.
MAX_KEY_BYTES = 250

_BAD_BYTE = re.compile(rb"[\x00-\x20\x7f]").search


def problem(client: Any) -> str | None:
    """Why ``client`` (a pymemcache ``Client``) cannot take these batches, or None when it can."""
    from pymemcache.client import base

    if not (callable(getattr(base, "_readline", None)) and callable(getattr(base, "_readvalue", None))):
        return "pymemcache.client.base._readline / _readvalue are gone"
    for name in ("_connect", "_raise_errors", "close"):
        if not callable(getattr(client, name, None)):
            return f"pymemcache's Client.{name} is gone"
    if not hasattr(client, "sock") or not isinstance(getattr(client, "key_prefix", None), bytes):
        return "pymemcache's Client.sock / key_prefix changed"
    if getattr(client, "ignore_exc", False):
        return "the client ignores errors (ignore_exc): its own commands decide what a failure returns"
    return None


def key_bytes(client: Any, key: str) -> bytes:
    """``key`` as sent: the client's ``key_prefix`` and the UTF-8 bytes, checked."""
    from pymemcache.exceptions import MemcacheIllegalInputError

    raw: bytes = client.key_prefix + key.encode()
    if len(raw) > MAX_KEY_BYTES or _BAD_BYTE(raw):
        raise MemcacheIllegalInputError(f"Key is not a memcached key: {raw!r}")
    return raw


def add_then_get(client: Any, key: bytes, data: bytes, flags: int, expire: int,
                 keys: Sequence[bytes]) -> dict[bytes, Any]:
    """``add key`` (``noreply``) and ``get keys`` in one write: the values found, by key,
    deserialized by the client's serde. The server runs them in order, so a ``get`` of ``key``
    reads what the ``add`` left."""
    command = b"add %b %d %d %d noreply\r\n%b\r\nget %b\r\n" % (key, flags, expire, len(data), data, b" ".join(keys))
    found = _exchange(client, command, True)
    assert found is not None
    return found


def set_then_delete(client: Any, key: bytes, data: bytes, flags: int, expire: int, delete: bytes) -> None:
    """``set key`` then ``delete delete``, both ``noreply``, in one write: nothing to wait for."""
    _exchange(client, b"set %b %d %d %d noreply\r\n%b\r\ndelete %b noreply\r\n" % (
        key, flags, expire, len(data), data, delete), False)


def _exchange(client: Any, command: bytes, values: bool) -> dict[bytes, Any] | None:
    if client.sock is None:
        client._connect()
    try:
        client.sock.sendall(command)
        return _read_values(client) if values else None
    except Exception:
        client.close()  # whatever was half read or half sent goes with the socket
        raise


def _read_values(client: Any) -> dict[bytes, Any]:
    from pymemcache.client.base import _readline, _readvalue
    from pymemcache.exceptions import MemcacheUnknownError

    sock, deserialize = client.sock, client.serde.deserialize
    found: dict[bytes, Any] = {}
    buf = b""
    while True:
        buf, line = _readline(sock, buf)
        if line == b"END":
            return found
        if not line.startswith(b"VALUE "):
            client._raise_errors(line, b"get")
            raise MemcacheUnknownError(line[:32])
        _value, key, flags, size = line.split()[:4]
        buf, data = _readvalue(sock, buf, int(size))
        found[key] = deserialize(key, data, int(flags))
