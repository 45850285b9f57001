"""The key browser's pages and buttons: the listing by cursor, one key in detail, delete, a new
TTL and the bulk delete behind its count, each POST behind its own permission and audited;
foreign keys read-only; bad filters and cursors are form errors. On LocMem and real Redis."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse

from cache_dashboard import CacheManager
from cache_dashboard.adapters import get_adapter
from cache_dashboard.keyspace import encode_token
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require

pytestmark = pytest.mark.django_db
KEYS, KEY = "admin:cache_dashboard_keys", "admin:cache_dashboard_key"
DELETE, TTL = "admin:cache_dashboard_key_delete", "admin:cache_dashboard_key_ttl"
BULK = "admin:cache_dashboard_keys_delete"


class Bomb:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def token(alias: str, key: str) -> str:
    return encode_token(str(caches[alias].make_key(key)).encode())


@pytest.fixture
def redis(servers: Any) -> str:
    require("redis", servers)
    get_adapter("redis").client().flushdb()  # type: ignore[attr-defined]
    return "redis"


@pytest.mark.parametrize("role,ttl,bulk", [
    ("anonymous", 302, 302), ("view", 403, 403), ("keys_without_browse", 403, 403), ("keys_view", 403, 403),
    ("keys_delete", 403, 200), ("keys_ttl", 302, 403), ("superuser", 302, 200),
])
def test_who_may_change_a_ttl_or_delete_in_bulk(client_for: Any, role: str, ttl: int, bulk: int) -> None:
    caches["default"].set("k", 1, 600)
    client = client_for(role)
    response = client.post(reverse(TTL), {"alias": "default", "key": token("default", "k"), "seconds": "99"})
    assert response.status_code == ttl
    assert CacheAuditEntry.objects.filter(action="key_ttl").exists() == (ttl == 302 and role != "anonymous")
    response = client.post(reverse(BULK), {"alias": "default", "q": "k", "confirm": "True"})
    assert response.status_code in ((302,) if bulk == 200 else (bulk,))  # the confirmed POST redirects
    assert (caches["default"].get("k") is None) == (bulk == 200)


@pytest.mark.parametrize("role,listing,post", [
    ("anonymous", 302, 302), ("view", 403, 403), ("keys_without_browse", 403, 403), ("keys_view", 200, 403),
    ("keys_delete", 200, 302), ("superuser", 200, 302),
])
def test_who_may_browse_and_delete(client_for: Any, role: str, listing: int, post: int) -> None:
    caches["default"].set("k", 1, 600)
    client = client_for(role)
    assert client.get(reverse(KEYS)).status_code == listing
    assert client.get(reverse(KEY), {"k": token("default", "k")}).status_code == listing
    response = client.post(reverse(DELETE), {"alias": "default", "key": token("default", "k")})
    assert response.status_code == post
    assert (caches["default"].get("k") is None) == (post == 302 and role != "anonymous")
    if role in ("keys_delete", "superuser"):
        [entry] = CacheAuditEntry.objects.filter(action="delete_key")
        assert entry.key.endswith(":k") and entry.count == 1


def test_the_tab_shows_for_those_who_may_browse(client_for: Any) -> None:
    overview = reverse("admin:cache_dashboard_overview")
    assert 'href="/admin/cache_dashboard/cachedashboard/keys/' not in client_for("view").get(overview).content.decode()
    assert "/cachedashboard/keys/" in client_for("keys_view").get(overview).content.decode()


def test_a_listing_pages_by_cursor_and_links_each_key(client_for: Any, redis: str) -> None:
    cm = CacheManager(redis)
    for i in range(250):
        cm.set(f"2010{i:07d}", {"i": i}, 600, namespace="ruc")
    client = client_for("keys_view")
    seen: set[str] = set()
    url, params = reverse(KEYS), {"alias": redis, "namespace": "ruc"}
    for _page in range(20):
        page = client.get(url, params).content.decode()
        seen |= set(re.findall(r"<code>(2010\d{7})</code>", page))
        found = re.search(r'href="([^"]+)" rel="next" data-cd-next', page)
        if not found:
            break
        url, params = found.group(1).replace("&amp;", "&"), {}
    assert len(seen) == 250
    entry = cm.namespace_key_prefix("ruc") + "20100000007"
    detail = client.get(reverse(KEY), {"alias": redis, "k": token(redis, entry)})
    text = detail.content.decode()
    assert detail.status_code == 200 and 'data-cd-state="fresh"' in text and "&quot;i&quot;: 7" in text


def test_bad_filters_and_cursors_are_form_errors(client_for: Any, redis: str) -> None:
    client = client_for("keys_view")
    response = client.get(reverse(KEYS), {"alias": redis, "q": "a\x00b"})
    assert response.status_code == 200 and "Control characters are not allowed" in response.content.decode()
    response = client.get(reverse(KEYS), {"alias": redis, "cursor": "not-a-cursor"})
    assert response.status_code == 200 and "no longer valid" in response.content.decode()
    assert client.get(reverse(KEY), {"alias": redis, "k": "%%%"}).status_code == 404
    response = client_for("keys_delete").post(reverse(DELETE), {"alias": redis, "key": "!!"})
    assert response.status_code == 302 and not CacheAuditEntry.objects.exists()


def test_a_new_ttl_keeps_the_value_and_its_type(client_for: Any, redis: str) -> None:
    client = get_adapter(redis).client()  # type: ignore[attr-defined]
    raw = caches[redis].make_key("h")
    client.hset(raw, mapping={"a": "1"})
    caches[redis].set("s", "value", 600)
    browser = client_for("keys_ttl")
    response = browser.post(reverse(TTL), {"alias": redis, "key": encode_token(raw.encode()), "seconds": "90"})
    assert response.status_code == 302 and client.type(raw) == b"hash" and 85 <= client.ttl(raw) <= 90
    browser.post(reverse(TTL), {"alias": redis, "key": token(redis, "s"), "persist": "on"})
    assert client.ttl(caches[redis].make_key("s")) == -1 and caches[redis].get("s") == "value"
    rows = CacheAuditEntry.objects.filter(action="key_ttl").order_by("pk")
    assert [(r.seconds, r.detail) for r in rows] == [(90, ""), (None, "no expiry")]
    response = browser.post(reverse(TTL), {"alias": redis, "key": token(redis, "s")}, follow=True)
    assert "Give the seconds" in response.content.decode() and rows.count() == 2  # nothing changed
    assert browser.post(reverse(DELETE), {"alias": redis, "key": token(redis, "s")}).status_code == 403


def test_foreign_keys_are_read_only_and_never_unpickled(client_for: Any, redis: str, tmp_path: Path) -> None:
    client = get_adapter(redis).client()  # type: ignore[attr-defined]
    client.set("otherapp:1:secret", pickle.dumps(Bomb(tmp_path / "marker")))
    client.set("rawbomb", pickle.dumps(Bomb(tmp_path / "marker")))  # no prefix at all
    caches[redis].set("django.contrib.sessions.cacheabc", {"_auth_user_id": "1"})
    client.set("celery-task-meta-1234", b'{"status": "SUCCESS"}')
    browser = client_for("superuser")
    everything = browser.get(reverse(KEYS), {"alias": redis, "scope": "all"}).content.decode()
    assert "this site (session)" in everything and "(celery)" in everything
    for raw in (b"rawbomb", b"celery-task-meta-1234"):
        shown = browser.get(reverse(KEY), {"alias": redis, "k": encode_token(raw)}).content.decode()
        assert "data-cd-read-only" in shown and "data-cd-decoded" not in shown
    page = browser.get(reverse(KEYS), {"alias": redis, "scope": "all"}).content.decode()
    assert "otherapp:1:secret" in page and "not this site's" in page
    detail = browser.get(reverse(KEY), {"alias": redis, "k": encode_token(b"otherapp:1:secret")}).content.decode()
    assert "data-cd-read-only" in detail and "data-cd-hex" in detail and "data-cd-decoded" not in detail
    response = browser.post(reverse(DELETE), {"alias": redis, "key": encode_token(b"otherapp:1:secret")}, follow=True)
    assert "read-only" in response.content.decode() and client.exists("otherapp:1:secret")
    assert not (tmp_path / "marker").exists() and not CacheAuditEntry.objects.exists()
    with override_settings(CACHE_DASHBOARD={"KEY_BROWSER_FOREIGN_WRITES": True}):
        browser.post(reverse(DELETE), {"alias": redis, "key": encode_token(b"otherapp:1:secret")})
    assert not client.exists("otherapp:1:secret") and CacheAuditEntry.objects.filter(action="delete_key").count() == 1


def test_bulk_delete_shows_the_count_first_and_refuses_at_zero(client_for: Any, redis: str) -> None:
    cache = caches[redis]
    for i in range(30):
        cache.set(f"tmp:{i}", i, 600)
    cache.set("keep", 1, 600)
    get_adapter(redis).client().set("otherapp:1:tmp:x", b"1")  # type: ignore[attr-defined]
    browser = client_for("keys_delete")
    confirm = browser.post(reverse(BULK), {"alias": redis, "q": "tmp:*", "scope": "site"}).content.decode()
    assert 'data-cd-count="30"' in confirm and "Yes, delete them" in confirm and cache.get("tmp:1") == 1
    response = browser.post(reverse(BULK), {"alias": redis, "q": "tmp:*", "scope": "site", "confirm": "True"})
    assert response.status_code == 302 and cache.get("tmp:1") is None and cache.get("keep") == 1
    [entry] = CacheAuditEntry.objects.filter(action="delete_keys")
    assert entry.count == 30 and entry.pattern == "tmp:*"
    again = browser.post(reverse(BULK), {"alias": redis, "q": "tmp:*", "scope": "site"}).content.decode()
    assert "data-cd-nothing" in again and "Yes, delete them" not in again
    everything = browser.post(reverse(BULK), {"alias": redis, "q": "*tmp:*", "scope": "all"}).content.decode()
    assert "data-cd-nothing" in everything  # the foreign key is read-only: not counted, not deleted


def test_a_dead_server_is_a_message_not_a_500(client_for: Any, servers: Any) -> None:
    from django.conf import settings

    dead = {**settings.CACHES, "gone": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                        "LOCATION": "redis://127.0.0.1:1/0",
                                        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    with override_settings(CACHES=dead):
        client = client_for("superuser")
        page = client.get(reverse(KEYS), {"alias": "gone"})
        assert page.status_code == 200 and "could not be listed" in page.content.decode()
        assert client.get(reverse(KEY), {"alias": "gone", "k": encode_token(b"x")}).status_code == 503


def test_namespace_rows_and_the_invalidate_tab_link_to_the_keys(client_for: Any) -> None:
    CacheManager("default").set("k", 1, 600, namespace="ruc")
    page = client_for("keys_view").get(reverse("admin:cache_dashboard_overview")).content.decode()
    assert re.search(r'data-cd-show-keys href="[^"]*keys/\?alias=default&amp;namespace=ruc"', page)
    invalidate = client_for("keys_view").get(reverse("admin:cache_dashboard_invalidate")).content.decode()
    assert "data-cd-show-keys" in invalidate
    assert "data-cd-show-keys" not in client_for("view").get(reverse("admin:cache_dashboard_overview")).content.decode()


@pytest.mark.parametrize("alias", ["memcached", "memcached_pool"])
def test_memcached_keys_are_listed_read_and_deleted_from_the_pages(client_for: Any, servers: Any,
                                                                    alias: str) -> None:
    from tests.adapters.test_key_listing_memcached import settle

    require(alias, servers)
    caches[alias].clear()
    cm = CacheManager(alias)
    for i in range(60):
        cm.set(f"2010{i:07d}", {"i": i}, 600, namespace="ruc")
    settle(alias)
    browser = client_for("superuser")
    page = browser.get(reverse(KEYS), {"alias": alias, "namespace": "ruc"}).content.decode()
    assert len(set(re.findall(r"<code>(2010\d{7})</code>", page))) == 60
    entry = token(alias, cm.namespace_key_prefix("ruc") + "20100000007")
    detail = browser.get(reverse(KEY), {"alias": alias, "k": entry}).content.decode()
    assert 'data-cd-state="fresh"' in detail and "&quot;i&quot;: 7" in detail
    browser.post(reverse(DELETE), {"alias": alias, "key": entry})
    assert cm.get("20100000007", namespace="ruc") is None
    assert CacheAuditEntry.objects.filter(action="delete_key").count() == 1
