"""``manage.py cache_stats``: the dashboard's totals over a span, per namespace, with hit ratios."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard.conf import dashboard_aliases, default_alias
from cache_dashboard.formatting import human_duration
from cache_dashboard.manager import CacheManager

COLUMNS = ("hits", "misses", "hit_ratio", "sets", "invalidations", "errors", "fetches")


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = ("Print an alias's statistics over the last --window seconds (default 1 h): totals and one row "
            "per namespace, the numbers of the dashboard's cards and namespaces table.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", default=None, help="Cache alias (default: CACHE_DASHBOARD['ALIAS']).")
        parser.add_argument("--namespace", default=None, help="Only this namespace.")
        parser.add_argument("--window", type=int, default=3600, help="Seconds of statistics (60 to 7 days).")
        parser.add_argument("--json", action="store_true", help="Print get_stats() as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["alias"] or default_alias()
        if alias not in dashboard_aliases():
            raise CommandError(f"unknown cache alias {alias!r}; use --alias with one of "
                               f"{', '.join(dashboard_aliases())}")
        window = options["window"]
        if not 60 <= window <= 7 * 86400:
            raise CommandError("--window must be between 60 and 604800 seconds")
        try:
            found = CacheManager(alias).get_stats(options["namespace"], window=window)
        except Exception as exc:  # the server is down: a line, not a traceback
            raise CommandError(f"the statistics of {alias!r} could not be read: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(found, indent=2, sort_keys=True, default=str))
            return
        totals = found["totals"]
        scope = "shared by every process" if found["shared"] else "this process only"
        self.stdout.write(f"{alias} ({found['backend']}), last {human_duration(found['window'])}, {scope}")
        rows = [("(total)", totals)] + sorted(found["namespaces"].items(), key=lambda item: -item[1]["hits"])
        width = max(len(name or "(no namespace)") for name, _ in rows)
        self.stdout.write(f"{'namespace':<{width}}" + "".join(f"{c:>15}" for c in COLUMNS))
        for name, row in rows:
            cells = [_ratio(row[c]) if c == "hit_ratio" else str(row[c]) for c in COLUMNS]
            self.stdout.write(f"{name or '(no namespace)':<{width}}" + "".join(f"{c:>15}" for c in cells))
