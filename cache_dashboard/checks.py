"""Django system checks of cache_dashboard's configuration (IDs: cache_dashboard.E00x / W00x).

The checks of one cache alias's configuration (timeouts, key length, the fast hit path) belong to
its adapter (``Adapter.run_checks``); this module adds the settings' own.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import dashboard_aliases, get_settings
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
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            problems.append(Error(
                f"CACHE_DASHBOARD['TTLS'][{name!r}] is {value!r}; expected whole seconds > 0 or None.",
                hint="None means never expires; 0 would expire every entry at once (Django's timeout 0).",
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
            id="cache_dashboard.E006",
        ))
    for alias in set(conf["EXPECTED_BACKENDS"] or {}) - set(settings.CACHES):
        problems.append(Warning(
            f"CACHE_DASHBOARD['EXPECTED_BACKENDS'] names {alias!r}, which is not an alias in CACHES.",
            id="cache_dashboard.W010",
        ))
    for alias in settings.CACHES:
        problems.extend(get_adapter(alias).run_checks())
    return problems


@register(Tags.admin)
def check_admin(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not apps.is_installed("django.contrib.admin"):
        return [Error(
            "cache_dashboard needs django.contrib.admin: the dashboard's pages are admin views "
            "(CacheDashboardAdmin.get_urls) with the admin's templates, login and permissions.",
            hint="Add 'django.contrib.admin' to INSTALLED_APPS and include admin.site.urls (or register "
                 "cache_dashboard.admin on your own AdminSite with cache_dashboard.admin.register).",
            id="cache_dashboard.E005",
        )]
    # The templates do not care about the order: theirs are names of their own (cache_dashboard/…,
    # admin/cache_dashboard/…) that extend the admin's by name, so a project's admin/base_site.html
    # applies either way. The translations do: the catalog of the app listed first wins a msgid
    # both have, and the dashboard's Spanish "Change", "Filter", "Remove", "No, take me back" are
    # not the admin's.
    names = [config.name for config in apps.get_app_configs()]
    if names.index("cache_dashboard") < names.index("django.contrib.admin"):
        return [Warning(
            "'cache_dashboard' is listed before 'django.contrib.admin' in INSTALLED_APPS: the translations "
            "of the app listed first win, so the dashboard's catalog replaces some of the admin's own "
            "words (\"Change\", \"Filter\", \"Remove\"…) on every admin page.",
            hint="List 'cache_dashboard' after 'django.contrib.admin' (the templates work in either order).",
            id="cache_dashboard.W009",
        )]
    return []


def _shown_aliases() -> list[str]:
    """The aliases the dashboard shows, then CacheManager's own alias."""
    aliases = dashboard_aliases()
    alias = get_settings()["ALIAS"]
    if alias in settings.CACHES and alias not in aliases:
        aliases.append(alias)
    return aliases


@register(Tags.caches, deploy=True)
def check_process_local(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for alias in _shown_aliases():
        capabilities = get_adapter(alias).capabilities
        if capabilities.process_local or not capabilities.stores_values:
            what = ("stores nothing: every read is a miss, and its statistics are this process's only"
                    if not capabilities.stores_values else
                    "is this process's memory: its entries, statistics and invalidations are this "
                    "process's only, each worker of the site has its own, and the dashboard shows the "
                    "one that answers")
            problems.append(Warning(
                f"Cache alias {alias!r} ({settings.CACHES[alias].get('BACKEND')}) {what}.",
                hint="Use a shared cache (Redis, memcached, the database) for it in production, or leave "
                     "it out of CACHE_DASHBOARD['ALIASES'].",
                id="cache_dashboard.W006",
            ))
    return problems


CACHE_SESSIONS = ("django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.cached_db")


def _same_store(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two aliases' configurations name the same cache store (backend and location)."""
    return bool(a.get("BACKEND") == b.get("BACKEND") and a.get("LOCATION", "") == b.get("LOCATION", ""))


@register(Tags.caches)
def check_sessions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # Pattern invalidation (CacheManager.invalidate_pattern) cannot reach sessions: it matches
    # CacheManager's own layout (KEY_PREFIX "cd:…") only. The key browser can: "Delete every
    # matching key" deletes any of this site's keys (the alias's KEY_PREFIX) that a glob matches.
    if getattr(settings, "SESSION_ENGINE", "") not in CACHE_SESSIONS:
        return []
    session_alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    if session_alias not in settings.CACHES:
        return []  # Django's own session checks and the first request say so
    sessions = settings.CACHES[session_alias]
    foreign_writes = get_settings()["KEY_BROWSER_FOREIGN_WRITES"]
    problems: list[CheckMessage] = []
    for alias in dashboard_aliases():
        params = settings.CACHES[alias]
        if alias != session_alias and not (
                _same_store(params, sessions)
                and (foreign_writes or params.get("KEY_PREFIX", "") == sessions.get("KEY_PREFIX", ""))):
            continue
        if not get_adapter(alias).capabilities.key_browsing:
            continue
        where = (f"cache alias {alias!r}" if alias == session_alias else
                 f"cache alias {session_alias!r}, the same store as the dashboard's alias {alias!r},")
        problems.append(Warning(
            f"Sessions are stored in {where} and the dashboard's key browser can delete them: "
            "\"Delete every matching key\" on the Keys tab deletes any matching key of the site, sessions too (a "
            "filter such as '*' logs every user out). Pattern invalidation never reaches them: it only "
            "matches CacheManager's own keys.",
            hint="Keep sessions on an alias of their own, with its own KEY_PREFIX, left out of "
                 "CACHE_DASHBOARD['ALIASES'] (and KEY_BROWSER_FOREIGN_WRITES off), or use the database "
                 "session engine.",
            id="cache_dashboard.W007",
        ))
    return problems
