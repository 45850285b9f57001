"""``manage.py cache_invalidate``: the admin's invalidations from a shell, validated by the same
forms and written to the audit log as the system user on this host."""

from __future__ import annotations

import getpass
import socket
import sys
from typing import Any

from django import forms
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cache_dashboard import services
from cache_dashboard.conf import dashboard_aliases, default_alias
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager import CacheManager
from cache_dashboard.web.forms import InvalidateKeyForm, InvalidateNamespaceForm, InvalidatePatternForm

#: Form fields -> the flag that sets them (error messages name the flag, not a form control).
FLAGS = {"key": "--key", "namespace": "--namespace", "pattern": "--pattern", "alias": "--alias",
         "allow_match_all": "--allow-match-all", "every_namespace": "--every-namespace"}


def actor() -> str:
    """Who the audit log names: the system user and the host, e.g. ``deploy@web-1``."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Command(BaseCommand):
    help = (
        "Invalidate one key (--key K [--namespace N]), a whole namespace (--namespace N) or the keys "
        "matching a glob (--pattern P [--namespace N | --every-namespace], Redis only). Validated like "
        "the admin's forms and written to the audit log. Asks for confirmation on a terminal; --yes "
        "does it without asking (required when not on a terminal)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", default=None, help="Cache alias (default: CACHE_DASHBOARD['ALIAS']).")
        parser.add_argument("--key", default=None, help="Invalidate this key.")
        parser.add_argument("--pattern", default=None, help="Delete the keys matching this glob (Redis only).")
        parser.add_argument("--namespace", default=None,
                            help="The namespace of --key / --pattern; alone, invalidate this whole namespace.")
        parser.add_argument("--every-namespace", action="store_true",
                            help="With --pattern: in every namespace of this site and without one.")
        parser.add_argument("--allow-match-all", action="store_true", help="Accept a pattern such as '*'.")
        parser.add_argument("--yes", action="store_true", help="Do it without asking.")

    def handle(self, *args: Any, **options: Any) -> None:
        key, pattern, namespace = options["key"], options["pattern"], options["namespace"]
        if key is not None and pattern is not None:
            raise CommandError("give --key or --pattern, not both")
        if key is None and pattern is None and namespace is None:
            raise CommandError("nothing to invalidate: give --key K, --namespace N or --pattern P")
        alias = options["alias"] or default_alias()
        aliases = dashboard_aliases()
        if alias not in aliases:
            raise CommandError(f"--alias: unknown cache alias {alias!r}; use one of {', '.join(aliases)}")
        cm = CacheManager(alias)
        namespaces = cm.known_namespaces()
        data = {"alias": alias, "namespace": namespace or ""}
        try:
            if key is not None:
                cleaned = self._clean(InvalidateKeyForm({**data, "key": key}, aliases=aliases, namespaces=namespaces))
                where = f"namespace {cleaned['namespace']!r}" if cleaned["namespace"] else "no namespace"
                self._confirm(options, f"Invalidate key {cleaned['key']!r} ({where}) in {alias!r}?")
                count = services.invalidate_key(alias, cleaned["key"], namespace=cleaned["namespace"] or None,
                                                user=None, actor=actor())
                self.stdout.write(f"{count} key(s) removed." if count else "The key was not cached: nothing removed.")
            elif pattern is None:
                cleaned = self._clean(InvalidateNamespaceForm(data, aliases=aliases, namespaces=namespaces))
                self._confirm(options, f"Invalidate every key of namespace {cleaned['namespace']!r} in {alias!r}?")
                services.invalidate_namespace(alias, cleaned["namespace"], user=None, actor=actor())
                self.stdout.write(f"Namespace {cleaned['namespace']!r} invalidated.")
            else:
                self._pattern(options, alias, data, aliases, namespaces)
        except (CacheUnavailable, UnsupportedOperation) as exc:
            raise CommandError(str(exc)) from exc

    def _pattern(self, options: dict[str, Any], alias: str, data: dict[str, Any], aliases: list[str],
                 namespaces: list[str]) -> None:
        every = options["every_namespace"]
        cleaned = self._clean(InvalidatePatternForm(
            {**data, "pattern": options["pattern"], "allow_match_all": options["allow_match_all"],
             "every_namespace": every},
            aliases=aliases, namespaces=namespaces))
        namespace = cleaned["namespace"] or None
        count = services.count_pattern(alias, cleaned["pattern"], namespace=namespace, every_namespace=every)
        if not count:
            self.stdout.write(f"No key matches {cleaned['pattern']!r}: nothing to delete.")
            return
        self._confirm(options, f"{count} key(s) match {cleaned['pattern']!r} in {alias!r}. Delete them?")
        deleted = services.invalidate_pattern(alias, cleaned["pattern"], namespace=namespace, user=None,
                                              actor=actor(), every_namespace=every)
        self.stdout.write(f"{deleted} key(s) deleted.")

    def _confirm(self, options: dict[str, Any], question: str) -> None:
        """Go on with --yes, or when the person at the terminal says yes; else stop, changing nothing."""
        if options["yes"]:
            return
        if not sys.stdin.isatty():
            raise CommandError(f"{question} Not asked: this is not a terminal. Add --yes to do it.")
        answer = input(f"{question} [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError("Nothing changed.", returncode=1)

    @staticmethod
    def _clean(form: forms.Form) -> dict[str, Any]:
        if not form.is_valid():
            errors = "; ".join(
                f"{FLAGS.get(field, field)}: {' '.join(map(str, messages))}" for field, messages in form.errors.items()
            )
            errors = errors.replace("Tick the confirmation box", "Add --allow-match-all")
            raise CommandError(errors)
        cleaned: dict[str, Any] = form.cleaned_data
        return cleaned
