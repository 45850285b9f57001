"""The Spanish translation ships compiled and covers the pages."""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

import cache_dashboard
from cache_dashboard.formatting import human_duration

LOCALE = Path(cache_dashboard.__file__).parent / "locale" / "es" / "LC_MESSAGES"


def _po_msgids(text: str) -> set[str]:
    ids = set()
    for match in re.finditer(r'^msgid ((?:".*"\n)+)', text, re.M):
        msgid = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1)))
        ids.add(msgid.replace('\\"', '"').replace("\\n", "\n"))
    ids.discard("")
    return ids


def test_compiled_catalog_is_shipped_and_up_to_date() -> None:
    po, mo = LOCALE / "django.po", LOCALE / "django.mo"
    text = po.read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    with mo.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]
    compiled = {key[0] if isinstance(key, tuple) else key for key, value in catalog.items() if value}
    missing = _po_msgids(text) - compiled
    assert not missing, f"django.mo is stale or has untranslated messages: {sorted(missing)[:5]}"


def test_spanish_strings() -> None:
    with translation.override("es"):
        assert human_duration(None) == "no expira"
        assert str(cache_dashboard.models.CacheDashboard._meta.verbose_name) == "panel de caché"


@pytest.mark.django_db
def test_pages_render_in_spanish(client_for: Any) -> None:
    client = client_for("superuser")
    for name, text in [
        ("overview", "Aciertos y fallos"),
        ("invalidate", "Una clave"),
        ("ttl", "Valor de los ajustes"),
        ("invalid", "Entradas inválidas"),
        ("clear", "No se eliminará"),
    ]:
        html = client.get(reverse(f"admin:cache_dashboard_{name}"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
        assert text in html, name
