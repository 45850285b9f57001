"""Health probes per cache alias: connection, set/get/delete round trip, counters, server stats.

``check(alias)`` never raises and returns within about ``HEALTH_TIMEOUT`` seconds even when the
server hangs: the probes run in worker threads and are abandoned when the deadline passes. The
probe key is unique and short-lived, and probes are not counted as hits or misses.

Every human-readable text of the report (check labels, errors, warnings) is translated into the
language active in the caller (e.g. the admin request); the worker threads run under that same
language, since Django's active translation is per thread. ``name`` and ``status`` stay English
identifiers; ``label`` is the check's translated name.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cache_dashboard.adapters import Adapter, get_adapter
from cache_dashboard.conf import get_setting
from cache_dashboard.keys import probe_key
from cache_dashboard.manager.breaker import get_breaker

T = TypeVar("T")
_running: dict[str, threading.Thread] = {}
#: The last probed report of each alias: what a check answers while the circuit is open.
_last: dict[str, dict[str, Any]] = {}

#: Translated names of the checks, by their stable ``name``.
CHECK_LABELS = {
    "connection": gettext_lazy("connection"),
    "roundtrip": gettext_lazy("round trip"),
    "registry": gettext_lazy("registry"),
}


def _check(name: str, ok: bool, latency_ms: float | None, error: str | None) -> dict[str, Any]:
    return {"name": name, "label": str(CHECK_LABELS[name]), "ok": ok, "latency_ms": latency_ms, "error": error}


def _no_answer(timeout: float) -> TimeoutError:
    return TimeoutError(_("no answer within %(seconds)s s") % {"seconds": timeout})


def _in_language(language: str | None, target: Callable[[], T]) -> Callable[[], T]:
    """``target`` wrapped to run under ``language`` (translation activation is per thread)."""

    def run() -> T:
        with translation.override(language):
            return target()

    return run


def _run(name: str, alias: str, target: Callable[[], Any], deadline: float) -> tuple[bool, Any]:
    """Run ``target`` in a daemon thread; (finished, result-or-exception)."""
    box: dict[str, Any] = {}
    slot = f"{alias}:{name}"
    previous = _running.get(slot)
    if previous is not None and previous.is_alive():
        # A probe from an earlier check is still stuck on a hung socket: do not pile up threads.
        return False, TimeoutError(_("the previous check has not returned yet (server hung?)"))

    def work() -> None:
        try:
            box["result"] = target()
        except BaseException as exc:  # reported, never raised
            box["error"] = exc

    thread = threading.Thread(
        target=_in_language(translation.get_language(), work), name=f"cache_dashboard-health-{slot}", daemon=True
    )
    _running[slot] = thread
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        return False, _no_answer(get_setting("HEALTH_TIMEOUT"))
    return True, box.get("error", box.get("result"))


def check(alias: str) -> dict[str, Any]:
    """Health report of ``alias`` (shape documented in docs/internals/api-contract.md)."""
    started = time.monotonic()
    timeout = float(get_setting("HEALTH_TIMEOUT"))
    deadline = started + timeout
    report: dict[str, Any] = {
        "alias": alias, "backend": "unknown", "location": "", "status": "unhealthy",
        "checks": [], "server": [], "warnings": [], "circuit": "closed",
        "checked_at": time.time(), "duration_ms": 0.0,
    }
    try:
        adapter = get_adapter(alias)
    except Exception as exc:
        report["checks"].append(_check("connection", False, None, str(exc)))
        return report
    report["backend"] = adapter.name
    report["location"] = adapter.location_display()
    problem = adapter.async_problem()
    report["async"] = {"native": problem is None, "note": problem or ""}
    breaker = get_breaker(alias)
    report["circuit"] = breaker.state
    if not breaker.allow():
        # Through the breaker like every other read: an open circuit costs no socket timeout per
        # page or poll; the half-open probe (below, when allowed) tells the breaker the outcome.
        return _while_open(report, alias, started)

    def roundtrip() -> dict[str, Any]:
        cache = caches[alias]
        token = uuid.uuid4().hex
        key, counter = probe_key(token), probe_key(f"{token}:n")
        t0 = time.perf_counter()
        cache.set(key, token, 10)
        t1 = time.perf_counter()
        got = cache.get(key)
        cache.delete(key)
        t2 = time.perf_counter()
        # What the negative-cache registry (and the stats, and namespace generations) rely on: an
        # increment that creates the counter with a TTL, and a multi-key read.
        registry_error = None
        try:
            adapter.incr(counter, 1, 10)
            counted = cache.get_many([counter, key]).get(counter)
            cache.delete(counter)
            if adapter.capabilities.stores_values and (counted is None or int(counted) != 1):
                registry_error = _("a counter did not count")
        except Exception as exc:
            registry_error = adapter.describe(exc)
        t3 = time.perf_counter()
        return {"connect_ms": (t1 - t0) * 1000, "roundtrip_ms": (t2 - t0) * 1000,
                "registry_ms": (t3 - t2) * 1000, "read_back": got == token, "registry_error": registry_error}

    def servers() -> list[dict[str, Any]]:
        return adapter.server_info(max(0.1, timeout * 0.8))

    results: dict[str, Any] = {}
    if not adapter.probe_in_thread:
        for name, target in (("roundtrip", roundtrip), ("servers", servers)):
            try:
                results[name] = (True, target())
            except Exception as exc:
                results[name] = (True, exc)
        return _probed(alias, _finish(report, adapter, results, started), results)
    threads = {}
    language = translation.get_language()  # the probes' threads report in the caller's language
    probes: tuple[tuple[str, Callable[[], Any]], ...] = (("roundtrip", roundtrip), ("servers", servers))
    for name, target in probes:
        box: dict[str, Any] = {}

        def probe(box: dict[str, Any] = box, name: str = name, target: Callable[[], Any] = target) -> None:
            box[name] = _run(name, alias, target, deadline)

        thread = threading.Thread(target=_in_language(language, probe), daemon=True)
        thread.start()
        threads[name] = (thread, box)
    for name, (thread, box) in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()) + 0.05)
        results[name] = box.get(name, (False, _no_answer(timeout)))
    return _probed(alias, _finish(report, adapter, results, started), results)


def _probed(alias: str, report: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """Tell the breaker how the round trip went, and keep the report for while it is open."""
    breaker = get_breaker(alias)
    outcome = results["roundtrip"][1]
    if isinstance(outcome, BaseException):
        breaker.failure(outcome)
    else:
        breaker.success()
    _last[alias] = report
    return report


def _while_open(report: dict[str, Any], alias: str, started: float) -> dict[str, Any]:
    """The report of a check skipped because the circuit is open: the last probe's result, said
    to be that, or "unhealthy" when this process never probed."""
    last = _last.get(alias)
    note = _("Not probed while the circuit breaker is open: calls skip the cache for a few seconds.")
    if last is None:
        for name in ("connection", "roundtrip", "registry"):
            report["checks"].append(_check(name, False, None, note))
        report["warnings"].append(_circuit_warning("open"))
    else:
        report.update(
            checks=[dict(check) for check in last["checks"]],
            server=[dict(row) for row in last["server"]],
            warnings=[*last["warnings"], _circuit_warning("open")],
            status=last["status"] if last["status"] == "unhealthy" else "warning",
            probed_at=last["checked_at"],
        )
    report["error"] = note
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
    return report


def _finish(report: dict[str, Any], adapter: Adapter, results: dict[str, Any], started: float) -> dict[str, Any]:
    finished, rt = results["roundtrip"]
    checks = report["checks"]
    stores = adapter.capabilities.stores_values
    if finished and isinstance(rt, dict):
        checks.append(_check("connection", True, round(rt["connect_ms"], 3), None))
        ok = rt["read_back"]
        checks.append(_check("roundtrip", ok, round(rt["roundtrip_ms"], 3), None if ok else adapter.read_back_error()))
        error = rt["registry_error"]
        checks.append(_check("registry", error is None, round(rt["registry_ms"], 3), error))
    else:
        error = adapter.describe(rt)
        for name in ("connection", "roundtrip", "registry"):
            checks.append(_check(name, False, None, error))

    finished, servers_result = results["servers"]
    if finished and isinstance(servers_result, list):
        report["server"] = servers_result
    elif adapter.capabilities.server_stats:
        report["server"] = [{"address": adapter.location_display(), "ok": False,
                             "error": adapter.describe(servers_result)}]

    warnings = report["warnings"]
    by_name = {c["name"]: c for c in checks}
    if not by_name["connection"]["ok"]:
        status = "unhealthy"
    elif not stores:
        status = "warning"
    elif not (by_name["roundtrip"]["ok"] and by_name["registry"]["ok"]):
        status = "unhealthy"
    else:
        status = "healthy"
        latency = by_name["roundtrip"]["latency_ms"] or 0.0
        if latency > float(get_setting("HEALTH_LATENCY_WARNING_MS")):
            status = "warning"
            warnings.append(_("Round trip took %(ms).1f ms.") % {"ms": latency})
        down = [s["address"] for s in report["server"] if not s.get("ok")]
        if down:
            status = "warning"
            warnings.append(
                ngettext("Unreachable server: %(servers)s.", "Unreachable servers: %(servers)s.", len(down))
                % {"servers": ", ".join(down)}
            )
        noted = [s["warning"] for s in report["server"] if s.get("warning")]  # e.g. the sentinels disagree
        if noted:
            status = "warning"
            warnings.extend(noted)
        if report["circuit"] != "closed":
            status = "warning"
            warnings.append(_circuit_warning(report["circuit"]))
    warnings.extend(adapter.health_notes())
    report["status"] = status
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
    return report


def _circuit_warning(state: str) -> str:
    if state == "open":
        return _("The circuit breaker is open after recent errors: calls skip the cache for a few seconds.")
    if state == "half_open":
        return _("The circuit breaker is half-open after recent errors: the next call probes the server.")
    return _("The circuit breaker is %(state)s after recent errors.") % {"state": state}


def forget() -> None:
    """Drop the last probed reports (tests; a process starts without them)."""
    _last.clear()
