"""Management commands: fed by the same functions as the admin views, audited the same way.

``cache_health`` (exit status 0/1/2, against a refused and a hung server), ``cache_stats``,
``cache_invalidate`` (confirmation, --yes, errors naming the flag) and ``cache_warm``, on LocMem
and real Redis and memcached."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cache_dashboard import CacheManager, warming
from cache_dashboard.models import CacheAuditEntry
from tests.conftest import require
from tests.servers import HungServer

pytestmark = pytest.mark.django_db
ALIASES = ["locmem", "redis", "memcached"]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def exit_status(*args: str) -> int:
    try:
        run(*args)
    except CommandError as exc:
        return exc.returncode
    return 0


@pytest.fixture
def broken(settings: Any) -> Iterator[dict[str, str]]:
    """Two more aliases: a server that refuses (nothing listens on port 1) and one that hangs."""
    hung = HungServer()
    timeouts = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    settings.CACHES = {
        **settings.CACHES,
        "refused": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": "redis://:s3cret@127.0.0.1:1/0", "OPTIONS": timeouts},
        "hung": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                 "LOCATION": f"127.0.0.1:{hung.port}", "OPTIONS": {"timeout": 0.2, "connect_timeout": 0.2}},
    }
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "HEALTH_TIMEOUT": 0.5}
    yield {"refused": "refused", "hung": "hung"}
    hung.close()


# -- cache_health ------------------------------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_health_of_a_working_cache_is_exit_0(servers: Any, alias: str) -> None:
    require(alias, servers)
    assert exit_status("cache_health", "--alias", alias) == 0
    data = json.loads(run("cache_health", "--alias", alias, "--json"))
    assert data["status"] == "healthy" and data["aliases"][alias]["status"] == "healthy"
    assert {check["name"] for check in data["aliases"][alias]["checks"]} >= {"connection", "roundtrip"}
    assert run("cache_health", "--alias", alias).startswith(f"{alias}  healthy")


@pytest.mark.parametrize("alias", ["refused", "hung"])
def test_health_of_a_refused_or_hung_server_is_exit_2_without_secrets(broken: Any, alias: str,
                                                                    capsys: Any) -> None:
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("cache_health", "--alias", alias, "--alias", "locmem", "--json", stdout=out)
    assert raised.value.returncode == 2 and f"unhealthy: {alias}" in str(raised.value)
    data = json.loads(out.getvalue())
    assert data["status"] == "unhealthy" and data["aliases"]["locmem"]["status"] == "healthy"
    assert data["aliases"][alias]["error"]
    text = out.getvalue()
    assert "s3cret" not in text and "Traceback" not in text  # the password masked, one line per error


def test_health_warning_is_exit_1(settings: Any) -> None:
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "HEALTH_LATENCY_WARNING_MS": 0.0}
    assert exit_status("cache_health", "--alias", "locmem") in (0, 1)  # LocMem may answer in 0.0 ms
    assert exit_status("cache_health", "--alias", "file") == 1  # a file round trip takes longer than 0 ms


def test_health_of_an_unknown_alias_names_the_flag() -> None:
    with pytest.raises(CommandError, match="use --alias with one of") as raised:
        run("cache_health", "--alias", "nope")
    assert raised.value.returncode == 2


# -- cache_stats -------------------------------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_stats_totals_and_namespaces(servers: Any, alias: str) -> None:
    require(alias, servers)
    from django.core.cache import caches

    caches[alias].clear()
    from cache_dashboard.manager import stats

    stats.forget()
    cm = CacheManager(alias)
    cm.set("20100038146", {"ok": 1}, 60, namespace="stats-cmd")
    for _ in range(3):
        cm.get("20100038146", namespace="stats-cmd")
    cm.get("missing", namespace="stats-cmd")
    cm.flush_stats()
    data = json.loads(run("cache_stats", "--alias", alias, "--namespace", "stats-cmd", "--json"))
    assert data["totals"]["hits"] == 3 and data["totals"]["misses"] == 1 and data["totals"]["hit_ratio"] == 0.75
    text = run("cache_stats", "--alias", alias)
    [row] = [line for line in text.splitlines() if line.startswith("stats-cmd")]
    assert row.split()[1:4] == ["3", "1", "75.0%"]
    with pytest.raises(CommandError, match="--window"):
        run("cache_stats", "--alias", alias, "--window", "5")


# -- cache_invalidate --------------------------------------------------------------------------------
def test_invalidate_key_is_audited_as_the_system_user_on_this_host(cm: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    assert run("cache_invalidate", "--key", "k1", "--namespace", "ruc", "--yes").strip() == "1 key(s) removed."
    assert cm.get("k1", namespace="ruc") is None
    entry = CacheAuditEntry.objects.get()
    assert entry.user is None and entry.username.endswith("@" + socket.gethostname())
    assert (entry.action, entry.key, entry.namespace) == ("invalidate_key", "k1", "ruc")


def test_invalidate_asks_first_and_without_a_terminal_names_the_flag(cm: Any, monkeypatch: Any) -> None:
    cm.set("k1", "v1", namespace="ruc")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="Add --yes"):
        run("cache_invalidate", "--key", "k1", "--namespace", "ruc")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Nothing changed"):
        run("cache_invalidate", "--namespace", "ruc")
    assert cm.get("k1", namespace="ruc") == "v1" and not CacheAuditEntry.objects.exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert "invalidated" in run("cache_invalidate", "--namespace", "ruc")
    assert cm.get("k1", namespace="ruc") is None
    assert CacheAuditEntry.objects.get().action == "invalidate_namespace"


def test_invalidate_validates_like_the_form_and_names_flags(cm: Any, servers: Any) -> None:
    with pytest.raises(CommandError, match="--namespace"):
        run("cache_invalidate", "--key", "k1", "--namespace", "nope", "--yes")
    with pytest.raises(CommandError, match="--key"):
        run("cache_invalidate", "--key", "bad\tkey", "--yes")
    with pytest.raises(CommandError, match="nothing to invalidate"):
        run("cache_invalidate", "--yes")
    require("redis", servers)
    with pytest.raises(CommandError, match="Add --allow-match-all"):
        run("cache_invalidate", "--alias", "redis", "--pattern", "*", "--yes")
    assert not CacheAuditEntry.objects.exists()


def test_invalidate_pattern_counts_then_deletes_on_redis(servers: Any) -> None:
    require("redis", servers)
    cm = CacheManager("redis")
    for n in range(5):
        cm.set(f"user:{n}", n, namespace="ruc")
    assert "No key matches" in run("cache_invalidate", "--alias", "redis", "--pattern", "none*", "--namespace",
                                   "ruc", "--yes")
    assert run("cache_invalidate", "--alias", "redis", "--pattern", "user:*", "--namespace", "ruc",
               "--yes").strip() == "5 key(s) deleted."
    assert CacheAuditEntry.objects.get().count == 5


def test_pattern_is_refused_on_locmem() -> None:
    with pytest.raises(CommandError):
        run("cache_invalidate", "--alias", "locmem", "--pattern", "k*", "--yes")
    assert not CacheAuditEntry.objects.exists()


# -- cache_warm --------------------------------------------------------------------------------------
@pytest.fixture
def frequent() -> Iterator[list[str]]:
    fetched: list[str] = []

    def fetch(key: str) -> dict[str, str]:
        if key == "bad":
            raise ConnectionError("upstream down")
        fetched.append(key)
        return {"ruc": key}

    @warming.warmer("warm-test", name="test-frequent")
    def frequent_rucs() -> list[tuple[str, Any]]:
        return [(key, lambda key=key: fetch(key)) for key in ("20100038146", "20131312955", "bad")]

    yield fetched
    warming.unregister("test-frequent")


@pytest.mark.parametrize("alias", ALIASES)
def test_warm_loads_what_is_missing_and_skips_what_is_cached(servers: Any, alias: str, frequent: list[str]) -> None:
    require(alias, servers)
    cm = CacheManager(alias)
    cm.invalidate_namespace("warm-test")
    out = StringIO()
    with pytest.raises(CommandError) as raised:  # one key failed: exit 1, the others are loaded
        call_command("cache_warm", "--alias", alias, "--namespace", "warm-test", stdout=out)
    assert raised.value.returncode == 1
    assert "2 loaded, 0 already cached, 1 failed" in out.getvalue() and "bad: ConnectionError" in out.getvalue()
    assert cm.get("20100038146", namespace="warm-test") == {"ruc": "20100038146"}
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("cache_warm", "--alias", alias, "--namespace", "warm-test", stdout=out)
    assert "0 loaded, 2 already cached, 1 failed" in out.getvalue()
    assert frequent == ["20100038146", "20131312955"]  # fetched once each


def test_warm_without_warmers_says_how_to_register_one() -> None:
    with pytest.raises(CommandError, match="@cache_dashboard.warming.warmer"):
        run("cache_warm", "--namespace", "nothing-here")


def test_the_progress_bar_has_a_count_a_rate_and_an_eta() -> None:
    found = warming.Warmer(name="w", namespace="ruc", func=lambda: [])
    progress = warming.Progress(warmer=found, done=120, total=500)
    progress.started -= 10  # ten seconds in: 12 a second
    from cache_dashboard.management.commands.cache_warm import bar

    line = bar(progress)
    assert line.startswith("ruc [") and "120/500 24 %" in line and "12.0/s" in line and "ETA 32 s" in line
