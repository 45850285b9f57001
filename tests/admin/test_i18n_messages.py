"""Texts that reach the admin from Python code (health report, exceptions) follow the active language,
and the Spanish catalogue is complete: no untranslated or fuzzy entry, placeholders kept."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

import cache_dashboard
from cache_dashboard.adapters import get_adapter
from cache_dashboard.exceptions import CacheUnavailable, UnsupportedOperation
from cache_dashboard.manager import health
from tests.conftest import require

APP = Path(cache_dashboard.__file__).parent
PO = APP / "locale" / "es" / "LC_MESSAGES" / "django.po"


# -- the catalogue -------------------------------------------------------------------------------


def _unquote(lines: list[str]) -> str:
    text = "".join(re.fullmatch(r'"(.*)"', line.strip()).group(1) for line in lines)  # type: ignore[union-attr]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def parse_po(text: str) -> list[dict[str, Any]]:
    """Entries of a .po file (obsolete ``#~`` ones left out): flags, msgid, msgid_plural, msgstr list."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        entry: dict[str, Any] = {"flags": set(), "msgid_plural": None, "msgstr": []}
        fields: dict[str, list[str]] = {}
        current: list[str] = []
        for line in lines:
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                current.append(line)
            else:
                keyword, _, rest = line.partition(" ")
                current = fields.setdefault(keyword, [])
                current.append(rest)
        entry["msgid"] = _unquote(fields["msgid"])
        if "msgid_plural" in fields:
            entry["msgid_plural"] = _unquote(fields["msgid_plural"])
        entry["msgstr"] = [_unquote(value) for key, value in sorted(fields.items()) if key.startswith("msgstr")]
        entries.append(entry)
    return entries


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdfr]", text))


def catalogue_problems(text: str) -> list[str]:
    problems = []
    for entry in parse_po(text):
        msgid = entry["msgid"]
        if not msgid:  # the header
            continue
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {msgid!r}")
        if not entry["msgstr"] or not all(entry["msgstr"]):
            problems.append(f"untranslated: {msgid!r}")
        elif "python-format" in entry["flags"]:
            wanted = _placeholders(msgid)
            for form in entry["msgstr"]:
                if _placeholders(form) != wanted:
                    problems.append(f"placeholders differ: {msgid!r} -> {form!r}")
    return problems


def test_parser_sees_untranslated_fuzzy_and_broken_entries() -> None:
    sample = (
        'msgid ""\nmsgstr ""\n"Language: es\\n"\n\n'
        'msgid "ok"\nmsgstr "bien"\n\n'
        '#, fuzzy\nmsgid "fuzzy one"\nmsgstr "difuso"\n\n'
        'msgid "empty"\nmsgstr ""\n\n'
        '#, python-format\nmsgid "%(n)d keys"\nmsgstr "%(m)d claves"\n\n'
        'msgid "one"\nmsgid_plural "many"\nmsgstr[0] "uno"\nmsgstr[1] ""\n\n'
        '#~ msgid "gone"\n#~ msgstr ""\n'
    )
    assert len(parse_po(sample)) == 6
    assert catalogue_problems(sample) == [
        "fuzzy: 'fuzzy one'",
        "untranslated: 'empty'",
        "placeholders differ: '%(n)d keys' -> '%(m)d claves'",
        "untranslated: 'one'",
    ]


def test_spanish_catalogue_has_no_untranslated_or_fuzzy_entries() -> None:
    text = PO.read_text(encoding="utf-8")
    entries = parse_po(text)
    assert len(entries) > 150  # the parser did read the file
    assert catalogue_problems(text) == []


@pytest.mark.skipif(shutil.which("xgettext") is None or shutil.which("msgmerge") is None, reason="no gettext")
def test_catalogue_covers_every_message_in_the_source(tmp_path: Path) -> None:
    """``makemessages`` on a copy of the app finds nothing that the shipped catalogue lacks."""
    copy = tmp_path / "cache_dashboard"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # needs no settings
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "es", "--no-wrap"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    shipped = {(e["msgid"], e["msgid_plural"]) for e in parse_po(PO.read_text(encoding="utf-8"))}
    regenerated = parse_po((copy / "locale" / "es" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    new = sorted(e["msgid"] for e in regenerated if (e["msgid"], e["msgid_plural"]) not in shipped)
    assert new == [], "run makemessages -l es and translate these"


# -- the health report ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_overview_shows_health_texts_in_spanish(client_for: Any) -> None:
    client = client_for("view")
    url = reverse("admin:cache_dashboard_overview")
    spanish = client.get(url, {"alias": "dummy"}, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "DummyCache no guarda nada: cada lectura es un fallo." in spanish  # warning
    assert "DummyCache no guarda nada</td>" in spanish  # the round-trip check's error
    assert "stores nothing:" not in spanish
    english = client.get(url, {"alias": "dummy"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "DummyCache stores nothing: every read is a miss." in english

    locmem = client.get(url, {"alias": "default"}, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "LocMemCache es por proceso" in locmem


@pytest.mark.django_db
def test_live_poll_json_is_in_the_request_language(client_for: Any) -> None:
    client = client_for("view")
    url = reverse("admin:cache_dashboard_overview_json")
    data = client.get(url, {"alias": "dummy"}, HTTP_ACCEPT_LANGUAGE="es").json()
    assert data["health"]["warnings"] == ["DummyCache no guarda nada: cada lectura es un fallo."]
    checks = {check["name"]: check for check in data["health"]["checks"]}
    assert checks["roundtrip"]["label"] == "ida y vuelta"  # names stay identifiers, labels are translated
    assert checks["roundtrip"]["error"] == "DummyCache no guarda nada"


def test_health_warnings_follow_the_active_language() -> None:
    with override_settings(CACHE_DASHBOARD={"HEALTH_LATENCY_WARNING_MS": -1.0}):
        with translation.override("es"):
            report = health.check("locmem")
        assert report["status"] == "warning"
        assert re.fullmatch(r"La ida y vuelta tardó \d+\.\d ms\.", report["warnings"][0])
        with translation.override("en"):
            assert health.check("locmem")["warnings"][0].startswith("Round trip took ")


def test_probe_threads_report_in_the_callers_language(servers: Any) -> None:
    """The probes run in threads, whose active language is not the request's: it is carried over."""
    require("redis", servers)
    release = threading.Event()
    with override_settings(CACHE_DASHBOARD={"HEALTH_TIMEOUT": 0.3}):
        adapter = get_adapter("redis")
        adapter.server_info = lambda timeout: release.wait(5) and []  # type: ignore[method-assign]
        try:
            assert not settings.LANGUAGE_CODE.startswith("es")  # what a thread without activation uses
            with translation.override("es"):
                first = health.check("redis")
                second = health.check("redis")  # the first probe is still stuck
        finally:
            release.set()
            stuck = health._running.get("redis:servers")
            if stuck is not None:
                stuck.join(5)
    assert first["server"][0]["error"] == "TimeoutError: sin respuesta en 0.3 s"
    assert second["server"][0]["error"] == (
        "TimeoutError: la comprobación anterior aún no ha terminado (¿servidor colgado?)"
    )
    assert first["checks"][0]["label"] == "conexión" and first["checks"][0]["ok"] is True


# -- exceptions shown through the messages framework ---------------------------------------------


def test_exception_messages_are_translated_where_they_are_shown() -> None:
    with translation.override("en"):
        exc = UnsupportedOperation.no_key_listing(backend="memcached", alias="default")
        assert str(exc).startswith("The memcached backend of cache alias “default” cannot list its keys")
    with translation.override("es"):  # raised in English, shown in Spanish
        assert str(exc).startswith("El motor memcached del alias de caché “default” no puede listar sus claves")
        failed = CacheUnavailable.failed("invalidate_namespace", namespace="ruc", error="ConnectionError: refused")
        assert str(failed) == "no se pudo invalidar el espacio de nombres “ruc”: ConnectionError: refused"
        circuit = CacheUnavailable.circuit_open("clear", alias="default")
        assert str(circuit) == (
            "no se pudo vaciar las entradas de caché de este sitio: el alias de caché “default” no es accesible"
            " (circuito abierto tras errores repetidos)"
        )
        assert str(UnsupportedOperation.key_function_not_suffix(alias="x")).startswith("El KEY_FUNCTION")
    with translation.override("en"):
        assert str(failed) == "invalidate namespace “ruc” failed: ConnectionError: refused"
        assert str(pickle.loads(pickle.dumps(failed))) == str(failed)
        assert str(CacheUnavailable("plain text, as before")) == "plain text, as before"
        assert str(CacheUnavailable.failed("some other step", error="boom")) == "some other step failed: boom"


@pytest.mark.django_db
def test_unsupported_pattern_invalidation_message_in_spanish(client_for: Any, monkeypatch: Any) -> None:
    """What the admin shows when the backend refuses: the view reports str(exc) in the page's language."""
    from cache_dashboard.manager import CacheManager

    def refuse(self: Any, pattern: str, **kwargs: Any) -> int:
        raise UnsupportedOperation.no_key_listing(backend=self.backend, alias=self.alias)

    monkeypatch.setattr(CacheManager, "invalidate_pattern", refuse)
    monkeypatch.setattr(CacheManager, "count_pattern", refuse)
    client = client_for("superuser")
    response = client.post(
        reverse("admin:cache_dashboard_invalidate_pattern"),
        {"alias": "default", "pattern": "ruc:*"},
        HTTP_ACCEPT_LANGUAGE="es",
        follow=True,
    )
    shown = " ".join(str(m) for m in response.context["messages"])
    assert "no puede listar sus claves" in shown, shown
