"""``manage.py cache_warm``: run the registered warmers (``cache_dashboard.warming``) so the keys
staff know will be asked for are cached before traffic comes."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard import warming
from cache_dashboard.conf import dashboard_aliases, default_alias
from cache_dashboard.formatting import human_duration
from cache_dashboard.manager import CacheManager

#: Seconds between two redraws of the progress bar.
REDRAW = 0.1
BAR = 24


def bar(progress: warming.Progress) -> str:
    """``ruc [#####-----] 120/500 24 % 35.2/s ETA 11 s`` (no bar nor ETA when the total is unknown)."""
    label = progress.warmer.namespace or progress.warmer.name
    rate = f"{progress.rate:.1f}/s"
    if progress.total:
        filled = int(BAR * progress.done / progress.total)
        eta = progress.eta
        return (f"{label} [{'#' * filled}{'-' * (BAR - filled)}] {progress.done}/{progress.total} "
                f"{100 * progress.done // progress.total} % {rate}"
                + (f" ETA {human_duration(max(1, round(eta)))}" if eta is not None and progress.done < progress.total
                   else ""))
    return f"{label} {progress.done} {rate}"


class Command(BaseCommand):
    help = ("Run the registered cache warmers (@warmer in an app's warmers.py): each key through "
            "CacheManager.get, so cached keys cost nothing and missing ones are fetched once.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", default=None,
                            help="Cache alias (default: each warmer's own, else CACHE_DASHBOARD['ALIAS']).")
        parser.add_argument("--namespace", default=None, help="Only the warmers of this namespace.")

    def handle(self, *args: Any, **options: Any) -> None:
        found = warming.registered(namespace=options["namespace"])
        if not found:
            where = f" for namespace {options['namespace']!r}" if options["namespace"] else ""
            raise CommandError(f"no warmer is registered{where}: decorate a function with "
                               "@cache_dashboard.warming.warmer(namespace) in an app's warmers.py")
        failed = 0
        for item in found:
            alias = options["alias"] or item.alias or default_alias()
            if alias not in dashboard_aliases():
                raise CommandError(f"--alias: unknown cache alias {alias!r}")
            health = CacheManager(alias).get_health()
            if health.get("status") == "unhealthy":
                raise CommandError(f"cache {alias!r} is unhealthy: nothing warmed", returncode=2)
            result = warming.run(item, alias, progress=self._progress())
            failed += result.failed
            if self.stdout.isatty():
                self.stdout.write("")  # past the progress line
            self.stdout.write(
                f"{item.name} ({item.namespace or 'no namespace'}, {alias}): {result.loaded} loaded, "
                f"{result.cached} already cached, {result.failed} failed in {result.seconds:.1f} s")
            for error in result.errors:
                self.stdout.write(f"  {error}")
        if failed:
            raise CommandError(f"{failed} key(s) could not be fetched", returncode=1)

    def _progress(self) -> Any:
        if not self.stdout.isatty():
            return None
        last = [0.0]

        def draw(progress: warming.Progress) -> None:
            now = time.monotonic()
            if now - last[0] >= REDRAW or progress.done == progress.total:
                last[0] = now
                self.stdout.write("\r\033[K" + bar(progress), ending="")
                self.stdout.flush()

        return draw
