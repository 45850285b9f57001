"""The demo's cache warmer: ``cache_warm`` pre-loads its frequent RUCs, and the API then answers
them from the cache."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from ruc.services import lookup
from ruc.warmers import FREQUENT, frequent_rucs

from cache_dashboard import CacheManager

pytestmark = pytest.mark.django_db


def test_the_frequent_rucs_are_registered_well_formed_and_warmed(demo_settings: Any, alias: str) -> None:
    rucs = frequent_rucs()
    assert len(rucs) == len(set(rucs)) == FREQUENT and rucs[0] == "20100038146"
    CacheManager().invalidate_namespace("ruc")
    out = StringIO()
    call_command("cache_warm", "--namespace", "ruc", stdout=out)
    assert f"demo: frequent RUCs (ruc, {alias}): {FREQUENT} loaded, 0 already cached, 0 failed" in out.getvalue()
    for ruc in rucs[:5]:
        assert lookup(ruc).body["source"] == "cache"
    out = StringIO()
    call_command("cache_warm", stdout=out)
    assert f"0 loaded, {FREQUENT} already cached" in out.getvalue()


def test_warming_counts_upstream_failures_and_goes_on(demo_settings: Any) -> None:
    demo_settings.DEMO_UPSTREAM = {"LATENCY": 0, "FAILURE_RATE": 1.0, "NOT_FOUND_PERCENT": 20}
    CacheManager().invalidate_namespace("ruc")
    out = StringIO()
    with pytest.raises(Exception) as raised:
        call_command("cache_warm", "--namespace", "ruc", stdout=out)
    assert getattr(raised.value, "returncode", None) == 1
    assert f"0 loaded, 0 already cached, {FREQUENT} failed" in out.getvalue()
    assert "UpstreamError" in out.getvalue()
