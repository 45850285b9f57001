"""``CacheManager.cached``: one fetch per distinct call, keys derived without collisions,
``.invalidate``, and ``async def`` functions, on every contract backend."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache_dashboard import CacheManager
from cache_dashboard.manager.decorator import call_key, encode_argument
from tests.procs import run_loop


def test_one_fetch_per_distinct_call_and_invalidate(cm: CacheManager) -> None:
    calls: list[tuple[str, bool]] = []

    @cm.cached(namespace="ruc", key=lambda ruc, full=False: f"{ruc}:{int(full)}")
    def consultar_ruc(ruc: str, full: bool = False) -> dict[str, Any]:
        calls.append((ruc, full))
        return {"ruc": ruc, "full": full}

    assert consultar_ruc("20100070970") == {"ruc": "20100070970", "full": False}
    assert consultar_ruc("20100070970") == {"ruc": "20100070970", "full": False}
    assert consultar_ruc("20100070970", full=True)["full"] is True
    assert calls == [("20100070970", False), ("20100070970", True)]
    assert consultar_ruc.cache_key("20100070970") == "20100070970:0"
    assert consultar_ruc.invalidate("20100070970") == (0 if cm.backend == "dummy" else 1)
    consultar_ruc("20100070970")
    assert calls[-1] == ("20100070970", False) and len(calls) == 3
    assert consultar_ruc.__name__ == "consultar_ruc"  # functools.wraps


def test_derived_keys_bind_arguments_to_parameters(cm: CacheManager) -> None:
    calls: list[int] = []

    @cm.cached(ttl=60)
    def lookup(x: int, y: int = 2, *rest: int, **options: Any) -> int:
        calls.append(x)
        return x + y

    assert lookup(1) == lookup(x=1) == lookup(1, 2) == 3  # the default is part of the key
    assert calls == [1]
    assert lookup(1, 3) == 4 and calls == [1, 1]
    assert lookup.cache_key(1) != lookup.cache_key("1") != lookup.cache_key(True)
    assert lookup.cache_key(1, 2, 3) != lookup.cache_key(1, 2, options=3)


def test_async_functions(cm: CacheManager) -> None:
    calls: list[str] = []

    @cm.cached(namespace="ruc")
    async def consultar(ruc: str) -> str:
        await asyncio.sleep(0)
        calls.append(ruc)
        return ruc[::-1]

    async def main() -> list[str]:
        return [await consultar("123"), await consultar("123"), await consultar("456")]

    assert run_loop(main) == ["321", "321", "654"]
    assert calls == (["123", "123", "456"] if cm.backend == "dummy" else ["123", "456"])
    assert asyncio.iscoroutinefunction(consultar)


def test_arguments_without_a_canonical_form_need_a_key() -> None:
    with pytest.raises(TypeError, match="give @cached a key= function"):
        encode_argument(object())


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 is not True, 0.0 is not -0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return set(a) == set(b) and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


@given(values, values)
def test_two_calls_share_a_key_only_when_their_arguments_are_the_same(a: Any, b: Any) -> None:
    import inspect

    def f(*args: Any) -> None: ...

    signature = inspect.signature(f)
    assert (call_key(f, signature, (a,), {}) == call_key(f, signature, (b,), {})) == strictly_equal(a, b)
    assert call_key(f, signature, (a, b), {}) != call_key(f, signature, (a, "", b), {})
    reordered = dict(reversed(list(a.items()))) if isinstance(a, dict) else a
    assert call_key(f, signature, (a,), {}) == call_key(f, signature, (reordered,), {})
