"""The demo's cache selection from environment variables (README backend table)."""

from __future__ import annotations

from demo_site.settings import build_caches


def test_default_is_locmem() -> None:
    assert build_caches({})["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_redis_url_selects_django_rediscache_with_short_timeouts() -> None:
    conf = build_caches({"REDIS_URL": "redis://127.0.0.1:6379/1"})["default"]
    assert conf["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert conf["LOCATION"] == "redis://127.0.0.1:6379/1"
    assert conf["OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


def test_cache_backend_django_redis() -> None:
    conf = build_caches({"CACHE_BACKEND": "django_redis", "REDIS_URL": "redis://h:6379/2"})["default"]
    assert conf["BACKEND"] == "django_redis.cache.RedisCache"
    assert conf["LOCATION"] == "redis://h:6379/2"
    assert conf["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"] == 0.5
    assert conf["OPTIONS"]["SOCKET_TIMEOUT"] == 0.5
    assert (
        build_caches({"CACHE_BACKEND": "django-redis"})["default"]["BACKEND"]
        == "django_redis.cache.RedisCache"
    )


def test_memcached_url_one_or_several_servers() -> None:
    one = build_caches({"MEMCACHED_URL": "127.0.0.1:11211"})["default"]
    assert one["BACKEND"] == "django.core.cache.backends.memcached.PyMemcacheCache"
    assert one["LOCATION"] == "127.0.0.1:11211"
    assert one["OPTIONS"]["connect_timeout"] == 0.5 and one["OPTIONS"]["timeout"] == 0.5
    several = build_caches({"MEMCACHED_URL": "10.0.0.1:11211, memcached://10.0.0.2:11211"})["default"]
    assert several["LOCATION"] == ["10.0.0.1:11211", "10.0.0.2:11211"]


def test_timeout_is_configurable() -> None:
    conf = build_caches({"REDIS_URL": "redis://x/0", "CACHE_SOCKET_TIMEOUT": "2"})["default"]
    assert conf["OPTIONS"]["socket_timeout"] == 2.0
