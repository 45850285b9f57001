"""The key browser's data (``cache_dashboard.keyspace``) on real Redis (both clients), LocMem, the
database and file caches: every key listed once across cursor pages, this site's keys told
apart from others', CacheManager's entries read back with what the manager knows, and nothing
foreign ever unpickled."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.adapters.listing import DONE
from cache_dashboard.keys import normalize_key, readable
from cache_dashboard.keyspace import FOREIGN, MANAGER, SITE, decode_token, key_detail, list_page, matches
from tests.conftest import require

pytestmark = pytest.mark.django_db
LISTING = ["locmem", "redis", "django_redis", "django_valkey", "db", "file"]
HOSTILE = ["__proto__", "a b", "ctl\x00\n", "\ud800lone", "x" * 300, "ünï"]


class Bomb:
    """Unpickling it would create the marker file: nothing of the key browser may do so."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def _plant_foreign(alias: str, raw: str, value: bytes) -> None:
    """A key written by someone else with no regard for this site's prefix."""
    adapter: Any = get_adapter(alias)
    if alias in ("redis", "django_redis", "django_valkey"):
        adapter.client().set(raw, value)
    elif alias == "locmem":
        cache: Any = caches[alias]
        cache._cache[raw] = value
        cache._expire_info[raw] = None
    elif alias == "db":
        with connection.cursor() as db:
            db.execute("INSERT INTO cd_test_cache (cache_key, value, expires) VALUES (%s, %s, %s)",
                       [raw, "gASVAAAAAAAAAAA=", "9999-12-31 23:59:59"])


def _all_pages(alias: str, **filters: Any) -> list[dict[str, Any]]:
    rows, cursor, pages = [], DONE, 0
    while True:
        page = list_page(alias, cursor=cursor, count=40, **filters)
        assert not page["error"], page["error"]
        rows += page["rows"]
        pages += 1
        cursor = page["cursor"]
        if cursor == DONE:
            return rows
        assert pages < 500


@pytest.fixture
def fresh(servers: Any, request: pytest.FixtureRequest) -> str:
    alias: str = request.param
    require(alias, servers)
    caches[alias].clear()
    return alias


@pytest.mark.parametrize("fresh", LISTING, indirect=True)
def test_every_key_is_listed_once_across_pages_and_foreign_ones_apart(fresh: str, tmp_path: Path) -> None:
    alias = fresh
    cache = caches[alias]
    written = {f"plain:{i}" for i in range(150)}
    cache.set_many(dict.fromkeys(written, 1), 600)
    cm = CacheManager(alias)
    for name in HOSTILE:
        cm.set(name, {"v": name}, 600, namespace="ruc")
    _plant_foreign(alias, "otherapp:1:secret", pickle.dumps(Bomb(tmp_path / "marker")))
    rows = _all_pages(alias)
    keys = [row["key"] for row in rows]
    assert len(keys) == len(set(keys)) or alias == "file"  # a file cache lists files, not keys
    if alias == "file":
        assert len(rows) >= len(written) + len(HOSTILE) and all(row["key"].endswith(".djcache") for row in rows)
        return
    assert written <= set(keys)
    entries = {row["key"]: row for row in rows if row["owner"] == MANAGER and row["part"] == "entry"}
    shown = {readable(normalize_key(name)) for name in HOSTILE}  # a key past 100 characters is its hash
    assert shown <= set(entries) and all(entries[name]["namespace"] == "ruc" for name in shown)
    assert "\ud800lone" in shown and "x" * 300 not in shown
    assert all(row["owner"] == SITE for row in rows if row["key"].startswith("plain:"))
    assert not any(row["owner"] == FOREIGN for row in rows)  # this site's keys only
    ttls = [row["ttl"] for row in rows if row["key"] == "plain:7"]
    assert len(ttls) == 1 and 0 < ttls[0] <= 600
    if alias != "file":
        everything = _all_pages(alias, scope="all")
        foreign = [row for row in everything if row["owner"] == FOREIGN]
        assert [row["raw"] for row in foreign] == ["otherapp:1:secret"] and foreign[0]["label"] == "other prefix"
        detail = key_detail(alias, decode_token(foreign[0]["token"]))
        assert detail is not None and detail["decoded"] is None and detail["hex"]
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("fresh", ["locmem", "redis", "django_redis", "db"], indirect=True)
def test_a_namespace_filter_and_a_glob_list_what_they_name(fresh: str) -> None:
    alias = fresh
    cm = CacheManager(alias)
    for i in range(30):
        cm.set(f"2010{i:07d}", i, 600, namespace="ruc")
        cm.set(f"2010{i:07d}", i, 600, namespace="perfil")
    caches[alias].set("20100000001", "plain", 600)
    rows = _all_pages(alias, namespace="ruc")
    assert sorted(row["key"] for row in rows) == sorted(f"2010{i:07d}" for i in range(30))
    assert {row["namespace"] for row in rows} == {"ruc"}
    rows = _all_pages(alias, namespace="ruc", query="2010000000[12]")
    assert sorted(row["key"] for row in rows) == ["20100000001", "20100000002"]
    rows = _all_pages(alias, query="2010*")  # the site's plain keys by the key as written
    assert [row["key"] for row in rows] == ["20100000001"]


@pytest.mark.parametrize("fresh", ["locmem", "redis", "django_redis", "db"], indirect=True)
def test_an_entry_in_detail_says_what_the_manager_knows(fresh: str) -> None:
    alias = fresh
    cm = CacheManager(alias)
    cm.set("20100038146", {"razon_social": "ACME <b>", "estado": "ACTIVO"}, 600, namespace="sunat")
    [row] = _all_pages(alias, namespace="sunat")
    detail = key_detail(alias, decode_token(row["token"]))
    assert detail is not None
    assert detail["manager"]["state"] == "fresh" and detail["manager"]["namespace"] == "sunat"
    assert '"razon_social": "ACME <b>"' in detail["decoded"]
    cm.invalidate_namespace("sunat")
    detail = key_detail(alias, decode_token(row["token"]))
    assert detail is not None and detail["manager"]["state"] == "old generation"
    assert get_adapter(alias).delete_raw(decode_token(row["token"]))
    assert key_detail(alias, decode_token(row["token"])) is None


@pytest.mark.parametrize("fresh", ["redis", "django_redis"], indirect=True)
def test_redis_types_are_read_a_page_at_a_time(fresh: str) -> None:
    alias = fresh
    adapter: Any = get_adapter(alias)
    client = adapter.client()
    raw = caches[alias].make_key
    client.hset(raw("h"), mapping={f"f{i}": i for i in range(120)})
    client.rpush(raw("l"), *range(120))
    client.sadd(raw("s"), *range(120))
    client.zadd(raw("z"), {f"m{i}": i for i in range(120)})
    for i in range(120):
        client.xadd(raw("x"), {"n": i})
    kinds = {row["key"]: row["kind"] for row in _all_pages(alias) if row["owner"] == SITE}  # not the sampler's
    assert kinds == {"h": "hash", "l": "list", "s": "set", "z": "zset", "x": "stream"}
    for key in kinds:
        seen, cursor = [], DONE
        while True:
            detail = key_detail(alias, raw(key).encode(), cursor=cursor)
            assert detail is not None and detail["length"] == 120 and detail["decoded"] is None
            seen += detail["items"]
            cursor = detail["items_cursor"]
            if cursor == DONE:
                break
        assert len({tuple(item) for item in seen}) == 120, key


def test_a_page_of_a_big_redis_db_is_one_page(servers: Any) -> None:
    require("redis", servers)
    adapter: Any = get_adapter("redis")
    client = adapter.client()
    client.flushdb()
    pipe = client.pipeline(transaction=False)
    for i in range(100_000):
        pipe.set(f"bulk:{i}", b"x")
        if i % 10_000 == 9_999:
            pipe.execute()
    caches["redis"].set("needle", 1)
    pipe.execute()
    page = list_page("redis", scope="all", count=100)
    assert 100 <= len(page["rows"]) <= 1100 and page["cursor"] != DONE
    found = _all_pages("redis", query="needle")
    assert [row["key"] for row in found] == ["needle"]
    client.flushdb()


def test_backends_that_cannot_list_say_so(servers: Any) -> None:
    page = list_page("dummy")
    assert page["supported"] is False and page["rows"] == []


def test_file_cache_expiry_is_read_without_unpickling_objects(servers: Any, tmp_path: Path) -> None:
    caches["file"].clear()
    caches["file"].set("k", "v", 600)
    [row] = _all_pages("file")
    assert 0 < row["ttl"] <= 600
    directory = caches["file"]._dir  # type: ignore[attr-defined]
    bomb = os.path.join(directory, "0" * 32 + ".djcache")
    with open(bomb, "wb") as f:
        f.write(pickle.dumps(Bomb(tmp_path / "marker")))
    rows = _all_pages("file")
    assert len(rows) == 1 and not (tmp_path / "marker").exists()  # the planted file is not a live entry
    assert rows[0]["owner"] == SITE and rows[0]["label"] == "hashed"
    # A filter cannot apply to hashed names: a bulk delete of "tmp*" matches nothing, never every file.
    assert matches("file", query="tmp*", namespace=None, scope="site") == ([], True)
    assert len(matches("file", query="*", namespace=None, scope="site")[0]) == 1
