"""One adapter per cache backend, chosen from the alias's BACKEND; see ``base.Adapter``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from cache_dashboard.adapters.base import Adapter, Capabilities, forget_instances, instance

# BACKEND class path (or a base class of it) -> adapter class path.
ADAPTERS: dict[str, str] = {
    "django.core.cache.backends.locmem.LocMemCache": "cache_dashboard.adapters.locmem.LocMemAdapter",
    "django.core.cache.backends.filebased.FileBasedCache": "cache_dashboard.adapters.filebased.FileBasedAdapter",
    "django.core.cache.backends.db.DatabaseCache": "cache_dashboard.adapters.db.DatabaseAdapter",
    "django.core.cache.backends.dummy.DummyCache": "cache_dashboard.adapters.dummy.DummyAdapter",
    "django.core.cache.backends.memcached.PyMemcacheCache": "cache_dashboard.adapters.pymemcache.PyMemcacheAdapter",
    "django.core.cache.backends.redis.RedisCache": "cache_dashboard.adapters.redis.RedisAdapter",
    "django_redis.cache.RedisCache": "cache_dashboard.adapters.django_redis.DjangoRedisAdapter",
    "django_valkey.cache.ValkeyCache": "cache_dashboard.adapters.django_valkey.DjangoValkeyAdapter",
    "cache_dashboard.backends.redis_cluster.RedisClusterCache":
        "cache_dashboard.adapters.redis_cluster.RedisClusterAdapter",
}

_adapters: dict[str, Adapter] = {}


def _adapter_path(backend: str) -> str:
    if backend in ADAPTERS:
        return ADAPTERS[backend]
    try:  # a subclass of a known backend gets that backend's adapter
        cls = import_string(backend)
        for klass in cls.__mro__:
            path = f"{klass.__module__}.{klass.__qualname__}"
            if path in ADAPTERS:
                return ADAPTERS[path]
    except ImportError:
        pass
    return "cache_dashboard.adapters.base.Adapter"


def get_adapter(alias: str) -> Adapter:
    """Return the adapter of a CACHES alias (cached; reset when CACHES changes)."""
    try:
        return _adapters[alias]
    except KeyError:
        pass
    if alias not in settings.CACHES:
        raise ValueError(f"unknown cache alias {alias!r}; CACHES has {sorted(settings.CACHES)}")
    params = settings.CACHES[alias]
    adapter: Adapter = import_string(_adapter_path(params.get("BACKEND", "")))(alias, params)
    _adapters[alias] = adapter
    return adapter


def reset() -> None:
    """Forget every adapter and remembered backend instance (rebuilt from CACHES on next use)."""
    _adapters.clear()
    forget_instances()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        reset()


__all__ = ["Adapter", "Capabilities", "get_adapter", "instance", "reset"]
