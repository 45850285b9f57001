"""The miss path's batches written on a pooled connection (``adapters.pipelined``), on a real
redis-server: the replies, an error reply in the middle, a connection that dies mid-batch, and
the clients it leaves to redis-py's own pipeline."""

from __future__ import annotations

import pytest
import redis

from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.pipelined import pipelined
from tests.conftest import require


@pytest.fixture
def client(servers: object) -> redis.Redis:
    require("redis", servers)  # type: ignore[arg-type]
    found: redis.Redis = get_adapter("redis").client()  # type: ignore[attr-defined]
    return found


def _in_use(client: redis.Redis) -> int:
    return len(client.connection_pool._in_use_connections)  # type: ignore[attr-defined]


def test_replies_come_back_as_the_server_sent_them(client: redis.Redis) -> None:
    client.set("pl:entry", b"old")
    added, entry, again = pipelined(client, (("SET", "pl:lock", "mine", "NX", "EX", 10), ("GET", "pl:entry"),
                                             ("SET", "pl:lock", "theirs", "NX", "EX", 10)))
    assert added and entry == b"old" and again is None
    assert pipelined(client, (("SET", "pl:entry", b"\x80new\x00", "EX", 60), ("DEL", "pl:lock")))[1] == 1
    assert client.get("pl:entry") == b"\x80new\x00" and client.get("pl:lock") is None
    assert 0 < client.ttl("pl:entry") <= 60
    assert _in_use(client) == 0  # the connection went back to the pool


def test_an_error_reply_is_raised_after_the_rest_is_read(client: redis.Redis) -> None:
    client.rpush("pl:list", "x")  # GET on a list: WRONGTYPE
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pipelined(client, (("GET", "pl:list"), ("SET", "pl:after", "1")))
    assert client.get("pl:after") == b"1"  # the command behind it ran
    # Its reply was read: the connection it went back on answers the next batch, not the last.
    for _ in range(3):
        assert pipelined(client, (("GET", "pl:after"), ("GET", "pl:absent"))) == [b"1", None]
    assert _in_use(client) == 0


def test_a_connection_killed_mid_batch_is_not_reused(client: redis.Redis) -> None:
    pipelined(client, (("CLIENT", "SETNAME", "pl-victim"),))
    victim = next(c for c in client.client_list() if c["name"] == "pl-victim")
    other = redis.Redis(host=client.connection_pool.connection_kwargs["host"],
                        port=client.connection_pool.connection_kwargs["port"])
    try:
        other.client_kill_filter(_id=victim["id"])
        # The pool checks a connection before lending it: the killed one is replaced, not used.
        assert pipelined(client, (("SET", "pl:k", "v"), ("GET", "pl:k"))) == [b"OK", b"v"]
    finally:
        other.close()
    # A server that answers nothing (a blocking command outlasting the socket timeout): the
    # connection is dropped, not returned with a late reply pending on it.
    short = redis.Redis(connection_pool=redis.ConnectionPool(**{**client.connection_pool.connection_kwargs,
                                                                 "socket_timeout": 0.2}))
    try:
        with pytest.raises(redis.TimeoutError):
            pipelined(short, (("BLPOP", "pl:never", 2),))
        assert short.connection_pool._available_connections[0]._sock is None  # type: ignore[attr-defined]
        assert pipelined(short, (("GET", "pl:k"),)) == [b"v"]
    finally:
        short.close()


def test_clients_without_their_own_pool_use_redis_py_pipelines(client: redis.Redis) -> None:
    single = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
    try:
        assert pipelined(single, (("SET", "pl:s", "1", "NX"), ("GET", "pl:s"))) == [True, b"1"]
    finally:
        single.close()


HOSTILE_WORDS = (("SET", b":1:cd:lock:{ruc}:\x00\r\n*2", "ñ tok 0.1 1.0", "NX", "PX", 10_000),
                 ("GET", "é__proto__\u2028"), ("SET", b"k", b"\x80\xff" * 1000, "EX", 60), ("INCRBYFLOAT", "f", 1.5),
                 ("DEL", type("CacheKey", (str,), {})(":1:key")))


def test_words_are_packed_as_the_connection_packs_them(client: redis.Redis) -> None:
    from cache_dashboard.adapters.pipelined import _packed

    conn = client.connection_pool.make_connection()
    try:
        assert b"".join(_packed(conn, HOSTILE_WORDS)) == b"".join(conn.pack_commands(HOSTILE_WORDS))
        assert b"".join(_packed(conn, HOSTILE_WORDS[:1])) == b"".join(conn.pack_command(*HOSTILE_WORDS[0]))
        with pytest.raises(redis.DataError):  # what the connection's own packing says of a word it cannot pack
            _packed(conn, (("SET", "k", None),))
    finally:
        conn.disconnect()
    assert pipelined(client, HOSTILE_WORDS[1:3]) == [None, b"OK"]
    assert client.get("k") == b"\x80\xff" * 1000


def test_a_connection_packing_in_python_packs_itself(client: redis.Redis) -> None:
    from redis.connection import PythonRespSerializer

    from cache_dashboard.adapters.pipelined import _packed

    conn = client.connection_pool.make_connection()
    conn._command_packer = PythonRespSerializer(conn._buffer_cutoff, conn.encoder.encode)  # type: ignore[attr-defined]
    big = ("SET", "k", b"v" * 100_000)  # over its buffer cutoff: the value goes out as a chunk of its own
    chunks = _packed(conn, (big,))
    assert len(chunks) > 1 and b"".join(chunks) == b"".join(conn.pack_command(*big))
