"""Exceptions raised by cache_dashboard's public API.

Their messages reach the admin (through the messages framework), so they are translatable: an
exception built with a message *template* and its parameters renders ``str(exc)`` in the language
active where it is shown, not where it was raised (the raising thread may be a worker thread
with another language, or none). A plain string message keeps working as before::

    raise UnsupportedOperation("anything")                                       # shown as is
    raise UnsupportedOperation.no_key_listing(backend="memcached", alias="default")  # translated
"""

from __future__ import annotations

from typing import Any


def gettext_noop(message: str) -> str:
    """Mark ``message`` for makemessages; translated later, by ``str(exc)``.

    Django's own ``gettext_noop`` reads settings, and this module is imported before they exist.
    """
    return message


def _translate(message: str) -> str:
    """``gettext(message)``, or ``message`` itself when Django's settings are not configured."""
    try:
        from django.utils.translation import gettext

        return gettext(message)
    except Exception:  # ImproperlyConfigured outside a project, AppRegistryNotReady early on
        return message


#: What a failed write was doing, by operation name (``CacheUnavailable.failed(operation, ...)``).
#: Parameters come from the keyword arguments given with the operation (namespace, pattern).
OPERATIONS: dict[str, str] = {
    "invalidate": gettext_noop("invalidate keys"),
    "invalidate_namespace": gettext_noop("invalidate namespace “%(namespace)s”"),
    "purge_namespace": gettext_noop("purge namespace “%(namespace)s”"),
    "invalidate_pattern": gettext_noop("invalidate pattern “%(pattern)s”"),
    "count_pattern": gettext_noop("count pattern “%(pattern)s”"),
    "clear": gettext_noop("clear this site's cache entries"),
    "remove_invalid": gettext_noop("remove invalid entry"),
    "invalid_entries": gettext_noop("list invalid entries"),
    "get_stats": gettext_noop("read statistics"),
    "describe_key": gettext_noop("describe key “%(key)s”"),
    "list_keys": gettext_noop("list keys"),
    "read_key": gettext_noop("read key “%(key)s”"),
    "delete_key": gettext_noop("delete key “%(key)s”"),
    "expire_key": gettext_noop("change the TTL of key “%(key)s”"),
}

NO_KEY_LISTING = gettext_noop(
    "The %(backend)s backend of cache alias “%(alias)s” cannot list its keys, so it cannot delete by "
    "pattern. Invalidate the keys by name, or put them in a namespace and use invalidate_namespace(), "
    "which works on every backend."
)
KEY_FUNCTION_NOT_SUFFIX = gettext_noop(
    "KEY_FUNCTION of cache alias “%(alias)s” does not end keys with the key itself, so keys cannot be "
    "matched by prefix."
)
CIRCUIT_OPEN = gettext_noop(
    "%(operation)s: cache alias “%(alias)s” is unreachable (circuit open after repeated errors)"
)
WRITE_FAILED = gettext_noop("%(operation)s failed: %(error)s")


class CacheDashboardError(Exception):
    """Base class of every error cache_dashboard raises on purpose.

    ``message`` is shown as is, or, with ``params``, treated as a translatable template (marked
    with ``gettext_noop``) that ``str()`` translates in the active language and fills with ``params``.
    A param that is itself a key of :data:`OPERATIONS` under the name ``operation`` is translated too.
    """

    def __init__(self, message: Any = "", params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.params = dict(params) if params else None

    def __str__(self) -> str:
        if self.params is None:
            return str(self.message)
        params = dict(self.params)
        try:
            operation = params.get("operation")
            if isinstance(operation, str) and operation in OPERATIONS:
                params["operation"] = _translate(OPERATIONS[operation]) % params
            return _translate(str(self.message)) % params
        except (KeyError, TypeError, ValueError):  # a bad template must not hide the error itself
            return f"{self.message} {self.params!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.params))


class UnsupportedOperation(CacheDashboardError):
    """The configured cache backend cannot do what was asked (e.g. pattern deletes on memcached)."""

    @classmethod
    def no_key_listing(cls, *, backend: str, alias: str) -> UnsupportedOperation:
        """Pattern deletes/counts on a backend that cannot list keys (everything but Redis)."""
        return cls(NO_KEY_LISTING, {"backend": backend, "alias": alias})

    @classmethod
    def key_function_not_suffix(cls, *, alias: str) -> UnsupportedOperation:
        """A custom KEY_FUNCTION that does not end raw keys with the key, so prefixes cannot match."""
        return cls(KEY_FUNCTION_NOT_SUFFIX, {"alias": alias})


class CacheUnavailable(CacheDashboardError):
    """A write the caller must know about (an invalidation) did not reach the cache server."""

    @classmethod
    def circuit_open(cls, operation: str, *, alias: str, **params: Any) -> CacheUnavailable:
        """``operation`` (a key of :data:`OPERATIONS`, or a text) was skipped: the circuit is open."""
        return cls(CIRCUIT_OPEN, {**params, "operation": operation, "alias": alias})

    @classmethod
    def failed(cls, operation: str, *, error: str, **params: Any) -> CacheUnavailable:
        """``operation`` failed with ``error`` (already masked: it is shown to staff as is)."""
        return cls(WRITE_FAILED, {**params, "operation": operation, "error": error})
