"""``CacheManager.cached``: cache-aside as a decorator, and the keys it derives from arguments.

Without ``key=``, a call's key is the function's module and qualified name, then its arguments
bound to their parameters (so ``f(1)``, ``f(x=1)`` and a default left out give one key), each
encoded with its type and, for text and containers, its length: ``("a", 1)`` and ``("a1",)``,
``1`` and ``"1"`` and ``True`` never share a key. Arguments of other types (a model instance, a
request) have no canonical form: such a function needs ``key=``. Long keys are hashed by
``normalize_key`` (SHA-256), like any key.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def encode_argument(value: Any) -> str:
    """``value`` in a form that differs for any two values that differ (type included)."""
    kind = type(value)
    if value is None:
        return "N"
    if kind is bool:
        return "T" if value else "F"
    if kind is int:
        return f"i{value};"
    if kind is float:
        return f"f{value!r};"
    if kind is str:
        return f"s{len(value)}:{value}"
    if kind is bytes:
        return f"b{len(value)}:{value.hex()}"
    if kind in (tuple, list):
        return f"{'t' if kind is tuple else 'l'}{len(value)}[" + "".join(encode_argument(v) for v in value) + "]"
    if kind is dict:
        pairs = sorted((encode_argument(k), encode_argument(v)) for k, v in value.items())
        return f"d{len(value)}{{" + "".join(k + v for k, v in pairs) + "}"
    raise TypeError(f"cannot derive a cache key from an argument of type {kind.__name__}: "
                    "give @cached a key= function")


def call_key(func: Callable[..., Any], signature: inspect.Signature, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> str:
    """The key of one call of ``func`` (see the module's documentation)."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    parts = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            value = tuple(value)
        parts.append(f"{name}={encode_argument(value)}")
    return f"{func.__module__}.{func.__qualname__}(" + ",".join(parts) + ")"


def decorate(cm: Any, func: Callable[..., Any], *, namespace: str | None, ttl: float | None,
             key: Callable[..., Any] | None) -> Callable[..., Any]:
    """``func`` wrapped to read through ``cm`` (a CacheManager), with ``.invalidate(*args,
    **kwargs)``, ``.ainvalidate(...)`` and ``.cache_key(*args, **kwargs)``. An ``async def``
    function gets an ``async`` wrapper reading through ``CacheManager.aget``."""
    signature = inspect.signature(func)

    def cache_key(*args: Any, **kwargs: Any) -> str:
        if key is not None:
            return str(key(*args, **kwargs))
        return call_key(func, signature, args, kwargs)

    def invalidate(*args: Any, **kwargs: Any) -> int:
        return int(cm.invalidate(cache_key(*args, **kwargs), namespace=namespace))

    async def ainvalidate(*args: Any, **kwargs: Any) -> int:
        return int(await cm.ainvalidate(cache_key(*args, **kwargs), namespace=namespace))

    wrapper: Any
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await cm.aget(cache_key(*args, **kwargs), functools.partial(func, *args, **kwargs), ttl,
                                 namespace=namespace)
    else:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return cm.get(cache_key(*args, **kwargs), functools.partial(func, *args, **kwargs), ttl,
                          namespace=namespace)
    wrapper.invalidate = invalidate
    wrapper.ainvalidate = ainvalidate
    wrapper.cache_key = cache_key
    return wrapper  # type: ignore[no-any-return]
