"""Django system checks of cache_dashboard's configuration (IDs: cache_dashboard.E00x / W00x).

The checks of one cache alias's configuration (timeouts, key length, the fast hit path) belong to
its adapter (``Adapter.run_checks``); this module adds the settings' own.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import get_settings
from cache_dashboard.keys import VALID_PREFIX
from cache_dashboard.web.monitoring import invalid_networks


@register(Tags.caches)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf = get_settings()
    problems: list[CheckMessage] = []
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
    prefix = conf["KEY_PREFIX"]
    if not isinstance(prefix, str) or not VALID_PREFIX.fullmatch(prefix):
        problems.append(Error(
            f"CACHE_DASHBOARD['KEY_PREFIX'] is {prefix!r}; it must be 1-64 ASCII letters, digits, "
            "'_', '.', ':' or '-'.",
            hint="It starts every key CacheManager writes: spaces break memcached, braces Redis Cluster "
                 "hash tags, glob characters SCAN patterns.",
            id="cache_dashboard.E003",
        ))
    if conf["_UNKNOWN"]:
        problems.append(Warning(
            f"Unknown CACHE_DASHBOARD settings: {', '.join(conf['_UNKNOWN'])}.",
            hint="See cache_dashboard.conf.DEFAULTS for the settings and their defaults.",
            id="cache_dashboard.W001",
        ))
    networks = conf["PROBE_ALLOWED_IPS"] or []
    bad = invalid_networks([networks] if isinstance(networks, str) else networks)
    if isinstance(networks, str) or bad:
        problems.append(Error(
            f"CACHE_DASHBOARD['PROBE_ALLOWED_IPS'] must be a list of addresses or networks (CIDR); "
            f"not valid: {', '.join(map(repr, bad)) or repr(networks)}.",
            hint="For example [\"10.0.0.0/8\", \"127.0.0.1\"]; a malformed entry allows nothing.",
            id="cache_dashboard.E004",
        ))
    for alias in set(conf["EXPECTED_BACKENDS"] or {}) - set(settings.CACHES):
        problems.append(Warning(
            f"CACHE_DASHBOARD['EXPECTED_BACKENDS'] names {alias!r}, which is not an alias in CACHES.",
            id="cache_dashboard.W006",
        ))
    for alias in settings.CACHES:
        problems.extend(get_adapter(alias).run_checks())
    return problems
