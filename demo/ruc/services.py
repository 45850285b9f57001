"""RUC lookups through CacheManager, and ``RucCacheService``: the seeds' API as thin calls into it.

``RucCacheService`` keeps the method names of the ``APICacheService`` the seeds describe, so code
written against it keeps working; each method is one or two ``CacheManager`` calls. New code
should call :class:`cache_dashboard.CacheManager` directly (see the README's mapping).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django.core.cache import caches

from cache_dashboard import CacheManager, cache_manager
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import MAX_NAMESPACE_LENGTH, normalize_namespace
from ruc.checkdigit import format_error
from ruc.upstream import RucNotFound, UpstreamError, provider_for

#: Reasons an entry is in the negative cache.
FORMATO_INVALIDO = "FORMATO_INVALIDO"
NO_EXISTE_SUNAT = "NO_EXISTE_SUNAT"
ERROR_API = "ERROR_API"
REASONS = (FORMATO_INVALIDO, NO_EXISTE_SUNAT, ERROR_API)

#: TTL of an ``ERROR_API`` mark when ``TTLS`` has no ``<namespace>_error`` entry: an upstream
#: failure says nothing about the RUC, so it is remembered briefly (to shed load), not for 24 h.
DEFAULT_ERROR_TTL = 60

#: Inputs worth a look in the negative cache. Malformed input (length, prefix, check digit) is
#: answered by the check alone and never stored: it is free to recompute, and storing it would let
#: any client fill the negative cache with garbage. Only well-formed RUCs that the provider
#: answered "unknown" or failed on are marked (and REGISTRY_MAX_ENTRIES bounds even those).
_STORABLE = re.compile(r"[0-9A-Za-z\-]{1,20}")

#: The demo's own services (each one a namespace); any other valid name works too (seeds: ``migo``).
SERVICES = ("ruc", "nubefact")
#: Separates the service from the key in ``get_service_cache_key``'s ``"<service>:<key>"``.
SERVICE_SEPARATOR = ":"


def is_service_name(name: object) -> bool:
    """True if ``name`` can be a service: a namespace that cache_dashboard stores as it is.

    The rule is the package's (``cache_dashboard.keys.normalize_namespace`` keeps it unchanged):
    1-48 ASCII letters, digits or ``_ . - ~ @ + = , ! $ ( )``. So no ``:`` (it separates the
    service from the key), no spaces or control characters, nothing that would be stored escaped.
    """
    if not isinstance(name, str) or not name:
        return False
    return normalize_namespace(name) == name


def check_service_name(name: object) -> str:
    """``name`` if :func:`is_service_name`, else ``ValueError`` saying what a service name may hold."""
    if isinstance(name, str) and is_service_name(name):
        return name
    raise ValueError(
        f"invalid service name {name!r}: a service is a namespace stored as it is, 1-{MAX_NAMESPACE_LENGTH} "
        "ASCII letters, digits or any of _.-~@+=,!$() (':' separates the service from the key), "
        "e.g. 'migo', 'nubefact', 'sunat'"
    )


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = int(seconds)
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}min"
    return f"{seconds}s"


class RucCacheService:
    """The seeds' ``APICacheService`` API on top of :class:`~cache_dashboard.CacheManager`.

    :param alias: cache alias (``None``: ``CACHE_DASHBOARD["ALIAS"]``).
    :param namespace: namespace of the RUC entries and of their negative cache (``"ruc"``).

    TTLs come from ``CACHE_DASHBOARD["TTLS"]`` (and the admin's overrides): ``ruc`` for valid
    RUCs, ``ruc_invalid`` for invalid ones, ``ruc_error`` for upstream failures.
    """

    def __init__(self, alias: str | None = None, *, namespace: str = "ruc") -> None:
        self.cm: CacheManager = CacheManager(alias=alias) if alias else cache_manager
        self.namespace = namespace

    # -- what the seeds' verification script reads -------------------------------------------
    @property
    def backend(self) -> str:
        """Backend kind: ``locmem``, ``redis``, ``django_redis``, ``memcached``, ..."""
        return self.cm.backend

    # -- generic operations ------------------------------------------------------------------
    def _split(self, key: str) -> tuple[str | None, str]:
        # Keys built by get_service_cache_key ("migo:xyz") live in that service's namespace, so
        # clear_service_cache(service) drops them, as the seeds intended. Any valid service name
        # counts; a key whose prefix is no valid name ("a b:c", ":c") stays a plain key.
        service, sep, rest = key.partition(SERVICE_SEPARATOR)
        if sep and rest and is_service_name(service):
            return service, rest
        return None, key

    def get(self, key: str, default: Any = None) -> Any:
        """Cached value of ``key``, or ``default``."""
        namespace, key = self._split(key)
        return self.cm.get(key, namespace=namespace, default=default)

    def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Cache ``value`` under ``key`` for ``ttl`` seconds (``None``: the TTL policy)."""
        namespace, key = self._split(key)
        return self.cm.set(key, value, ttl, namespace=namespace)

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""
        namespace, key = self._split(key)
        return self.cm.delete(key, namespace=namespace)

    # -- valid RUCs --------------------------------------------------------------------------
    def set_ruc(self, ruc: str, data: dict[str, Any]) -> bool:
        """Cache a valid RUC's data for the ``ruc`` TTL (1 h in the demo)."""
        return self.cm.set(ruc, data, self.cm.ttl_for(self.namespace), namespace=self.namespace)

    def get_ruc(self, ruc: str) -> dict[str, Any] | None:
        """Cached data of a valid RUC, or ``None``."""
        return self.cm.get(ruc, namespace=self.namespace)

    def delete_ruc(self, ruc: str) -> bool:
        """Drop a RUC's cached data; True if it was cached."""
        return self.cm.delete(ruc, namespace=self.namespace)

    # -- invalid RUCs (negative cache) -------------------------------------------------------
    def error_ttl(self) -> float | None:
        """TTL of ``ERROR_API`` marks: ``TTLS["<namespace>_error"]`` or 60 s."""
        name = f"{self.namespace}_error"
        return self.cm.ttl_for(name) if name in get_setting("TTLS") else DEFAULT_ERROR_TTL

    def add_invalid_ruc(
        self, ruc: str, reason: str, detail: str | None = None, ttl: float | None = None
    ) -> dict[str, Any] | None:
        """Mark ``ruc`` invalid with ``reason`` for the ``ruc_invalid`` TTL (24 h in the demo).

        ``ERROR_API`` marks use the short :meth:`error_ttl` instead: an upstream failure does
        not mean the RUC is invalid. Returns the stored entry (None if the cache is unreachable).
        """
        if ttl is None and reason == ERROR_API:
            ttl = self.error_ttl()
        return self.cm.mark_invalid(ruc, reason, namespace=self.namespace, ttl=ttl, detail=detail)

    def is_ruc_invalid(self, ruc: str) -> bool:
        """True while ``ruc`` is marked invalid."""
        return self.cm.is_invalid(ruc, namespace=self.namespace)

    def get_invalid_ruc_info(self, ruc: str) -> dict[str, Any] | None:
        """The mark of ``ruc``: key, namespace, reason, detail, marked_at, expires_at; or None."""
        return self.cm.get_invalid_info(ruc, namespace=self.namespace)

    def remove_invalid_ruc(self, ruc: str) -> bool:
        """Unmark ``ruc``; True if it was marked."""
        return self.cm.remove_invalid(ruc, namespace=self.namespace)

    def get_all_invalid_rucs(self) -> dict[str, dict[str, Any]]:
        """Every RUC currently marked invalid, ``{ruc: info}``, newest first."""
        return {entry["key"]: entry for entry in self.cm.invalid_entries(self.namespace)}

    def clear_invalid_rucs(self) -> int:
        """Unmark every invalid RUC of the namespace; returns how many were unmarked."""
        return sum(1 for ruc in self.get_all_invalid_rucs() if self.remove_invalid_ruc(ruc))

    # -- monitoring --------------------------------------------------------------------------
    def get_health(self) -> dict[str, Any]:
        """``CacheManager.get_health()`` (``status``: healthy / warning / unhealthy) + timestamp."""
        return {**self.cm.get_health(), "timestamp": datetime.now(timezone.utc).isoformat()}

    def get_cache_stats(self) -> dict[str, Any]:
        """The seeds' stats shape: status, backend, invalid-RUC breakdown, readable timeouts,
        plus this namespace's hit/miss totals from ``CacheManager.get_stats``."""
        breakdown = self.cm.invalid_breakdown(self.namespace)
        default_timeout = caches[self.cm.alias].default_timeout
        return {
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "status": self.cm.get_health()["status"],
            "backend": self.backend,
            "alias": self.cm.alias,
            "invalid_rucs": {
                "total_count": sum(breakdown.values()),
                "breakdown_by_reason": breakdown,
            },
            "timeouts": {
                "default": _human(default_timeout),
                "ruc_valid": _human(self.cm.ttl_for(self.namespace)),
                "ruc_invalid": _human(self.cm.ttl_for(f"{self.namespace}_invalid")),
                "ruc_error": _human(self.error_ttl()),
            },
            "stats": self.cm.get_stats(namespace=self.namespace)["totals"],
        }

    # -- several services --------------------------------------------------------------------
    def get_service_cache_key(self, service_name: str, key: str) -> str:
        """``"<service>:<key>"`` (e.g. ``"migo:ruc_20100038146"``), for any valid service name.

        Every service is a namespace (the seeds' ``migo:``, ``nubefact:``, ``sunat:``):
        ``get``/``set``/``delete`` store such a key in the namespace ``service``, so
        :meth:`clear_service_cache` drops it. New code: ``cm.get(key, namespace=service)``.

        :raises ValueError: ``service_name`` is not a valid name (see :func:`is_service_name`), or
            ``key`` is empty.
        """
        check_service_name(service_name)
        if not isinstance(key, str) or not key:
            raise ValueError(f"a service key must be a non-empty string, not {key!r}")
        return f"{service_name}{SERVICE_SEPARATOR}{key}"

    def clear_service_cache(self, service_name: str) -> dict[str, int]:
        """Invalidate every entry of one service (namespace) on any backend, in O(1).

        Returns ``{"namespaces_invalidated": 1}`` (a namespace invalidation does not count keys).

        :raises ValueError: ``service_name`` is not a valid name (see :func:`is_service_name`).
        """
        self.cm.invalidate_namespace(check_service_name(service_name), source="RucCacheService")
        return {"namespaces_invalidated": 1}


# --------------------------------------------------------------------------- the lookup flow


@dataclass
class LookupResult:
    """Outcome of one lookup: the HTTP status and JSON body the API returns."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        return self.body.get("reason")


_STATUS = {FORMATO_INVALIDO: 400, NO_EXISTE_SUNAT: 404, ERROR_API: 503}


def _invalid(ruc: str, info: dict[str, Any], source: str) -> LookupResult:
    headers = {}
    if info["reason"] == ERROR_API and info.get("expires_at"):
        remaining = max(1, int(info["expires_at"] - time.time()))
        headers["Retry-After"] = str(remaining)
    return LookupResult(
        status=_STATUS.get(info["reason"], 400),
        body={
            "ruc": ruc,
            "valid": False,
            "reason": info["reason"],
            "detail": info.get("detail"),
            "source": source,
            "expires_at": info.get("expires_at"),
        },
        headers=headers,
    )


def lookup(ruc: str, namespace: str = "ruc", *, alias: str | None = None) -> LookupResult:
    """Look ``ruc`` up through the negative cache, the cache and the simulated provider.

    1. Already marked invalid -> the mark (404 / 503), ``source: "negative-cache"``.
    2. Malformed (length, prefix, check digit) -> ``FORMATO_INVALIDO``, 400, ``source: "check"``:
       not stored (recomputing it costs nothing).
    3. Cache-aside ``cm.get(ruc, fetch, ttl, namespace=...)``: a hit is ``source: "cache"``, a
       miss calls the provider (``source: "upstream"``); "unknown" marks ``NO_EXISTE_SUNAT``
       (404), a failure marks ``ERROR_API`` briefly (503 with ``Retry-After``).
    """
    service = RucCacheService(alias, namespace=namespace)
    ruc = ruc.strip()
    storable = bool(_STORABLE.fullmatch(ruc))
    if storable:
        info = service.get_invalid_ruc_info(ruc)
        if info is not None:
            return _invalid(ruc, info, "negative-cache")
    problem = format_error(ruc)
    if problem is not None:
        return _invalid(ruc, {"reason": FORMATO_INVALIDO, "detail": problem, "expires_at": None}, "check")

    provider = provider_for(namespace)
    fetched: list[bool] = []

    def fetch() -> dict[str, Any]:
        fetched.append(True)
        return provider.lookup(ruc)

    try:
        data = service.cm.get(ruc, fetch, service.cm.ttl_for(namespace), namespace=namespace)
    except RucNotFound as exc:
        return _mark_and_answer(service, ruc, NO_EXISTE_SUNAT, str(exc))
    except UpstreamError as exc:
        return _mark_and_answer(service, ruc, ERROR_API, str(exc))
    return LookupResult(
        status=200,
        body={
            "ruc": ruc,
            "valid": True,
            "source": "upstream" if fetched else "cache",
            "provider": provider.label,
            "data": data,
        },
    )


def _mark_and_answer(service: RucCacheService, ruc: str, reason: str, detail: str) -> LookupResult:
    info = service.add_invalid_ruc(ruc, reason, detail=detail)
    info = info or {"reason": reason, "detail": detail, "expires_at": None}
    return _invalid(ruc, info, "upstream")
