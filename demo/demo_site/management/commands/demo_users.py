"""Create (or reset) the demo's three accounts and print their credentials. Idempotent."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction

#: Codenames of the dashboard's permissions (on the unmanaged model cache_dashboard.CacheDashboard).
VIEW = "view_dashboard"
INVALIDATE = ("invalidate_key", "invalidate_namespace")


@dataclass(frozen=True)
class DemoUser:
    username: str
    password_env: str
    default_password: str
    superuser: bool
    codenames: tuple[str, ...]
    role: str

    @property
    def password(self) -> str:
        return os.environ.get(self.password_env) or self.default_password


#: Demo-only passwords, for a server bound to 127.0.0.1. Never reuse them anywhere.
USERS = (
    DemoUser("admin", "DEMO_ADMIN_PASSWORD", "admin-demo", True, (), "superuser"),
    DemoUser(
        "operador", "DEMO_OPERADOR_PASSWORD", "operador-demo", False, (VIEW, *INVALIDATE), "view + invalidate"
    ),
    DemoUser("lector", "DEMO_LECTOR_PASSWORD", "lector-demo", False, (VIEW,), "view only"),
)
#: Staff also get to look at the shop's data.
SHOP_VIEW = ("view_producto", "view_pedido")


class Command(BaseCommand):
    help = "Create or reset the demo users admin, operador and lector, and print their credentials."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the credentials.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        missing: set[str] = set()
        for spec in USERS:
            user, _ = User.objects.get_or_create(username=spec.username)
            user.is_staff = True
            user.is_superuser = spec.superuser
            user.is_active = True
            user.set_password(spec.password)
            user.save()
            if spec.superuser:
                continue
            found = list(
                Permission.objects.filter(
                    content_type__app_label="cache_dashboard", codename__in=spec.codenames
                )
            )
            missing.update(set(spec.codenames) - {p.codename for p in found})
            found += Permission.objects.filter(content_type__app_label="shop", codename__in=SHOP_VIEW)
            user.user_permissions.set(found)

        if missing:
            # The permissions come with cache_dashboard's migrations; tolerate an older package.
            self.stderr.write(
                "Warning: missing permissions "
                + ", ".join(sorted(missing))
                + " (are cache_dashboard's migrations applied?)"
            )
        if options["quiet"]:
            return
        width = max(len(u.username) for u in USERS)
        self.stdout.write("Demo users (for this local demo only):")
        for spec in USERS:
            self.stdout.write(f"  {spec.username:<{width}}  {spec.password:<14}  {spec.role}")
