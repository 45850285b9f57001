"""The key browser on memcached, on real servers (one, and a pool of two): ``lru_crawler metadump``
pages, raw reads that decode nothing, deletes and expiries, and why a server cannot be listed.

Items are written by pymemcache clients of our own (no serde, ``noreply`` in batches, a pool's
servers in turn) under the site's raw key layout, beside keys of another prefix. Before paging
through, the tests wait for memcached's LRU maintainer to stop moving the new items between its
queues (it does for a second or so after a bulk load): the dump's order is the queues' order,
and only a listing of a still server can be checked for showing every key exactly once.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import translation
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

from cache_dashboard.adapters import get_adapter, metadump
from cache_dashboard.adapters.base import Adapter
from cache_dashboard.adapters.listing import DONE, KeyPage, ListedKey
from cache_dashboard.adapters.pymemcache import _server_tuple
from cache_dashboard.exceptions import CacheDashboardError, UnsupportedOperation
from cache_dashboard.keys import escape_glob
from tests.conftest import Servers, require
from tests.servers import Server, _start

ALIASES = ["memcached", "memcached_pool"]
ITEMS = 100_000
FOREIGN = 5_000
#: Seconds to live of every 100th item (the others never expire).
EXPIRING = 300
PAGE = 5_000
#: pymemcache's flag of a pickled value: Django's client unpickles what carries it.
FLAG_PICKLE = 1


@pytest.fixture(params=ALIASES)
def mc_alias(request: pytest.FixtureRequest, servers: Servers) -> str:
    require(request.param, servers)
    return str(request.param)


# -- helpers ------------------------------------------------------------------------------------


def writer(alias: str) -> HashClient:
    """A client of our own on the alias's servers that hashes keys (given as str) as Django's does."""
    return HashClient(get_adapter(alias).servers(), no_delay=True)


def plant(alias: str, items: dict[Any, bytes], expire: int = 0) -> dict[Any, str]:
    """Write ``items`` with clients of our own (no serde), the servers of a pool in turn (pure-Python
    hashing would take seconds), ``noreply``, 2,000 per call; where each went, once all are there."""
    servers = get_adapter(alias).servers()
    where = {key: servers[n % len(servers)] for n, key in enumerate(items)}
    for server in servers:
        client = Client(_server_tuple(server), no_delay=True)
        mine = [key for key in items if where[key] == server]
        for start in range(0, len(mine), 2000):
            client.set_many({key: items[key] for key in mine[start:start + 2000]}, expire=expire, noreply=True)
        client.version()  # a connection's commands run in order: this answer comes after the sets
        client.close()
    return where


def site_items(alias: str, count: int, tag: str = "key") -> dict[str, bytes]:
    """``count`` items under the site's raw key layout (``make_key``: KEY_PREFIX:VERSION:key)."""
    cache = caches[alias]
    return {cache.make_key(f"{tag}{i}"): b"value-%d" % i for i in range(count)}


def foreign_items(count: int) -> dict[Any, bytes]:
    items: dict[Any, bytes] = {f"other:1:key{i}": b"x" * 20 for i in range(count)}
    items[b"other:\xff\xfe:not-utf-8"] = b"binary key"
    return items


def site_match(alias: str) -> str:
    """The glob of every key of this site: its raw prefix, escaped, then anything."""
    return escape_glob(caches[alias].make_key("")) + "*"


def settle(alias: str, limit: float = 15.0) -> None:
    """Wait until memcached's LRU maintainer has moved the new items out of its HOT queue (and
    none is WARM: nothing was read), or ``limit`` passed; from then on the dump's order holds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        moving = 0
        for server in get_adapter(alias).servers():
            with socket.create_connection(_server_tuple(server), timeout=2) as sock:
                found = metadump.stats(sock, b"items")
            moving += sum(int(value) for name, value in found.items()
                          if name.endswith((":number_hot", ":number_warm")))
        if not moving:
            return
        time.sleep(0.05)


def walk(adapter: Adapter, match: str, count: int, cursor: str = DONE) -> list[KeyPage]:
    """Every page from ``cursor`` to the end."""
    pages = []
    while True:
        page = adapter.list_keys(match, cursor, count, 30.0)
        pages.append(page)
        cursor = page.cursor
        if cursor == DONE:
            return pages
        assert len(pages) < 10_000, "the listing does not end"


def listed(pages: list[KeyPage]) -> list[bytes]:
    return [key.raw for page in pages for key in page.keys]


def assert_each_once(pages: list[KeyPage], written: set[bytes], alias: str) -> None:
    """Every key written is listed, and listed once; anything else listed is this site's too (its
    dashboard's own statistics and samples, written meanwhile by the background jobs: a key
    rewritten during the walk moves in the dump and may show twice, as with SCAN), nothing of
    another prefix."""
    raws = listed(pages)
    ours = [raw for raw in raws if raw in written]
    assert len(ours) == len(set(ours)) == len(written)
    prefix = caches[alias].make_key("").encode()
    assert all(raw.startswith(prefix) for raw in raws)


def listing_of(adapter: Adapter, raw: bytes, wait: float = 3.0) -> ListedKey | None:
    """``raw`` as a listing shows it, asked again for up to ``wait`` seconds: memcached's crawler
    passes over an item another thread holds, and an item of its COLD queue just read or touched
    is held until the LRU maintainer has moved it (within about a second)."""
    glob = escape_glob(raw.decode("utf-8", "surrogateescape"))
    deadline = time.monotonic() + wait
    while True:
        keys = adapter.list_keys(glob, DONE, 10, 5.0).keys
        if keys or time.monotonic() >= deadline:
            return keys[0] if keys else None
        time.sleep(0.1)


def address_of(client: HashClient, key: str) -> str:
    """The server Django's hashing picks for ``key``."""
    host, port = client._get_client(key).server
    return f"{host}:{port}"


# -- listing ------------------------------------------------------------------------------------


def test_pages_list_every_item_once(mc_alias: str) -> None:
    adapter = get_adapter(mc_alias)
    assert adapter.capabilities.key_browsing
    assert adapter.listing_problem() is None
    site = site_items(mc_alias, ITEMS)
    expiring = {key: value for n, (key, value) in enumerate(site.items()) if n % 100 == 0}
    loaded_at = time.time()
    where = plant(mc_alias, {key: value for key, value in site.items() if key not in expiring})
    where.update(plant(mc_alias, expiring, expire=EXPIRING))
    plant(mc_alias, foreign_items(FOREIGN))
    settle(mc_alias)
    match = site_match(mc_alias)

    started = time.perf_counter()
    first = adapter.list_keys(match, DONE, PAGE, 0.0)  # a budget of 0: one line, a cursor to go on from
    pages = [first, *walk(adapter, match, PAGE, first.cursor)]
    elapsed = time.perf_counter() - started
    print(f"\n{mc_alias}: {ITEMS:,} keys among {ITEMS + FOREIGN + 1:,} items listed in {len(pages)} pages "
          f"of {PAGE:,} in {elapsed:.2f} s ({elapsed / len(pages) * 1000:.0f} ms a page)")

    assert first.out_of_time and first.cursor != DONE and len(first.keys) <= 1
    assert pages[-1].cursor == DONE
    assert all(len(page.keys) == PAGE and not page.out_of_time for page in pages[1:-1])
    assert_each_once(pages, {key.encode() for key in site}, mc_alias)
    assert sum(page.scanned for page in pages) >= ITEMS + FOREIGN

    facts = {key.raw: key for page in pages for key in page.keys}
    one_server = len(adapter.servers()) == 1
    for key in [*list(site)[:3], *list(expiring)[:3], list(site)[-1]]:
        found = facts[key.encode()]
        if key in expiring:
            assert found.ttl is not None and 0 < found.ttl <= EXPIRING, found
        else:
            assert found.ttl is None, found
        assert found.kind == "string"
        assert found.server == ("" if one_server else where[key])
        assert found.last_access is not None and loaded_at - 2 <= found.last_access <= time.time() + 2
        read = adapter.read_key(key.encode(), 100)
        assert read is not None and read.payload == site[key] and read.length == len(site[key])
        assert found.size == read.size and found.size > len(key) + len(site[key])  # the item, header and all
    if not one_server:
        assert len({key.server for key in facts.values()}) == 2


def test_a_page_goes_on_after_the_keys_before_it_moved(mc_alias: str) -> None:
    """Each page re-reads the dump from its start: it finds its place again by the last key's
    line, when keys before it were deleted (the line comes earlier) or others added (later)."""
    adapter = get_adapter(mc_alias)
    site = site_items(mc_alias, 6000)
    plant(mc_alias, site)
    settle(mc_alias)
    match = site_match(mc_alias)
    pages = [adapter.list_keys(match, DONE, 500, 30.0)]
    pages.append(adapter.list_keys(match, pages[-1].cursor, 500, 30.0))
    for raw in listed(pages)[100:400]:  # shown already: the lines after them move up
        assert adapter.delete_raw(raw)
    pages.append(adapter.list_keys(match, pages[-1].cursor, 500, 30.0))
    plant(mc_alias, {f"other:1:new{i}": b"x" for i in range(200)})  # not listed: the lines move down
    pages += walk(adapter, match, 500, pages[-1].cursor)
    assert_each_once(pages, {key.encode() for key in site}, mc_alias)


def test_keys_of_any_byte_are_listed_and_matched(mc_alias: str) -> None:
    """The dump encodes keys as ``metadump.encoded`` does: a page tests each line against the
    filter's literal beginning so encoded, before decoding the key."""
    adapter = get_adapter(mc_alias)
    odd = bytes(range(0x21, 0x100))  # every byte a key can hold but spaces and control characters
    server = plant(mc_alias, {odd: b"odd"})[odd]
    with socket.create_connection(_server_tuple(server), timeout=2) as sock:
        dump = metadump.start(sock)  # other keys may be there too (the background jobs write theirs)
        fields = []
        while (line := dump.next_line()) is not None:
            fields.append(metadump.key_field(line))
    assert metadump.encoded(odd) in fields
    decoded = odd.decode("utf-8", "surrogateescape")
    for cut in (1, 10, 100, len(decoded)):
        glob = escape_glob(decoded[:cut]) + "*"
        assert [key.raw for key in adapter.list_keys(glob, DONE, 10, 5.0).keys] == [odd], glob
    assert adapter.list_keys(escape_glob(decoded[:10]) + "x*", DONE, 10, 5.0).keys == []


def test_cursors_are_checked() -> None:
    adapter = get_adapter("memcached")
    for bad in ("x", "1:2", "1:2:a b", "-1:0:"):
        with pytest.raises(ValueError, match="cursor"):
            adapter.list_keys("*", bad, 10, 1.0)


# -- one key ------------------------------------------------------------------------------------


class Trap:
    """Unpickling it creates ``marker``: what must never happen to a value the browser reads."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def test_read_key_never_unpickles(mc_alias: str, tmp_path: Path) -> None:
    adapter = get_adapter(mc_alias)
    marker = tmp_path / "unpickled"
    blob = pickle.dumps(Trap(marker))
    key = caches[mc_alias].make_key("trap")
    writer(mc_alias).set(key, blob, flags=FLAG_PICKLE, noreply=False)

    shown = listing_of(adapter, key.encode())
    assert shown is not None and shown.raw == key.encode()
    read = adapter.read_key(key.encode(), 10)
    assert read is not None and read.payload == blob[:10] and read.length == len(blob) and read.truncated
    assert read.kind == "string" and read.ttl is None and read.size == shown.size and read.size > len(blob)
    assert adapter.read_key(b"no-such-key", 10) is None
    assert not marker.exists()

    caches[mc_alias].get("trap")  # the trap is live: Django's own client unpickles it
    assert marker.exists()


def test_delete_and_expire_raw_keys(mc_alias: str) -> None:
    adapter = get_adapter(mc_alias)
    plain, expiring = caches[mc_alias].make_key("plain"), caches[mc_alias].make_key("expiring")
    binary = b"other:\xff\xfe:not-utf-8"
    plant(mc_alias, {plain: b"kept", binary: b"b"})
    plant(mc_alias, {expiring: b"soon"}, expire=EXPIRING)

    assert adapter.expire_raw(plain.encode(), 60)
    shown = listing_of(adapter, plain.encode())
    assert shown is not None and shown.ttl is not None and 0 < shown.ttl <= 60
    read = adapter.read_key(plain.encode(), 100)
    assert read is not None and read.payload == b"kept" and read.ttl is not None and 0 < read.ttl <= 60
    assert adapter.expire_raw(expiring.encode(), None)  # never expires now
    shown = listing_of(adapter, expiring.encode())
    assert shown is not None and shown.ttl is None
    read = adapter.read_key(expiring.encode(), 100)
    assert read is not None and read.payload == b"soon" and read.ttl is None
    assert not adapter.expire_raw(b"no-such-key", 10)

    assert adapter.delete_raw(plain.encode())
    assert adapter.read_key(plain.encode(), 100) is None
    assert listing_of(adapter, plain.encode(), wait=0) is None
    assert not adapter.delete_raw(plain.encode())
    assert adapter.delete_raw(binary)  # a key no Django cache could have written
    assert adapter.read_key(binary, 10) is None


def test_pool_finds_a_key_on_any_server(servers: Servers) -> None:
    """A key another client put on the server Django's hashing does not pick is still read,
    expired and deleted."""
    require("memcached_pool", servers)
    adapter = get_adapter("memcached_pool")
    key = caches["memcached_pool"].make_key("elsewhere")
    picked = address_of(writer("memcached_pool"), key)
    other = next(server for server in adapter.servers() if server != picked)
    own = Client(_server_tuple(other))
    own.set(key, b"here", noreply=False)
    assert caches["memcached_pool"].get("elsewhere") is None  # where Django looks, it is not
    shown = listing_of(adapter, key.encode())
    assert shown is not None and shown.server == other
    read = adapter.read_key(key.encode(), 100)
    assert read is not None and read.payload == b"here"
    assert adapter.expire_raw(key.encode(), 30)
    assert adapter.delete_raw(key.encode())
    assert own.get(key) is None
    own.close()


# -- servers that cannot be listed --------------------------------------------------------------


@pytest.fixture
def crawler_off(servers: Servers) -> Iterator[Server]:
    require("memcached", servers)
    binary = shutil.which("memcached") or "/usr/sbin/memcached"
    user = ["-u", "root"] if os.geteuid() == 0 else []
    server = _start("memcached", lambda port: [binary, *user, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                                               "-m", "8", "-o", "no_lru_crawler"])
    yield server
    server.stop()


def test_a_server_without_its_crawler_says_why(crawler_off: Server, extra_alias: Any) -> None:
    extra_alias(crawler_off={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                             "LOCATION": crawler_off.address})
    adapter = get_adapter("crawler_off")
    with translation.override("en"):
        problem = adapter.listing_problem()
        assert problem is not None and "LRU crawler is off" in problem and crawler_off.address in problem
        with pytest.raises(UnsupportedOperation) as raised:
            adapter.list_keys("*", DONE, 10, 1.0)
        assert str(raised.value) == problem
    with translation.override("es"):
        assert "rastreador LRU" in str(adapter.listing_problem())
        assert "rastreador LRU" in str(raised.value)


class OldServer:
    """Answers ``stats`` as memcached 1.4.20 would, and ``ERROR`` to anything else."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                for line in conn.makefile("rb"):
                    if line.startswith(b"stats"):
                        conn.sendall(b"STAT version 1.4.20\r\nSTAT time %d\r\nEND\r\n" % time.time())
                    else:
                        conn.sendall(b"ERROR\r\n")

    def close(self) -> None:
        self.sock.close()


def test_an_old_server_says_why(extra_alias: Any) -> None:
    old = OldServer()
    try:
        extra_alias(old={"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                         "LOCATION": old.address})
        adapter = get_adapter("old")
        with translation.override("en"):
            problem = adapter.listing_problem()
            assert problem is not None and "1.4.20" in problem and "1.4.31" in problem
            with pytest.raises(UnsupportedOperation, match="1.4.31"):
                adapter.list_keys("*", DONE, 10, 1.0)
    finally:
        old.close()


class Holder:
    """Another client's dump on the server: read steadily in a thread (``stall``: never read)."""

    def __init__(self, server: str, stall: bool) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(_server_tuple(server))
        self.sock.sendall(metadump.COMMAND)
        assert self.sock.recv(100).startswith(b"key=")  # its dump runs
        self.stop = threading.Event()
        self.reader = None if stall else threading.Thread(target=self._read, daemon=True)
        if self.reader is not None:
            self.reader.start()

    def _read(self) -> None:
        while not self.stop.wait(0.001) and self.sock.recv(4096):
            pass

    def close(self) -> None:
        self.stop.set()
        if self.reader is not None:
            self.reader.join(5)
        self.sock.close()


@pytest.mark.parametrize("stall", [False, True], ids=["reading", "stalled"])
def test_a_busy_crawler_is_waited_for_then_reported(servers: Servers, monkeypatch: pytest.MonkeyPatch,
                                                     stall: bool) -> None:
    """One dump at a time: a page waits a little while another runs (memcached answers BUSY), or
    until its timeout while another client's dump stalls (memcached does not answer), then says so."""
    require("memcached", servers)
    adapter = get_adapter("memcached")
    plant("memcached", {f"filler{i}": b"x" for i in range(100_000)})  # a dump of 8 MB: more than socket buffers
    monkeypatch.setattr(metadump, "BUSY_WAIT", 0.2)
    holder = Holder(adapter.servers()[0], stall)
    try:
        with translation.override("en"), pytest.raises(CacheDashboardError, match="busy"):
            adapter.list_keys("*", DONE, 10, 0.5)
    finally:
        holder.close()
    page = adapter.list_keys("*", DONE, 10, 1.0)  # the crawler notices the closed socket within ms
    assert len(page.keys) == 10
