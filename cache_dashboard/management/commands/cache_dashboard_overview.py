"""``manage.py cache_dashboard_overview``: the admin overview's data (health, stats) on the command line."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.formatting import human_duration
from cache_dashboard.overview import WINDOWS, build_overview


class Command(BaseCommand):
    help = (
        "Print the cache dashboard's overview (health, hit ratio, namespaces) for one or every alias; "
        "the same data as the admin page and its JSON endpoint. Exit status 1 with --check if any "
        "alias is unhealthy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", action="append", help="Cache alias (repeatable; default: all shown).")
        parser.add_argument(
            "--window", type=int, default=WINDOWS[0], choices=WINDOWS, help="Seconds of stats."
        )
        parser.add_argument("--json", action="store_true", help="Print JSON (one object per alias).")
        parser.add_argument(
            "--check", action="store_true", help="Exit with status 1 when an alias is unhealthy."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        known = dashboard_aliases()
        aliases = options["alias"] or known
        unknown = sorted(set(aliases) - set(known))
        if unknown:
            raise CommandError(f"unknown cache alias(es): {', '.join(unknown)}")
        results = {alias: build_overview(alias, window=options["window"]) for alias in aliases}
        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2, sort_keys=True, default=str))
        else:
            for data in results.values():
                self._print(data)
        unhealthy = [a for a, d in results.items() if (d.get("health") or {}).get("status") == "unhealthy"]
        if options["check"] and unhealthy:
            raise CommandError(f"unhealthy: {', '.join(unhealthy)}", returncode=1)

    def _print(self, data: dict[str, Any]) -> None:
        health = data.get("health") or {}
        totals = data["stats"]["totals"]
        ratio = totals.get("hit_ratio")
        self.stdout.write(
            f"{data['alias']}: {health.get('status', '?')} ({data.get('backend')} {data.get('location')})"
        )
        for check in health.get("checks") or []:
            latency = check.get("latency_ms")
            self.stdout.write(
                f"  check {check['name']}: {'ok' if check['ok'] else 'FAILED'}"
                + (f" {latency:.2f} ms" if latency is not None else "")
                + (f" {check['error']}" if check.get("error") else "")
            )
        self.stdout.write(
            f"  hits {totals['hits']} misses {totals['misses']} hit ratio "
            + ("-" if ratio is None else f"{ratio:.1%}")
            + f" over {human_duration(data['window'])}"
        )
        for row in data["namespaces"]:
            self.stdout.write(
                f"  namespace {row['name']}: hits {row['hits']} misses {row['misses']} "
                f"ttl {row['ttl_display']} invalid {row.get('invalid', '-')}"
            )
