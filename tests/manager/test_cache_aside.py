"""Item 1 (cache-aside), item 3 (TTL policy) and item 7 (keys) on every contract backend."""

from __future__ import annotations

import threading
import time
import warnings

import pytest
from django.core.cache import CacheKeyWarning, caches
from django.test import override_settings

from cache_dashboard import CacheManager, cache_manager


class Counter:
    def __init__(self, value: object = "v") -> None:
        self.calls = 0
        self.value = value
        self.lock = threading.Lock()

    def __call__(self) -> object:
        with self.lock:
            self.calls += 1
        return self.value


def test_miss_fetches_stores_and_hit_returns_cached(cm: CacheManager) -> None:
    fetch = Counter({"ruc": "20100038146"})
    assert cm.get("k", fetch, 60) == {"ruc": "20100038146"}
    assert cm.get("k", fetch, 60) == {"ruc": "20100038146"}
    assert cm.get("k") == {"ruc": "20100038146"}
    assert fetch.calls == 1


@pytest.mark.parametrize("falsy", [None, 0, "", [], False])
def test_none_and_falsy_values_are_cached_hits(cm: CacheManager, falsy: object) -> None:
    fetch = Counter(falsy)
    assert cm.get("falsy", fetch, 60) == falsy
    assert cm.get("falsy", fetch, 60) == falsy
    assert fetch.calls == 1
    assert cm.get("falsy", default="sentinel") == falsy


def test_miss_without_fetch_returns_default(cm: CacheManager) -> None:
    assert cm.get("absent") is None
    assert cm.get("absent", default="d") == "d"


def test_fetch_exception_propagates_and_nothing_is_cached(cm: CacheManager) -> None:
    def boom() -> None:
        raise RuntimeError("upstream down")

    with pytest.raises(RuntimeError, match="upstream down"):
        cm.get("k", boom, 60)
    assert cm.get("k", default="nothing") == "nothing"
    assert cm.get("k", Counter("later"), 60) == "later"


def test_expired_entry_is_a_miss_without_fetch_func(cm: CacheManager) -> None:
    cm.set("short", "old", ttl=1)
    assert cm.get("short") == "old"
    time.sleep(1.2)
    # still physically present (stale grace), but past its TTL: a miss for this caller
    assert cm.get("short", default="miss") == "miss"
    assert cm.get("short", Counter("new"), 60) == "new"


def test_set_and_delete(cm: CacheManager) -> None:
    assert cm.set("k", [1, 2], 60) is True
    assert cm.get("k") == [1, 2]
    assert cm.delete("k") is True
    assert cm.delete("k") is False
    assert cm.get("k") is None


def test_ttl_zero_stores_nothing(cm: CacheManager) -> None:
    fetch = Counter("v")
    assert cm.get("z", fetch, 0) == "v"
    assert cm.get("z", fetch, 0) == "v"
    assert fetch.calls == 2
    cm.set("z2", "x", ttl=60)
    assert cm.set("z2", "y", ttl=0) is False
    assert cm.get("z2") is None


def test_invalidate_one_or_many_returns_how_many_existed(cm: CacheManager) -> None:
    for k in ("a", "b", "c"):
        cm.set(k, k, 60, namespace="migo")
    assert cm.invalidate("a", namespace="migo") == 1
    assert cm.invalidate(["a", "b", "c", "zz"], namespace="migo") == 2
    assert cm.get("b", namespace="migo") is None


def test_module_level_manager_follows_setting(servers: object) -> None:
    with override_settings(CACHE_DASHBOARD={"ALIAS": "locmem"}):
        assert cache_manager.alias == "locmem"
        cache_manager.set("via-module", 1, 60)
        assert CacheManager("locmem").get("via-module") == 1
        assert CacheManager("default").get("via-module") is None


# -- item 3: TTL policy --------------------------------------------------------------------------
_overrides: dict[str, int] = {}


def fake_override_store() -> dict[str, int]:
    return dict(_overrides)


def test_ttl_precedence_explicit_then_override_then_settings_then_alias_timeout() -> None:
    cm = CacheManager("locmem")
    with override_settings(CACHE_DASHBOARD={"TTLS": {"ruc": 3600, "ruc_invalid": 86400},
                                            "TTL_OVERRIDES": "tests.manager.test_cache_aside.fake_override_store"}):
        _overrides.clear()
        assert cm.ttl_for("ruc") == 3600
        assert cm.ttl_for("ruc_invalid") == 86400
        assert cm.ttl_for("unknown") == 300  # LocMem's default TIMEOUT
        _overrides["ruc"] = 120
        assert cm.ttl_for("ruc") == 120
        _overrides.clear()


def test_namespace_ttl_is_used_when_no_explicit_ttl() -> None:
    cm = CacheManager("locmem")
    with override_settings(CACHE_DASHBOARD={"TTLS": {"fast": 1}, "TTL_OVERRIDES": None}):
        cm.get("k", Counter("v"), namespace="fast")
        assert cm.get("k", namespace="fast") == "v"
        time.sleep(1.2)
        assert cm.get("k", namespace="fast") is None
        cm.get("k2", Counter("v"), 60, namespace="fast")  # explicit wins
        time.sleep(1.2)
        assert cm.get("k2", namespace="fast") == "v"


def test_data_type_ttl_applies_to_a_plain_key_of_that_name() -> None:
    cm = CacheManager("locmem")
    with override_settings(CACHE_DASHBOARD={"TTLS": {"estadisticas_ventas": 1}, "TTL_OVERRIDES": None}):
        cm.get("estadisticas_ventas", Counter({"total": 3}))
        time.sleep(1.2)
        assert cm.get("estadisticas_ventas") is None


def test_jitter_only_shortens_ttls() -> None:
    from cache_dashboard.manager.ttl import jittered

    with override_settings(CACHE_DASHBOARD={"TTL_JITTER": 0.2}):
        values = [jittered(100) for _ in range(200)]
    assert all(80 <= v <= 100 for v in values)
    assert len(set(values)) > 1


# -- item 7: keys ----------------------------------------------------------------------------------
WEIRD_KEYS = [
    "plain", "with space", "tab\tkey", "nl\nkey", "ctrl\x00\x01\x7f", "ñandú ünïcode 日本",
    "emoji 🚀", "k" * 250, "x" * 1_000_000, "*?[glob]\\", "%41", "#" + "0" * 64, ":", "",
]


def test_any_str_key_works_and_no_cache_key_warning(cm: CacheManager) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        for i, key in enumerate(WEIRD_KEYS):
            cm.set(key, i, 60)
            cm.set(key, -i, 60, namespace="ns with spaces/ñ")
        for i, key in enumerate(WEIRD_KEYS):
            assert cm.get(key) == i, repr(key[:20])
            assert cm.get(key, namespace="ns with spaces/ñ") == -i


def test_normalisation_is_deterministic_injective_and_short() -> None:
    from cache_dashboard.keys import normalize_key, normalize_namespace

    keys = WEIRD_KEYS + ["A", "a", "%2A", "*", "k" * 100, "k" * 101, "x" * 1_000_001]
    normalized = [normalize_key(k) for k in keys]
    assert normalized == [normalize_key(k) for k in keys]
    assert len(set(normalized)) == len(keys)
    assert all(len(n) <= 100 and all(33 <= ord(c) < 127 for c in n) for n in normalized if n)
    assert normalize_key("simple:key-1") == "simple:key-1"
    assert len({normalize_namespace(n) for n in ("a:b", "a%3Ab", "a b", "a+b")}) == 4
    assert ":" not in normalize_namespace("a:b")


def test_namespaces_normalised_once_are_remembered_within_bounds() -> None:
    from cache_dashboard import keys

    names = [k for k in WEIRD_KEYS if k] + ["ruc", "a:b", "\ud800lone", "__proto__"]
    names += ["n" * size for size in (48, 49, 200, 201)]
    first = [keys.normalize_namespace(n) for n in names]
    assert first == [keys._normalize_namespace(n) for n in names]  # remembered or not, the same answer
    assert first == [keys.normalize_namespace(n) for n in names]
    assert "ruc" in keys._NAMESPACES and "n" * 201 not in keys._NAMESPACES  # a long name is not kept
    for i in range(3 * keys._NAMESPACES_KEPT):
        assert keys.normalize_namespace(f"hostile {i}") == keys._normalize_namespace(f"hostile {i}")
    assert len(keys._NAMESPACES) <= keys._NAMESPACES_KEPT
    with pytest.raises(ValueError):
        keys.normalize_namespace("")  # errors are not remembered as answers
    with pytest.raises(TypeError):
        keys.normalize_namespace(b"ruc")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1, b"bytes", None, ("t",), 1.5])
def test_non_str_keys_raise_type_error(bad: object) -> None:
    cm = CacheManager("locmem")
    with pytest.raises(TypeError):
        cm.get(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cm.set(bad, 1)  # type: ignore[arg-type]


def test_keys_honour_key_prefix_and_version() -> None:
    with override_settings(CACHES={**_caches(), "pref": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t-pref",
        "KEY_PREFIX": "site1", "VERSION": 7,
    }}):
        CacheManager("pref").set("k", "v", 60)
        raw_keys = list(caches["pref"]._cache.keys())  # LocMem internals, to see the raw names
        assert raw_keys and all(k.startswith("site1:7:cd:") for k in raw_keys)


def _caches() -> dict:
    from django.conf import settings

    return dict(settings.CACHES)
