"""Static files (vendored Chart.js, collectstatic with the manifest), TTL store, helpers."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.test import override_settings

import cache_dashboard
from cache_dashboard import ttl_store
from cache_dashboard.formatting import describe_error, human_duration, mask_secrets, option_secrets
from cache_dashboard.models import TTLOverride
from cache_dashboard.web.forms import is_match_all

STATIC = Path(cache_dashboard.__file__).parent / "static" / "cache_dashboard"
VENDOR = STATIC / "vendor" / "chartjs"


def test_vendored_chartjs_matches_its_recorded_sha256() -> None:
    bundle = (VENDOR / "chart.umd.min.js").read_bytes()
    note = (VENDOR / "VERSION").read_text()
    assert "Chart.js 4." in note
    recorded = re.search(r"chart\.umd\.min\.js sha256 \(shipped\): ([0-9a-f]{64})", note)
    assert recorded and hashlib.sha256(bundle).hexdigest() == recorded.group(1)
    assert b"sourceMappingURL" not in bundle
    assert "MIT" in (VENDOR / "LICENSE.md").read_text()


def test_no_inline_script_or_style_in_templates() -> None:
    templates = Path(cache_dashboard.__file__).parent / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path  # only external scripts
        assert not re.search(r"\son[a-z]+=", text), path  # no inline event handlers
        assert " style=" not in text, path
        assert "http://" not in text and "https://" not in text, path  # no CDN


@pytest.mark.django_db
def test_collectstatic_with_manifest_storage(tmp_path: Path) -> None:
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
        from django.contrib.staticfiles.storage import staticfiles_storage

        hashed = staticfiles_storage.stored_name("cache_dashboard/vendor/chartjs/chart.umd.min.js")
        assert hashed != "cache_dashboard/vendor/chartjs/chart.umd.min.js"
        assert (tmp_path / hashed).exists()
        assert (tmp_path / staticfiles_storage.stored_name("cache_dashboard/js/dashboard.js")).exists()


def test_page_weight_is_small() -> None:
    # Our own code (the vendored Chart.js aside) stays small: no framework, no build step.
    own = (STATIC / "js" / "dashboard.js").stat().st_size + (STATIC / "css" / "dashboard.css").stat().st_size
    assert own < 40_000


@pytest.mark.django_db
def test_ttl_store_reads_the_database_and_caches() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ttl_store.reset()
    assert ttl_store.overrides() == {}
    TTLOverride.objects.create(name="ruc", seconds=60)  # save() refreshes this process
    with CaptureQueriesContext(connection) as queries:
        assert ttl_store.overrides() == {"ruc": 60}
        assert ttl_store.overrides() == {"ruc": 60}  # served from memory
    selects = [q["sql"] for q in queries.captured_queries if "cache_dashboard_ttloverride" in q["sql"]]
    assert len(selects) == 1


@pytest.mark.django_db
def test_ttl_store_refreshes_after_the_interval(settings: Any) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "TTL_OVERRIDE_REFRESH": 0}
    ttl_store.overrides()
    # Another worker's edit: no save() in this process, so only the refresh can reveal it.
    TTLOverride.objects.bulk_create([TTLOverride(name="ruc", seconds=90)])
    time.sleep(0.01)
    assert ttl_store.overrides() == {"ruc": 90}


def test_ttl_store_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> dict[str, int]:
        raise DatabaseError("no such table")

    monkeypatch.setattr(ttl_store, "_load", boom)
    ttl_store.reset()
    assert ttl_store.overrides() == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "never expires"),
        (0, "expires at once"),
        (1, "1 s"),
        (90, "1 min 30 s"),
        (300, "5 min"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
        (86400, "24 h"),
        (172800, "2 d"),
        (2592000, "30 d"),
    ],
)
def test_human_duration(seconds: int | None, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(("text", "shown"), [
    ("redis://:pw1@h:6379/0", "redis://:***@h:6379/0"),
    ("rediss://default:pw2@h/1", "rediss://default:***@h/1"),
    ("redis://pw3@h", "redis://***@h"),  # some clients read a lone userinfo as the password
    ("memcached://h?password=pw4&x=1", "memcached://h?password=***&x=1"),
    ("{'password': 'pw5', 'db': 1}", "{'password': '***', 'db': 1}"),
    ('"PASSWORD": "pw6"', '"PASSWORD": "***"'),
    ("AuthenticationError: invalid username-password pair", "AuthenticationError: invalid username-password pair"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
])
def test_one_masking_rule_for_every_text(text: str, shown: str) -> None:
    # Pages, logs, health output and exception messages all go through this one function.
    assert mask_secrets(text) == shown
    assert option_secrets({"password": "a", "POOL": {"PASSWORD": "b", "timeout": 1}, "token": None}) == ["a", "b"]


def test_describe_error_masks_credentials() -> None:
    text = describe_error(ConnectionError("cannot reach redis://:hunter2@db:6379/0?password=hunter2"))
    assert "hunter2" not in text and "ConnectionError" in text


@pytest.mark.parametrize(
    ("pattern", "match_all"),
    [("*", True), ("?*", True), ("[ab]*", True), ("user:*", False), (r"\**", False), ("k", False)],
)
def test_is_match_all(pattern: str, match_all: bool) -> None:
    assert is_match_all(pattern) is match_all


@pytest.mark.django_db(transaction=True)
def test_ttl_store_works_inside_an_event_loop() -> None:
    import asyncio
    import threading

    TTLOverride.objects.create(name="ruc", seconds=45)
    ttl_store.reset()

    async def read() -> dict[str, int]:
        return ttl_store.overrides()  # sync call from async code, as the core's async twins do

    # In a thread of its own: Playwright's sync API (the browser tests) leaves an event loop
    # marked as running in the main thread, where asyncio.run() would refuse to start.
    result: list[dict[str, int]] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(read())))
    worker.start()
    worker.join(10)
    assert result == [{"ruc": 45}]
