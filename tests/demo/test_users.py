"""demo_users: three accounts with the dashboard permissions they need; idempotent."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db

DASHBOARD = "cache_dashboard"


def run() -> str:
    out = io.StringIO()
    call_command("demo_users", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_creates_the_three_users_and_prints_credentials() -> None:
    output = run()
    for username, password in (
        ("admin", "admin-demo"),
        ("operador", "operador-demo"),
        ("lector", "lector-demo"),
    ):
        assert username in output and password in output
        user = authenticate(username=username, password=password)
        assert user is not None and user.is_staff
    User = get_user_model()
    admin, operador, lector = (User.objects.get(username=u) for u in ("admin", "operador", "lector"))
    assert admin.is_superuser
    assert not operador.is_superuser and not lector.is_superuser


def test_permissions_by_role() -> None:
    run()
    User = get_user_model()
    operador = User.objects.get(username="operador")
    lector = User.objects.get(username="lector")
    assert operador.has_perm(f"{DASHBOARD}.view_dashboard")
    assert operador.has_perm(f"{DASHBOARD}.invalidate_key")
    assert operador.has_perm(f"{DASHBOARD}.invalidate_namespace")
    assert not operador.has_perm(f"{DASHBOARD}.change_ttl")
    assert lector.has_perm(f"{DASHBOARD}.view_dashboard")
    assert not lector.has_perm(f"{DASHBOARD}.invalidate_key")
    assert not lector.has_perm(f"{DASHBOARD}.invalidate_namespace")
    assert lector.has_perm("shop.view_pedido")


def test_rerunning_is_safe_and_resets_passwords() -> None:
    run()
    User = get_user_model()
    lector = User.objects.get(username="lector")
    lector.set_password("changed")
    lector.save()
    run()
    assert User.objects.filter(username__in=["admin", "operador", "lector"]).count() == 3
    assert authenticate(username="lector", password="lector-demo") is not None


def test_passwords_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_LECTOR_PASSWORD", "otra-clave")
    assert "otra-clave" in run()
    assert authenticate(username="lector", password="otra-clave") is not None


def test_lector_sees_the_dashboard_but_cannot_invalidate(client) -> None:
    run()
    client.login(username="lector", password="lector-demo")
    assert client.get("/admin/").status_code == 200


def test_output_is_english() -> None:
    lines = run().splitlines()
    assert lines[0] == "Demo users (for this local demo only):"
    expected = [("admin", "superuser"), ("operador", "view + invalidate"), ("lector", "view only")]
    for line, (username, role) in zip(lines[1:], expected, strict=True):
        assert line.split()[0] == username and line.endswith(f"  {role}"), line
