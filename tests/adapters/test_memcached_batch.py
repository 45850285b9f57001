"""The miss path's two-command writes on a pymemcache client's socket (``adapters.memcached_batch``),
on a real memcached: what the add leaves, values read back through the serde, keys refused before
anything is sent, an error reply, a server that goes away and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheIllegalInputError
from pymemcache.serde import pickle_serde

from cache_dashboard.adapters import memcached_batch as batch
from tests.conftest import require
from tests.servers import Server, start_memcached


@pytest.fixture(scope="module")
def server(servers: object) -> Iterator[Server]:
    require("memcached", servers)  # type: ignore[arg-type]
    started = start_memcached()  # one of this module's own: a test stops and restarts it
    yield started
    started.stop()


@pytest.fixture
def client(server: Server) -> Iterator[Any]:
    host, port = server.address.split(":")
    made = Client((host, int(port)), serde=pickle_serde, no_delay=True, timeout=1, connect_timeout=1)
    made.flush_all(noreply=False)
    yield made
    made.close()


def test_the_add_and_the_get_in_one_write(client: Any) -> None:
    assert batch.problem(client) is None
    client.set("entry", {"old": 1})
    data, flags = pickle_serde.serialize("lock", "mine 0.1 1.0")
    found = batch.add_then_get(client, b"lock", data, flags, 10, (b"lock", b"entry", b"absent"))
    assert found == {b"lock": "mine 0.1 1.0", b"entry": {"old": 1}}
    data, flags = pickle_serde.serialize("lock", "theirs")
    assert batch.add_then_get(client, b"lock", data, flags, 10, (b"lock",)) == {b"lock": "mine 0.1 1.0"}  # taken


def test_the_set_and_the_delete_in_one_write(client: Any) -> None:
    client.set("lock", "mine")
    value = ("ñ\ud800\x00__proto__", b"\r\nEND\r\n", 1)  # protocol words inside the data are data
    data, flags = pickle_serde.serialize("entry", value)
    batch.set_then_delete(client, b"entry", data, flags, 60, b"lock")
    assert client.get("entry") == value and client.get("lock") is None  # in order, behind the noreplies


@pytest.mark.parametrize("key", ["with space", "tab\there", "nul\x00", "ctrl\x01", "del\x7f", "k" * 251,
                                 "é" * 126])
def test_keys_memcached_would_misread_are_refused_before_sending(key: str) -> None:
    with pytest.raises(MemcacheIllegalInputError):
        batch.key_bytes(Client(("127.0.0.1", 9)), key)  # never connected


def test_keys_are_the_prefix_and_utf8() -> None:
    client = Client(("127.0.0.1", 9))
    assert batch.key_bytes(client, "ruc:é") == "ruc:é".encode()
    client.key_prefix = b"p:"
    assert batch.key_bytes(client, "k" * 248) == b"p:" + b"k" * 248
    with pytest.raises(MemcacheIllegalInputError):
        batch.key_bytes(client, "k" * 249)


def test_an_error_reply_closes_the_socket(client: Any) -> None:
    data, flags = pickle_serde.serialize("lock", "mine")
    with pytest.raises(MemcacheClientError):  # memcached refuses a key over 250 bytes in a get
        batch.add_then_get(client, b"lock", data, flags, 10, (b"k" * 300,))
    assert client.sock is None  # nothing of that reply is left for the next command
    assert batch.add_then_get(client, b"lock", data, flags, 10, (b"lock",)) == {b"lock": "mine"}


def test_a_server_gone_then_back(client: Any, server: Server) -> None:
    data, flags = pickle_serde.serialize("lock", "mine")
    assert batch.add_then_get(client, b"lock", data, flags, 10, (b"lock",)) == {b"lock": "mine"}
    server.stop()
    with pytest.raises(Exception):  # noqa: B017, PT011 - a reset or a closed connection, as pymemcache raises
        batch.add_then_get(client, b"lock2", data, flags, 10, (b"lock2",))
    assert client.sock is None
    server.restart()
    assert batch.add_then_get(client, b"lock2", data, flags, 10, (b"lock2",)) == {b"lock2": "mine"}


def test_clients_that_keep_their_own_failure_rules_are_left_alone(server: Server) -> None:
    host, port = server.address.split(":")
    lenient = Client((host, int(port)), ignore_exc=True)
    assert batch.problem(lenient) is not None
