"""The key layout (``cache_dashboard.keys``) and the stored entry (``manager.entry``).

Keys read together in one call share a Redis Cluster hash slot (a namespaced hit stays one MGET
on a cluster instead of failing with CROSSSLOT), and anything stored under an entry key that is
not an entry of this format reads as a miss, never as an error.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import caches
from redis.crc import key_slot

from cache_dashboard import CacheManager, testing
from cache_dashboard.keys import (
    KeyLayout,
    epoch_key,
    normalize_key,
    normalize_namespace,
    probe_key,
    rule_key,
    sample_lock,
    server_samples,
    stats_bucket,
    stats_names,
    stats_window,
)
from cache_dashboard.manager.breaker import get_breaker
from cache_dashboard.manager.entry import TAG, hard_timeout

HOSTILE = ["", "k", "{tag}", "a{b}c", "}{", "user:{42}", "\ud800lone", "__proto__", "x" * 300, "ünï cödé {ns}"]


def _slot(raw: str) -> int:
    return int(key_slot(raw.encode("utf-8", "surrogatepass")))


def _raw(key: str) -> str:
    # Django's default KEY_FUNCTION, as a cache with KEY_PREFIX "site1" and VERSION 3 applies it.
    return f"site1:3:{key}"


@pytest.mark.parametrize("key", HOSTILE)
@pytest.mark.parametrize("namespace", [None, "ruc", "{other}", "ñ amp&"])
def test_keys_read_together_share_a_cluster_slot(key: str, namespace: str | None) -> None:
    layout = KeyLayout("cd", 1764614400000)
    nkey = normalize_key(key)
    entry = layout.entry(nkey, None if namespace is None else normalize_namespace(namespace))
    together = [entry, layout.lock(entry)]  # the miss path's wait reads both in one get_many
    if namespace is not None:
        nns = normalize_namespace(namespace)
        together += [layout.generation(nns)]  # the hit path's one MGET
        together += [layout.registry_entry(nns, nkey), layout.registry_seq(nns), layout.registry_low(nns),
                     layout.registry_log(nns, 1), layout.registry_log(nns, 99)]
    assert len({_slot(_raw(k)) for k in together}) == 1, together


def test_meta_and_stats_keys_each_share_one_slot() -> None:
    meta = [epoch_key(), rule_key("shop.Producto"), rule_key("{x}"), probe_key("abc"), sample_lock(1796160000)]
    assert len({_slot(_raw(k)) for k in meta}) == 1
    window = [stats_bucket(res, t) for res in (60, 3600) for t in (0, 60, 3600, 1796160000)]
    window += [stats_names(h) for h in (0, 3600, 1796158800)] + [stats_window(60, 60), stats_window(3600, 24)]
    window += [f"{stats_bucket(60, 0)}:c|ruc|hits", f"{stats_bucket(60, 0)}:n", f"{stats_names(0)}:1"]
    window += [server_samples(res, t) for res in (60, 3600) for t in (0, 1796160000)]
    assert len({_slot(_raw(k)) for k in window}) == 1


@pytest.mark.parametrize("text", HOSTILE)
def test_normalised_names_never_carry_braces(text: str) -> None:
    # A key's own braces would otherwise become the hash tag and part it from its generation.
    assert "{" not in normalize_key(text) and "}" not in normalize_key(text)
    if text:
        assert "{" not in normalize_namespace(text) and "}" not in normalize_namespace(text)


def test_entry_tag_changed_with_the_format() -> None:
    assert TAG != "cd1"  # the 0.1 format: its entries must read as misses
    assert hard_timeout(1, 1) == 3 and hard_timeout(0.5, 60) == 2


FOREIGN = [
    ("cd1", "old format", None, time.time() + 600, 0.0),  # a tuple of the previous release
    ["cd1", "old format", None, time.time() + 600, 0.0],
    (TAG, "too short"),
    [TAG, "v", None, time.time() + 600],
    {"tag": TAG, "value": "a dict"},
    "a plain string",
    12,
    None,
]


@pytest.mark.parametrize("stored", FOREIGN, ids=[type(s).__name__ + str(i) for i, s in enumerate(FOREIGN)])
def test_anything_but_an_entry_reads_as_a_miss(cm: CacheManager, stored: Any) -> None:
    layout = testing.keys(cm.alias)
    cm.set("seed", 1, 60, namespace="ns")  # the namespace has a generation
    for nns in (None, "ns"):
        caches[cm.alias].set(layout.entry("k", nns), stored, 60)
    assert cm.get("k", lambda: "fetched", 60) == "fetched"
    assert cm.get("k", lambda: "fetched", 60, namespace="ns") == "fetched"
    assert cm.get("k", lambda: pytest.fail("fetched twice")) == "fetched"  # and now a hit
    breaker = get_breaker(cm.alias)
    assert breaker.state == "closed" and breaker.failures == 0
