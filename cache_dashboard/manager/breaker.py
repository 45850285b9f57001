"""Circuit breaker per cache alias, and rate-limited error logging.

After ``CIRCUIT_FAILURE_THRESHOLD`` consecutive errors the circuit opens: cache calls are skipped
(microseconds instead of a socket timeout) for ``CIRCUIT_RESET_TIMEOUT`` seconds. Then one caller
is let through as a half-open probe; its success closes the circuit, its failure re-opens it.
"""

from __future__ import annotations

import logging
import threading
import time

from cache_dashboard.adapters import get_adapter
from cache_dashboard.conf import get_setting

logger = logging.getLogger("cache_dashboard")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """The circuit of one alias, shared by every thread of the process."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._lock = threading.Lock()
        self.failures = 0
        self.opened_at = 0.0
        self.state = CLOSED
        self._probe_taken = False
        self._last_log = 0.0
        self._suppressed = 0

    def allow(self) -> bool:
        """May the next cache call go to the server?"""
        if self.state == CLOSED:  # lock-free fast path
            return True
        with self._lock:
            if self.state == OPEN:
                if time.monotonic() - self.opened_at < get_setting("CIRCUIT_RESET_TIMEOUT"):
                    return False
                self.state = HALF_OPEN
                self._probe_taken = False
            if self._probe_taken:  # one probe at a time
                return False
            self._probe_taken = True
            return True

    def success(self) -> None:
        if self.state == CLOSED and not self.failures:
            return
        with self._lock:
            if self.state != CLOSED:
                logger.warning("cache alias %r is reachable again; circuit closed", self.alias)
            self.failures = 0
            self.state = CLOSED

    def failure(self, exc: BaseException) -> None:
        """Count a failed call. A timeout opens the circuit at once: each one cost a whole socket
        timeout, and a server that hung once will hang the next call too. A refused connection
        (it fails fast) counts toward CIRCUIT_FAILURE_THRESHOLD. A failure the adapter says is
        contained to one part of the cache (``Adapter.contains``) is only logged."""
        if self._contained(exc):
            with self._lock:
                if self.state == HALF_OPEN:  # that probe said nothing of the rest: let another one try
                    self._probe_taken = False
            self.log(exc)
            return
        with self._lock:
            self.failures += 1
            if (self.state == HALF_OPEN or is_timeout(exc)
                    or self.failures >= get_setting("CIRCUIT_FAILURE_THRESHOLD")):
                if self.state != OPEN:
                    self.opened_at = time.monotonic()
                self.state = OPEN
                self._probe_taken = False
        self.log(exc)

    def _contained(self, exc: BaseException) -> bool:
        try:
            return get_adapter(self.alias).contains(exc)
        except Exception:  # an alias gone from CACHES: count it as before
            return False

    def log(self, exc: BaseException) -> None:
        """Log at most one error per LOG_RATE_LIMIT seconds per alias; count the rest."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_log < get_setting("LOG_RATE_LIMIT") and self._last_log:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last_log = self._suppressed, 0, now
        try:
            message = get_adapter(self.alias).describe(exc)
        except Exception:
            message = type(exc).__name__
        if suppressed:
            logger.error("cache alias %r failed (%s); circuit %s; %d similar errors not logged since the last",
                         self.alias, message, self.state, suppressed)
        else:
            logger.error("cache alias %r failed (%s); circuit %s", self.alias, message, self.state)


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout: the builtin ``TimeoutError`` (``socket.timeout``, which
    pymemcache raises) or a library's own exception of that name (redis-py's), found by class
    name so no client library is imported here."""
    return any(klass.__name__ in ("TimeoutError", "timeout") for klass in type(exc).__mro__)


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def get_breaker(alias: str) -> CircuitBreaker:
    try:
        return _breakers[alias]
    except KeyError:
        with _breakers_lock:
            return _breakers.setdefault(alias, CircuitBreaker(alias))


def reset_breakers() -> None:
    """Forget every breaker's state (tests, or after fixing a server by hand)."""
    with _breakers_lock:
        _breakers.clear()
