"""Fixtures of the admin tests: users per role, logged-in clients, seeded cache data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from cache_dashboard import ttl_store

VIEW = "view_dashboard"
KEY = "invalidate_key"
NAMESPACE = "invalidate_namespace"
TTL = "change_ttl"
VIEW_KEYS = "view_keys"
DELETE_KEYS = "delete_keys"
KEY_TTL = "change_key_ttl"

#: role -> (is_staff, is_superuser, permission codenames)
ROLES: dict[str, tuple[bool, bool, tuple[str, ...]]] = {
    "nonstaff": (False, False, (VIEW, KEY, NAMESPACE, TTL)),
    "staff": (True, False, ()),
    "view": (True, False, (VIEW,)),
    "key": (True, False, (VIEW, KEY)),
    "namespace": (True, False, (VIEW, NAMESPACE)),
    "ttl": (True, False, (VIEW, TTL)),
    "key_without_view": (True, False, (KEY, NAMESPACE, TTL)),
    "keys_view": (True, False, (VIEW, VIEW_KEYS)),
    "keys_delete": (True, False, (VIEW, VIEW_KEYS, DELETE_KEYS)),
    "keys_ttl": (True, False, (VIEW, VIEW_KEYS, KEY_TTL)),
    "keys_without_browse": (True, False, (VIEW, DELETE_KEYS, KEY_TTL)),
    "superuser": (True, True, ()),
}


@pytest.fixture(autouse=True)
def _fresh_ttl_overrides() -> Iterator[None]:
    # Test transactions roll back without signals: the in-process copy must not outlive a test.
    ttl_store.reset()
    yield
    ttl_store.reset()


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    """Create a user with a role from :data:`ROLES`."""

    def make(role: str, username: str | None = None) -> Any:
        is_staff, is_superuser, codenames = ROLES[role]
        if username is None:
            # The role's name, so audit rows say who acted; suffixed when a test needs two.
            username, n = role, 1
            while django_user_model.objects.filter(username=username).exists():
                n += 1
                username = f"{role}{n}"
        user = django_user_model.objects.create_user(
            username=username, password="pw", is_staff=is_staff, is_superuser=is_superuser
        )
        if codenames:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label="cache_dashboard", codename__in=codenames)
            )
        return user

    return make


@pytest.fixture
def client_for(make_user: Callable[..., Any]) -> Callable[..., Client]:
    """A test client logged in as a fresh user of ``role`` ("anonymous": not logged in)."""

    def make(role: str, *, enforce_csrf_checks: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        if role != "anonymous":
            client.force_login(make_user(role))
        return client

    return make


@pytest.fixture
def cm() -> Any:
    """The CacheManager of the default (LocMem) alias the admin tests operate on."""
    from cache_dashboard import CacheManager

    return CacheManager("default")
