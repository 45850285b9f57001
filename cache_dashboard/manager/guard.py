"""The circuit breaker around one cache call: quiet (fail open) for reads, loud for writes staff
must know about. Every error is counted and told to the alias's breaker in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cache_dashboard.adapters import get_adapter
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.stats import get_recorder

#: Returned by :func:`fail_open` when the cache was skipped (open circuit) or failed.
FAILED: Any = object()


def fail_open(alias: str, nns: str | None, count_skipped: bool, op: Callable[..., Any], *args: Any) -> Any:
    """``op(*args)``, or :data:`FAILED` when the circuit is open (counted as an error if
    ``count_skipped``) or ``op`` raised (counted, and the breaker told). A plain call, no context
    manager or closure: the hit path pays one function call for it."""
    breaker = get_breaker(alias)
    if not breaker.allow():  # lock-free on a closed circuit
        if count_skipped:
            get_recorder(alias).incr(nns, "errors")
        return FAILED
    try:
        result = op(*args)
    except Exception as exc:
        breaker.failure(exc)
        get_recorder(alias).incr(nns, "errors")
        return FAILED
    breaker.success()  # returns at once on a closed, error-free circuit
    return result


def quiet(alias: str, default: Any, op: Callable[..., Any], *args: Any) -> Any:
    """``op(*args)`` for a read of the dashboard's own (not the application's): through the
    breaker, so an open circuit answers ``default`` at once instead of a socket timeout per page
    or poll, and a failure tells the breaker; not counted among the application's errors."""
    breaker = get_breaker(alias)
    if not breaker.allow():
        return default
    try:
        result = op(*args)
    except Exception as exc:
        breaker.failure(exc)
        return default
    breaker.success()
    return result


@contextmanager
def loud(alias: str, operation: str, **params: Any) -> Iterator[None]:
    """Run a write the caller must know about: cache errors become :class:`CacheUnavailable`.

    ``operation`` is a key of ``exceptions.OPERATIONS`` (its text is translated where shown).
    Programming errors (``TypeError``, ``ValueError``) and ``UnsupportedOperation`` pass as they are.
    """
    breaker = get_breaker(alias)
    if not breaker.allow():
        raise CacheUnavailable.circuit_open(operation, alias=alias, **params)
    try:
        yield
    except (UnsupportedOperation, TypeError, ValueError):
        raise
    except Exception as exc:
        breaker.failure(exc)
        get_recorder(alias).incr(None, "errors")
        raise CacheUnavailable.failed(operation, error=get_adapter(alias).describe(exc), **params) from exc
    else:
        breaker.success()
