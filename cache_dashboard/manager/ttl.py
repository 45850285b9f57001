"""TTL policy, the one resolver: explicit ``ttl`` > admin override > settings ``TTLS`` > the alias's
TIMEOUT. The cache-aside path, the overview and the TTL page all read TTLs through :func:`explain`.

A TTL *name* is a namespace or a data type (``"ruc"``, ``"ruc_invalid"``). An entry without a
namespace uses its own key as TTL name, so ``cm.set("estadisticas_ventas", v)`` gets
``TTLS["estadisticas_ventas"]``; any other key without namespace gets the alias's TIMEOUT.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from cache_dashboard.conf import get_setting

logger = logging.getLogger("cache_dashboard")


@dataclass(frozen=True)
class TTL:
    """How the TTL of one name is decided. Seconds; None means "never expires"."""

    name: str | None
    #: The staff's override (``TTL_OVERRIDES``), if any.
    override: int | None
    #: Whether ``TTLS`` has the name, and its value there.
    in_settings: bool
    configured: int | None
    #: The alias's own TIMEOUT (the last resort).
    alias_timeout: float | None
    #: What applies: the override, else the setting, else the alias's TIMEOUT.
    effective: float | None

    @property
    def default(self) -> float | None:
        """What applies without an override."""
        return self.configured if self.in_settings else self.alias_timeout


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


def names() -> set[str]:
    """Every TTL name that is configured: settings ``TTLS`` and staff overrides."""
    return set(get_setting("TTLS")) | set(overrides())


def explain(alias: str, name: str | None) -> TTL:
    """The TTL of namespace / data type ``name`` in ``alias``, with where it comes from."""
    ttls = get_setting("TTLS")
    override = overrides().get(name) if name is not None else None
    in_settings = name is not None and name in ttls
    configured = ttls[name] if in_settings else None
    timeout = alias_timeout(alias)
    if override is not None:
        effective: float | None = float(override)
    elif in_settings:
        effective = None if configured is None else float(configured)
    else:
        effective = timeout
    return TTL(name, override, in_settings, configured, timeout, effective)


def resolve(alias: str, name: str | None) -> float | None:
    """Effective TTL of ``name`` (None means never expires)."""
    return explain(alias, name).effective


def for_entry(alias: str, key: str, namespace: str | None, ttl: float | None) -> float | None:
    """The TTL an entry is stored with: ``ttl`` if given, else its namespace's, else (no namespace)
    the TTL named like the key itself (see the module docstring)."""
    if ttl is not None:
        return ttl
    return resolve(alias, namespace if namespace is not None else key)


def jittered(ttl: float) -> float:
    """Shorten ``ttl`` by up to TTL_JITTER of itself so entries written together expire apart."""
    jitter = get_setting("TTL_JITTER")
    if jitter and ttl > 1:
        return ttl * (1.0 - random.uniform(0.0, min(float(jitter), 0.5)))
    return ttl
