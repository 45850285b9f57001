"""Generate realistic demo traffic so the dashboard's charts and breakdowns come alive.

The mix: repeated RUC lookups (hits), new well-formed RUCs (misses; some unknown to SUNAT, some
hit a simulated upstream failure), malformed RUCs, NubeFact lookups, reads of the shop's cached
data (statistics, customer profiles, catalogue pages: one namespace per data type, see
``shop.stats``) and shop writes (which fire the invalidation rules).

Two transports:

``--url http://127.0.0.1:8000`` (what ``./demo/run`` uses)
    HTTP requests to the running server, so the traffic lands in *that* process's cache — needed
    with LocMemCache, which is per process. Shop writes, statistics and profiles go through
    endpoints that require ``X-Demo-Token`` = ``DEMO_TRAFFIC_TOKEN`` (set by ``./demo/run``). The
    command shares the server's database (it creates the demo catalogue and customers if missing
    and reads the customers' ids for the profile requests).
in-process (no ``--url``)
    Calls the same functions the views call, in this process. Right for shared caches (Redis,
    memcached) and for tests.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.test.utils import override_settings
from ruc.checkdigit import VALID_PREFIXES, complete
from ruc.upstream import KNOWN_COMPANIES
from shop.simulation import CUSTOMERS, ensure_catalogue

#: Relative weights of the kinds of request.
MIX: dict[str, int] = {
    "repeat": 36,  # a RUC seen before: a hit (or a negative-cache hit)
    "new": 22,  # a fresh well-formed RUC: a miss, the provider is called
    "malformed": 10,  # FORMATO_INVALIDO
    "nubefact": 8,  # the second provider / namespace
    "stats": 16,  # the shop's cached data (SHOP_READS)
    "write": 8,  # a shop write: invalidation rules fire
}

#: Relative weights of the shop reads, by namespace (shop.stats). ``perfil_usuario`` and
#: ``lista_productos`` take an argument (a customer's pk, a page): ``"<namespace>:<argument>"``.
SHOP_READS: dict[str, int] = {
    "estadisticas_ventas": 3,
    "estadisticas_usuarios": 2,
    "productos_vendidos": 2,
    "metodos_pago": 2,
    "perfil_usuario": 3,
    "lista_productos": 4,
}
#: Where ``Http`` reads the whole-shop statistics.
STATISTIC_PATHS = {
    "estadisticas_ventas": "/api/estadisticas/ventas/",
    "estadisticas_usuarios": "/api/estadisticas/usuarios/",
    "productos_vendidos": "/api/estadisticas/productos-vendidos/",
    "metodos_pago": "/api/estadisticas/metodos-pago/",
}

Outcome = tuple[str, str]  # (kind, result label)


def random_ruc(rng: random.Random) -> str:
    """A well-formed RUC (valid prefix and check digit) that may or may not "exist"."""
    prefix = rng.choice(("20", "20", "20", "10", "10", "15", "17"))
    assert prefix in VALID_PREFIXES
    return complete(prefix + f"{rng.randrange(10**8):08d}")


def malformed_ruc(rng: random.Random) -> str:
    """An input that fails the format check, in one of the ways real users get it wrong."""
    good = random_ruc(rng)
    way = rng.randrange(4)
    if way == 0:  # wrong check digit
        return good[:10] + str((int(good[10]) + rng.randint(1, 9)) % 10)
    if way == 1:  # unknown taxpayer-type prefix
        return complete(rng.choice(("11", "30", "42", "99")) + good[2:10])
    if way == 2:  # a digit short or long
        return good[:10] if rng.random() < 0.5 else good + str(rng.randrange(10))
    return good[:4] + "O" + good[5:]  # letter O instead of zero


class Traffic:
    """Chooses requests and keeps the pool of RUCs already looked up."""

    def __init__(self, rng: random.Random, customers: list[int] | None = None) -> None:
        self.rng = rng
        #: pks of the customers whose profiles are read (none: no profile reads).
        self.customers = list(customers or ())
        self.reads = [name for name in SHOP_READS if name != "perfil_usuario" or self.customers]
        self.read_weights = [SHOP_READS[name] for name in self.reads]
        self.seen: dict[str, list[str]] = {"ruc": list(KNOWN_COMPANIES), "nubefact": list(KNOWN_COMPANIES)}
        self.lock = threading.Lock()
        self.kinds = list(MIX)
        self.weights = [MIX[k] for k in self.kinds]

    def next(self) -> tuple[str, str]:
        """``(kind, argument)`` of the next request."""
        with self.lock:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            if kind == "repeat":
                return kind, self.rng.choice(self.seen["ruc"][-200:])
            if kind == "new":
                ruc = random_ruc(self.rng)
                self.seen["ruc"].append(ruc)
                return kind, ruc
            if kind == "malformed":
                bad = malformed_ruc(self.rng)
                if self.rng.random() < 0.3:
                    self.seen["ruc"].append(bad)  # users retry their typos
                return kind, bad
            if kind == "nubefact":
                if self.rng.random() < 0.6:
                    return kind, self.rng.choice(self.seen["nubefact"][-100:])
                ruc = random_ruc(self.rng)
                self.seen["nubefact"].append(ruc)
                return kind, ruc
            if kind == "stats":
                name = self.rng.choices(self.reads, self.read_weights)[0]
                if name == "perfil_usuario":
                    return kind, f"{name}:{self.rng.choice(self.customers)}"
                if name == "lista_productos":
                    return kind, f"{name}:{self.rng.choice((1, 1, 2))}"  # page 1 is the popular one
                return kind, name
            return kind, str(self.rng.randrange(2**31))


# --------------------------------------------------------------------------- transports


class InProcess:
    """Calls the views' functions directly (shared caches, tests)."""

    def __call__(self, kind: str, arg: str) -> Outcome:
        from ruc.services import lookup
        from shop.simulation import random_write

        if kind in ("repeat", "new", "malformed"):
            result = lookup(arg, "ruc")
            return kind, result.body.get("reason") or result.body["source"]
        if kind == "nubefact":
            result = lookup(arg, "nubefact")
            return kind, result.body.get("reason") or result.body["source"]
        if kind == "stats":
            return kind, _read_in_process(arg)
        return kind, random_write(random.Random(int(arg)))


def _read_in_process(arg: str) -> str:
    from shop import stats

    name, _, param = arg.partition(":")
    try:
        if name == "perfil_usuario":
            return stats.get_profile(int(param))[1]
        if name == "lista_productos":
            return stats.get_product_page(int(param))[1]
        return stats.get_cached(name)[1]
    except stats.NotFound:
        return "not_found"


class Http:
    """Requests to a running demo server (the cache and the stats live in the server process)."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST" if body else "GET")
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("X-Demo-Token", self.token)
        if body:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the JSON body
            try:
                return json.loads(exc.read() or b"{}")
            except ValueError:
                return {"source": f"http_{exc.code}"}

    def __call__(self, kind: str, arg: str) -> Outcome:
        if kind in ("repeat", "new", "malformed", "nubefact"):
            service = "nubefact" if kind == "nubefact" else "ruc"
            body = self._request(f"/api/{service}/{urllib.request.quote(arg, safe='')}/")
            return kind, body.get("reason") or body.get("source", "error")
        if kind == "stats":
            name, _, param = arg.partition(":")
            if name == "lista_productos":  # public: no token needed
                return kind, self._request(f"/api/productos/?pagina={param}").get("source", "error")
            if not self.token:
                return kind, "skipped"
            path = f"/api/usuarios/{param}/perfil/" if name == "perfil_usuario" else STATISTIC_PATHS[name]
            return kind, self._request(path).get("source", "error")
        if not self.token:
            return kind, "skipped"
        return kind, self._request("/api/demo/escritura/", {"seed": int(arg)}).get("accion", "error")


# --------------------------------------------------------------------------- the command


class Command(BaseCommand):
    help = "Send a realistic mix of RUC lookups and shop writes (see the module docstring)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rate", type=float, default=5.0, help="Requests per second (0: as fast as possible)."
        )
        parser.add_argument("--duration", type=float, default=0, help="Seconds to run (0: until Ctrl-C).")
        parser.add_argument(
            "--requests", type=int, default=0, help="Stop after this many requests (0: no limit)."
        )
        parser.add_argument(
            "--url", default="", help="Base URL of a running demo server (default: in-process)."
        )
        parser.add_argument("--workers", type=int, default=8, help="Concurrent requests in --url mode.")
        parser.add_argument(
            "--seed", type=int, default=None, help="Seed of the request mix (reproducible runs)."
        )
        parser.add_argument(
            "--latency",
            type=float,
            default=None,
            help="Override the simulated upstream latency (in-process).",
        )
        parser.add_argument(
            "--failure-rate", type=float, default=None, help="Override the upstream failure rate."
        )
        parser.add_argument("--wait", type=float, default=60, help="Seconds to wait for --url to answer.")

    def handle(self, *args: Any, **options: Any) -> None:
        upstream = dict(getattr(settings, "DEMO_UPSTREAM", {}))
        if options["latency"] is not None:
            upstream["LATENCY"] = options["latency"]
        if options["failure_rate"] is not None:
            upstream["FAILURE_RATE"] = options["failure_rate"]
        # ./demo/run stops us with SIGTERM: finish like Ctrl-C, printing the final line.
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            with override_settings(DEMO_UPSTREAM=upstream):
                self.run(options)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def run(self, options: dict[str, Any]) -> Counter[str]:
        traffic = Traffic(random.Random(options["seed"]), _customers())
        if options["url"]:
            token = getattr(settings, "DEMO_TRAFFIC_TOKEN", "")
            if not token:
                self.stderr.write(
                    "DEMO_TRAFFIC_TOKEN is not set: RUC lookups and catalogue pages only "
                    "(no statistics, profiles or writes)."
                )
            transport: Callable[[str, str], Outcome] = Http(options["url"], token)
            self._wait_for(options["url"], options["wait"])
            workers = max(1, options["workers"])
        else:
            transport = InProcess()
            workers = 1  # SQLite and the test database: one connection, one thread

        counts: Counter[str] = Counter()
        lock = threading.Lock()
        start = time.monotonic()
        interval = 1.0 / options["rate"] if options["rate"] > 0 else 0.0
        limit = options["requests"]
        deadline = start + options["duration"] if options["duration"] > 0 else None
        progress = _Progress(self.stdout, start)

        def record(outcome: Outcome) -> None:
            kind, result = outcome
            with lock:
                counts["total"] += 1
                counts[_bucket(kind, result)] += 1
                if kind == "write":
                    counts["writes"] += 1

        def run_one(kind: str, arg: str) -> None:
            try:
                record(transport(kind, arg))
            except Exception as exc:  # keep going: the demo must survive a restarting server
                record((kind, f"error:{type(exc).__name__}"))

        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        pending: list[Future[None]] = []
        sent = 0
        try:
            while (not limit or sent < limit) and (deadline is None or time.monotonic() < deadline):
                kind, arg = traffic.next()
                if pool is None:
                    run_one(kind, arg)
                else:
                    pending = [f for f in pending if not f.done()]
                    while len(pending) >= workers * 4:  # do not queue up without bound
                        time.sleep(0.01)
                        pending = [f for f in pending if not f.done()]
                    pending.append(pool.submit(run_one, kind, arg))
                sent += 1
                with lock:
                    progress.maybe_show(counts)
                if interval:
                    next_at = start + sent * interval
                    time.sleep(max(0.0, next_at - time.monotonic()))
        except KeyboardInterrupt:
            pass
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        progress.show(counts, final=True)
        return counts

    def _wait_for(self, url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                urllib.request.urlopen(url.rstrip("/") + "/api/ruc/20100038146/", timeout=5)  # noqa: S310
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"{url} does not answer: {exc}") from exc
                time.sleep(0.5)


def _customers() -> list[int]:
    """The demo customers' pks, creating the catalogue and the customers first if missing."""
    try:
        ensure_catalogue()
        users = get_user_model().objects.filter(username__in=CUSTOMERS).order_by("pk")
        return list(users.values_list("pk", flat=True))
    except DatabaseError:  # a database not migrated yet: no profile reads
        return []


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _bucket(kind: str, result: str) -> str:
    if result in ("cache", "negative-cache"):
        return "hits"
    if result in ("upstream", "db"):
        return "misses"
    if result in ("FORMATO_INVALIDO", "NO_EXISTE_SUNAT", "ERROR_API"):
        return result
    if result.startswith("error") or result.startswith("http_"):
        return "errors"
    return "other"


class _Progress:
    """One status line: rewritten in place on a terminal, printed every 10 s otherwise."""

    def __init__(self, out: Any, start: float) -> None:
        self.out = out
        self.start = start
        self.tty = hasattr(out, "isatty") and out.isatty()
        self.last = 0.0
        self.every = 0.5 if self.tty else 10.0

    def maybe_show(self, counts: Counter[str]) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.show(counts)

    def show(self, counts: Counter[str], final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        line = (
            f"[{elapsed:5.0f}s] {counts['total']} requests ({counts['total'] / elapsed:.1f}/s) · "
            f"hits {counts['hits']} · misses {counts['misses']} · "
            f"FORMATO_INVALIDO {counts['FORMATO_INVALIDO']} · NO_EXISTE_SUNAT {counts['NO_EXISTE_SUNAT']} · "
            f"ERROR_API {counts['ERROR_API']} · writes {counts['writes']} · errors {counts['errors']}"
        )
        if self.tty and not final:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        else:
            self.out.write(("\r" if self.tty else "") + line)
