"""Django system checks of cache_dashboard's configuration (IDs: cache_dashboard.E00x / W00x)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from cache_dashboard.conf import get_settings

#: OPTIONS that bound how long a call to a hung server can block, per backend adapter name.
TIMEOUT_OPTIONS = {
    "redis": ("socket_timeout", "socket_connect_timeout"),
    "django_redis": ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT"),
    "memcached": ("timeout", "connect_timeout"),
}


@register(Tags.caches)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from cache_dashboard.adapters import get_adapter

    conf = get_settings()
    problems: list[Any] = []
    if conf["ALIAS"] not in settings.CACHES:
        problems.append(Error(
            f"CACHE_DASHBOARD['ALIAS'] is {conf['ALIAS']!r}, which is not an alias in CACHES.",
            hint=f"Use one of {sorted(settings.CACHES)}.", id="cache_dashboard.E001",
        ))
    for name, value in conf["TTLS"].items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            problems.append(Error(
                f"CACHE_DASHBOARD['TTLS'][{name!r}] is {value!r}; expected whole seconds >= 0 or None.",
                id="cache_dashboard.E002",
            ))
    if conf["_UNKNOWN"]:
        problems.append(Warning(
            f"Unknown CACHE_DASHBOARD settings: {', '.join(conf['_UNKNOWN'])}.",
            hint="See cache_dashboard.conf.DEFAULTS for the settings and their defaults.",
            id="cache_dashboard.W001",
        ))
    for alias, params in settings.CACHES.items():
        adapter = get_adapter(alias)
        if adapter.name == "unknown":
            problems.append(Warning(
                f"Cache alias {alias!r} uses {params.get('BACKEND')!r}, unknown to cache_dashboard: "
                "only the generic features are available.", id="cache_dashboard.W002",
            ))
        wanted = TIMEOUT_OPTIONS.get(adapter.name)
        options = params.get("OPTIONS") or {}
        if wanted and not all(options.get(name) for name in wanted):
            problems.append(Warning(
                f"Cache alias {alias!r} sets no {' / '.join(wanted)} in OPTIONS: a hung cache server "
                "can block a request for a long time before the circuit breaker opens.",
                hint=f"Set {', '.join(f'{name!r}: 0.5' for name in wanted)} in OPTIONS.",
                id="cache_dashboard.W003",
            ))
        key_prefix = str(params.get("KEY_PREFIX", ""))
        if adapter.name == "memcached" and len(key_prefix) > 60:
            problems.append(Warning(
                f"KEY_PREFIX of cache alias {alias!r} is {len(key_prefix)} characters; memcached keys are "
                "limited to 250 bytes, which leaves too little room for cache_dashboard's keys.",
                id="cache_dashboard.W004",
            ))
    return problems
