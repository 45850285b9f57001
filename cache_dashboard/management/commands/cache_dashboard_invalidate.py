"""``manage.py cache_dashboard_invalidate``: the admin's invalidations from a shell, audited the same way."""

from __future__ import annotations

import getpass
from typing import Any

from django import forms
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard import services
from cache_dashboard.conf import dashboard_aliases, default_alias
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager import CacheManager
from cache_dashboard.web.forms import InvalidateKeyForm, InvalidateNamespaceForm, InvalidatePatternForm


class Command(BaseCommand):
    help = (
        "Invalidate one key, a namespace or a glob pattern (Redis only) in a cache alias. "
        "Validated like the admin's forms and written to the audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", default=None, help="Cache alias (default: CACHE_DASHBOARD['ALIAS']).")
        parser.add_argument(
            "--namespace", default="", help="Namespace of --key/--pattern, or the one to drop."
        )
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--key", help="Invalidate this key.")
        what.add_argument("--pattern", help="Delete keys matching this glob (Redis only).")
        what.add_argument("--all-in-namespace", action="store_true", help="Invalidate the whole --namespace.")
        parser.add_argument("--yes", action="store_true", help="Do it: without it --pattern only counts.")
        parser.add_argument("--allow-match-all", action="store_true", help="Accept a pattern like '*'.")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["alias"] or default_alias()
        aliases = dashboard_aliases()
        namespaces = CacheManager(alias).known_namespaces() if alias in aliases else []
        actor = f"manage.py ({getpass.getuser()})"
        data = {"alias": alias, "namespace": options["namespace"]}
        try:
            if options["key"] is not None:
                cleaned = self._clean(InvalidateKeyForm(
                    {**data, "key": options["key"]}, aliases=aliases, namespaces=namespaces
                ))
                count = services.invalidate_key(
                    alias, cleaned["key"], namespace=cleaned["namespace"] or None, user=None, actor=actor
                )
                self.stdout.write(f"{count} key(s) removed.")
            elif options["all_in_namespace"]:
                cleaned = self._clean(InvalidateNamespaceForm(data, aliases=aliases, namespaces=namespaces))
                services.invalidate_namespace(alias, cleaned["namespace"], user=None, actor=actor)
                self.stdout.write(f"namespace {cleaned['namespace']!r} invalidated.")
            else:
                cleaned = self._clean(InvalidatePatternForm(
                    {**data, "pattern": options["pattern"], "allow_match_all": options["allow_match_all"]},
                    aliases=aliases,
                    namespaces=namespaces,
                ))
                namespace = cleaned["namespace"] or None
                if not options["yes"]:
                    count = services.count_pattern(alias, cleaned["pattern"], namespace=namespace)
                    self.stdout.write(f"{count} key(s) match; run again with --yes to delete them.")
                    return
                count = services.invalidate_pattern(
                    alias, cleaned["pattern"], namespace=namespace, user=None, actor=actor
                )
                self.stdout.write(f"{count} key(s) deleted.")
        except (CacheUnavailable, UnsupportedOperation) as exc:
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _clean(form: forms.Form) -> dict[str, Any]:
        if not form.is_valid():
            errors = "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in form.errors.items())
            raise CommandError(errors)
        cleaned: dict[str, Any] = form.cleaned_data
        return cleaned
