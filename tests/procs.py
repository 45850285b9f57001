"""Run test workers in real, separate processes (spawned, so nothing is shared but the servers)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")


def _init(caches: dict, dashboard: dict, env: dict[str, str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.update(env)  # read by tests/settings.py (e.g. CD_TEST_DATABASE)
    import django

    django.setup()
    from django.test.utils import override_settings

    override_settings(CACHES=caches, CACHE_DASHBOARD=dashboard).enable()


def run_processes(target: Callable[..., Any], args: Sequence[tuple], start_in: float = 1.5,
                  env: dict[str, str] | None = None) -> list[Any]:
    """Run ``target(start_at, *a)`` for each ``a`` in ``args``, one process each, started together.

    ``start_at`` is a wall-clock instant a little in the future: workers sleep until then so the
    interesting part runs concurrently, after every interpreter has finished starting. ``env`` is
    set in each worker before Django starts (``CD_TEST_DATABASE``: the SQLite file they share).
    """
    ctx = multiprocessing.get_context("spawn")
    initargs = (settings.CACHES, settings.CACHE_DASHBOARD, env or {})
    with ctx.Pool(len(args), initializer=_init, initargs=initargs) as pool:
        pool.map(_noop, range(len(args)))  # wait until every worker has set Django up
        start_at = time.time() + start_in
        return pool.starmap(target, [(start_at, *a) for a in args])


def _noop(_: int) -> None:
    return None


def wait_until(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def run_loop(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())`` in a thread of its own: the browser suite's sync Playwright keeps an
    event loop running in the main thread, where asyncio.run() refuses to start another."""
    async def wrapped() -> T:
        return await main()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wrapped()).result()
