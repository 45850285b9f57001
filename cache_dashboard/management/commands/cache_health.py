"""``manage.py cache_health``: each alias's health, as the dashboard's health card reads it, with an
exit status for cron and container probes: 0 healthy, 1 warning, 2 unhealthy."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.manager import CacheManager
from cache_dashboard.overview import health_error

#: Exit status of each health status (the worst alias decides).
EXIT = {"healthy": 0, "warning": 1, "unhealthy": 2}


def report(alias: str) -> dict[str, Any]:
    """One alias's health as the command prints it: no LOCATION, no traceback (errors are the
    adapter's masked one-line descriptions)."""
    cm = CacheManager(alias)
    health = cm.get_health()  # never raises; bounded by HEALTH_TIMEOUT even against a hung server
    status = health.get("status") if health.get("status") in EXIT else "unhealthy"
    return {
        "status": status,
        "backend": health.get("backend") or cm.backend,
        "error": health_error(health),
        "checks": [{"name": c.get("name"), "ok": bool(c.get("ok")), "latency_ms": c.get("latency_ms"),
                    "error": c.get("error") or ""} for c in health.get("checks") or []],
    }


class Command(BaseCommand):
    help = (
        "Check every cache alias of the dashboard (or those given): exit status 0 when all are healthy, "
        "1 when one has a warning, 2 when one is unhealthy. Bounded by HEALTH_TIMEOUT per alias, even "
        "against a hung server: usable as a container liveness or readiness command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", action="append", help="Cache alias (repeatable; default: every one).")
        parser.add_argument("--json", action="store_true", help="Print JSON: {status, aliases: {alias: …}}.")

    def handle(self, *args: Any, **options: Any) -> None:
        known = dashboard_aliases()
        aliases = options["alias"] or known
        unknown = sorted(set(aliases) - set(known))
        if unknown:
            raise CommandError(f"unknown cache alias(es): {', '.join(unknown)}; use --alias with one of "
                               f"{', '.join(known)}", returncode=2)
        reports = {alias: report(alias) for alias in aliases}
        worst = max((r["status"] for r in reports.values()), key=EXIT.__getitem__, default="healthy")
        if options["json"]:
            self.stdout.write(json.dumps({"status": worst, "aliases": reports}, indent=2, sort_keys=True))
        else:
            width = max(len(alias) for alias in aliases)
            for alias, found in reports.items():
                line = f"{alias:<{width}}  {found['status']:<9}  {found['backend']}"
                for check in found["checks"]:
                    latency = check["latency_ms"]
                    line += f"  {check['name']} {'ok' if check['ok'] else 'FAILED'}"
                    line += f" {latency:.1f} ms" if latency is not None else ""
                self.stdout.write(line)
                if found["error"]:
                    self.stdout.write(f"{'':<{width}}  {found['error']}")
        if EXIT[worst]:
            names = ", ".join(a for a, r in reports.items() if r["status"] == worst)
            raise CommandError(f"{worst}: {names}", returncode=EXIT[worst])
