"""TTL policy: explicit ttl > admin override > settings ``TTLS`` > the alias's TIMEOUT."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.utils.module_loading import import_string

from cache_dashboard.conf import get_setting

logger = logging.getLogger("cache_dashboard")


def overrides() -> Mapping[str, int]:
    """The override store named by the ``TTL_OVERRIDES`` setting (pluggable; never raises)."""
    path = get_setting("TTL_OVERRIDES")
    if not path:
        return {}
    try:
        provider = import_string(path) if isinstance(path, str) else path
        return provider() or {}
    except Exception:  # an unreachable override store must not break caching
        logger.warning("TTL override provider %r failed; using settings TTLS", path, exc_info=True)
        return {}


def alias_timeout(alias: str) -> float | None:
    timeout = settings.CACHES.get(alias, {}).get("TIMEOUT", 300)
    return None if timeout is None else float(timeout)


def settings_ttl(name: str) -> int | None | object:
    """The TTLS entry for ``name``, or DEFAULT_TIMEOUT when there is none."""
    ttls = get_setting("TTLS")
    return ttls[name] if name in ttls else DEFAULT_TIMEOUT


def resolve(alias: str, name: str | None) -> float | None:
    """Effective TTL of a namespace / data type ``name`` (None means never expires)."""
    if name is not None:
        found = overrides().get(name)
        if found is not None:
            return float(found)
        configured = settings_ttl(name)
        if configured is not DEFAULT_TIMEOUT:
            return None if configured is None else float(configured)  # type: ignore[arg-type]
    return alias_timeout(alias)


def jittered(ttl: float) -> float:
    """Shorten ``ttl`` by up to TTL_JITTER of itself so entries written together expire apart."""
    jitter = get_setting("TTL_JITTER")
    if jitter and ttl > 1:
        return ttl * (1.0 - random.uniform(0.0, min(float(jitter), 0.5)))
    return ttl
