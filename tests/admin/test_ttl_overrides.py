"""TTL overrides: one place to edit them (the TTL page; the model admin is read-only), one name
check, the optimistic check against stale pages, the audit in the change's transaction (an exact
old → new chain under concurrent saves, no "database is locked" 500) and the audit's display."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from cache_dashboard import services
from cache_dashboard.models import CacheAuditEntry, TTLOverride
from cache_dashboard.web.forms import validate_ttl_name

pytestmark = pytest.mark.django_db

TTL_PAGE = "admin:cache_dashboard_ttl"
TTL_RESET = "admin:cache_dashboard_ttl_reset"
CHANGELIST = "admin:cache_dashboard_ttloverride_changelist"


def row(response: Any, name: str) -> dict[str, Any]:
    """The TTL page's row of ``name``."""
    found = [r for r in response.context["rows"] if r["name"] == name]
    assert found, [r["name"] for r in response.context["rows"]]
    return found[0]


def loaded_version(client: Client, name: str = "ruc") -> str:
    """The version the TTL page's form of ``name`` carries, read from its HTML as a browser would."""
    page = client.get(reverse(TTL_PAGE)).content.decode()
    match = re.search(rf'<tr data-cd-ttl="{re.escape(name)}">.*?name="version" value="([^"]*)"', page, re.S)
    assert match, name
    return html.unescape(match.group(1))


def save(client: Client, seconds: int | str, version: str, name: str = "ruc") -> Any:
    return client.post(reverse(TTL_PAGE), {"alias": "default", "name": name, "seconds": str(seconds),
                                           "version": version})


def chain() -> list[tuple[str, int | None, int | None]]:
    return list(CacheAuditEntry.objects.order_by("pk").values_list("action", "previous_seconds", "seconds"))


def texts(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- one place to edit: the model admin is read-only and points to the TTL page ---------------------


@pytest.mark.parametrize("role", ["ttl", "superuser"])
def test_override_admin_is_read_only_and_points_to_the_ttl_page(client_for: Any, role: str) -> None:
    override = TTLOverride.objects.create(name="ruc", seconds=600)
    client = client_for(role)
    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "data-cd-ttl-notice" in page and f'href="{reverse(TTL_PAGE)}"' in page
    assert reverse("admin:cache_dashboard_ttloverride_add") not in page
    assert "10 min" in page  # the TTL as people read it, once
    change_url = reverse("admin:cache_dashboard_ttloverride_change", args=[override.pk])
    view = client.get(change_url)
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode() and "data-cd-ttl-notice" in view.content.decode()

    # No add, no change (a rename dropped the old override unaudited), no delete, no bulk delete.
    add = client.post(reverse("admin:cache_dashboard_ttloverride_add"), {"name": "rucc", "seconds": "5"})
    assert add.status_code == 403
    assert client.post(change_url, {"name": "rucc", "seconds": "5"}).status_code == 403
    delete_url = reverse("admin:cache_dashboard_ttloverride_delete", args=[override.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [override.pk], "post": "yes"})
    assert list(TTLOverride.objects.values_list("name", "seconds")) == [("ruc", 600)]
    assert not CacheAuditEntry.objects.exists()


@override_settings(ROOT_URLCONF="tests.admin.custom_site")
def test_override_admin_on_a_custom_site_points_to_that_sites_ttl_page(client_for: Any) -> None:
    page = client_for("view").get(reverse("ops:cache_dashboard_ttloverride_changelist")).content.decode()
    assert f'href="{reverse("ops:cache_dashboard_ttl")}"' in page


# -- one name check ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rucc", "ruc\u200b", "bad\nname", "bad\x00name", " ruc", "", "x" * 201])
def test_the_ttl_page_refuses_names_that_are_not_ttl_names(client_for: Any, cm: Any, name: str) -> None:
    # "rucc" is a typo: neither in TTLS nor in use. The others are in use, but break the name rules.
    if name.strip() and name != "rucc":
        cm.set("k", 1, 60, namespace=name)
    client = client_for("ttl")
    response = save(client, 60, "", name=name)
    assert response.status_code == 200
    assert "name" in response.context["bound"].errors
    assert name not in [r["name"] for r in response.context["rows"]] or not name.strip()
    assert not TTLOverride.objects.exists() and not CacheAuditEntry.objects.exists()


def test_settings_names_and_namespaces_in_use_are_ttl_names(client_for: Any, cm: Any) -> None:
    cm.set("k", 1, 60, namespace="perfil_usuario")  # in use, not in TTLS
    client = client_for("ttl")
    names = [r["name"] for r in client.get(reverse(TTL_PAGE)).context["rows"]]
    assert {"ruc", "ruc_invalid", "estadisticas_ventas", "perfil_usuario"} <= set(names)
    assert save(client, 120, "", name="perfil_usuario").status_code == 302
    assert save(client, 240, "", name="ruc").status_code == 302
    assert dict(TTLOverride.objects.values_list("name", "seconds")) == {"perfil_usuario": 120, "ruc": 240}
    assert cm.ttl_for("perfil_usuario") == 120


def test_name_rules() -> None:
    for good in ("ruc", "perfil usuario", "ñandú", "a:b", "x" * 200):
        validate_ttl_name(good)
    for bad in ("", "   ", " ruc", "ruc ", "a\tb", "a\u200bb", "a\u2028b", "x" * 201):
        with pytest.raises(ValidationError):
            validate_ttl_name(bad)


def test_an_override_with_a_bad_name_can_only_be_removed(client_for: Any) -> None:
    # Saved through the old stock admin: it shows, it cannot be changed, it can be removed (audited).
    typo = TTLOverride.objects.create(name="rucc", seconds=5)
    client = client_for("ttl")
    page = client.get(reverse(TTL_PAGE))
    typo_row = row(page, "rucc")
    assert not typo_row["editable"] and typo_row["override"] == 5
    typo_html = re.search(r'<tr data-cd-ttl="rucc">.*?</tr>', page.content.decode(), re.S)
    assert typo_html and reverse(TTL_RESET) in typo_html.group(0) and 'name="seconds"' not in typo_html.group(0)
    assert "name" in save(client, 60, typo.token, name="rucc").context["bound"].errors
    assert TTLOverride.objects.get().seconds == 5
    response = client.post(reverse(TTL_RESET), {"alias": "default", "name": "rucc", "version": typo.token})
    assert response.status_code == 302
    assert not TTLOverride.objects.exists()
    assert chain() == [("ttl_reset", 5, None)]


# -- the optimistic check --------------------------------------------------------------------------


def test_a_save_from_a_stale_page_is_refused_and_says_who_changed_it(client_for: Any, make_user: Any) -> None:
    alice, bob = Client(), Client()
    alice.force_login(make_user("ttl", "alice"))
    bob.force_login(make_user("ttl", "bob"))
    TTLOverride.objects.create(name="ruc", seconds=600)
    alice_version, bob_version = loaded_version(alice), loaded_version(bob)
    assert alice_version == bob_version != ""

    assert save(alice, 300, alice_version).status_code == 302
    stale = save(bob, 900, bob_version)
    assert stale.status_code == 200
    errors = " ".join(stale.context["bound"].non_field_errors())
    assert "changed by alice at " in errors and "since you loaded the page" in errors and "5 min" in errors
    assert "Nothing changed" in errors
    assert TTLOverride.objects.get().seconds == 300  # nothing changed
    assert chain() == [("ttl_change", 600, 300)]
    # The error is on the row, which now shows the new value and carries its version.
    refused = stale.content.decode()
    ruc_html = re.search(r'<tr data-cd-ttl="ruc">.*?</tr>', refused, re.S)
    assert ruc_html and "changed by alice" in html.unescape(ruc_html.group(0))
    current = row(stale, "ruc")
    assert current["override"] == 300 and current["version"] == TTLOverride.objects.get().token
    assert f'name="version" value="{current["version"]}"' in ruc_html.group(0)
    # Saving again from that page is a decision taken with the new value in sight: it goes through.
    assert save(bob, 900, current["version"]).status_code == 302
    assert chain() == [("ttl_change", 600, 300), ("ttl_change", 300, 900)]
    assert TTLOverride.objects.get().version == 3


def test_a_first_override_from_a_stale_page_is_refused(make_user: Any) -> None:
    alice, bob = Client(), Client()
    alice.force_login(make_user("ttl", "alice"))
    bob.force_login(make_user("ttl", "bob"))
    assert loaded_version(alice) == loaded_version(bob) == ""  # no override yet
    assert save(alice, 300, "").status_code == 302
    stale = save(bob, 900, "")
    assert "changed by alice" in " ".join(stale.context["bound"].non_field_errors())
    assert TTLOverride.objects.get().seconds == 300


def test_a_save_after_the_override_was_removed_is_refused(make_user: Any) -> None:
    alice, bob = Client(), Client()
    alice.force_login(make_user("ttl", "alice"))
    bob.force_login(make_user("ttl", "bob"))
    TTLOverride.objects.create(name="ruc", seconds=600)
    version = loaded_version(bob)
    assert alice.post(reverse(TTL_RESET), {"name": "ruc", "version": loaded_version(alice)}).status_code == 302
    stale = save(bob, 900, version)
    assert "removed by alice at " in " ".join(stale.context["bound"].non_field_errors())
    assert not TTLOverride.objects.exists()
    # A removal gets a new primary key next time: the old version never matches again.
    assert save(alice, 600, "").status_code == 302
    assert "changed by alice" in " ".join(save(bob, 900, version).context["bound"].non_field_errors())
    assert TTLOverride.objects.get().seconds == 600


def test_a_removal_from_a_stale_page_is_refused(make_user: Any) -> None:
    alice, bob = Client(), Client()
    alice.force_login(make_user("ttl", "alice"))
    bob.force_login(make_user("ttl", "bob"))
    TTLOverride.objects.create(name="ruc", seconds=600)
    stale_version = loaded_version(bob)
    assert save(alice, 300, loaded_version(alice)).status_code == 302
    response = bob.post(reverse(TTL_RESET), {"alias": "default", "name": "ruc", "version": stale_version})
    assert response.status_code == 302
    assert any("changed by alice" in text and "since you loaded the page" in text for text in texts(response))
    assert TTLOverride.objects.get().seconds == 300
    assert chain() == [("ttl_change", 600, 300)]


def test_saving_the_value_it_already_has_changes_nothing(client_for: Any) -> None:
    override = TTLOverride.objects.create(name="ruc", seconds=600)
    client = client_for("ttl")
    response = save(client, 600, override.token)
    assert response.status_code == 302
    assert any("already 10 min: nothing changed" in text for text in texts(response))
    assert not CacheAuditEntry.objects.exists()
    assert TTLOverride.objects.get().version == 1


# -- the audit: same transaction, structured old → new, shown as such -------------------------------


def test_the_audit_keeps_old_and_new_and_the_admin_shows_them(client_for: Any, make_user: Any) -> None:
    staff = make_user("ttl")
    services.set_ttl("ruc", 600, user=staff)
    services.set_ttl("ruc", 42, user=staff)
    services.reset_ttl("ruc", user=staff)
    assert chain() == [("ttl_change", None, 600), ("ttl_change", 600, 42), ("ttl_reset", 42, None)]
    with translation.override("en"):  # whatever an earlier request left active in this thread
        assert [e.change_display for e in CacheAuditEntry.objects.order_by("pk")] == [
            "— → 10 min", "10 min → 42 s", "42 s → default"]
        assert CacheAuditEntry(action="invalidate_key", key="k", count=1).change_display == ""
    assert CacheAuditEntry.objects.filter(count__isnull=False).count() == 0  # count is keys affected only
    client = client_for("superuser")
    page = client.get(reverse("admin:cache_dashboard_cacheauditentry_changelist")).content.decode()
    assert "TTL change" in page
    for shown in ("— → 10 min", "10 min → 42 s", "42 s → default"):
        assert shown in page
    entry = CacheAuditEntry.objects.order_by("pk").last()
    assert entry is not None
    detail = client.get(reverse("admin:cache_dashboard_cacheauditentry_change", args=[entry.pk]))
    assert "42 s → default" in detail.content.decode()


def test_change_display_in_spanish() -> None:
    with translation.override("es"):
        entry = CacheAuditEntry(action="ttl_reset", previous_seconds=600)
        assert entry.change_display == "10 min → por defecto"


@pytest.mark.django_db(transaction=True)
def test_the_change_is_undone_when_its_audit_row_cannot_be_written() -> None:
    override = TTLOverride.objects.create(name="ruc", seconds=600)
    with connection.cursor() as cursor:  # a real failure of the audit insert, on a real table
        cursor.execute("CREATE TRIGGER cd_no_audit BEFORE INSERT ON cache_dashboard_cacheauditentry "
                       "BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
    try:
        with pytest.raises(Exception, match="audit refused"):
            services.set_ttl("ruc", 300, user=None, actor="test", expected=override.token)
        with pytest.raises(Exception, match="audit refused"):
            services.reset_ttl("ruc", user=None, actor="test", expected=override.token)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER cd_no_audit")
    assert list(TTLOverride.objects.values_list("seconds", "version")) == [(600, 1)]


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_previous_ttl_of_existing_audit_rows() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("cache_dashboard", "0002_cacheauditentry_seconds")])
    try:
        old = executor.loader.project_state([("cache_dashboard", "0002_cacheauditentry_seconds")]).apps
        entry = old.get_model("cache_dashboard", "CacheAuditEntry")
        rows = [
            entry.objects.create(action="ttl_change", namespace="ruc", seconds=600, detail="- -> 600"),
            entry.objects.create(action="ttl_change", namespace="ruc", seconds=300, detail="600 -> 300"),
            entry.objects.create(action="ttl_reset", namespace="ruc", detail="300 -> default"),
            entry.objects.create(action="invalidate_key", key="k", count=1, detail="9 -> 8"),
        ]
        old.get_model("cache_dashboard", "TTLOverride").objects.create(name="ruc", seconds=300)
        executor = MigrationExecutor(connection)
        executor.migrate([("cache_dashboard", "0003_ttl_versions_and_previous_seconds")])
        assert [CacheAuditEntry.objects.get(pk=r.pk).previous_seconds for r in rows] == [None, 600, 300, None]
        with translation.override("en"):  # whatever an earlier request left active in this thread
            assert [CacheAuditEntry.objects.get(pk=r.pk).change_display for r in rows[:3]] == [
                "— → 10 min", "10 min → 5 min", "5 min → default"]
        assert TTLOverride.objects.get().token.endswith(":1")
    finally:  # the later tests need the newest schema
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


# -- the TTL page's rows ---------------------------------------------------------------------------


def test_inputs_have_a_unit_and_rows_say_each_value_once(client_for: Any) -> None:
    TTLOverride.objects.create(name="ruc", seconds=42)
    page = client_for("ttl").get(reverse(TTL_PAGE)).content.decode()
    ruc_html = re.search(r'<tr data-cd-ttl="ruc">.*?</tr>', page, re.S)
    assert ruc_html
    ruc = ruc_html.group(0)
    assert re.search(r'name="seconds"[^>]*>\s*<span class="cd-unit"[^>]*>seconds</span>', ruc)
    assert "42 s (42 s)" not in ruc and "(42 s)" not in ruc
    assert ruc.count("42 s") == 2  # the override and what applies, once each


def test_the_message_says_old_and_new(client_for: Any) -> None:
    client = client_for("ttl")
    first = save(client, 600, "")
    assert any("set to 10 min (the default is 1 h)" in text for text in texts(first))
    second = save(client, 42, loaded_version(client))
    assert any("changed from 10 min to 42 s" in text and "(42 s)" not in text for text in texts(second))


# -- concurrent saves: an exact chain, no 500 -------------------------------------------------------


def run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads started together; each result, or the exception it raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:  # reported to the test, which fails on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def assert_exact_chain(name: str, first: int | None = None) -> None:
    """Each audit row of ``name`` replaced what the one before it set, from ``first``; the last is the row."""
    rows = list(CacheAuditEntry.objects.filter(namespace=name).order_by("pk"))
    previous = first
    for entry in rows:
        assert entry.previous_seconds == previous, [(e.previous_seconds, e.seconds) for e in rows]
        previous = entry.seconds
    assert TTLOverride.objects.get(name=name).seconds == previous


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_keep_an_exact_audit_chain() -> None:
    # No optimistic check (as a command would call it): every save lands, each audited against the
    # value it really replaced.
    results = run_threads(16, lambda i: services.set_ttl("ruc", 100 + i, user=None, actor=f"worker{i}"))
    assert all(isinstance(r, services.TTLChange) and r.changed for r in results), results
    assert CacheAuditEntry.objects.count() == 16
    assert_exact_chain("ruc")
    assert TTLOverride.objects.get().version == 16


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_the_same_page_one_wins_the_rest_are_told(make_user: Any) -> None:
    TTLOverride.objects.create(name="ruc", seconds=600)
    clients = []
    for i in range(8):
        client = Client()
        client.force_login(make_user("ttl", f"staff{i}"))
        clients.append(client)
    version = loaded_version(clients[0])
    results = run_threads(8, lambda i: save(clients[i], 100 + i, version))
    statuses = sorted(getattr(r, "status_code", r) for r in results)
    assert statuses == [200] * 7 + [302], results  # never a 500: one saved, seven refused
    refused = [r for r in results if r.status_code == 200]
    assert all("since you loaded the page" in " ".join(r.context["bound"].non_field_errors()) for r in refused)
    assert CacheAuditEntry.objects.count() == 1
    assert_exact_chain("ruc", first=600)


@pytest.mark.django_db(transaction=True)
def test_concurrent_staff_who_retry_all_land_in_an_exact_chain(make_user: Any) -> None:
    clients = []
    for i in range(6):
        client = Client()
        client.force_login(make_user("ttl", f"staff{i}"))
        clients.append(client)

    def until_saved(i: int) -> int:
        for attempt in range(100):
            response = save(clients[i], 100 + i, loaded_version(clients[i]))
            assert response.status_code in (200, 302), response.status_code
            if response.status_code == 302:
                return attempt
        raise AssertionError("never saved")

    results = run_threads(6, until_saved)
    assert all(isinstance(r, int) for r in results), results
    assert CacheAuditEntry.objects.count() == 6
    assert_exact_chain("ruc")


def hold_write_lock(seconds: float, held: threading.Event) -> threading.Thread:
    """Another connection writing the overrides' table for ``seconds`` (a real lock, as a second
    writer process would hold it)."""

    def hold() -> None:
        try:
            with transaction.atomic():
                TTLOverride.objects.create(name="estadisticas_ventas", seconds=30)
                held.set()
                time.sleep(seconds)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_save_waits_for_another_writer(client_for: Any) -> None:
    client = client_for("ttl")
    held = threading.Event()
    holder = hold_write_lock(0.5, held)
    response = save(client, 300, "")
    holder.join()
    assert response.status_code == 302
    assert dict(TTLOverride.objects.values_list("name", "seconds")) == {"estadisticas_ventas": 30, "ruc": 300}
    assert chain() == [("ttl_change", None, 300)]


@pytest.mark.django_db(transaction=True)
def test_a_database_locked_for_too_long_is_a_message_not_a_500(client_for: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "TTL_LOCK_WAIT", 0.3)  # instead of waiting 3 s for the message
    client = client_for("ttl")
    held = threading.Event()
    holder = hold_write_lock(1.5, held)
    try:
        response = save(client, 300, "")
        reset = client.post(reverse(TTL_RESET), {"name": "estadisticas_ventas", "version": ""})
    finally:
        holder.join()
    assert response.status_code == 302 and reset.status_code == 302
    assert any("stayed locked" in text and "nothing changed" in text for text in texts(response))
    assert not TTLOverride.objects.filter(name="ruc").exists()
    assert not CacheAuditEntry.objects.exists()
