"""``manage.py cache_purge``: finish the namespace purges that were asked for (Redis), now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard.conf import dashboard_aliases
from cache_dashboard.exceptions import CacheUnavailable
from cache_dashboard.manager import CacheManager, purge


class Command(BaseCommand):
    help = (
        "Delete physically the entries that namespace invalidations left behind (Redis): every "
        "purge still pending (one a process died in the middle of included), or --namespace N."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", action="append",
                            help="Cache alias (repeatable; default: every one that can purge).")
        parser.add_argument("--namespace", action="append",
                            help="Purge this namespace (repeatable) instead of the pending ones.")

    def handle(self, *args: Any, **options: Any) -> None:
        aliases = options["alias"] or dashboard_aliases()
        unknown = sorted(set(aliases) - set(dashboard_aliases()))
        if unknown:
            raise CommandError(f"unknown cache alias(es): {', '.join(unknown)}")
        for alias in aliases:
            cm = CacheManager(alias)
            if not cm.capabilities.physical_purge:
                if options["alias"]:
                    self.stdout.write(f"{alias}: {cm.backend} frees memory at expiry; nothing to purge.")
                continue
            try:
                namespaces = options["namespace"] or purge.pending(alias)
                if not namespaces:
                    self.stdout.write(f"{alias}: no purge pending.")
                for namespace in namespaces:
                    deleted = cm.purge_namespace(namespace)
                    self.stdout.write(f"{alias}: namespace {namespace!r}: {deleted} entries deleted.")
            except CacheUnavailable as exc:
                raise CommandError(f"{alias}: {exc}") from exc
            except Exception as exc:  # the server refused the SCAN itself
                raise CommandError(f"{alias}: {cm.adapter.describe(exc)}") from exc
